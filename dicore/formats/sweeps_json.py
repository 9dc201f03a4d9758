"""`sweeps.json`: the study's DHC/DHS sweep curves and per-vendor trade-off curves.

```
{"sweeps": [{"dataset", "vendor", "metric": "DHC"|"DHS", "thresholds": [...], "values": [...]}],
 "tradeoffs": [{"vendor", "dataset": "all", "attack": "TA"|"NA", "tau": [...],
                "attack_success": [...], "genuine_recognition": [...],
                "operating_points": [{"name", "tau", "attack_success", "genuine_recognition"}]}]}
```
Thresholds and values in percent; `null` where a value is undefined (n = 0).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from dicore.tables import OperatingPoint, SweepCurve, TradeoffCurve, none_if_nan


def sweeps_to_json(sweeps: list[SweepCurve], tradeoffs: list[TradeoffCurve]) -> dict[str, Any]:
    """The `sweeps.json` form (see the module docstring)."""
    return {"sweeps": [asdict(s) for s in sweeps], "tradeoffs": [asdict(t) for t in tradeoffs]}


def sweeps_from_json(data: dict[str, Any]) -> tuple[list[SweepCurve], list[TradeoffCurve]]:
    """Parse `sweeps.json`; raises ValueError naming the entry at fault."""
    sweeps, tradeoffs = [], []
    for i, s in enumerate(data.get("sweeps", [])):
        try:
            sweeps.append(SweepCurve(str(s["dataset"]), str(s["vendor"]), str(s["metric"]),
                                     [float(t) for t in s["thresholds"]],
                                     [none_if_nan(v) for v in s["values"]]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"sweeps[{i}]: {exc}") from exc
    for i, t in enumerate(data.get("tradeoffs", [])):
        try:
            ops = [OperatingPoint(str(o["name"]), none_if_nan(o.get("tau")),
                                  none_if_nan(o.get("attack_success")),
                                  none_if_nan(o.get("genuine_recognition")))
                   for o in t.get("operating_points", [])]
            tradeoffs.append(TradeoffCurve(
                str(t["vendor"]), [float(x) for x in t["tau"]],
                [none_if_nan(x) for x in t["attack_success"]],
                [none_if_nan(x) for x in t["genuine_recognition"]], ops,
                str(t.get("dataset", "all")), str(t.get("attack", "TA"))))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"tradeoffs[{i}]: {exc}") from exc
    return sweeps, tradeoffs


def read_sweeps_json(path: str | Path) -> dict[str, Any]:
    """The raw sweeps.json object (`UserError` when it is not valid JSON)."""
    from dicore.formats.atomic import read_json

    return read_json(path)


def write_sweeps_json(
    path: str | Path, sweeps: list[SweepCurve], tradeoffs: list[TradeoffCurve], *,
    simulated: bool,
) -> Path:
    """sweeps.json (the curves and the simulated label), atomically."""
    from dicore.formats.atomic import write_json

    payload = sweeps_to_json(sweeps, tradeoffs)
    payload["simulated"] = simulated
    return write_json(path, payload)
