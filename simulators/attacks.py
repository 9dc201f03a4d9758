"""Real-image impersonation attacks made with OpenCV from credited photos.

- ``morph(a, b, alpha)``: the classic morphing attack (the paper's *facial
  synthesis*). Both faces are brought to a common landmark geometry (the
  weighted mean of their 106 landmarks, after a 5-point similarity alignment
  of b onto a), warped piecewise-affinely over a Delaunay triangulation, blended,
  and the blended face is feathered back into image a.
- ``face_swap(donor, body)``: the classic landmark face swap (the paper's
  *facial replacement*): the donor's face is warped onto the body's 106
  landmarks and pasted with a convex-hull mask and ``cv2.seamlessClone``.

Landmarks come from insightface's ``2d106det.onnx`` via ``Recognizer.landmarks_106``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from scipy.spatial import Delaunay

from simulators.errors import ImageUnreadable, NoFaceFound
from simulators.recognizer import ImageInput, Recognizer, default_recognizer

PHOTOS_DIR = Path(__file__).parent / "photos"


@dataclass(frozen=True)
class _Landmarked:
    img: np.ndarray
    kps: np.ndarray  # (5, 2)
    pts: np.ndarray  # (106, 2)


def _landmarked(rec: Recognizer, image: ImageInput) -> _Landmarked:
    img, source = rec.read_image(image)
    faces = rec.detect(img, embed=False)
    if not faces:
        raise NoFaceFound(source, (img.shape[1], img.shape[0]), rec.det_thresh)
    face = faces[0]  # the largest
    pts = rec.landmarks_106(img, face)
    h, w = img.shape[:2]
    pts[:, 0] = np.clip(pts[:, 0], 0, w - 1)
    pts[:, 1] = np.clip(pts[:, 1], 0, h - 1)
    return _Landmarked(img, face.kps, pts)


def _roi(pts: np.ndarray, w: int, h: int, margin: float = 0.3) -> tuple[int, int, int, int]:
    """Box (x0, y0, x1, y1) around the points, grown by ``margin`` of their size."""
    x0, y0 = pts.min(axis=0)
    x1, y1 = pts.max(axis=0)
    g = margin * max(x1 - x0, y1 - y0)
    return (max(0, int(x0 - g)), max(0, int(y0 - g)), min(w, int(x1 + g) + 1), min(h, int(y1 + g) + 1))


def _border_points(x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    xs, ys = (x0, (x0 + x1 - 1) / 2, x1 - 1), (y0, (y0 + y1 - 1) / 2, y1 - 1)
    return np.array([(x, y) for x in xs for y in ys if (x, y) != (xs[1], ys[1])], np.float32)


def _piecewise_warp(
    src: np.ndarray, src_pts: np.ndarray, dst_pts: np.ndarray, tris: np.ndarray,
    roi: tuple[int, int, int, int],
) -> np.ndarray:
    """The ``roi`` of ``src`` warped so that ``src_pts`` land on ``dst_pts`` (image
    coordinates), one affine map per triangle. A label map of triangle ids plus
    one ``cv2.remap`` avoids seams between triangles; pixels outside every
    triangle keep their place."""
    x0, y0, x1, y1 = roi
    h, w = y1 - y0, x1 - x0
    label = np.full((h, w), -1, np.int32)
    inverse = np.zeros((len(tris), 2, 3), np.float32)
    local = dst_pts - (x0, y0)
    for t, tri in enumerate(tris):
        inverse[t] = cv2.getAffineTransform(dst_pts[tri].astype(np.float32), src_pts[tri].astype(np.float32))
        cv2.fillConvexPoly(label, np.round(local[tri]).astype(np.int32), t)
    covered = label >= 0
    a = inverse[np.maximum(label, 0)]  # (h, w, 2, 3)
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    map_x = a[..., 0, 0] * xs + a[..., 0, 1] * ys + a[..., 0, 2]
    map_y = a[..., 1, 0] * xs + a[..., 1, 1] * ys + a[..., 1, 2]
    map_x[~covered] = xs[~covered]
    map_y[~covered] = ys[~covered]
    return cv2.remap(src, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def _hull_mask(pts: np.ndarray, shape: tuple[int, int], shrink: int) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(pts).astype(np.int32)), 255)
    if shrink > 0:
        mask = cv2.erode(mask, np.ones((2 * shrink + 1, 2 * shrink + 1), np.uint8))
    return mask


def _face_scale(pts: np.ndarray) -> float:
    x, y, w, h = cv2.boundingRect(np.round(pts).astype(np.int32))
    return float(max(w, h))


def _aligned(img: np.ndarray, pts: np.ndarray, src: np.ndarray, dst: np.ndarray,
             size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """`img` and its points `pts` under the similarity transform taking `src` onto `dst`."""
    m, _ = cv2.estimateAffinePartial2D(src, dst, method=cv2.LMEDS)
    if m is None:
        raise ValueError("cannot align the two faces (degenerate landmarks)")
    return cv2.warpAffine(img, m, size, borderMode=cv2.BORDER_REFLECT), pts @ m[:, :2].T + m[:, 2]


def morph(
    img_a: ImageInput, img_b: ImageInput, alpha: float = 0.5, recognizer: Recognizer | None = None
) -> np.ndarray:
    """Landmark-aligned blend of face b into image a (``alpha`` = weight of b). BGR uint8."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    rec = recognizer or default_recognizer()
    a, b = _landmarked(rec, img_a), _landmarked(rec, img_b)
    h, w = a.img.shape[:2]
    # Similarity transform of b onto a (5 points) so both faces share scale and position.
    b_img, b_pts = _aligned(b.img, b.pts, b.kps, a.kps, (w, h))
    target = (1 - alpha) * a.pts + alpha * b_pts
    # Warp only a box around the faces; its border points stay fixed, so the
    # warp is continuous with the untouched rest of image a.
    roi = _roi(np.vstack([a.pts, b_pts]), w, h)
    border = _border_points(*roi)
    src_a, src_b, dst = (np.vstack([p, border]) for p in (a.pts, b_pts, target))
    tris = Delaunay(dst).simplices
    wa = _piecewise_warp(a.img, src_a, dst, tris, roi).astype(np.float32)
    wb = _piecewise_warp(b_img, src_b, dst, tris, roi).astype(np.float32)
    x0, y0, x1, y1 = roi
    # Feathered hull: the blended face inside, a's (warped) hair and background outside.
    feather = max(3, int(_face_scale(target) * 0.04)) | 1
    mask = _hull_mask(target - (x0, y0), (y1 - y0, x1 - x0), shrink=feather // 2)
    mask = cv2.GaussianBlur(mask.astype(np.float32) / 255, (2 * feather + 1,) * 2, 0)[..., None]
    face = wa * (1 - mask) + ((1 - alpha) * wa + alpha * wb) * mask
    out = a.img.copy()
    out[y0:y1, x0:x1] = np.clip(face + 0.5, 0, 255).astype(np.uint8)
    return out


def face_swap(donor: ImageInput, body: ImageInput, recognizer: Recognizer | None = None) -> np.ndarray:
    """The donor's face aligned onto the body's face and seamlessly cloned. BGR uint8.

    The donor is fitted to the body's 106 landmarks with a similarity transform
    (least squares), not warped piecewise onto the body's geometry: face shape
    carries identity. On the 12 ordered pairs of four committed photos the
    result is closer to the donor in 10 (a piecewise warp: 3 of 12, and it
    stretched closed lips over open mouths).
    """
    rec = recognizer or default_recognizer()
    d, b = _landmarked(rec, donor), _landmarked(rec, body)
    h, w = b.img.shape[:2]
    warped, d_pts = _aligned(d.img, d.pts, d.pts, b.pts, (w, h))
    # The donor's whole face hull (its jaw line carries identity), clipped to a
    # slightly grown body hull so it never spills far onto the background.
    scale = _face_scale(b.pts)
    donor_mask = _hull_mask(d_pts, (h, w), shrink=max(1, int(scale * 0.02)))
    grow = max(1, int(scale * 0.05))
    body_mask = cv2.dilate(_hull_mask(b.pts, (h, w), 0), np.ones((2 * grow + 1,) * 2, np.uint8))
    mask = cv2.bitwise_and(donor_mask, body_mask)
    # seamlessClone needs the mask away from the border: pad, clone, crop.
    pad = 16
    body_p = cv2.copyMakeBorder(b.img, pad, pad, pad, pad, cv2.BORDER_REFLECT)
    warped_p = cv2.copyMakeBorder(warped, pad, pad, pad, pad, cv2.BORDER_REFLECT)
    mask_p = cv2.copyMakeBorder(mask, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    x, y, bw, bh = cv2.boundingRect(mask_p)
    if bw == 0 or bh == 0:
        raise ValueError("the two faces do not overlap after alignment")
    center = (x + bw // 2, y + bh // 2)
    out = cv2.seamlessClone(warped_p, body_p, mask_p, center, cv2.NORMAL_CLONE)
    return out[pad : pad + h, pad : pad + w]


def save_image(img: np.ndarray, path: str | Path) -> Path:
    """Write a BGR image; the format follows the suffix (.png, .jpg)."""
    path = Path(path)
    ok, buf = cv2.imencode(path.suffix or ".png", img)
    if not ok:
        raise ImageUnreadable(str(path), f"OpenCV cannot encode {path.suffix!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.tobytes())
    return path


# (file stem, method, target photo, reference photo): target is the identity the
# attack claims (a's face for a morph, the donor for a swap), as in results.csv.
EXAMPLES: tuple[tuple[str, str, str, str], ...] = (
    ("morph_macron2025_sunak", "synthesis", "macron_2025.jpg", "sunak.jpg"),
    ("morph_ardern2022_obama", "synthesis", "ardern_2022.jpg", "obama.jpg"),
    ("swap_ardern2022_onto_sunak", "replacement", "ardern_2022.jpg", "sunak.jpg"),
    ("swap_macron2025_onto_obama", "replacement", "macron_2025.jpg", "obama.jpg"),
)


def write_examples(out_dir: str | Path, recognizer: Recognizer | None = None) -> Path:
    """Generate the ``EXAMPLES`` attacks as PNGs plus ``manifest.csv`` in ``out_dir``."""
    from simulators.gallery import read_photo_table

    rec = recognizer or default_recognizer()
    person = {p.name: name for name, paths in read_photo_table(PHOTOS_DIR / "photos.csv").items() for p in paths}
    out = Path(out_dir)
    rows = []
    for stem, method, target, reference in EXAMPLES:
        t, r = PHOTOS_DIR / target, PHOTOS_DIR / reference
        img = morph(t, r, 0.5, rec) if method == "synthesis" else face_swap(t, r, rec)
        save_image(img, out / f"{stem}.png")
        rows.append(
            {"file": f"{stem}.png", "method": method, "target": person[target],
             "reference": person[reference], "target_photo": target, "reference_photo": reference}
        )
    manifest = out / "manifest.csv"
    with manifest.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return manifest
