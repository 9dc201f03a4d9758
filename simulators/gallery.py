"""A gallery of known identities: one unit template per name.

A template is the L2-normalised mean of the unit embeddings of the identity's
photos. Galleries are built from a folder layout ``gallery/<name>/*.jpg``, from
embeddings, or from the credited photos in ``simulators/photos/``
(``default_gallery``), and saved/loaded as ``.npz`` with the model id so a
gallery is never matched against embeddings of another model by accident.
"""

from __future__ import annotations

import csv
import hashlib
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np

from simulators.cache import default_cache_dir
from simulators.errors import GalleryError, RecognizerError
from simulators.recognizer import EMB_DIM, Recognizer, default_recognizer

PHOTOS_DIR = Path(__file__).parent / "photos"
PHOTOS_TABLE = PHOTOS_DIR / "photos.csv"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
FORMAT = "dicore-gallery-v1"


@dataclass(frozen=True, eq=False)
class Gallery:
    names: list[str]
    templates: np.ndarray  # (G, 512) float32, unit rows
    counts: np.ndarray  # (G,) photos (or embeddings) per identity
    model_id: str = "unknown"

    def __post_init__(self) -> None:
        t = np.asarray(self.templates)
        g = len(self.names)
        if t.ndim != 2 or t.shape != (g, EMB_DIM):
            raise GalleryError(f"templates must be ({g}, {EMB_DIM}), got {t.shape}")
        if len(set(self.names)) != g:
            raise GalleryError("gallery names must be unique")
        if not all(isinstance(n, str) and n.strip() for n in self.names):
            raise GalleryError("gallery names must be non-empty strings")
        if not np.all(np.isfinite(t)) or (g and np.max(np.abs(np.linalg.norm(t, axis=1) - 1)) > 1e-3):
            raise GalleryError("gallery templates must be finite unit vectors")
        c = np.asarray(self.counts)
        if c.shape != (g,) or (g and c.min() < 1):
            raise GalleryError(f"counts must be ({g},) positive integers, got {c.tolist()}")
        object.__setattr__(self, "names", list(self.names))
        object.__setattr__(self, "templates", t.astype(np.float32))
        object.__setattr__(self, "counts", c.astype(np.int64))

    def __len__(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"{name!r} is not in the gallery ({', '.join(self.names)})") from None

    def template(self, name: str) -> np.ndarray:
        return self.templates[self.index(name)]

    def similarities(self, embeddings: np.ndarray) -> np.ndarray:
        """Cosine similarity (N, G) of unit embeddings (N, 512) or (512,) to every template."""
        e = np.atleast_2d(np.asarray(embeddings, np.float32))
        return e @ self.templates.T

    # -- builders -------------------------------------------------------------

    @classmethod
    def from_embeddings(
        cls, embeddings: Mapping[str, np.ndarray | Sequence[np.ndarray]], model_id: str = "unknown"
    ) -> Gallery:
        """``{name: (512,) or (k, 512)}`` -> templates (normalised mean of unit rows)."""
        names, templates, counts = [], [], []
        for name, emb in embeddings.items():
            e = np.atleast_2d(np.asarray(emb, np.float64))
            if e.ndim != 2 or e.shape[1] != EMB_DIM or len(e) == 0:
                raise GalleryError(f"embeddings of {name!r} must be (k, {EMB_DIM}), got {e.shape}")
            norms = np.linalg.norm(e, axis=1, keepdims=True)
            if not np.all(np.isfinite(e)) or np.any(norms == 0):
                raise GalleryError(f"embeddings of {name!r} must be finite and non-zero")
            mean = (e / norms).mean(axis=0)
            if np.linalg.norm(mean) < 1e-6:
                raise GalleryError(f"embeddings of {name!r} cancel out; no template")
            names.append(name)
            templates.append(mean / np.linalg.norm(mean))
            counts.append(len(e))
        return cls(names, np.array(templates, np.float32).reshape(-1, EMB_DIM), np.array(counts), model_id)

    @classmethod
    def from_files(cls, files: Mapping[str, list[Path]], recognizer: Recognizer) -> Gallery:
        """``{name: [photo paths]}``; any photo without a usable face is an error."""
        flat = [(name, Path(p)) for name, paths in files.items() for p in paths]
        results = recognizer.embed_images([p for _, p in flat])
        per_name: dict[str, list[np.ndarray]] = {name: [] for name in files}
        for (name, _path), res in zip(flat, results, strict=True):
            if isinstance(res, RecognizerError):
                raise GalleryError(f"gallery photo of {name!r} is unusable: {res}") from res
            per_name[name].append(cast(np.ndarray, res.embedding))  # embed_images always embeds
        empty = [n for n, e in per_name.items() if not e]
        if empty:
            raise GalleryError(f"no photos for {', '.join(map(repr, empty))}")
        return cls.from_embeddings(per_name, recognizer.model_id)

    @classmethod
    def from_folder(cls, path: str | Path, recognizer: Recognizer | None = None) -> Gallery:
        """``path/<name>/*.jpg|png|...``: one sub-folder per identity."""
        root = Path(path)
        if not root.is_dir():
            raise GalleryError(f"gallery folder not found: {root}")
        files: dict[str, list[Path]] = {}
        for sub in sorted(p for p in root.iterdir() if p.is_dir()):
            photos = sorted(p for p in sub.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not photos:
                raise GalleryError(f"identity folder {sub} has no images ({', '.join(IMAGE_SUFFIXES)})")
            files[sub.name] = photos
        if not files:
            raise GalleryError(f"gallery folder {root} has no identity sub-folders")
        return cls.from_files(files, recognizer or default_recognizer())

    # -- files ----------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        if path.suffix != ".npz":
            raise GalleryError(f"gallery files end in .npz: {path}")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(
            tmp,
            format=np.array(FORMAT),
            names=np.array(self.names, dtype=str),
            templates=self.templates,
            counts=self.counts,
            model_id=np.array(self.model_id),
        )
        tmp.replace(path)  # atomic: readers never see half a file
        return path

    @classmethod
    def load(cls, path: str | Path, expected_model_id: str | None = None) -> Gallery:
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                missing = {"format", "names", "templates", "counts", "model_id"} - set(z.files)
                if missing:
                    raise GalleryError(f"{path} is not a dicore gallery (missing {sorted(missing)})")
                if str(z["format"]) != FORMAT:
                    raise GalleryError(f"{path}: unknown gallery format {str(z['format'])!r}")
                names = [str(n) for n in z["names"]]
                templates, counts, model_id = z["templates"], z["counts"], str(z["model_id"])
        except GalleryError:
            raise
        except FileNotFoundError:
            raise GalleryError(f"gallery file not found: {path}") from None
        except Exception as exc:  # zipfile/numpy raise many types on a damaged file
            raise GalleryError(f"cannot read gallery file {path}: {exc}") from exc
        if expected_model_id is not None and model_id != expected_model_id:
            raise GalleryError(
                f"{path} was built with model {model_id}, not {expected_model_id}; rebuild it"
            )
        try:
            return cls(names, templates, counts, model_id)
        except GalleryError as exc:
            raise GalleryError(f"{path}: {exc}") from exc


def read_photo_table(table: str | Path) -> dict[str, list[Path]]:
    """``file,person`` CSV -> ``{person: [paths]}`` in file order."""
    table = Path(table)
    out: dict[str, list[Path]] = {}
    with table.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or not {"file", "person"} <= set(reader.fieldnames):
            raise GalleryError(f"{table} must have the columns file,person")
        for row in reader:
            photo = table.parent / row["file"]
            if not photo.is_file():
                raise GalleryError(f"{table}: photo {row['file']!r} not found")
            out.setdefault(row["person"].strip(), []).append(photo)
    return out


_defaults: dict[tuple[str, str], Gallery] = {}
_defaults_lock = threading.Lock()


def _photos_digest(files: dict[str, list[Path]]) -> str:
    h = hashlib.sha256(PHOTOS_TABLE.read_bytes())
    for paths in files.values():
        for p in paths:
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


def default_gallery(
    recognizer: Recognizer | None = None, cache_dir: str | Path | None = None
) -> Gallery:
    """The four credited identities of ``simulators/photos/`` (Macron and Ardern
    from two photos each). Built once per process and cached as
    ``<cache_dir>/galleries/default-<photos hash>.npz`` (default cache dir:
    ``$DICORE_CACHE_DIR`` or ``~/.cache/dicore``); a damaged or stale file is rebuilt."""
    rec = recognizer or default_recognizer()
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    key = (rec.model_id, str(root))
    with _defaults_lock:
        if key in _defaults:
            return _defaults[key]
        files = read_photo_table(PHOTOS_TABLE)
        path = root / "galleries" / f"default-{_photos_digest(files)}.npz"
        try:
            gallery = Gallery.load(path, expected_model_id=rec.model_id)
        except GalleryError:
            gallery = Gallery.from_files(files, rec)
            try:
                gallery.save(path)
            except OSError:
                pass  # a read-only cache only costs a rebuild next process
        _defaults[key] = gallery
        return gallery
