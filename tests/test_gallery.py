"""Gallery built from the committed photos with the real recognizer."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import simulators.gallery as gallery_mod
from simulators.errors import GalleryError
from simulators.gallery import Gallery, default_gallery, read_photo_table
from simulators.recognizer import Recognizer, default_recognizer

PHOTOS = Path(__file__).resolve().parents[1] / "simulators" / "photos"


@pytest.fixture(scope="session")
def rec() -> Recognizer:
    return default_recognizer()


@pytest.fixture(scope="module")
def gallery(rec, tmp_path_factory) -> Gallery:
    return default_gallery(rec, cache_dir=tmp_path_factory.mktemp("dicore-cache"))


def test_default_gallery_identities(gallery, rec):
    assert gallery.names == ["Emmanuel Macron", "Jacinda Ardern", "Barack Obama", "Rishi Sunak"]
    assert gallery.counts.tolist() == [2, 2, 1, 1]
    assert gallery.model_id == rec.model_id
    np.testing.assert_allclose(np.linalg.norm(gallery.templates, axis=1), 1, atol=1e-5)
    # Every photo's best match is its own person, by a wide margin.
    for person, paths in read_photo_table(PHOTOS / "photos.csv").items():
        for p in paths:
            sims = gallery.similarities(rec.embed_image(p).embedding)[0]
            assert gallery.names[int(np.argmax(sims))] == person
            others = np.delete(sims, gallery.index(person))
            assert sims[gallery.index(person)] - others.max() > 0.5


def test_template_is_normalised_mean(gallery, rec):
    a = rec.embed_image(PHOTOS / "macron_2014.jpg").embedding
    b = rec.embed_image(PHOTOS / "macron_2025.jpg").embedding
    mean = (a + b) / np.linalg.norm(a + b)
    np.testing.assert_allclose(gallery.template("Emmanuel Macron"), mean, atol=1e-5)
    with pytest.raises(KeyError, match="Nobody"):
        gallery.template("Nobody")


def test_default_gallery_is_cached_on_disk_and_rebuilt_when_damaged(rec, tmp_path):
    first = default_gallery(rec, cache_dir=tmp_path)
    (saved,) = (tmp_path / "galleries").glob("default-*.npz")
    assert default_gallery(rec, cache_dir=tmp_path) is first  # per-process cache
    loaded = Gallery.load(saved, expected_model_id=rec.model_id)
    np.testing.assert_array_equal(loaded.templates, first.templates)
    saved.write_bytes(saved.read_bytes()[:100])  # truncate
    gallery_mod._defaults.clear()  # as in a new process
    rebuilt = default_gallery(rec, cache_dir=tmp_path)
    np.testing.assert_allclose(rebuilt.templates, first.templates, atol=1e-6)
    Gallery.load(saved)  # overwritten with a valid file


def test_from_folder_matches_default(gallery, rec, tmp_path):
    root = tmp_path / "gallery"
    for person, paths in read_photo_table(PHOTOS / "photos.csv").items():
        (root / person).mkdir(parents=True)
        for p in paths:
            shutil.copy(p, root / person / p.name)
    (root / "Barack Obama" / "notes.txt").write_text("ignored: not an image suffix")
    g = Gallery.from_folder(root, rec)
    assert sorted(g.names) == sorted(gallery.names)
    for name in g.names:
        np.testing.assert_allclose(g.template(name), gallery.template(name), atol=1e-5)
    assert g.counts[g.index("Jacinda Ardern")] == 2


def test_from_folder_errors(rec, tmp_path):
    with pytest.raises(GalleryError, match="not found"):
        Gallery.from_folder(tmp_path / "absent", rec)
    (tmp_path / "Empty Person").mkdir()
    with pytest.raises(GalleryError, match="no images"):
        Gallery.from_folder(tmp_path, rec)
    shutil.rmtree(tmp_path / "Empty Person")
    (tmp_path / "Broken").mkdir()
    (tmp_path / "Broken" / "x.jpg").write_text("not a jpeg")
    with pytest.raises(GalleryError, match="x.jpg"):
        Gallery.from_folder(tmp_path, rec)


def test_from_embeddings_and_validation():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(3, 512))
    g = Gallery.from_embeddings({"A": a, "B": a[0]}, model_id="m")
    expected = (a / np.linalg.norm(a, axis=1, keepdims=True)).mean(0)
    np.testing.assert_allclose(g.template("A"), expected / np.linalg.norm(expected), atol=1e-6)
    assert g.counts.tolist() == [3, 1]
    with pytest.raises(GalleryError, match="512"):
        Gallery.from_embeddings({"A": np.ones(128)})
    with pytest.raises(GalleryError, match="non-zero"):
        Gallery.from_embeddings({"A": np.zeros(512)})
    with pytest.raises(GalleryError, match="unit"):
        Gallery(["A"], np.ones((1, 512)), np.array([1]))
    with pytest.raises(GalleryError, match="unique"):
        Gallery(["A", "A"], np.eye(2, 512), np.array([1, 1]))


def test_save_load_round_trip_and_validation(gallery, tmp_path):
    path = gallery.save(tmp_path / "g.npz")
    back = Gallery.load(path, expected_model_id=gallery.model_id)
    assert back.names == gallery.names and back.model_id == gallery.model_id
    np.testing.assert_array_equal(back.templates, gallery.templates)
    np.testing.assert_array_equal(back.counts, gallery.counts)
    with pytest.raises(GalleryError, match="built with model"):
        Gallery.load(path, expected_model_id="arcface:other")
    with pytest.raises(GalleryError, match="not found"):
        Gallery.load(tmp_path / "none.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(path.read_bytes()[:-50])
    with pytest.raises(GalleryError, match="cannot read"):
        Gallery.load(bad)
    np.savez(tmp_path / "other.npz", names=np.array(["A"]))
    with pytest.raises(GalleryError, match="missing"):
        Gallery.load(tmp_path / "other.npz")
    np.savez(
        tmp_path / "scaled.npz", format=np.array("dicore-gallery-v1"), names=np.array(["A"]),
        templates=np.full((1, 512), 0.5, np.float32), counts=np.array([1]), model_id=np.array("m"),
    )
    with pytest.raises(GalleryError, match="scaled.npz.*unit"):
        Gallery.load(tmp_path / "scaled.npz")
    with pytest.raises(GalleryError, match=".npz"):
        gallery.save(tmp_path / "g.pkl")
