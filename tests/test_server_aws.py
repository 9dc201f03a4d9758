"""The AWS Rekognition simulator driven by boto3 (and raw HTTP for what boto3 cannot send).

Every response boto3 receives here is checked against botocore's own service
model (required members, types, enums, ranges, patterns), because boto3 itself
parses leniently (unknown fields dropped, missing ones tolerated).
"""

from __future__ import annotations

import base64
import io
import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import botocore.session
import cv2
import numpy as np
import pytest
import requests
from botocore import UNSIGNED
from botocore.config import Config

from simulators.servers import SIMULATED_HEADER, make_app, serve_in_thread
from simulators.vendor import default_vendor

PHOTOS = Path(__file__).resolve().parents[1] / "simulators" / "photos"
MODEL = botocore.session.get_session().get_service_model("rekognition")
TARGET = "RekognitionService."


def photo(name: str) -> bytes:
    return (PHOTOS / name).read_bytes()


def jpeg(img: np.ndarray) -> bytes:
    return cv2.imencode(".jpg", img)[1].tobytes()


def faceless(w: int = 200, h: int = 200) -> bytes:
    return jpeg(np.full((h, w, 3), 128, np.uint8))


def gif() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (120, 120), (200, 150, 100)).save(buf, "GIF")
    return buf.getvalue()


def two_faces() -> bytes:
    a = cv2.imdecode(np.frombuffer(photo("obama.jpg"), np.uint8), 1)
    b = cv2.imdecode(np.frombuffer(photo("sunak.jpg"), np.uint8), 1)
    b = cv2.resize(b, (int(b.shape[1] * a.shape[0] / b.shape[0] * 0.6), int(a.shape[0] * 0.6)))
    canvas = np.full((a.shape[0], a.shape[1] + b.shape[1], 3), 255, np.uint8)
    canvas[:, : a.shape[1]] = a
    canvas[: b.shape[0], a.shape[1] :] = b
    return jpeg(canvas)


# -- the model validator ------------------------------------------------------------


def check_shape(shape, value, path: str = "$") -> None:
    """Assert ``value`` fits the botocore ``shape`` (recursively)."""
    t = shape.type_name
    meta = shape.metadata
    if t == "structure":
        assert isinstance(value, dict), f"{path}: expected object, got {value!r}"
        for name in shape.required_members:
            assert name in value, f"{path}: required member {name} missing"
        for name, v in value.items():
            assert name in shape.members, f"{path}: {name} is not in the service model"
            check_shape(shape.members[name], v, f"{path}.{name}")
    elif t == "list":
        assert isinstance(value, list), f"{path}: expected list"
        assert meta.get("min", 0) <= len(value) <= meta.get("max", 1 << 30), f"{path}: length"
        for i, v in enumerate(value):
            check_shape(shape.member, v, f"{path}[{i}]")
    elif t == "string":
        assert isinstance(value, str), f"{path}: expected string, got {value!r}"
        if shape.enum:
            assert value in shape.enum, f"{path}: {value!r} not in {shape.enum}"
        if "pattern" in meta:
            assert re.fullmatch(meta["pattern"], value), f"{path}: {value!r} !~ {meta['pattern']}"
        assert meta.get("min", 0) <= len(value) <= meta.get("max", 1 << 30), f"{path}: length"
    elif t in ("float", "double"):
        assert isinstance(value, (int, float)) and not isinstance(value, bool), f"{path}: {value!r}"
        assert meta.get("min", -np.inf) <= value <= meta.get("max", np.inf), (
            f"{path}: {value} out of range"
        )
    elif t in ("integer", "long"):
        assert isinstance(value, int) and not isinstance(value, bool), f"{path}: {value!r}"
        assert meta.get("min", -np.inf) <= value <= meta.get("max", np.inf), f"{path}: out of range"
    elif t == "boolean":
        assert isinstance(value, bool), f"{path}: {value!r}"
    else:
        raise AssertionError(f"{path}: shape type {t} not expected in Rekognition answers")


def test_validator_catches_bad_shapes():
    shape = MODEL.operation_model("RecognizeCelebrities").output_shape
    check_shape(shape, {"CelebrityFaces": [], "UnrecognizedFaces": []})
    for bad in (
        {"CelebrityFaces": [{"MatchConfidence": 101.0}]},
        {"CelebrityFaces": [{"Id": "not-an-id!"}]},
        {"Simulated": True},
        {"OrientationCorrection": "ROTATE_45"},
        {"UnrecognizedFaces": [{"Confidence": "99"}]},
    ):
        with pytest.raises(AssertionError):
            check_shape(shape, bad)


# -- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server():
    with serve_in_thread(make_app("aws", default_vendor("aws"))) as srv:
        yield srv


@pytest.fixture(scope="module")
def checked():
    return {"ok": 0, "error": 0}


def _client(url: str, checked: dict, **config):
    client = boto3.client(
        "rekognition",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="not-a-secret",
        config=Config(retries={"max_attempts": 0}, **config),
    )

    def validate(operation_model, response_dict, **_):
        body = json.loads(response_dict["body"])
        assert response_dict["headers"].get(SIMULATED_HEADER) == "true"
        if response_dict["status_code"] == 200:
            check_shape(operation_model.output_shape, body)
            checked["ok"] += 1
        else:
            assert set(body) == {"__type", "Message"} and body["Message"], body
            checked["error"] += 1

    client.meta.events.register("before-parse.rekognition.*", validate)
    return client


@pytest.fixture(scope="module")
def rek(server, checked):
    return _client(server.url, checked)


def raw(server, target: str | None, body: bytes) -> requests.Response:
    headers = {"Content-Type": "application/x-amz-json-1.1"}
    if target:
        headers["X-Amz-Target"] = TARGET + target
    return requests.post(server.url + "/", data=body, headers=headers, timeout=30)


# -- success ----------------------------------------------------------------------------


def test_recognizes_obama_and_says_it_is_simulated(rek, checked):
    before = checked["ok"]
    out = rek.recognize_celebrities(Image={"Bytes": photo("obama.jpg")})
    assert checked["ok"] == before + 1  # the model check ran on this answer
    (celeb,) = out["CelebrityFaces"]
    assert celeb["Name"] == "Barack Obama"
    assert 55.0 <= celeb["MatchConfidence"] <= 100.0
    assert re.fullmatch(r"[0-9A-Za-z]{7}", celeb["Id"])
    assert celeb["Urls"] == [f"simulated.dicore.invalid/celebrity/{celeb['Id']}"]
    assert out["UnrecognizedFaces"] == []
    box = celeb["Face"]["BoundingBox"]
    assert 0 < box["Width"] < 1 and 0 < box["Height"] < 1 and 0 <= box["Left"] and 0 <= box["Top"]
    marks = {m["Type"]: m for m in celeb["Face"]["Landmarks"]}
    assert marks["eyeLeft"]["X"] < marks["eyeRight"]["X"]  # image-left eye first
    assert box["Left"] < marks["nose"]["X"] < box["Left"] + box["Width"]
    meta = out["ResponseMetadata"]
    assert meta["RequestId"].startswith("simulated-")
    assert meta["HTTPHeaders"][SIMULATED_HEADER.lower()] == "true"


def test_ids_are_stable_and_resolve(rek):
    ids = {
        rek.recognize_celebrities(Image={"Bytes": photo("obama.jpg")})["CelebrityFaces"][0]["Id"]
        for _ in range(2)
    }
    (cid,) = ids
    info = rek.get_celebrity_info(Id=cid)
    assert info["Name"] == "Barack Obama"
    assert info["Urls"] == [f"simulated.dicore.invalid/celebrity/{cid}"]
    other = rek.recognize_celebrities(Image={"Bytes": photo("sunak.jpg")})["CelebrityFaces"][0]
    assert other["Name"] == "Rishi Sunak" and other["Id"] != cid


def test_two_faces_largest_first(rek):
    out = rek.recognize_celebrities(Image={"Bytes": two_faces()})
    names = [c["Name"] for c in out["CelebrityFaces"]]
    assert names == ["Barack Obama", "Rishi Sunak"]
    a, b = (c["Face"]["BoundingBox"] for c in out["CelebrityFaces"])
    assert a["Width"] * a["Height"] > b["Width"] * b["Height"]
    assert a["Left"] + a["Width"] <= b["Left"] + 0.05  # Obama is on the left


def test_unknown_faces_are_not_given_gallery_names(rek):
    import insightface

    group = (Path(insightface.__file__).parent / "data" / "images" / "t1.jpg").read_bytes()
    out = rek.recognize_celebrities(Image={"Bytes": group})
    named = [c["Name"] for c in out["CelebrityFaces"]]
    assert len(named) + len(out["UnrecognizedFaces"]) >= 4
    assert out["UnrecognizedFaces"], "some of six strangers stay unrecognised"
    assert not set(named) & {"Barack Obama", "Rishi Sunak", "Emmanuel Macron", "Jacinda Ardern"}
    assert all(n.startswith("Simulated Celebrity AWS-") for n in named)


def test_no_face_is_an_empty_answer(rek):
    out = rek.recognize_celebrities(Image={"Bytes": faceless()})
    assert out["CelebrityFaces"] == [] and out["UnrecognizedFaces"] == []


def test_compare_same_person_matches(rek):
    out = rek.compare_faces(
        SourceImage={"Bytes": photo("macron_2014.jpg")},
        TargetImage={"Bytes": photo("macron_2025.jpg")},
    )
    (match,) = out["FaceMatches"]
    assert match["Similarity"] >= 80.0
    assert out["UnmatchedFaces"] == []
    assert 0 < out["SourceImageFace"]["Confidence"] <= 100


def test_compare_honours_threshold(rek):
    src, tgt = {"Bytes": photo("obama.jpg")}, {"Bytes": photo("sunak.jpg")}
    out = rek.compare_faces(SourceImage=src, TargetImage=tgt)  # default threshold 80
    assert out["FaceMatches"] == [] and len(out["UnmatchedFaces"]) == 1
    low = rek.compare_faces(SourceImage=src, TargetImage=tgt, SimilarityThreshold=0.0)
    (match,) = low["FaceMatches"]
    s = match["Similarity"]
    assert 0.0 <= s < 80.0
    at = rek.compare_faces(SourceImage=src, TargetImage=tgt, SimilarityThreshold=s)
    above = rek.compare_faces(
        SourceImage=src, TargetImage=tgt, SimilarityThreshold=min(100.0, s + 0.01)
    )
    assert len(at["FaceMatches"]) == 1 and above["FaceMatches"] == []


def test_compare_against_several_target_faces(rek):
    out = rek.compare_faces(
        SourceImage={"Bytes": photo("sunak.jpg")},
        TargetImage={"Bytes": two_faces()},
        QualityFilter="NONE",
    )
    assert len(out["FaceMatches"]) == 1 and len(out["UnmatchedFaces"]) == 1
    assert out["FaceMatches"][0]["Face"]["BoundingBox"]["Left"] > 0.5  # Sunak is on the right


def test_unsigned_requests_are_accepted(server, checked):
    client = _client(server.url, checked, signature_version=UNSIGNED)
    out = client.recognize_celebrities(Image={"Bytes": photo("obama.jpg")})
    assert out["CelebrityFaces"][0]["Name"] == "Barack Obama"


def test_concurrent_clients(rek):
    images = [photo(n) for n in ("obama.jpg", "sunak.jpg", "macron_2014.jpg")] * 5
    expected = ["Barack Obama", "Rishi Sunak", "Emmanuel Macron"] * 5
    with ThreadPoolExecutor(8) as pool:
        got = list(
            pool.map(
                lambda b: rek.recognize_celebrities(Image={"Bytes": b})["CelebrityFaces"][0][
                    "Name"
                ],
                images,
            )
        )
    assert got == expected


# -- errors -------------------------------------------------------------------------------


def expect(rek, code: str, call, match: str = ""):
    with pytest.raises(rek.exceptions.ClientError) as info:
        call()
    err = info.value.response["Error"]
    assert err["Code"] == code, err
    assert match.lower() in err["Message"].lower(), err
    return info.value.response


@pytest.mark.parametrize(
    ("image", "code", "status"),
    [
        (gif, "InvalidImageFormatException", 400),
        (lambda: b"this is not an image", "InvalidImageFormatException", 400),
        (
            lambda: cv2.imencode(
                ".jpg",
                cv2.resize(cv2.imdecode(np.frombuffer(photo("obama.jpg"), np.uint8), 1), (79, 90)),
            )[1].tobytes(),
            "InvalidParameterException",
            400,
        ),
        (lambda: photo("obama.jpg") + b"\0" * (5 * 1024 * 1024), "ImageTooLargeException", 400),
    ],
    ids=["gif", "garbage", "79px", "over-5MB"],
)
def test_image_errors(rek, image, code, status):
    resp = expect(rek, code, lambda: rek.recognize_celebrities(Image={"Bytes": image()}))
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == status


def test_exactly_5mb_is_accepted(rek):
    data = photo("obama.jpg")
    data += b"\0" * (5 * 1024 * 1024 - len(data))
    assert (
        rek.recognize_celebrities(Image={"Bytes": data})["CelebrityFaces"][0]["Name"]
        == "Barack Obama"
    )


def test_s3_objects_are_refused(rek, checked):
    before = checked["error"]
    expect(
        rek,
        "InvalidS3ObjectException",
        lambda: rek.recognize_celebrities(
            Image={"S3Object": {"Bucket": "bucket", "Name": "a.jpg"}}
        ),
        "no S3",
    )
    assert checked["error"] == before + 1


def test_compare_without_a_face(rek):
    call = lambda: rek.compare_faces(  # noqa: E731
        SourceImage={"Bytes": photo("obama.jpg")}, TargetImage={"Bytes": faceless()}
    )
    expect(rek, "InvalidParameterException", call, "TargetImage: no face detected")
    call = lambda: rek.compare_faces(  # noqa: E731
        SourceImage={"Bytes": faceless()}, TargetImage={"Bytes": photo("obama.jpg")}
    )
    expect(rek, "InvalidParameterException", call, "SourceImage: no face detected")


@pytest.mark.parametrize("quality", ["AUTO", "LOW", "MEDIUM", "HIGH"])
def test_quality_filters_it_does_not_simulate_are_refused(rek, quality):
    img = {"Bytes": photo("obama.jpg")}
    call = lambda: rek.compare_faces(SourceImage=img, TargetImage=img, QualityFilter=quality)  # noqa: E731
    expect(rek, "InvalidParameterException", call, "not simulated")


@pytest.mark.parametrize("threshold", [100.5, 120.0])  # botocore itself refuses < 0
def test_threshold_out_of_range(rek, threshold):
    img = {"Bytes": photo("obama.jpg")}

    def call():
        return rek.compare_faces(SourceImage=img, TargetImage=img, SimilarityThreshold=threshold)

    expect(rek, "InvalidParameterException", call, "SimilarityThreshold")


def test_unknown_celebrity_id(rek):
    expect(
        rek, "ResourceNotFoundException", lambda: rek.get_celebrity_info(Id="zzzzzzz"), "zzzzzzz"
    )


@pytest.mark.parametrize(
    ("target", "body", "code"),
    [
        ("DetectFaces", b"{}", "UnknownOperationException"),
        (None, b"{}", "UnknownOperationException"),
        ("RecognizeCelebrities", b"{not json", "SerializationException"),
        ("RecognizeCelebrities", b"[]", "SerializationException"),
        ("RecognizeCelebrities", b"{}", "InvalidParameterException"),
        ("RecognizeCelebrities", b'{"Image": {"Bytes": "***"}}', "InvalidParameterException"),
        ("RecognizeCelebrities", b'{"Image": {"Bytes": ""}}', "InvalidParameterException"),
        (
            "RecognizeCelebrities",
            b'{"Image": {"Bytes": "AAAA"}, "MaxFaces": 3}',
            "InvalidParameterException",
        ),
        (
            "CompareFaces",
            b'{"SourceImage": {"Bytes": "AAAA"}, "TargetImage": {"Bytes": "AAAA"}, "QualityFilter": "BEST"}',
            "InvalidParameterException",
        ),
        (
            "CompareFaces",
            b'{"SourceImage": {"Bytes": "AAAA"}, "TargetImage": {"Bytes": "AAAA"}, "SimilarityThreshold": "90"}',
            "InvalidParameterException",
        ),
        (
            "CompareFaces",
            b'{"SourceImage": {"Bytes": "AAAA"}, "TargetImage": {"Bytes": "AAAA"}, "SimilarityThreshold": -0.5}',
            "InvalidParameterException",
        ),
        ("GetCelebrityInfo", b'{"Id": "a-b"}', "InvalidParameterException"),
    ],
)
def test_raw_protocol_errors(server, target, body, code):
    resp = raw(server, target, body)
    assert resp.status_code == 400
    assert resp.headers[SIMULATED_HEADER] == "true"
    assert resp.headers["x-amzn-RequestId"].startswith("simulated-")
    err = resp.json()
    assert err["__type"] == code and err["Message"]


def test_aws_error_statuses_match_the_catalogue(server):
    """boto3 reads the code from __type only; the status is what retries key on."""
    resp = raw(
        server,
        "RecognizeCelebrities",
        json.dumps({"Image": {"Bytes": base64.b64encode(gif()).decode()}}).encode(),
    )
    assert (resp.status_code, resp.json()["__type"]) == (400, "InvalidImageFormatException")
