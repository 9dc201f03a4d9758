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
