"""Decompression bombs: pixel counts are checked from the header, before any decoding.

Regression tests for issue 10: a PNG of 20000x20000 and a 629-byte JPEG whose header says
60000x60000 gave HTTP 500 on all three servers (PIL's DecompressionBombError escaped);
a PNG of 12000x12000 was decoded (1.7-2.1 s, +800 MB) while holding the model lock.
Each is now refused with the vendor's own image error.
"""

from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np
import pytest
import requests

from simulators.images import LIMITS, MAX_PIXELS, ImageRejected, check_limits, image_info
from simulators.servers import SIMULATED_HEADER, make_app, serve_in_thread
from simulators.vendor import default_vendor


def png(width: int, height: int) -> bytes:
    """A complete, valid 1-bit grayscale PNG of zeros (small on disk, huge decoded)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\0" * (1 + (width + 7) // 8)
    z = zlib.compressobj(9)
    body = b"".join(z.compress(row * 500) for _ in range(height // 500)) + z.compress(
        row * (height % 500)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small JPEG whose SOF header is patched to claim width x height."""
    data = bytearray(cv2.imencode(".jpg", np.full((8, 8, 3), 90, np.uint8))[1].tobytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


@pytest.fixture(scope="module")
def bombs():
    return {
        "png 20000x20000": png(20000, 20000),
        "jpeg claiming 60000x60000": jpeg_claiming(60000, 60000),
        "png 12000x12000": png(12000, 12000),
    }


def test_the_bombs_are_what_they_claim(bombs):
    assert len(bombs["jpeg claiming 60000x60000"]) < 1000
    assert all(len(b) < 400_000 for b in bombs.values())
    with pytest.raises(ImageRejected) as info:
        image_info(bombs["png 20000x20000"])
    assert info.value.reason == "too_large"
    info12 = image_info(bombs["png 12000x12000"])
    assert (info12.width, info12.height) == (12000, 12000)
    with pytest.raises(ImageRejected) as info:
        check_limits(info12, LIMITS["naver"])
    assert info.value.reason == "too_large" and str(MAX_PIXELS) in str(info.value)


@pytest.fixture(scope="module")
def servers():
    with (
        serve_in_thread(make_app("aws", default_vendor("aws"))) as aws,
        serve_in_thread(make_app("azure", default_vendor("azure"))) as azure,
        serve_in_thread(make_app("naver", default_vendor("naver"))) as naver,
    ):
        yield {"aws": aws, "azure": azure, "naver": naver}


BOMBS = ("png 20000x20000", "jpeg claiming 60000x60000", "png 12000x12000")


@pytest.mark.parametrize("bomb", BOMBS)
def test_aws_answers_image_too_large(servers, bombs, bomb):
    import base64

    r = requests.post(servers["aws"].url + "/", timeout=30, headers={
        "X-Amz-Target": "RekognitionService.RecognizeCelebrities",
        "Content-Type": "application/x-amz-json-1.1"},
        json={"Image": {"Bytes": base64.b64encode(bombs[bomb]).decode()}})
    assert r.status_code == 400 and r.headers[SIMULATED_HEADER] == "true"
    assert r.json()["__type"] == "ImageTooLargeException"


@pytest.mark.parametrize("bomb", BOMBS)
def test_azure_answers_invalid_image_size(servers, bombs, bomb):
    headers = {"Ocp-Apim-Subscription-Key": "k", "Content-Type": "application/octet-stream"}
    url = servers["azure"].url
    r = requests.post(url + "/vision/v3.2/models/celebrities/analyze", data=bombs[bomb],
                      headers=headers, timeout=30)
    assert r.status_code == 400
    assert r.json()["error"]["innererror"]["code"] == "InvalidImageSize"
    r = requests.post(url + "/face/v1.0/detect", data=bombs[bomb], headers=headers, timeout=30)
    assert r.status_code == 400 and r.json()["error"]["code"] == "InvalidImageSize"


@pytest.mark.parametrize("bomb", BOMBS)
def test_naver_answers_its_bad_request(servers, bombs, bomb):
    r = requests.post(servers["naver"].url + "/vision/v1/celebrity", timeout=30,
                      files={"image": bombs[bomb]},
                      headers={"X-NCP-APIGW-API-KEY-ID": "i", "X-NCP-APIGW-API-KEY": "k"})
    assert r.status_code == 400 and r.json()["error"]["errorCode"] == "100"
    assert "too_large" in r.json()["error"]["details"]


def test_the_in_process_backend_refuses_them_too(bombs):
    from dicore.backends import BadInputError, make_backend

    backend = make_backend("aws", "sim")
    for bomb in BOMBS:
        with pytest.raises(BadInputError):
            backend.recognize(bombs[bomb])
