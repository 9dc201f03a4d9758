"""Backends: factory, credentials, endpoint override, reporting rules, and the claim that the
same live client code talks to the vendor or to `dicore serve` (checked against the
in-process simulators: live-over-HTTP agrees with the in-process `sim` backend)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dicore.backends import NamedImage, make_backend
from dicore.backends.aws import largest_celebrity as aws_largest
from dicore.backends.azure import largest_celebrity as azure_largest
from dicore.backends.base import Backend, BadInputError
from dicore.backends.replay import ReplayMissError
from dicore.commands.record import scripted_server
from dicore.errors import UserError

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ROOT / "simulators" / "photos"
CRED_VARS = [
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE", "AZURE_VISION_ENDPOINT", "AZURE_VISION_KEY", "AZURE_FACE_ENDPOINT",
    "AZURE_FACE_KEY", "NAVER_CLIENT_ID", "NAVER_CLIENT_SECRET", "DICORE_AWS_ENDPOINT",
    "DICORE_AZURE_ENDPOINT", "DICORE_NAVER_ENDPOINT",
]


@pytest.fixture
def no_keys(monkeypatch, tmp_path):
    for var in CRED_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no slow instance-metadata probe


@pytest.mark.parametrize(
    "vendor,variable",
    [("aws", "AWS_ACCESS_KEY_ID"), ("azure", "AZURE_VISION_KEY"), ("naver", "NAVER_CLIENT_SECRET")],
)
def test_missing_credentials_say_what_to_set(no_keys, vendor, variable):
    with pytest.raises(UserError) as info:
        make_backend(vendor, "live")
    assert variable in str(info.value)
    assert "--backend sim" in info.value.hint and f"DICORE_{vendor.upper()}_ENDPOINT" in info.value.hint


def test_factory_rejects_unknown_names():
    with pytest.raises(UserError, match="unknown vendor"):
        make_backend("google", "live")
    with pytest.raises(UserError, match="unknown backend kind"):
        make_backend("aws", "mock")
    with pytest.raises(UserError, match="needs a cassette"):
        make_backend("aws", "replay")
    with pytest.raises(UserError, match="does not exist"):
        make_backend("aws", "replay", cassette=ROOT / "cassettes" / "aws" / "nope.yaml")


def test_endpoint_from_environment_needs_no_keys(no_keys, monkeypatch):
    monkeypatch.setenv("DICORE_NAVER_ENDPOINT", "http://127.0.0.1:9/")
    monkeypatch.setenv("DICORE_AWS_ENDPOINT", "http://127.0.0.1:9")
    naver = make_backend("naver", "live")
    assert naver.endpoint == "http://127.0.0.1:9" and not naver.supports_similarity
    assert naver.similarity(b"a", b"b") is None
    aws = make_backend("aws", "live")
    assert aws.client.meta.endpoint_url == "http://127.0.0.1:9"
    assert isinstance(aws, Backend) and aws.kind == "live" and aws.vendor == "aws"


def test_401_is_a_credentials_error_not_a_bad_image(no_keys, monkeypatch):
    monkeypatch.setenv("NAVER_CLIENT_ID", "id-from-env")
    monkeypatch.setenv("NAVER_CLIENT_SECRET", "secret-from-env")
    body = {"error": {"errorCode": "200", "message": "Authentication Failed",
                      "details": "Invalid authentication information."}}
    with scripted_server([(401, "application/json", body)] * 3) as server:
        backend = make_backend("naver", "live", endpoint=server.url)
        with pytest.raises(UserError) as info:
            backend.recognize(b"img")
    assert "NAVER_CLIENT_ID" in info.value.hint and "401" in str(info.value)
    assert len(server.requests) == 1


def test_bad_input_error_names_the_image():
    body = {"__type": "InvalidImageFormatException", "Message": "Request has invalid image format"}
    with scripted_server([(400, "application/x-amz-json-1.1", body)]) as server:
        backend = make_backend("aws", "live", endpoint=server.url)
        with pytest.raises(BadInputError, match=r"frames/0042\.jpg.*InvalidImageFormatException"):
            backend.recognize(NamedImage(b"not an image", "frames/0042.jpg"))


def test_aws_reports_the_largest_face():
    def box(w, h):
        return {"BoundingBox": {"Width": w, "Height": h, "Left": 0, "Top": 0}}

    small = {"Name": "Small Star", "MatchConfidence": 99.0, "Face": box(0.1, 0.1)}
    big = {"Name": "Big Star", "MatchConfidence": 70.0, "Face": box(0.5, 0.5)}
    assert aws_largest({"CelebrityFaces": [small, big]}) == ("Big Star", 70.0, 2)
    # the largest face is unrecognized: nobody is named even though a small face is
    assert aws_largest({"CelebrityFaces": [small], "UnrecognizedFaces": [box(0.4, 0.4)]}) == (None, None, 2)
    assert aws_largest({}) == (None, None, 0)


def test_azure_reports_the_largest_named_face_in_percent():
    body = {"result": {"celebrities": [
        {"name": "A", "confidence": 0.99, "faceRectangle": {"left": 0, "top": 0, "width": 10, "height": 10}},
        {"name": "B", "confidence": 0.75, "faceRectangle": {"left": 0, "top": 0, "width": 90, "height": 90}},
    ]}}
    assert azure_largest(body) == ("B", 75.0, 2)


def test_replay_miss_names_the_cassette():
    cassette = ROOT / "cassettes" / "naver" / "docs_examples.yaml"
    backend = make_backend("naver", "replay", cassette=cassette)
    with pytest.raises(ReplayMissError, match=r"docs_examples\.yaml.*unseen\.jpg"):
        backend.recognize(NamedImage(b"never recorded", "unseen.jpg"))


def test_live_client_against_simulators_agrees_with_sim_backend():
    """One client code path: pointed at `dicore serve`'s app it reports what `sim` reports."""
    pytest.importorskip("onnxruntime")
    from simulators.servers import make_app, serve_in_thread
    from simulators.vendor import default_vendor

    obama = (PHOTOS / "obama.jpg").read_bytes()
    m1, m2 = (PHOTOS / "macron_2014.jpg").read_bytes(), (PHOTOS / "macron_2025.jpg").read_bytes()
    for vendor in ("aws", "azure", "naver"):
        sim = make_backend(vendor, "sim")
        with serve_in_thread(make_app(vendor, default_vendor(vendor))) as server:
            live = make_backend(vendor, "live", endpoint=server.url)
            got, want = live.recognize(obama), sim.recognize(obama)
            assert got.simulated and want.simulated
            assert (got.predicted, got.face_count) == (want.predicted, want.face_count), vendor
            assert got.confidence == pytest.approx(want.confidence, abs=1e-3), vendor
            if vendor != "naver":
                assert live.similarity(m1, m2) == pytest.approx(sim.similarity(m1, m2), abs=1e-2)
            with pytest.raises(BadInputError, match="junk.bin"):
                live.recognize(NamedImage(b"definitely not an image", "junk.bin"))
