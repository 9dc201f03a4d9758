"""Frames from videos (OpenCV), and optional face crops through the recognizer."""

from __future__ import annotations

from pathlib import Path

import numpy as np

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


class FrameError(Exception):
    """A video could not be read (the builder records it and goes on)."""


def frame_count(path: Path) -> int:
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise FrameError(f"cannot open video {path}")
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        if n <= 0:  # some containers do not say: count by reading
            n = 0
            while cap.grab():
                n += 1
        return n
    finally:
        cap.release()


def choose_frames(total: int, n: int, seed: int, key: str) -> list[int]:
    """`n` distinct frame numbers in [0, total), seeded by (seed, key), sorted."""
    if total <= 0:
        return []
    # Per-video stream: adding a video does not change the frames of the others.
    digest = np.frombuffer(key.encode("utf-8"), dtype=np.uint8)
    rng = np.random.default_rng([seed, *digest.tolist()])
    return sorted(rng.choice(total, size=min(n, total), replace=False).tolist())


def sample_frames(path: Path, n: int, *, seed: int = 0, key: str | None = None):
    """[(frame_index, BGR image)] for `n` seeded frames of a video, read in order.

    Frames are decoded sequentially (grab/retrieve) rather than by seeking:
    seeking is inexact in many codecs, which would break reproducibility.
    """
    import cv2

    wanted = choose_frames(frame_count(path), n, seed, key or path.name)
    cap = cv2.VideoCapture(str(path))
    out: list[tuple[int, np.ndarray]] = []
    try:
        idx, want = 0, iter(wanted)
        target = next(want, None)
        while target is not None and cap.grab():
            if idx == target:
                ok, frame = cap.retrieve()
                if ok and frame is not None:
                    out.append((idx, frame))
                target = next(want, None)
            idx += 1
    finally:
        cap.release()
    if wanted and not out:
        raise FrameError(f"no frame could be decoded from {path}")
    return out


def crop_face(image: np.ndarray, *, margin: float = 0.3, recognizer=None) -> np.ndarray:
    """The largest face, with `margin` of its size around it; raises NoFaceFound."""
    if recognizer is None:
        from dicore.datasets.face_detector import face_detector

        recognizer = face_detector()
    faces = recognizer.detect(image)
    if not faces:
        from dicore.datasets.face_detector import NoFaceFound

        raise NoFaceFound("frame", (image.shape[1], image.shape[0]), 0.0)
    x1, y1, x2, y2 = max(
        (np.asarray(f.bbox, float) for f in faces), key=lambda b: (b[2] - b[0]) * (b[3] - b[1])
    )
    w, h = x2 - x1, y2 - y1
    H, W = image.shape[:2]
    x1, x2 = max(0, int(x1 - margin * w)), min(W, int(x2 + margin * w))
    y1, y2 = max(0, int(y1 - margin * h)), min(H, int(y2 + margin * h))
    return image[y1:y2, x1:x2]


def write_jpeg(path: Path, image: np.ndarray, quality: int = 95) -> None:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise FrameError(f"cannot encode {path}")
    path.write_bytes(buf.tobytes())
