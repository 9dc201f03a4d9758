"""Cassette machinery: scrubbing, digests, the secret scanner, `dicore record`'s refusal to
write a leaky cassette, and provenance that never calls a non-vendor endpoint live."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import shutil
from pathlib import Path

import pytest
import requests
from vcr.request import Request

import dicore.backends.cassettes as cassettes
from dicore.backends import make_backend
from dicore.backends.cassettes import (
    before_record_request,
    canonical_body,
    find_secrets,
    read_provenance,
)
from dicore.commands.record import record_images, scripted_server
from dicore.errors import UserError

ROOT = Path(__file__).resolve().parent.parent
PHOTO = ROOT / "simulators" / "photos" / "macron_2014.jpg"
NAVER_OK = {"info": {"size": {"width": 1, "height": 1}, "faceCount": 1},
            "faces": [{"celebrity": {"value": "Somebody", "confidence": 0.5}}]}


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def test_aws_blob_digest_is_of_the_raw_image():
    img = PHOTO.read_bytes()
    body = json.dumps({"Image": {"Bytes": base64.b64encode(img).decode()}}).encode()
    req = Request("POST", "http://x/", body, {"Content-Type": "application/x-amz-json-1.1"})
    canon = canonical_body(req)
    assert canon == b'vcr-digest:{"Image": {"Bytes": "sha256:' + sha(img).encode() + b'"}}'
    assert canonical_body(Request("POST", "http://x/", canon, {})) == canon  # idempotent


def test_multipart_digest_ignores_the_random_boundary():
    img = PHOTO.read_bytes()
    bodies = [requests.Request("POST", "http://x/", files={"image": ("a.jpg", img)}).prepare() for _ in range(2)]
    assert bodies[0].body != bodies[1].body  # requests picks a new boundary each time
    canon = [canonical_body(Request("POST", "http://x/", p.body, dict(p.headers))) for p in bodies]
    assert canon[0] == canon[1] == b'vcr-digest:[["image", "sha256:' + sha(img).encode() + b'"]]'


def test_octet_stream_digest_and_header_scrub():
    img = PHOTO.read_bytes()
    secret_headers = {
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKIAABCDEFGHIJKLMNOP/x, Signature=" + "a" * 64,
        "X-Amz-Security-Token": "tok", "X-Amz-Date": "d", "amz-sdk-invocation-id": "i",
        "Ocp-Apim-Subscription-Key": "k", "x-ms-client-request-id": "r",
        "X-NCP-APIGW-API-KEY-ID": "id", "X-NCP-APIGW-API-KEY": "key", "User-Agent": "ua",
    }
    req = Request("POST", "http://x/detect", img, {**secret_headers, "Content-Type": "application/octet-stream"})
    out = before_record_request(req)
    assert {k.lower() for k in out.headers} == {"content-type"}
    assert out.body == b"vcr-digest:sha256:" + sha(img).encode()


def test_scanner_finds_each_kind_of_secret(monkeypatch):
    clean = (ROOT / "cassettes" / "aws" / "docs_examples.yaml").read_text()
    assert find_secrets(clean) == []
    leaky_header = clean.replace("X-Amz-Target:", "Ocp-Apim-Subscription-Key:\n      - abc\n      X-Amz-Target:", 1)
    assert any("Ocp-Apim-Subscription-Key" in f for f in find_secrets(leaky_header))
    assert find_secrets(clean + "\n# AKIAIOSFODNN7EXAMPLE\n") == ["AWS access key id"]
    hidden = base64.b64encode(b"AWS4-HMAC-SHA256 Credential=x, Signature=" + b"0" * 64).decode()
    binary = clean.replace("interactions:", f"note: !!binary {hidden}\ninteractions:", 1)
    assert "SigV4 authorization" in find_secrets(binary)  # found inside a !!binary scalar too
    monkeypatch.setenv("NAVER_CLIENT_SECRET", "s3cr3t-value-xyz")
    assert find_secrets(clean + "\n# s3cr3t-value-xyz\n") == ["a key value from the environment (s3c...)"]


def test_record_refuses_to_write_a_leaky_cassette(tmp_path, monkeypatch):
    monkeypatch.setenv("NAVER_CLIENT_ID", "naver-id-1234")
    monkeypatch.setenv("NAVER_CLIENT_SECRET", "naver-secret-5678")
    monkeypatch.setattr(cassettes, "SCRUB_HEADERS", frozenset())  # simulate a scrubbing bug
    images = tmp_path / "imgs"
    images.mkdir()
    shutil.copy(PHOTO, images)
    out = tmp_path / "leak.yaml"
    with scripted_server([(200, "application/json", NAVER_OK)]) as server:
        with pytest.raises(UserError, match="refusing to write") as info:
            record_images("naver", images, endpoint=server.url, out=str(out))
    assert "X-NCP-APIGW-API-KEY" in str(info.value)
    assert not out.exists() and not cassettes.provenance_path(out).exists()


def test_record_then_replay_and_honest_provenance(tmp_path, monkeypatch):
    monkeypatch.setenv("NAVER_CLIENT_ID", "naver-id-1234")
    monkeypatch.setenv("NAVER_CLIENT_SECRET", "naver-secret-5678")
    images = tmp_path / "imgs"
    images.mkdir()
    shutil.copy(PHOTO, images)
    (images / "tiny.png").write_bytes(b"\x89PNG tiny")
    endpoint = None
    with scripted_server([(200, "application/json", NAVER_OK)] * 2) as server:
        endpoint = server.url
        out = record_images("naver", images, endpoint=endpoint, out=str(tmp_path / "c.yaml"))
    prov = read_provenance(out)
    assert prov["source"] == "other"  # a stub at 127.0.0.1 is neither the vendor nor a simulator
    assert prov["endpoint"] == endpoint and len(prov["calls"]) == 2
    assert list(prov["inline_images"]) == [sha(b"\x89PNG tiny")]  # photos are not inlined
    text = out.read_text()
    assert "naver-secret-5678" not in text and "naver-id-1234" not in text
    backend = make_backend("naver", "replay", cassette=out)  # replays with the server gone
    assert backend.recognize(PHOTO.read_bytes()).predicted == "Somebody"
    with pytest.raises(UserError, match="already exists"):
        record_images("naver", images, endpoint=endpoint, out=str(out))


def test_simulator_marker_makes_provenance_simulator(tmp_path):
    images = tmp_path / "imgs"
    images.mkdir()
    shutil.copy(PHOTO, images)
    with scripted_server([(200, "application/json", NAVER_OK, {"X-Dicore-Simulated": "true"})]) as server:
        out = record_images("naver", images, endpoint=server.url,
                            out=str(tmp_path / "s.yaml"))
    assert read_provenance(out)["source"] == "simulator"
    assert make_backend("naver", "replay", cassette=out).recognize(PHOTO.read_bytes()).simulated


def test_contract_validators_catch_drift():
    """The contract checks are not vacuous: a tampered recorded response fails them."""
    from tests.test_contract import _REK, AZURE_SCHEMAS, NAVER_SCHEMAS, validate, validate_shape

    interactions = cassettes.load_interactions(ROOT / "cassettes" / "aws" / "docs_examples.yaml")
    good = cassettes.response_json(interactions[0]["response"])
    shape = _REK.operation_model("RecognizeCelebrities").output_shape
    assert validate_shape(good, shape) == []
    bad = copy.deepcopy(good)
    bad["CelebrityFaces"][0]["MatchConfidence"] = 140.0
    bad["CelebrityFaces"][0]["Face"]["Landmarks"][0]["Type"] = "thirdEye"
    bad["Extra"] = 1
    errors = validate_shape(bad, shape)
    assert len(errors) == 3, errors
    verify = {"isIdentical": "yes", "confidence": 1.5}
    assert len(validate(verify, AZURE_SCHEMAS["verify"])) == 2
    assert validate({"info": {}, "faces": []}, NAVER_SCHEMAS["celebrity"]) != []


# --- adversarial cassettes, record inputs and secrets (issue 10, section 5) -------------


@pytest.mark.parametrize("content,words", [
    (b"- a\n- b\n", "the YAML is a list"),
    (b"interactions: [\n", "not valid YAML at line"),
    (b"\x89PNG\r\n\x1a\n\x00\xff binary", "not a text (YAML) file"),
    (b"interactions: 3\n", "'interactions' is not a list"),
    (b"interactions:\n- 1\n", "interaction 0 has no request/response"),
])
def test_bad_cassette_is_one_clear_line(tmp_path, content, words, capsys):
    from dicore.cli import main
    from dicore.datasets.manifest import ManifestRow, write_manifest

    bad = tmp_path / "bad.yaml"
    bad.write_bytes(content)
    import re

    with pytest.raises(UserError, match=re.escape(words)):
        make_backend("naver", "replay", cassette=bad)
    shutil.copy(PHOTO, tmp_path / "a.jpg")
    m = write_manifest(tmp_path / "m.csv", [ManifestRow("r", "a.jpg", False, "D", "real", "A")])
    code = main(["run", "--manifest", str(m), "--store", str(tmp_path / "s.sqlite"),
                 "--backend", "replay", "--vendors", "naver", "--cassette", str(bad)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and str(bad) in err and words in err


def test_replay_over_unknown_images_says_so_up_front(tmp_path, capsys):
    """The committed cassettes answer only the repo photos: a user's manifest failed on
    every call. Now: refused up front with the count; a partial cover is a note."""
    from dicore.cli import main
    from dicore.datasets.manifest import ManifestRow, write_manifest

    cassette = ROOT / "cassettes" / "naver" / "simulator_photos.yaml"
    (tmp_path / "mine.jpg").write_bytes(PHOTO.read_bytes() + b"other image")
    shutil.copy(PHOTO, tmp_path / "photo.jpg")
    rows = [ManifestRow("mine", "mine.jpg", False, "D", "real", "A")]
    m = write_manifest(tmp_path / "m.csv", rows)
    args = ["run", "--store", str(tmp_path / "s.sqlite"), "--backend", "replay",
            "--vendors", "naver", "--cassette", str(cassette)]
    assert main([*args, "--manifest", str(m)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "has no recorded naver answer for any of the 1 manifest image(s)" in err
    assert "dicore record" in err
    from dicore.store import Store

    with Store(tmp_path / "s.sqlite") as store:
        assert store.item_count() == 0  # refused before anything was stored
    rows.append(ManifestRow("photo", "photo.jpg", False, "D", "real", "Emmanuel Macron"))
    m = write_manifest(tmp_path / "m.csv", rows)
    assert main([*args, "--manifest", str(m)]) == 0
    captured = capsys.readouterr()
    assert "has no naver answer for 1 of 2 image(s)" in " ".join(captured.err.split())


@pytest.mark.parametrize("kind", ["folder", "dangling"])
def test_record_images_folder_named_jpg_or_dangling_link(tmp_path, kind, capsys):
    from dicore.cli import main

    images = tmp_path / "imgs"
    images.mkdir()
    shutil.copy(PHOTO, images)
    if kind == "folder":
        (images / "x.jpg").mkdir()
    else:
        (images / "x.jpg").symlink_to(tmp_path / "gone.jpg")
    code = main(["record", "--vendor", "naver", "--images", str(images),
                 "--endpoint", "http://127.0.0.1:9", "--out", str(tmp_path / "c.yaml")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and "x.jpg" in err
    assert ("not a file" if kind == "folder" else "link to nothing") in err


def _record_naver(tmp_path, images, script, endpoint=None, command=None):
    with scripted_server(script) as server:
        url = endpoint(server.url) if endpoint else server.url
        return record_images("naver", images, endpoint=url, out=str(tmp_path / "c.yaml"),
                             command=command)


def test_record_strips_userinfo_and_secret_query_from_what_it_writes(tmp_path, monkeypatch):
    monkeypatch.delenv("NAVER_CLIENT_ID", raising=False)
    monkeypatch.delenv("NAVER_CLIENT_SECRET", raising=False)
    images = tmp_path / "imgs"
    images.mkdir()
    shutil.copy(PHOTO, images)

    def with_secrets(url):
        host = url.split("://")[1]
        return f"http://u:SECRETPW@{host}/?token=tok123&region=x"

    cmd = "dicore record --endpoint http://u:SECRETPW@127.0.0.1:1/?token=tok123"
    out = _record_naver(tmp_path, images, [(200, "application/json", NAVER_OK)],
                        endpoint=with_secrets, command=cmd)
    everything = out.read_text() + cassettes.provenance_path(out).read_text()
    assert "SECRETPW" not in everything and "tok123" not in everything
    prov = read_provenance(out)
    assert prov["endpoint"].startswith("http://127.0.0.1:") and "region=x" in prov["endpoint"]


@pytest.mark.parametrize("leak", ["echoed short key", "key in inlined image", "key in sidecar"])
def test_record_refuses_any_configured_key_anywhere(tmp_path, monkeypatch, leak):
    """A key shorter than 8 characters echoed back, a key inside an inlined image, a key
    in the sidecar: each was written before (only the YAML was scanned, keys >= 8 chars)."""
    monkeypatch.setenv("NAVER_CLIENT_ID", "id-Zq9")
    monkeypatch.setenv("NAVER_CLIENT_SECRET", "Kx7")  # 3 characters
    images = tmp_path / "imgs"
    images.mkdir()
    body = dict(NAVER_OK)
    command = None
    if leak == "echoed short key":
        shutil.copy(PHOTO, images)
        body = {**NAVER_OK, "echo": "your key Kx7"}
    elif leak == "key in inlined image":
        (images / "tiny.png").write_bytes(b"\x89PNG....id-Zq9....")
    else:
        shutil.copy(PHOTO, images)
        command = "dicore record --note id-Zq9"
    with pytest.raises(UserError, match="refusing to write .*a key value from the environment"):
        _record_naver(tmp_path, images, [(200, "application/json", body)], command=command)
    assert not (tmp_path / "c.yaml").exists()
    assert not cassettes.provenance_path(tmp_path / "c.yaml").exists()


def test_scanner_finds_credential_shapes():
    from dicore.backends.cassettes import scan_texts

    assert scan_texts(["http://host/x?a=1&token=abc"]) == ["credential in a query string"]
    assert scan_texts(["see https://me:pw@host/"]) == ["user name and password in a URL"]
    assert scan_texts(["Authorization: Bearer abcdefghijk123"]) == ["bearer token"]
    assert scan_texts(["-----BEGIN RSA PRIVATE KEY-----"]) == ["private key"]
    hidden = base64.b64encode(b"xx AKIAIOSFODNN7EXAMPLE xx").decode()
    assert scan_texts([f"blob {hidden}"]) == ["AWS access key id"]
    assert scan_texts(["sha256:" + "ab" * 32, "http://127.0.0.1:8765/vision?region=x"]) == []
