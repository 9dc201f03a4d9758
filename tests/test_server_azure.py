"""The Azure simulator driven by Azure's own SDKs.

Computer Vision v3.2 celebrities: ``azure-cognitiveservices-vision-computervision``
(msrest; uploads with ``Transfer-Encoding: chunked``). Face detect + verify:
``azure-ai-vision-face`` (azure-core), on both its default ``v1.2-preview.1``
path and ``v1.0``. Raw ``http.client`` for chunked keep-alive framing and for
requests the SDKs cannot make.
"""

from __future__ import annotations

import http.client
import io
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import cv2
import numpy as np
import pytest
import requests
from azure.ai.vision.face import FaceClient
from azure.ai.vision.face.models import FaceDetectionModel, FaceRecognitionModel
from azure.cognitiveservices.vision.computervision import ComputerVisionClient
from azure.cognitiveservices.vision.computervision.models import (
    ComputerVisionErrorResponseException,
)
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from msrest.authentication import CognitiveServicesCredentials

from simulators.servers import SIMULATED_HEADER, make_app, serve_in_thread
from simulators.vendor import default_vendor

PHOTOS = Path(__file__).resolve().parents[1] / "simulators" / "photos"
KEY = "test-key"
CELEB_PATH = "/vision/v3.2/models/celebrities/analyze"


def photo(name: str) -> bytes:
    return (PHOTOS / name).read_bytes()


def jpeg(img: np.ndarray) -> bytes:
    return cv2.imencode(".jpg", img)[1].tobytes()


def resized(name: str, w: int, h: int) -> bytes:
    return jpeg(cv2.resize(cv2.imdecode(np.frombuffer(photo(name), np.uint8), 1), (w, h)))


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def clock():
    return Clock()


@pytest.fixture(scope="module")
def server(clock):
    app = make_app("azure", default_vendor("azure"), key=KEY, face_ttl_s=3600, clock=clock)
    with serve_in_thread(app) as srv:
        yield srv


@pytest.fixture(scope="module")
def cv(server):
    return ComputerVisionClient(server.url, CognitiveServicesCredentials(KEY))


@pytest.fixture(scope="module", params=["v1.2-preview.1", "v1.0"])
def face(server, request):
    return FaceClient(server.url, AzureKeyCredential(KEY), api_version=request.param, retry_total=0)


def detect(client: FaceClient, image: bytes, **kw):
    kw.setdefault("return_face_id", True)
    return client.detect(
        image,
        detection_model=FaceDetectionModel.DETECTION03,
        recognition_model=FaceRecognitionModel.RECOGNITION04,
        **kw,
    )


def post(server, path: str, body: bytes, content_type="application/octet-stream", key=KEY, **query):
    headers = {"Content-Type": content_type}
    if key is not None:
        headers["Ocp-Apim-Subscription-Key"] = key
    return requests.post(server.url + path, data=body, headers=headers, params=query, timeout=30)


# -- Computer Vision celebrities -------------------------------------------------------


def test_celebrities_names_obama_and_is_marked_simulated(cv):
    raw = cv.analyze_image_by_domain_in_stream(
        "celebrities", io.BytesIO(photo("obama.jpg")), raw=True
    )
    assert raw.response.headers[SIMULATED_HEADER] == "true"
    assert raw.response.headers["apim-request-id"]
    out = raw.output
    (celeb,) = out.result["celebrities"]
    assert celeb["name"] == "Barack Obama"
    assert 0.70 <= celeb["confidence"] <= 1.0  # Azure's floor, as a fraction
    rect = celeb["faceRectangle"]
    assert all(isinstance(rect[k], int) for k in ("left", "top", "width", "height"))
    assert 0 <= rect["left"] < rect["left"] + rect["width"] <= 682
    assert out.result["simulated"] is True
    assert (out.metadata.width, out.metadata.height, out.metadata.format) == (682, 785, "Jpeg")
    assert out.model_version == "2021-04-01"


def test_msrest_chunked_uploads_on_one_keep_alive_session(cv):
    """msrest sends chunked bodies; a server that ignored the framing would break call 2."""
    names = [
        cv.analyze_image_by_domain_in_stream("celebrities", io.BytesIO(photo(n))).result[
            "celebrities"
        ][0]["name"]
        for n in ("sunak.jpg", "obama.jpg", "sunak.jpg")
    ]
    assert names == ["Rishi Sunak", "Barack Obama", "Rishi Sunak"]


def test_chunked_then_plain_on_the_same_connection(server):
    host, port = urlsplit(server.url).hostname, urlsplit(server.url).port
    conn = http.client.HTTPConnection(host, port, timeout=30)
    data = photo("obama.jpg")
    headers = {"Ocp-Apim-Subscription-Key": KEY, "Content-Type": "application/octet-stream"}
    chunks = (data[i : i + 4096] for i in range(0, len(data), 4096))
    conn.request("POST", CELEB_PATH, body=chunks, headers=headers, encode_chunked=True)
    first = conn.getresponse()
    assert (
        first.status == 200
        and json.loads(first.read())["result"]["celebrities"][0]["name"] == "Barack Obama"
    )
    sock = conn.sock
    conn.request("POST", CELEB_PATH, body=photo("sunak.jpg"), headers=headers)
    second = conn.getresponse()
    assert conn.sock is sock  # same keep-alive connection
    assert (
        second.status == 200
        and json.loads(second.read())["result"]["celebrities"][0]["name"] == "Rishi Sunak"
    )
    conn.close()


def test_unknown_or_absent_faces_list_no_celebrity(cv):
    out = cv.analyze_image_by_domain_in_stream(
        "celebrities", io.BytesIO(jpeg(np.full((100, 100, 3), 90, np.uint8)))
    )
    assert out.result["celebrities"] == []


def cv_error(call) -> tuple[int, str, str | None]:
    with pytest.raises(ComputerVisionErrorResponseException) as info:
        call()
    err = info.value.error.error
    return (
        info.value.response.status_code,
        err.code,
        err.innererror.code if err.innererror else None,
    )


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (lambda: resized("obama.jpg", 49, 60), (400, "InvalidRequest", "InvalidImageSize")),
        (
            lambda: photo("obama.jpg") + b"\0" * (4 * 1024 * 1024),
            (400, "InvalidRequest", "InvalidImageSize"),
        ),
        (lambda: b"GIF89a but not really", (400, "InvalidRequest", "InvalidImageFormat")),
        (lambda: b"", (400, "InvalidRequest", "InvalidImageFormat")),
    ],
    ids=["49px", "over-4MB", "garbage", "empty"],
)
def test_cv_image_errors(cv, image, expected):
    assert (
        cv_error(lambda: cv.analyze_image_by_domain_in_stream("celebrities", io.BytesIO(image())))
        == expected
    )


def test_cv_url_input_is_refused_with_the_documented_error(cv):
    status, code, inner = cv_error(
        lambda: cv.analyze_image_by_domain("celebrities", "https://example.com/a.jpg")
    )
    assert (status, code, inner) == (400, "InvalidRequest", "InvalidImageUrl")


def test_cv_parameters(cv):
    img = lambda: io.BytesIO(photo("obama.jpg"))  # noqa: E731
    assert (
        cv_error(lambda: cv.analyze_image_by_domain_in_stream("landmarks", img()))[2]
        == "InvalidModel"
    )
    assert (
        cv_error(lambda: cv.analyze_image_by_domain_in_stream("celebrities", img(), language="de"))[
            2
        ]
        == "NotSupportedLanguage"
    )
    ok = cv.analyze_image_by_domain_in_stream(
        "celebrities", img(), language="ja", model_version="2021-04-01"
    )
    assert ok.result["celebrities"][0]["name"] == "Barack Obama"


def test_cv_raw_errors(server):
    r = post(server, CELEB_PATH, photo("obama.jpg"), content_type="image/jpeg")
    assert (
        r.status_code == 415 and r.json()["error"]["innererror"]["code"] == "UnsupportedMediaType"
    )
    r = post(server, CELEB_PATH, photo("obama.jpg"), details="Celebrities")
    assert r.status_code == 400 and "details" in r.json()["error"]["message"]
    r = post(server, CELEB_PATH, photo("obama.jpg"), **{"model-version": "v2"})
    assert r.status_code == 400 and r.json()["error"]["innererror"]["code"] == "BadArgument"
    r = post(server, "/vision/v3.2/analyze", photo("obama.jpg"))
    assert r.status_code == 404 and r.headers[SIMULATED_HEADER] == "true"


@pytest.mark.parametrize(
    ("key", "message"), [(None, "missing subscription key"), ("wrong", "invalid subscription key")]
)
def test_keys(server, key, message):
    r = post(server, CELEB_PATH, photo("obama.jpg"), key=key)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "401" and message in r.json()["error"]["message"]
    assert r.headers[SIMULATED_HEADER] == "true"


def test_wrong_key_with_the_sdks(server):
    bad = ComputerVisionClient(server.url, CognitiveServicesCredentials("wrong"))
    assert cv_error(
        lambda: bad.analyze_image_by_domain_in_stream("celebrities", io.BytesIO(photo("obama.jpg")))
    )[:2] == (401, "401")
    with pytest.raises(ClientAuthenticationError):
        detect(
            FaceClient(server.url, AzureKeyCredential("wrong"), retry_total=0), photo("obama.jpg")
        )


# -- Face detect + verify ------------------------------------------------------------------


def test_detect_and_verify(face):
    (a,) = detect(face, photo("macron_2014.jpg"))
    (b,) = detect(face, photo("macron_2025.jpg"))
    (c,) = detect(face, photo("obama.jpg"))
    assert len({a.face_id, b.face_id, c.face_id}) == 3
    r = a.face_rectangle
    assert r.width > 30 and r.height > 30 and r.left >= 0 and r.top >= 0
    same = face.verify_face_to_face(face_id1=a.face_id, face_id2=b.face_id)
    other = face.verify_face_to_face(face_id1=a.face_id, face_id2=c.face_id)
    assert same.is_identical is True and 0.5 <= same.confidence <= 1.0
    assert other.is_identical is False and 0.0 <= other.confidence < 0.5
    assert same["simulated"] is True


def test_detect_options(face):
    (f,) = detect(
        face,
        photo("obama.jpg"),
        return_face_id=False,
        return_face_landmarks=True,
        return_recognition_model=True,
    )
    assert f.face_id is None
    assert f.recognition_model == "recognition_04"
    lm = f.face_landmarks
    assert lm.pupil_left.x < lm.pupil_right.x and lm.mouth_left.y > lm.nose_tip.y
    noise = np.random.default_rng(0).integers(
        0, 255, (120, 120, 3), dtype=np.uint8
    )  # > 1 KB as JPEG
    assert detect(face, jpeg(noise)) == []


def test_face_ids_expire(face, clock):
    (a,) = detect(face, photo("sunak.jpg"), face_id_time_to_live=60)
    (b,) = detect(face, photo("sunak.jpg"))  # the server's default: 3600 s here
    assert face.verify_face_to_face(face_id1=a.face_id, face_id2=b.face_id).is_identical
    clock.now += 61
    try:
        with pytest.raises(HttpResponseError) as info:
            face.verify_face_to_face(face_id1=a.face_id, face_id2=b.face_id)
        assert info.value.status_code == 404 and info.value.error.code == "FaceNotFound"
        (c,) = detect(face, photo("sunak.jpg"))
        assert face.verify_face_to_face(face_id1=b.face_id, face_id2=c.face_id).is_identical
        clock.now += 3600
        with pytest.raises(HttpResponseError):
            face.verify_face_to_face(face_id1=b.face_id, face_id2=c.face_id)
    finally:
        clock.now += 0  # the clock only moves forward; later faceIds use the new time


def face_error(call) -> tuple[int, str]:
    with pytest.raises(HttpResponseError) as info:
        call()
    return info.value.status_code, info.value.error.code


def test_face_errors(face):
    assert face_error(lambda: detect(face, b"\x89PNG not really" * 100)) == (400, "InvalidImage")
    assert face_error(lambda: detect(face, jpeg(np.zeros((10, 10, 3), np.uint8)))) == (
        400,
        "InvalidImageSize",
    )
    big = photo("obama.jpg") + b"\0" * (6 * 1024 * 1024)
    assert face_error(lambda: detect(face, big)) == (400, "InvalidImageSize")
    assert face_error(
        lambda: detect(face, photo("obama.jpg"), return_face_attributes=["headPose"])
    ) == (400, "BadArgument")
    assert face_error(lambda: detect(face, photo("obama.jpg"), face_id_time_to_live=59)) == (
        400,
        "BadArgument",
    )
    assert face_error(
        lambda: face.verify_face_to_face(
            face_id1="00000000-0000-0000-0000-000000000000", face_id2="x"
        )
    ) == (404, "FaceNotFound")


def test_verify_needs_the_same_recognition_model(face):
    (a,) = detect(face, photo("obama.jpg"))
    (b,) = face.detect(
        photo("obama.jpg"),
        detection_model=FaceDetectionModel.DETECTION03,
        recognition_model=FaceRecognitionModel.RECOGNITION03,
        return_face_id=True,
    )
    assert face_error(lambda: face.verify_face_to_face(face_id1=a.face_id, face_id2=b.face_id)) == (
        400,
        "BadArgument",
    )


@pytest.mark.parametrize(
    ("path", "body", "content_type", "query", "expected"),
    [
        (
            "/face/v1.0/detect",
            b'{"url": "https://example.com/a.jpg"}',
            "application/json",
            {},
            (400, "InvalidURL"),
        ),
        ("/face/v1.0/detect", b"x" * 2000, "text/plain", {}, (415, "BadArgument")),
        (
            "/face/v1.0/detect",
            b"x" * 2000,
            "application/octet-stream",
            {"detectionModel": "detection_09"},
            (400, "BadArgument"),
        ),
        (
            "/face/v1.0/detect",
            b"x" * 2000,
            "application/octet-stream",
            {"recognitionModel": "r5"},
            (400, "BadArgument"),
        ),
        (
            "/face/v1.0/detect",
            b"x" * 2000,
            "application/octet-stream",
            {"returnFaceId": "yes"},
            (400, "BadArgument"),
        ),
        (
            "/face/v1.0/detect",
            b"x" * 2000,
            "application/octet-stream",
            {"bogus": "1"},
            (400, "BadArgument"),
        ),
        ("/face/v1.0/verify", b"{not json", "application/json", {}, (400, "BadArgument")),
        ("/face/v1.0/verify", b'{"faceId1": "a"}', "application/json", {}, (400, "BadArgument")),
        (
            "/face/v1.0/verify",
            b'{"faceId": "a", "personId": "b", "personGroupId": "c"}',
            "application/json",
            {},
            (400, "BadArgument"),
        ),
        ("/face/v9.9/detect", b"x", "application/octet-stream", {}, (404, "404")),
    ],
)
def test_face_raw_errors(server, path, body, content_type, query, expected):
    r = post(server, path, body, content_type=content_type, **query)
    assert (r.status_code, r.json()["error"]["code"]) == expected
    assert r.json()["error"]["message"] and r.headers[SIMULATED_HEADER] == "true"


def test_concurrent_sdk_clients(server, cv):
    def one(i: int) -> str:
        if i % 2:
            return cv.analyze_image_by_domain_in_stream(
                "celebrities", io.BytesIO(photo("obama.jpg"))
            ).result["celebrities"][0]["name"]
        fc = FaceClient(server.url, AzureKeyCredential(KEY), retry_total=0)
        (f,) = detect(fc, photo("sunak.jpg"))
        return "face" if f.face_id else "no id"

    with ThreadPoolExecutor(6) as pool:
        got = list(pool.map(one, range(12)))
    assert got == ["face", "Barack Obama"] * 6


# -- chunked framing over the wire (the transport's parser, llhttp) ----------------------------


def _chunked(data: bytes, sizes: list[int], extension: bool) -> bytes:
    wire, pos, i = b"", 0, 0
    while pos < len(data):
        part = data[pos : pos + sizes[i % len(sizes)]]
        ext = b";name=value" if extension else b""
        wire += f"{len(part):x}".encode() + ext + b"\r\n" + part + b"\r\n"
        pos, i = pos + len(part), i + 1
    return wire + b"0\r\nX-Trailer: 1\r\n\r\n"


@pytest.mark.parametrize(("sizes", "extension"), [([1, 700, 3], False), ([4096], True), ([65536, 17], False)])
def test_chunked_framing_any_split(server, sizes, extension):
    """Odd chunk sizes, extensions and trailers decode to the same image, and the next request
    on the same connection is read from exactly where the body ended."""
    import socket

    host, port = urlsplit(server.url).hostname, urlsplit(server.url).port
    head = (
        f"POST {CELEB_PATH} HTTP/1.1\r\nHost: x\r\nOcp-Apim-Subscription-Key: {KEY}\r\n"
        "Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    wire = head + _chunked(photo("obama.jpg"), sizes, extension)
    with socket.create_connection((host, port), timeout=30) as sock:
        for _ in range(2):
            sock.sendall(wire)
            resp = http.client.HTTPResponse(sock)
            resp.begin()
            assert resp.status == 200, resp.read()
            assert json.loads(resp.read())["result"]["celebrities"][0]["name"] == "Barack Obama"


@pytest.mark.parametrize(
    "wire",
    [b"zz\r\nabc\r\n0\r\n\r\n", b"5\r\nabcdeXX0\r\n\r\n", b"-5\r\nabcde\r\n0\r\n\r\n"],
)
def test_bad_chunk_framing_is_a_vendor_400(server, wire):
    import socket

    host, port = urlsplit(server.url).hostname, urlsplit(server.url).port
    head = (
        f"POST {CELEB_PATH} HTTP/1.1\r\nHost: x\r\nOcp-Apim-Subscription-Key: {KEY}\r\n"
        "Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.sendall(head + wire)
        resp = http.client.HTTPResponse(sock)
        resp.begin()
        assert resp.status == 400 and resp.getheader(SIMULATED_HEADER) == "true"
        assert json.loads(resp.read())["error"]["code"] == "BadArgument"


def test_bad_framing_gets_a_vendor_error_and_the_connection_closes(server):
    host, port = urlsplit(server.url).hostname, urlsplit(server.url).port
    conn = http.client.HTTPConnection(host, port, timeout=30)
    conn.putrequest("POST", CELEB_PATH)
    conn.putheader("Ocp-Apim-Subscription-Key", KEY)
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    conn.send(b"nothex\r\n")
    resp = conn.getresponse()
    assert resp.status == 400 and resp.getheader("Connection") == "close"
    assert resp.getheader(SIMULATED_HEADER) == "true"
    assert json.loads(resp.read())["error"]["code"] == "BadArgument"
    conn.close()
