"""Recognizer on the committed photos with the real ArcFace/SCRFD weights."""

from __future__ import annotations

import itertools
from pathlib import Path

import cv2
import numpy as np
import pytest

from simulators.cache import FILE_LEN, MAGIC
from simulators.errors import (
    ImageTooSmall,
    ImageUnreadable,
    ModelFileError,
    NoFaceFound,
    RecognizerError,
)
from simulators.models import REC_FILE, ModelPaths, select_providers
from simulators.recognizer import Face, Recognizer, default_recognizer

PHOTOS = Path(__file__).resolve().parents[1] / "simulators" / "photos"
PEOPLE = {
    "macron_2014.jpg": "macron", "macron_2025.jpg": "macron",
    "ardern_2018.jpg": "ardern", "ardern_2022.jpg": "ardern",
    "obama.jpg": "obama", "sunak.jpg": "sunak",
}


@pytest.fixture(scope="session")
def rec() -> Recognizer:
    return default_recognizer()


@pytest.fixture(scope="session")
def faces(rec: Recognizer) -> dict[str, Face]:
    files = sorted(PEOPLE)
    return dict(zip(files, rec.embed_images([PHOTOS / f for f in files]), strict=True))


def no_face_image() -> np.ndarray:
    # A smooth colour gradient: a real image with nothing face-like in it.
    x = np.linspace(0, 255, 256, dtype=np.float32)
    img = np.stack([*np.meshgrid(x, x[::-1]), np.full((256, 256), 128, np.float32)], axis=-1)
    return img.astype(np.uint8)


def test_same_person_scores_higher_than_different_people(faces):
    same, cross = [], []
    for (fa, a), (fb, b) in itertools.combinations(faces.items(), 2):
        sim = float(a.embedding @ b.embedding)
        (same if PEOPLE[fa] == PEOPLE[fb] else cross).append(sim)
    assert len(same) == 2 and len(cross) == 13
    assert min(same) >= 0.45, same  # measured 0.51 (Macron), 0.72 (Ardern)
    assert max(cross) < 0.33, cross
    assert min(same) - max(cross) > 0.3


def test_face_fields(faces):
    for name, face in faces.items():
        w, h = face.image_size
        x1, y1, x2, y2 = face.bbox
        assert 0 <= x1 < x2 <= w + 5 and 0 <= y1 < y2 <= h + 5, name
        assert face.kps.shape == (5, 2)
        assert face.embedding.shape == (512,) and face.embedding.dtype == np.float32
        assert abs(np.linalg.norm(face.embedding) - 1) < 1e-5
        assert face.n_faces == 1 and not face.chose_largest and face.note is None
        assert 0.5 < face.det_score <= 1.0
    img = cv2.imread(str(PHOTOS / "obama.jpg"))
    assert faces["obama.jpg"].image_size == (img.shape[1], img.shape[0])


def test_bytes_path_and_array_inputs_agree(rec, faces):
    path = PHOTOS / "sunak.jpg"
    ref = faces["sunak.jpg"].embedding
    by_bytes = rec.embed_image(path.read_bytes())
    by_str = rec.embed_image(str(path))
    by_array = rec.embed_image(cv2.imread(str(path)))
    for f in (by_bytes, by_str, by_array):
        np.testing.assert_allclose(f.embedding, ref, atol=1e-5)
    assert by_str.source == str(path) and by_bytes.source.endswith("bytes>")
    gray = rec.embed_image(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE))
    assert float(gray.embedding @ ref) > 0.8  # colour matters little to ArcFace


def test_batch_returns_errors_in_place(rec, faces, tmp_path):
    fake = tmp_path / "notes.jpg"
    fake.write_text("this is not a JPEG")
    tiny = np.full((20, 20, 3), 200, np.uint8)
    out = rec.embed_images([PHOTOS / "obama.jpg", fake, tiny, no_face_image(), PHOTOS / "sunak.jpg"])
    assert isinstance(out[0], Face) and isinstance(out[4], Face)
    np.testing.assert_allclose(out[0].embedding, faces["obama.jpg"].embedding, atol=1e-5)
    np.testing.assert_allclose(out[4].embedding, faces["sunak.jpg"].embedding, atol=1e-5)
    assert isinstance(out[1], ImageUnreadable) and str(fake) in str(out[1])
    assert isinstance(out[2], ImageTooSmall) and out[2].minimum == rec.min_image_side == 32
    assert "20x20" in str(out[2])
    assert isinstance(out[3], NoFaceFound)
    assert all(isinstance(e, RecognizerError) for e in out[1:4])


def test_typed_errors_raised_by_embed_image(rec, tmp_path):
    with pytest.raises(ImageUnreadable, match="missing.png"):
        rec.embed_image(tmp_path / "missing.png")
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(ImageUnreadable, match="empty file"):
        rec.embed_image(empty)
    with pytest.raises(ImageUnreadable, match="uint8"):
        rec.embed_image(np.zeros((100, 100, 3), np.float32))
    with pytest.raises(ImageTooSmall):
        rec.embed_image(np.zeros((31, 500, 3), np.uint8))
    with pytest.raises(NoFaceFound, match="no face"):
        rec.embed_image(no_face_image())


def test_several_faces_uses_the_largest_and_says_so(rec, faces):
    big = cv2.imread(str(PHOTOS / "obama.jpg"))
    small = cv2.resize(cv2.imread(str(PHOTOS / "sunak.jpg")), None, fx=0.5, fy=0.5)
    canvas = np.full((big.shape[0], big.shape[1] + small.shape[1], 3), 255, np.uint8)
    canvas[:, : big.shape[1]] = big
    canvas[: small.shape[0], big.shape[1] :] = small
    found = rec.detect(canvas)
    assert len(found) == 2 and found[0].area > found[1].area
    assert float(found[1].embedding @ faces["sunak.jpg"].embedding) > 0.6
    face = rec.embed_image(canvas)
    assert face.n_faces == 2 and face.chose_largest and "used the largest" in face.note
    assert float(face.embedding @ faces["obama.jpg"].embedding) > 0.9


def test_embed_aligned_matches_pipeline_and_checks_shape(rec, faces):
    img = cv2.imread(str(PHOTOS / "ardern_2018.jpg"))
    crop = rec.align(img, faces["ardern_2018.jpg"].kps)
    assert crop.shape == (112, 112, 3)
    batch = rec.embed_aligned(np.stack([crop, crop[:, ::-1].copy()]))
    assert batch.shape == (2, 512)
    np.testing.assert_allclose(batch[0], faces["ardern_2018.jpg"].embedding, atol=1e-5)
    assert float(batch[0] @ batch[1]) > 0.7  # a mirrored face is the same person
    with pytest.raises(ValueError, match="112"):
        rec.embed_aligned(np.zeros((1, 100, 100, 3), np.uint8))


def test_cosine(faces):
    a, b = faces["obama.jpg"].embedding, faces["sunak.jpg"].embedding
    assert Recognizer.cosine(a, a) == pytest.approx(1.0, abs=1e-6)
    assert Recognizer.cosine(2 * a, b) == pytest.approx(float(a @ b), abs=1e-6)
    m = Recognizer.cosine(np.stack([a, b]), np.stack([a, b, a]))
    assert m.shape == (2, 3) and m[1, 1] == pytest.approx(1.0, abs=1e-6)


def test_default_recognizer_is_shared(rec):
    assert default_recognizer() is rec


def test_model_paths_are_configurable(tmp_path, monkeypatch):
    with pytest.raises(ModelFileError, match="not found"):
        ModelPaths.resolve(rec_model=tmp_path / "nope.onnx")
    default = ModelPaths.resolve()
    assert default.recognizer.name == REC_FILE and default.landmarks is not None
    link = tmp_path / "my_arcface.onnx"
    link.symlink_to(default.recognizer)
    monkeypatch.setenv("DICORE_REC_MODEL", str(tmp_path / "missing.onnx"))
    with pytest.raises(ModelFileError, match="DICORE_REC_MODEL"):
        ModelPaths.resolve()
    # An explicit argument wins over the environment.
    assert ModelPaths.resolve(rec_model=link).recognizer == default.recognizer.resolve()


def test_wrong_kind_of_model_is_refused():
    paths = ModelPaths.resolve()
    with pytest.raises(ModelFileError, match="not a recognition model"):
        Recognizer(rec_model=paths.landmarks)


def test_providers():
    assert select_providers("cpu") == ["CPUExecutionProvider"]
    assert select_providers("auto")[-1] == "CPUExecutionProvider"
    with pytest.raises(ValueError):
        select_providers("tpu")
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        with pytest.raises(ModelFileError, match="onnxruntime-gpu"):
            select_providers("cuda")


# -- on-disk cache ------------------------------------------------------------


@pytest.fixture(scope="module")
def cached_rec(tmp_path_factory) -> Recognizer:
    return Recognizer(cache_dir=tmp_path_factory.mktemp("embcache"))


def _entry(rec: Recognizer, path: Path) -> Path:
    import hashlib

    return rec.cache.path(hashlib.sha256(path.read_bytes()).hexdigest())


def test_cache_hit_returns_the_same_face(cached_rec, faces):
    path = PHOTOS / "macron_2014.jpg"
    first = cached_rec.embed_image(path)
    assert not first.cached and _entry(cached_rec, path).stat().st_size == FILE_LEN
    hits = cached_rec.cache.stats.hits
    again = cached_rec.embed_image(path.read_bytes())  # same content, other input form
    assert again.cached and cached_rec.cache.stats.hits == hits + 1
    np.testing.assert_array_equal(again.embedding, first.embedding)
    np.testing.assert_allclose(again.embedding, faces["macron_2014.jpg"].embedding, atol=1e-5)
    np.testing.assert_allclose(again.kps, first.kps)
    assert again.image_size == first.image_size and again.n_faces == 1


@pytest.mark.parametrize("damage", ["truncate", "flip_payload_byte", "wrong_length", "bad_magic"])
def test_corrupt_cache_entry_is_recomputed(cached_rec, faces, damage):
    from simulators.cache import _decode, _encode

    path = PHOTOS / "ardern_2022.jpg"
    cached_rec.embed_image(path)
    entry = _entry(cached_rec, path)
    data = bytearray(entry.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip_payload_byte":
        data[len(MAGIC) + 32 + 100] ^= 0xFF
    elif damage == "wrong_length":
        import hashlib

        payload = bytes(data[len(MAGIC) + 32 :]) + b"\0\0\0\0"  # a 531-float record
        data = bytearray(MAGIC + hashlib.sha256(payload).digest() + payload)
    else:
        data[:4] = b"XXXX"
    entry.write_bytes(bytes(data))
    corrupt = cached_rec.cache.stats.corrupt
    face = cached_rec.embed_image(path)
    assert not face.cached
    assert cached_rec.cache.stats.corrupt == corrupt + 1
    np.testing.assert_allclose(face.embedding, faces["ardern_2022.jpg"].embedding, atol=1e-5)
    restored = _decode(entry.read_bytes())  # overwritten with a valid entry
    assert restored is not None and entry.read_bytes() == _encode(restored)
    assert cached_rec.embed_image(path).cached


def test_cache_remembers_no_face(cached_rec):
    img = no_face_image()
    with pytest.raises(NoFaceFound):
        cached_rec.embed_image(img)
    hits = cached_rec.cache.stats.hits
    with pytest.raises(NoFaceFound):
        cached_rec.embed_image(img)
    assert cached_rec.cache.stats.hits == hits + 1


def test_cache_key_depends_on_pipeline(cached_rec, tmp_path):
    other = Recognizer(det_size=(480, 480), cache_dir=cached_rec.cache.root)
    assert other.pipeline_id != cached_rec.pipeline_id
    assert other.cache.path("abc") != cached_rec.cache.path("abc")
