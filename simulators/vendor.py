"""A simulated vendor: recognizer + gallery + policy + distractors (the backend layer).

``SimulatedVendor("aws")`` answers in vendor-neutral terms (pixels, percent,
names); the HTTP servers in ``simulators.servers`` turn that into each vendor's
wire format, and the in-process ``sim`` backend uses it directly. Everything it
returns is simulated (``simulated=True``).

Input limits are the vendor's own (``simulators.images.LIMITS``) so that the in-process
backend refuses what the real API refuses; a refused input raises ``ImageRejected`` with
a ``reason`` the response layer maps to the vendor's error.

Results are cached in memory (LRU) by content: the image's length and Python's
64-bit keyed SipHash of its bytes (twice as fast as SHA-256 here, and the cache
lookup is most of a warm request's work; a collision among a few hundred entries
has odds of about 1e-14). A repeated image does no model work.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field

import numpy as np

from dicore.core.vocab import VENDORS
from simulators import SIMULATED_LABEL
from simulators.errors import ImageTooSmall, ImageUnreadable, NoFaceFound, RecognizerError
from simulators.images import (
    LIMITS,
    ImageInfo,
    ImageLimits,
    ImageRejected,
    check_limits,
    image_info,
)
from simulators.lru import LRUCache
from simulators.wire import reported


class UnsupportedOperation(Exception):
    """The vendor has no such call (Naver has no face similarity)."""


@dataclass(frozen=True, eq=False)
class RecognizedFace:
    """One face as the simulated vendor saw it. Pixels of the input image."""

    bbox: tuple[float, float, float, float]  # x1, y1, x2, y2
    landmarks: tuple[
        tuple[float, float], ...
    ]  # 5 points: eye, eye, nose, mouth, mouth (image left first)
    det_score: float  # 0..1
    name: str | None  # None: the vendor names nobody for this face
    celebrity_id: str | None
    confidence: float | None  # percent 0..100 at wire precision (simulators.wire); None iff no name
    embedding: np.ndarray = field(repr=False)  # (512,) unit

    @property
    def width(self) -> float:
        return self.bbox[2] - self.bbox[0]

    @property
    def height(self) -> float:
        return self.bbox[3] - self.bbox[1]


@dataclass(frozen=True)
class ImageRecognition:
    vendor: str
    image: ImageInfo
    faces: tuple[RecognizedFace, ...]  # largest first
    simulated: bool = True
    label: str = SIMULATED_LABEL

    @property
    def largest(self) -> RecognizedFace | None:
        return self.faces[0] if self.faces else None


@dataclass(frozen=True)
class FaceComparison:
    """The source's largest face against every target face (similarity percent)."""

    source: RecognizedFace
    source_image: ImageInfo
    target_image: ImageInfo
    targets: tuple[tuple[RecognizedFace, float], ...]  # sorted by similarity, highest first
    simulated: bool = True


# Detection and embedding do not depend on the vendor: the three simulated vendors share one
# recognizer, so they share its results too (one model pass per image, not one per vendor),
# and one lock (one inference at a time on a 2-core machine; the sessions hold state).
_MODEL_LOCK = threading.Lock()
_DETECTIONS: LRUCache[list | RecognizerError] = LRUCache(2048)


def detect_shared(recognizer, data: bytes) -> list:
    """`recognizer.detect(data)` (faces, largest first), remembered by image content for
    every vendor using the same recognizer. Recognizer errors are remembered and re-raised.

    The image is decoded before the model lock is taken, so a large image delays only its
    own request (callers check its pixel count from the header first: `images.check_limits`).
    """
    # pipeline_id names the models and detection settings, so a new recognizer with other
    # models never reads another's faces.
    key = (getattr(recognizer, "pipeline_id", id(recognizer)), len(data), hash(data))
    hit = _DETECTIONS.get(key)
    if hit is None:
        decoded: object = data
        try:
            decoded, _ = recognizer.read_image(data)
        except RecognizerError as exc:
            hit = exc
        if hit is None:
            with _MODEL_LOCK:
                try:
                    hit = recognizer.detect(decoded)
                except NoFaceFound:
                    hit = []
                except RecognizerError as exc:
                    hit = exc
        _DETECTIONS.put(key, hit)
    if isinstance(hit, RecognizerError):
        raise hit
    return hit


def detect_shared_many(recognizer, datas: list[bytes]) -> None:
    """Fill the shared detections for every image not yet remembered, with one batched
    ArcFace pass (`Recognizer.detect_many`); `detect_shared` then answers from memory."""
    pipeline = getattr(recognizer, "pipeline_id", id(recognizer))
    with _MODEL_LOCK:
        todo = {}
        for data in datas:
            key = (pipeline, len(data), hash(data))
            if _DETECTIONS.get(key) is None:
                todo[key] = data
        if not todo:
            return
        for key, hit in zip(todo, recognizer.detect_many(list(todo.values())), strict=True):
            _DETECTIONS.put(key, hit)


_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def celebrity_id(name: str) -> str:
    """Stable [0-9A-Za-z] id of a name (7 chars, like Rekognition's '3Ir0du6')."""
    n = int.from_bytes(hashlib.sha256(f"dicore-celebrity:{name}".encode()).digest()[:8], "big")
    out = []
    for _ in range(7):
        n, r = divmod(n, 62)
        out.append(_B62[r])
    return "".join(out)


class SimulatedVendor:
    """recognizer + gallery + policy + distractors for one vendor."""

    def __init__(
        self,
        vendor: str,
        *,
        gallery=None,
        recognizer=None,
        seed: int = 0,
        cache_size: int = 512,
        max_faces: int = 100,
        policy=None,
    ):
        """``policy``: a ``simulators.policies`` policy to use instead of the vendor's own
        (contract tests of a client against another reporting rule)."""
        if vendor not in VENDORS:
            raise ValueError(f"vendor must be one of {VENDORS}, not {vendor!r}")
        from simulators.policies import POLICIES
        from simulators.simulate import make_distractors

        self.vendor = vendor
        self.policy = POLICIES[vendor] if policy is None else policy
        if recognizer is None:
            from simulators.recognizer import default_recognizer

            recognizer = default_recognizer()
        if gallery is None:
            from simulators.gallery import default_gallery

            gallery = default_gallery(recognizer)
        self.recognizer = recognizer
        self.gallery = gallery
        self.limits = LIMITS[vendor]
        self.max_faces = max_faces
        self.distractor_names, self.distractors = make_distractors(self.policy, seed=seed)
        self.distractor_names = list(self.distractor_names)
        # The server's gallery is what it knows: every gallery identity is known.
        self._known = np.ones(len(gallery.names), dtype=bool)
        self._ids = {celebrity_id(n): n for n in [*gallery.names, *self.distractor_names]}
        # content key -> ImageRecognition, or the ImageRejected the recognizer raised
        self._cache: LRUCache[ImageRecognition | ImageRejected] = LRUCache(cache_size)

    def __repr__(self) -> str:
        return (
            f"SimulatedVendor({self.vendor!r}, gallery={len(self.gallery.names)} names, "
            f"distractors={len(self.distractor_names)}, simulated)"
        )

    # -- celebrity ids ----------------------------------------------------------

    def celebrity_name(self, cid: str) -> str | None:
        """The name behind a celebrity id, or None if this vendor has no such id."""
        return self._ids.get(cid)

    # -- the cache --------------------------------------------------------------

    @staticmethod
    def _key(data: bytes) -> tuple:
        return ("bytes", len(data), hash(data))

    @property
    def cache_hits(self) -> int:
        return self._cache.hits

    @property
    def cache_misses(self) -> int:
        return self._cache.misses

    def _cached(self, key: tuple):
        return self._cache.get(key)

    def _store(self, key: tuple, value) -> None:
        self._cache.put(key, value)

    # -- model work ---------------------------------------------------------------

    def _analyse(self, data: bytes, info: ImageInfo) -> ImageRecognition:
        """Detect, embed and name every face (model work). Raises ImageRejected."""
        try:
            faces = detect_shared(self.recognizer, data)[: self.max_faces]
        except ImageUnreadable as exc:
            raise ImageRejected("unreadable", f"the image could not be decoded ({exc})") from None
        except ImageTooSmall as exc:
            raise ImageRejected("too_small", str(exc)) from None
        except NoFaceFound:
            faces = []
        except RecognizerError as exc:
            raise ImageRejected("unreadable", str(exc)) from None
        return ImageRecognition(self.vendor, info, tuple(self._name_faces(faces)))

    def _name_faces(self, faces: list) -> list[RecognizedFace]:
        if not faces:
            return []
        from simulators.simulate import recognize

        queries = np.stack([f.embedding for f in faces]).astype(np.float32)
        res = recognize(
            self.policy,
            gallery=self.gallery.templates,
            known=self._known,
            distractors=self.distractors,
            queries=queries,
        )
        g = len(self.gallery.names)
        out = []
        # At the vendor's wire precision: the percent a client reads over HTTP.
        confidences = reported(self.vendor, "confidence", np.asarray(res.confidence))
        for f, idx, conf in zip(faces, np.asarray(res.index), confidences, strict=True):
            idx = int(idx)
            x1, y1, x2, y2 = (float(v) for v in f.bbox)
            if idx < 0:
                name = None
            elif idx < g:
                name = self.gallery.names[idx]
            else:
                name = self.distractor_names[idx - g]
            out.append(
                RecognizedFace(
                    bbox=(float(x1), float(y1), float(x2), float(y2)),
                    landmarks=tuple((float(x), float(y)) for x, y in np.asarray(f.kps)),
                    det_score=float(f.det_score),
                    name=name,
                    celebrity_id=celebrity_id(name) if name else None,
                    confidence=float(conf) if name else None,
                    embedding=np.asarray(f.embedding, np.float32),
                )
            )
        return out

    # -- the vendor's calls -----------------------------------------------------

    def recognize_image(self, image: bytes, limits: ImageLimits | None = None) -> ImageRecognition:
        """Every face (largest first, at most ``max_faces``), each named per the policy.

        No face is not an error here: ``faces`` is empty. Raises ImageRejected.
        """
        limits = limits or self.limits
        image = image if type(image) is bytes else bytes(image)
        if not image:
            raise ImageRejected("empty", "the image is empty (0 bytes)")
        key = self._key(image)
        hit = self._cached(key)
        if hit is None:
            info = image_info(image)
            check_limits(info, limits)  # before model work; refusals are not cached (limits vary)
            try:
                hit = self._analyse(image, info)
            except ImageRejected as exc:
                exc.info = info
                hit = exc
            self._store(key, hit)
        check_limits(hit.image if isinstance(hit, ImageRecognition) else hit.info, limits)
        if isinstance(hit, ImageRejected):
            raise ImageRejected(hit.reason, str(hit))  # a fresh one: callers annotate it
        return hit

    def similarity(self, a: np.ndarray, b: np.ndarray) -> float:
        """Similarity percent between two face embeddings, per the policy."""
        if not self.policy.has_similarity:
            raise UnsupportedOperation(f"{self.vendor} has no face-similarity call")
        from simulators.simulate import similarity

        return float(reported(self.vendor, "similarity", similarity(self.policy, a[None], b[None]))[0])

    def compare_faces(
        self, source: bytes, target: bytes, limits: ImageLimits | None = None
    ) -> FaceComparison:
        """The source's largest face against each target face (AWS CompareFaces, Azure verify).

        Raises ImageRejected (reason ``no_face`` when either image has no face) or
        UnsupportedOperation (Naver).
        """
        if not self.policy.has_similarity:
            raise UnsupportedOperation(f"{self.vendor} has no face-similarity call")
        recs = {}
        for which, data in (("source", source), ("target", target)):
            try:
                recs[which] = self.recognize_image(data, limits)
            except ImageRejected as exc:
                exc.image = which
                raise
            if not recs[which].faces:
                raise ImageRejected("no_face", f"no face detected in the {which} image", which)
        src, tgt = recs["source"], recs["target"]
        s = src.faces[0]
        pairs = [(t, self.similarity(s.embedding, t.embedding)) for t in tgt.faces]
        pairs.sort(key=lambda p: -p[1])
        return FaceComparison(s, src.image, tgt.image, tuple(pairs))


_vendors: dict[str, SimulatedVendor] = {}
_vendors_lock = threading.Lock()


def default_vendor(vendor: str) -> SimulatedVendor:
    """A process-wide SimulatedVendor per vendor (default gallery and recognizer)."""
    with _vendors_lock:
        if vendor not in _vendors:
            _vendors[vendor] = SimulatedVendor(vendor)
        return _vendors[vendor]
