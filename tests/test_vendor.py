"""The simulated vendor (backend layer): names per policy, limits, cache, comparisons."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulators import SIMULATED_LABEL
from simulators.images import (
    AZURE_FACE_LIMITS,
    LIMITS,
    ImageInfo,
    ImageRejected,
    check_limits,
    image_info,
)
from simulators.vendor import (
    SimulatedVendor,
    UnsupportedOperation,
    celebrity_id,
    default_vendor,
)

PHOTOS = Path(__file__).resolve().parents[1] / "simulators" / "photos"
FLOORS = {"aws": 55.0, "azure": 70.0, "naver": 0.01}


def photo(name: str) -> bytes:
    return (PHOTOS / name).read_bytes()


def blank_jpeg(w: int = 200, h: int = 200) -> bytes:
    return cv2.imencode(".jpg", np.full((h, w, 3), 128, np.uint8))[1].tobytes()


@pytest.mark.parametrize("vendor", ["aws", "azure", "naver"])
def test_names_the_gallery_people(vendor):
    sim = default_vendor(vendor)
    for file, name in [("obama.jpg", "Barack Obama"), ("ardern_2022.jpg", "Jacinda Ardern")]:
        rec = sim.recognize_image(photo(file))
        assert rec.simulated and rec.label == SIMULATED_LABEL and rec.vendor == vendor
        (face,) = rec.faces
        assert face.name == name and face.celebrity_id == celebrity_id(name)
        assert FLOORS[vendor] <= face.confidence <= 100.0
        x1, y1, x2, y2 = face.bbox
        assert 0 <= x1 < x2 <= rec.image.width and 0 <= y1 < y2 <= rec.image.height
        assert len(face.landmarks) == 5 and 0 < face.det_score <= 1
        assert all(x1 <= x <= x2 and y1 <= y <= y2 for x, y in face.landmarks)
        assert face.embedding.shape == (512,) and abs(np.linalg.norm(face.embedding) - 1) < 1e-4
        assert sim.celebrity_name(face.celebrity_id) == name


def test_no_face_is_an_empty_recognition():
    rec = default_vendor("aws").recognize_image(blank_jpeg())
    assert rec.faces == () and rec.largest is None
    assert rec.image == ImageInfo("jpeg", 200, 200, len(blank_jpeg()))


def test_repeated_images_hit_the_cache():
    sim = default_vendor("azure")
    data = photo("sunak.jpg")
    first = sim.recognize_image(data)
    hits, misses = sim.cache_hits, sim.cache_misses
    again = sim.recognize_image(bytes(bytearray(data)))  # equal content, another object
    assert again is first
    assert (sim.cache_hits, sim.cache_misses) == (hits + 1, misses)


def test_cache_is_bounded_lru():
    sim = SimulatedVendor("aws", cache_size=2)
    a, b, c = photo("obama.jpg"), photo("sunak.jpg"), photo("macron_2014.jpg")
    for img in (a, b, c):
        sim.recognize_image(img)
    misses = sim.cache_misses
    sim.recognize_image(c)
    assert sim.cache_misses == misses  # still cached
    sim.recognize_image(a)
    assert sim.cache_misses == misses + 1  # evicted: least recently used


def test_compare_faces():
    sim = default_vendor("aws")
    same = sim.compare_faces(photo("macron_2014.jpg"), photo("macron_2025.jpg"))
    other = sim.compare_faces(photo("macron_2014.jpg"), photo("obama.jpg"))
    ((_, s_same),) = same.targets
    ((_, s_other),) = other.targets
    assert 80.0 <= s_same <= 100.0 and 0.0 <= s_other < 50.0
    back = sim.compare_faces(photo("macron_2025.jpg"), photo("macron_2014.jpg"))
    assert back.targets[0][1] == pytest.approx(s_same, abs=1e-6)  # symmetric
    with pytest.raises(ImageRejected) as info:
        sim.compare_faces(photo("obama.jpg"), blank_jpeg())
    assert (info.value.reason, info.value.image) == ("no_face", "target")
    with pytest.raises(UnsupportedOperation):
        default_vendor("naver").compare_faces(photo("obama.jpg"), photo("obama.jpg"))


@pytest.mark.parametrize(
    ("vendor", "data", "reason"),
    [
        ("aws", b"", "empty"),
        ("aws", b"not an image at all", "format"),
        ("aws", photo("obama.jpg") + b"\0" * (5 * 1024 * 1024), "too_large"),
        ("aws", cv2.imencode(".png", np.zeros((79, 200, 3), np.uint8))[1].tobytes(), "too_small"),
        ("azure", cv2.imencode(".png", np.zeros((49, 200, 3), np.uint8))[1].tobytes(), "too_small"),
        ("naver", photo("obama.jpg") + b"\0" * (2 * 1024 * 1024), "too_large"),
        ("naver", photo("obama.jpg")[:2000], "unreadable"),
    ],
)
def test_limits(vendor, data, reason):
    with pytest.raises(ImageRejected) as info:
        default_vendor(vendor).recognize_image(data)
    assert info.value.reason == reason and str(info.value)


def test_limits_are_per_operation():
    """Azure Face detect takes 6 MB, Computer Vision under 4 MB; the cached result serves both."""
    sim = default_vendor("azure")
    big = photo("obama.jpg") + b"\0" * (5 * 1024 * 1024)
    assert sim.recognize_image(big, AZURE_FACE_LIMITS).faces[0].name == "Barack Obama"
    with pytest.raises(ImageRejected) as info:
        sim.recognize_image(big)
    assert info.value.reason == "too_large"
    small = cv2.imencode(".jpg", np.full((10, 10, 3), 9, np.uint8))[1].tobytes()
    with pytest.raises(ImageRejected) as info:
        sim.recognize_image(small, AZURE_FACE_LIMITS)
    assert info.value.reason == "too_few_bytes"


def test_cached_refusals_are_fresh_exceptions():
    sim = default_vendor("naver")
    broken = photo("sunak.jpg")[:3000]
    errors = []
    for _ in range(2):
        with pytest.raises(ImageRejected) as info:
            sim.recognize_image(broken)
        errors.append(info.value)
    assert errors[0] is not errors[1] and errors[0].reason == errors[1].reason == "unreadable"


def test_check_limits_boundaries():
    aws = LIMITS["aws"]
    check_limits(ImageInfo("png", 80, 80, aws.max_bytes), aws)
    for info, reason in [
        (ImageInfo("png", 80, 80, aws.max_bytes + 1), "too_large"),
        (ImageInfo("gif", 80, 80, 100), "format"),
        (ImageInfo("jpeg", 80, 79, 100), "too_small"),
    ]:
        with pytest.raises(ImageRejected) as e:
            check_limits(info, aws)
        assert e.value.reason == reason
    assert image_info(photo("obama.jpg")) == ImageInfo("jpeg", 682, 785, len(photo("obama.jpg")))


def test_unknown_vendor():
    with pytest.raises(ValueError, match="vendor must be one of"):
        SimulatedVendor("google")


@given(st.text(min_size=1, max_size=40))
def test_celebrity_ids_are_stable_and_valid(name):
    cid = celebrity_id(name)
    assert re.fullmatch(r"[0-9A-Za-z]{7}", cid) and cid == celebrity_id(name)


def test_celebrity_ids_are_distinct_across_a_vendor():
    sim = default_vendor("aws")
    names = [*sim.gallery.names, *sim.distractor_names]
    assert len({celebrity_id(n) for n in names}) == len(names)
    assert sim.celebrity_name("0000000") is None


def test_vendors_share_one_model_pass_per_image(monkeypatch):
    """Detection and embedding do not depend on the vendor: three vendors, one pass."""
    from simulators.recognizer import default_recognizer
    from simulators.vendor import SimulatedVendor

    rec = default_recognizer()
    calls = []
    detect = rec.detect

    def counting_detect(image):
        calls.append(1)
        return detect(image)

    monkeypatch.setattr(rec, "detect", counting_detect)
    img = cv2.imread(str(PHOTOS / "obama.jpg"))
    data = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 83])[1].tobytes()  # unseen bytes
    names = [SimulatedVendor(v, recognizer=rec).recognize_image(data).faces[0].name
             for v in ("aws", "azure", "naver")]
    assert len(calls) == 1
    assert names[:2] == ["Barack Obama", "Barack Obama"]
