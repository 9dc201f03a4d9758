"""Real morphing and face-swap attacks on the committed photos."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from simulators.attacks import EXAMPLES, face_swap, morph, write_examples
from simulators.errors import NoFaceFound
from simulators.recognizer import Recognizer, default_recognizer

PHOTOS = Path(__file__).resolve().parents[1] / "simulators" / "photos"
FILES = ["macron_2025.jpg", "ardern_2022.jpg", "obama.jpg", "sunak.jpg", "macron_2014.jpg", "ardern_2018.jpg"]


@pytest.fixture(scope="session")
def rec() -> Recognizer:
    return default_recognizer()


@pytest.fixture(scope="module")
def emb(rec) -> dict[str, np.ndarray]:
    return {f: face.embedding for f, face in zip(FILES, rec.embed_images([PHOTOS / f for f in FILES]), strict=True)}


@pytest.fixture(scope="module")
def examples(rec, tmp_path_factory) -> dict[str, dict]:
    """The four example attacks, generated once and read back from disk."""
    out = tmp_path_factory.mktemp("attacks")
    rows = list(csv.DictReader(write_examples(out, rec).open()))
    for r in rows:
        r["image"] = cv2.imread(str(out / r["file"]))
    return {(r["target_photo"], r["reference_photo"]): r for r in rows}


def _sim(rec, img, emb, name) -> float:
    return float(rec.embed_image(img).embedding @ emb[name])


@pytest.mark.parametrize("a,b", [("macron_2025.jpg", "sunak.jpg"), ("ardern_2022.jpg", "obama.jpg")])
def test_morph_is_closer_to_both_sources_than_to_unrelated_faces(rec, emb, examples, a, b):
    assert examples[(a, b)]["method"] == "synthesis"
    out = examples[(a, b)]["image"]
    src = cv2.imread(str(PHOTOS / a))
    assert out.shape == src.shape and out.dtype == np.uint8
    e = rec.embed_image(out).embedding
    to_sources = [float(e @ emb[a]), float(e @ emb[b])]
    unrelated = [float(e @ emb[f]) for f in FILES[:4] if f not in (a, b)]
    assert min(to_sources) > max(unrelated) + 0.05, (to_sources, unrelated)
    # Far from the image it was pasted into at the pixel level: it is a new face.
    assert np.abs(out.astype(int) - src).mean() > 2


def test_morph_moves_towards_b_with_alpha(rec, emb, examples):
    a, b = PHOTOS / "macron_2025.jpg", PHOTOS / "sunak.jpg"
    half = examples[("macron_2025.jpg", "sunak.jpg")]["image"]
    low, high = morph(a, b, 0.2, rec), morph(a, b, 0.8, rec)
    sims = [_sim(rec, img, emb, "sunak.jpg") for img in (low, half, high)]
    assert sims[0] < sims[1] < sims[2], sims
    assert _sim(rec, low, emb, "macron_2025.jpg") > _sim(rec, high, emb, "macron_2025.jpg")
    with pytest.raises(ValueError, match="alpha"):
        morph(a, b, 1.5, rec)


@pytest.mark.parametrize(
    "donor,body", [("ardern_2022.jpg", "sunak.jpg"), ("macron_2025.jpg", "obama.jpg")]
)
def test_swap_is_closer_to_the_donor_than_to_the_body_owner(rec, emb, examples, donor, body):
    assert examples[(donor, body)]["method"] == "replacement"
    out = examples[(donor, body)]["image"]
    body_img = cv2.imread(str(PHOTOS / body))
    assert out.shape == body_img.shape and out.dtype == np.uint8
    to_donor, to_body = _sim(rec, out, emb, donor), _sim(rec, out, emb, body)
    assert to_donor > to_body + 0.1, (to_donor, to_body)
    # Only the face changes: the image corners are the body's pixels.
    for ys, xs in [(slice(0, 40), slice(0, 40)), (slice(-40, None), slice(-40, None))]:
        np.testing.assert_array_equal(out[ys, xs], body_img[ys, xs])


def test_attacks_need_a_face(rec):
    blank = np.full((200, 200, 3), 90, np.uint8)
    with pytest.raises(NoFaceFound):
        face_swap(blank, PHOTOS / "obama.jpg", rec)


def test_write_examples(examples):
    rows = list(examples.values())
    assert [r["file"] for r in rows] == [f"{stem}.png" for stem, *_ in EXAMPLES]
    assert {r["method"] for r in rows} == {"synthesis", "replacement"}
    assert all(r["image"] is not None and r["image"].ndim == 3 for r in rows)
    swap = examples[("ardern_2022.jpg", "sunak.jpg")]
    assert (swap["target"], swap["reference"]) == ("Jacinda Ardern", "Rishi Sunak")
