"""`calibration.json`: every TA/NA cell of a study next to the paper's (Table 2 asr_before).

`{"simulated", "what", "params_sha256", "max_abs_error_pp", "mean_abs_error_pp", "rows"}`;
rows are `dicore.tables.ComparisonRow` as dicts (`dataset, vendor, metric, simulated,
paper, difference`), percent; `difference` = dicore - paper in percentage points.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dicore.formats.atomic import read_json, write_json

WHAT = "dicore's TA/NA next to the paper's (Table 2 asr_before), percent"


def write_calibration_json(
    path: str | Path, rows: list[dict], *, simulated: bool, params_sha256: str | None
) -> Path:
    """calibration.json with the largest and mean absolute difference, atomically."""
    diffs = [abs(r["difference"]) for r in rows if r["difference"] is not None]
    return write_json(path, {
        "simulated": simulated,
        "what": WHAT,
        "params_sha256": params_sha256,
        "max_abs_error_pp": round(max(diffs), 3) if diffs else None,
        "mean_abs_error_pp": round(sum(diffs) / len(diffs), 3) if diffs else None,
        "rows": rows,
    })


def error_entries(data: Any, prefix: str = "", depth: int = 0) -> dict[str, Any]:
    """Entries whose key mentions 'error' (fit error), two levels deep at most."""
    out: dict[str, Any] = {}
    if not isinstance(data, dict) or depth > 2:
        return out
    for k, v in data.items():
        key = f"{prefix}{k}"
        if "error" in str(k).lower() and not isinstance(v, dict | list):
            out[key] = v
        elif isinstance(v, dict):
            out.update(error_entries(v, key + ".", depth + 1))
    return out


def read_calibration_errors(path: str | Path) -> dict[str, Any]:
    """The fit-error entries of a calibration.json (what the report's provenance shows)."""
    return error_entries(read_json(path))
