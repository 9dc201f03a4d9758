"""The study's output cache: a rerun over an unchanged store and config rewrites nothing.

`record_outputs` keeps, in the store's meta table, the key the outputs were made from
(store state, thresholds, vendors, backend, dicore version, simulator parameters, items)
and the SHA-256 of every output file; `outputs_current` returns that record only while
the key is the same and no file has changed. `cfg` is a `dicore.study.StudyConfig`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from dicore.store import Store


def params_digest() -> str:
    """First 12 hex digits of the SHA-256 of the simulators' calibrated parameters ("none"
    when the simulators are not installed)."""
    from importlib import resources

    try:
        data = resources.files("simulators").joinpath("params", "calibrated.json").read_bytes()
    except (FileNotFoundError, ModuleNotFoundError):
        return "none"
    return hashlib.sha256(data).hexdigest()[:12]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def items_digest(item_ids: Sequence[str] | None) -> str | None:
    """Which items a study covers (None: all the store holds, the cohort); a manifest that
    lost rows leaves the store unchanged, so its outputs must still count as stale."""
    if item_ids is None:
        return None
    return hashlib.sha256("\n".join(sorted(item_ids)).encode()).hexdigest()


def outputs_key(store: Store, cfg, items: str | None) -> dict:
    from dicore import __version__

    return {
        "store": store.state(), "beta": cfg.beta, "gamma": cfg.gamma,
        "vendors": list(cfg.vendors), "backend": cfg.backend, "report": cfg.report,
        "dicore": __version__, "params": params_digest(), "items": items,
        # The identity map changes every metric without touching the store.
        "names": _optional_sha256(getattr(cfg, "names", None)),
    }


def _optional_sha256(path) -> str | None:
    if path is None:
        return None
    try:
        return _sha256(Path(path))
    except OSError:
        return "unreadable"


def outputs_current(store: Store, cfg, out: Path, items: str | None) -> dict | None:
    """The recorded outputs if they were made from this store state and config and no
    file has changed since; else None."""
    held = store.get_meta("outputs")
    if cfg.recompute or not held or held.get("key") != outputs_key(store, cfg, items):
        return None
    for name, digest in held["files"].items():
        path = out / name
        if not path.is_file() or _sha256(path) != digest:
            return None
    return held


def record_outputs(store: Store, cfg, out: Path, files: dict[str, Path],
                    items: str | None, extra: dict) -> None:
    names = sorted({p.name for k, p in files.items() if k != "store"})
    store.set_meta("outputs", {
        "key": outputs_key(store, cfg, items),
        "files": {n: _sha256(out / n) for n in names},
        **extra,
    })
