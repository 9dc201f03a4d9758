"""Atomic file writes (and the JSON read that names the file), shared by `dicore.formats`.

A file is written to `NAME.tmp` beside it and renamed over it, so a reader (or a crash)
never sees half a file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path


def write_atomic(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call `write(tmp)` then rename tmp over `path` (parent folders are created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)
    return path


def write_json(path: str | Path, payload, *, indent: int | None = 2) -> Path:
    """JSON with no NaN (strict JSON: absent numbers are null), atomically."""
    text = json.dumps(payload, indent=indent, allow_nan=False) + "\n"
    return write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def read_json(path: str | Path, *, hint: str = "rewrite it with the command that made it"):
    """Parse a JSON file; `UserError` naming the file and line when it is not valid JSON."""
    from dicore.errors import UserError

    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})", hint) from exc
