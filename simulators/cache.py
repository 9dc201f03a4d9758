"""On-disk cache of face embeddings, so a rerun of a study does no model work twice.

One file per entry, keyed by sha256(image bytes) and the pipeline id (model
file hashes + detection settings). A file is ``MAGIC | sha256(payload) |
payload`` where the payload is a fixed-length float32 record. Any entry that
fails to parse (truncated, bad checksum, wrong length, non-finite or
non-unit embedding) counts as corrupt: it is deleted and reported as a miss,
so the caller recomputes and overwrites it. Writes are atomic (temp file +
``os.replace``), so a crash never leaves a half-written entry behind.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MAGIC = b"DICEMB01"
EMB_DIM = 512
# embedding, bbox, kps, det_score, image w/h, n_faces
RECORD_LEN = EMB_DIM + 4 + 10 + 1 + 2 + 1
_DIGEST = 32
FILE_LEN = len(MAGIC) + _DIGEST + RECORD_LEN * 4
ENV_CACHE_DIR = "DICORE_CACHE_DIR"


def default_cache_dir() -> Path:
    """Where the study caches embeddings: ``$DICORE_CACHE_DIR`` or ``~/.cache/dicore``."""
    raw = os.environ.get(ENV_CACHE_DIR)
    return Path(raw).expanduser() if raw else Path.home() / ".cache" / "dicore"


@dataclass(frozen=True)
class CachedFace:
    """What the cache stores for one image; ``n_faces == 0`` records 'no face'."""

    embedding: np.ndarray  # (512,) float32, zeros when n_faces == 0
    bbox: np.ndarray  # (4,)
    kps: np.ndarray  # (5, 2)
    det_score: float
    image_size: tuple[int, int]
    n_faces: int


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    corrupt: int = 0
    writes: int = 0


@dataclass
class EmbeddingCache:
    root: Path
    pipeline_id: str
    stats: CacheStats = field(default_factory=CacheStats)

    def __post_init__(self) -> None:
        self.root = Path(self.root).expanduser()
        self._dir = self.root / "embeddings"
        self._dir.mkdir(parents=True, exist_ok=True)

    def key(self, image_hash: str) -> str:
        return hashlib.sha256(f"{image_hash}|{self.pipeline_id}".encode()).hexdigest()

    def path(self, image_hash: str) -> Path:
        k = self.key(image_hash)
        return self._dir / k[:2] / f"{k}.emb"

    def get(self, image_hash: str) -> CachedFace | None:
        path = self.path(image_hash)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            self.stats.misses += 1
            return None
        entry = _decode(data)
        if entry is None:
            self.stats.corrupt += 1
            self.stats.misses += 1
            path.unlink(missing_ok=True)
            return None
        self.stats.hits += 1
        return entry

    def put(self, image_hash: str, entry: CachedFace) -> None:
        path = self.path(image_hash)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(_encode(entry))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self.stats.writes += 1


def _encode(e: CachedFace) -> bytes:
    rec = np.concatenate(
        [
            np.asarray(e.embedding, np.float32).reshape(EMB_DIM),
            np.asarray(e.bbox, np.float32).reshape(4),
            np.asarray(e.kps, np.float32).reshape(10),
            [e.det_score, e.image_size[0], e.image_size[1], e.n_faces],
        ]
    ).astype("<f4")
    payload = rec.tobytes()
    return MAGIC + hashlib.sha256(payload).digest() + payload


def _decode(data: bytes) -> CachedFace | None:
    if len(data) != FILE_LEN or not data.startswith(MAGIC):
        return None
    digest = data[len(MAGIC) : len(MAGIC) + _DIGEST]
    payload = data[len(MAGIC) + _DIGEST :]
    if hashlib.sha256(payload).digest() != digest:
        return None
    rec = np.frombuffer(payload, dtype="<f4").astype(np.float32)
    if not np.all(np.isfinite(rec)):
        return None
    emb = rec[:EMB_DIM].copy()
    det_score, w, h, n_faces = rec[EMB_DIM + 14 :]
    n = int(n_faces)
    norm = float(np.linalg.norm(emb))
    if n < 0 or (n > 0 and abs(norm - 1.0) > 1e-3) or (n == 0 and norm != 0.0):
        return None
    return CachedFace(
        embedding=emb,
        bbox=rec[EMB_DIM : EMB_DIM + 4].copy(),
        kps=rec[EMB_DIM + 4 : EMB_DIM + 14].reshape(5, 2).copy(),
        det_score=float(det_score),
        image_size=(int(w), int(h)),
        n_faces=n,
    )
