"""`metrics.json`: `{"beta", "gamma", "simulated", "rows"}` (docs/ARCHITECTURE.md).

`rows` are `dicore.tables.metrics_table` rows:
`{"dataset", "vendor", "metric", "value", "ci_low", "ci_high", "n"}`, percent, `null` when n = 0.
"""

from __future__ import annotations

from pathlib import Path

from dicore.formats.atomic import write_json


def write_metrics_json(
    path: str | Path, rows: list[dict], *, beta: float, gamma: float, simulated: bool
) -> Path:
    """metrics.json, atomically."""
    payload = {"beta": float(beta), "gamma": float(gamma), "simulated": bool(simulated),
               "rows": rows}
    return write_json(path, payload)


def read_metrics_json(path: str | Path) -> dict:
    """The metrics.json object; `UserError` when it is absent, not JSON or has no rows."""
    from dicore.errors import UserError
    from dicore.formats.atomic import read_json

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path} not found",
                        "run `dicore metrics --results results.csv --out metrics.json` first")
    data = read_json(path)
    if not isinstance(data, dict) or "rows" not in data:
        raise UserError(f"{path}: expected an object with 'rows'", "see docs/ARCHITECTURE.md")
    return data
