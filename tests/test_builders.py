"""Dataset builders on small synthetic trees, with short videos made here (cv2.VideoWriter)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from dicore.datasets.builders import build_manifest
from dicore.datasets.frames import choose_frames, sample_frames
from dicore.datasets.manifest import read_manifest
from dicore.errors import UserError

N_FRAMES = 12


def make_video(path: Path, n: int = N_FRAMES) -> Path:
    """A tiny video whose frame k is grey level 20 k (so a frame tells its own index)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
    assert w.isOpened()
    for k in range(n):
        w.write(np.full((48, 64, 3), 20 * k, np.uint8))
    w.release()
    return path


def make_image(path: Path, level: int = 128) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((40, 40, 3), level, np.uint8))
    return path


def test_frames_are_seeded_and_exact(tmp_path):
    video = make_video(tmp_path / "v.mp4")
    frames = sample_frames(video, 4, seed=3)
    idx = [i for i, _ in frames]
    assert idx == sorted(idx) and len(set(idx)) == 4
    assert idx == [i for i, _ in sample_frames(video, 4, seed=3)]
    assert idx != [i for i, _ in sample_frames(video, 4, seed=4)] or idx != [
        i for i, _ in sample_frames(video, 4, seed=5)
    ]
    for i, img in frames:  # the decoded frame is the one its index names
        assert abs(float(img.mean()) - 20 * i) < 6
    assert len(sample_frames(video, 50, seed=0)) == N_FRAMES  # capped at the video length
    assert choose_frames(0, 3, 0, "x") == []


def _celebdf(root: Path) -> Path:
    make_video(root / "Celeb-real" / "id0_0000.mp4")
    make_video(root / "Celeb-real" / "id16_0001.mp4")
    make_video(root / "Celeb-synthesis" / "id0_id16_0000.mp4")
    make_video(root / "Celeb-synthesis" / "id16_id0_0001.mp4")
    make_video(root / "Celeb-synthesis" / "id0_id99_0002.mp4")  # id99 has no real video
    make_video(root / "YouTube-real" / "00001.mp4")
    (root / "List_of_testing_videos.txt").write_text(
        "1 Celeb-real/id16_0001.mp4\n0 Celeb-synthesis/id0_id16_0000.mp4\n"
    )
    return root


def test_celebdf(tmp_path):
    root = _celebdf(tmp_path / "celebdf")
    res = build_manifest("celebdf", root, tmp_path / "out" / "m.csv", frames_per_video=2, seed=1)
    m = read_manifest(res.manifest)  # what was written validates, files included
    assert len(m) == 8  # 4 usable videos x 2 frames
    fake = next(r for r in m.rows if r.source_video == "Celeb-synthesis/id0_id16_0000.mp4")
    # Our reading: the second id's face is pasted onto the first id's video.
    assert (fake.target, fake.reference, fake.method, fake.dataset) == (
        "id16", "id0", "replacement", "CelebDF")
    real = m.by_id()[fake.real_item_id]
    assert real.target == "id16" and not real.is_fake
    assert real.item_id == min(r.item_id for r in m.rows if r.target == "id16" and not r.is_fake)
    reasons = " ".join(reason for _, reason in res.skipped)
    assert "YouTube-real" in reasons and "no real image of 'id99'" in reasons
    flipped = build_manifest("celebdf", root, tmp_path / "o2" / "m.csv", target_position="first")
    f2 = next(r for r in flipped.rows if r.source_video == "Celeb-synthesis/id0_id16_0000.mp4")
    assert (f2.target, f2.reference) == ("id0", "id16")


def test_celebdf_testing_list(tmp_path):
    root = _celebdf(tmp_path / "celebdf")
    res = build_manifest("celebdf", root, tmp_path / "o" / "m.parquet", testing_only=True,
                         dataset="FCelebDF", frames_per_video=3)
    assert {r.source_video for r in res.rows} == {
        "Celeb-real/id16_0001.mp4", "Celeb-synthesis/id0_id16_0000.mp4"}
    assert len(read_manifest(res.manifest)) == 6 and res.rows[0].dataset == "FCelebDF"


def test_generic_layout_with_images_and_videos(tmp_path):
    root = tmp_path / "g"
    make_image(root / "real" / "alice" / "1.jpg")
    make_image(root / "real" / "alice" / "0.png")
    make_image(root / "real" / "bob" / "a.jpg")
    make_video(root / "fake" / "alice" / "bob" / "clip.mp4")
    make_image(root / "fake" / "bob" / "x.jpg")
    make_image(root / "stray.jpg")
    res = build_manifest("generic", root, tmp_path / "m.csv", method="reenactment",
                         frames_per_video=2)
    m = read_manifest(res.manifest)
    fakes = [r for r in m.rows if r.is_fake]
    assert len(fakes) == 3 and {r.method for r in fakes} == {"reenactment"}
    clip = [r for r in fakes if r.source_video][0]
    assert (clip.target, clip.reference, clip.real_item_id) == ("alice", "bob", "custom/real/alice/0")
    assert m.resolve(clip).is_file()
    x = next(r for r in fakes if r.target == "bob")
    assert x.reference == "" and m.resolve(x) == root / "fake" / "bob" / "x.jpg"


def test_voxceleb_fom_and_blend(tmp_path):
    vox = tmp_path / "vox"
    make_image(vox / "id10001" / "real" / "0.jpg")
    make_video(vox / "id10001" / "fake" / "id10002" / "out.mp4")
    make_image(vox / "id10001" / "fake" / "solo.png")
    res = build_manifest("voxceleb-th", vox, tmp_path / "v" / "m.csv")
    # Images stay in the dataset folder, outside the manifest's: the flag is needed.
    with pytest.raises(UserError, match="outside the manifest's folder"):
        read_manifest(res.manifest)
    fakes = [r for r in read_manifest(res.manifest, allow_outside_paths=True).rows if r.is_fake]
    assert sorted((r.method, r.reference) for r in fakes) == [
        ("reenactment", ""), ("reenactment", "id10002")]
    assert {r.dataset for r in res.rows} == {"VoxCelebTH"}

    fom = tmp_path / "fom"
    make_image(fom / "source" / "id3.jpg")
    make_video(fom / "generated" / "id3" / "id7.mp4")
    res = build_manifest("fom", fom, tmp_path / "f" / "m.csv")
    fake = next(r for r in res.rows if r.is_fake)
    assert (fake.target, fake.reference, fake.dataset) == ("id3", "id7", "CelebFOM")
    assert read_manifest(res.manifest, allow_outside_paths=True)

    bl = tmp_path / "blend"
    make_image(bl / "real" / "ann" / "0.jpg")
    make_image(bl / "real" / "ben" / "0.jpg")
    make_image(bl / "blend" / "ann__ben__07.png")
    make_image(bl / "blend" / "ben__ann" / "0.png")
    make_image(bl / "blend" / "nosep.png")
    res = build_manifest("blend", bl, tmp_path / "b" / "m.csv")
    fakes = sorted((r.target, r.reference, r.method) for r in res.rows if r.is_fake)
    assert fakes == [("ann", "ben", "synthesis"), ("ben", "ann", "synthesis")]
    assert any("nosep" in p for p, _ in res.skipped)
    assert read_manifest(res.manifest, allow_outside_paths=True)


def test_builder_errors(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        build_manifest("celebdf", tmp_path / "none", tmp_path / "m.csv")
    (tmp_path / "d").mkdir()
    with pytest.raises(UserError, match="Celeb-real"):
        build_manifest("celebdf", tmp_path / "d", tmp_path / "m.csv")
    with pytest.raises(UserError, match="unknown layout"):
        build_manifest("nope", tmp_path / "d", tmp_path / "m.csv")
    (tmp_path / "d" / "real").mkdir()
    (tmp_path / "d" / "fake").mkdir()
    with pytest.raises(UserError, match="no usable media"):
        build_manifest("generic", tmp_path / "d", tmp_path / "m.csv")
    assert not (tmp_path / "m.csv").exists()


def test_crop_through_the_recognizer(tmp_path):
    """A real photo: the crop holds the face and is smaller than the photo."""
    pytest.importorskip("onnxruntime")
    photos = Path(__file__).resolve().parents[1] / "simulators" / "photos"
    root = tmp_path / "g"
    img = cv2.imread(str(photos / "obama.jpg"))
    make_image(root / "real" / "obama" / "0.jpg")
    cv2.imwrite(str(root / "real" / "obama" / "0.jpg"), img)
    (root / "fake" / "obama").mkdir(parents=True)
    cv2.imwrite(str(root / "fake" / "obama" / "1.jpg"), img[:, ::-1])
    res = build_manifest("generic", root, tmp_path / "m.csv", crop=True)
    m = read_manifest(res.manifest)
    crop = cv2.imread(str(m.resolve(m.rows[0])))
    assert crop.shape[0] < img.shape[0] and crop.shape[1] < img.shape[1]
    assert min(crop.shape[:2]) > 60
