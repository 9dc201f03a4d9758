"""`provenance.json`: where a study's numbers came from (backends, simulated, source, seed,
versions, creation time, and for simulated vendors the model and calibration file)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dicore.formats.atomic import read_json, write_json


def write_provenance_json(path: str | Path, provenance: dict[str, Any]) -> Path:
    """provenance.json, atomically."""
    return write_json(path, provenance)


def read_provenance_json(path: str | Path) -> dict[str, Any]:
    """The provenance object ({} when the file holds something else)."""
    data = read_json(path)
    return data if isinstance(data, dict) else {}
