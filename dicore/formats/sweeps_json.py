"""`sweeps.json`: threshold sweeps and trade-off curves. ONE format, written by both
`dicore sweep` and `dicore study` and read by `dicore report`:

```
{"simulated": bool,
 "genuine_keep": 90.0,                  # the operating-point rule's share (docs/thresholds.md)
 "rules": {name: sentence},             # what every number means
 "sweeps": [{"dataset", "vendor", "metric": "DHC"|"DHS", "thresholds": [...],
             "values": [...], "n"}],
 "joint": [{"dataset", "vendor", "betas": [...], "gammas": [...],
            "values": [[...]], "n"}],   # only when the beta x gamma grid was computed
 "tradeoffs": [{"vendor", "dataset" ("all" = datasets pooled), "attack": "TA"|"NA",
                "tau": [...], "attack_success": [...], "genuine_recognition": [...],
                "floor", "n_fakes", "n_reals",
                "operating_points": [{"name", "tau", "attack_success",
                                      "genuine_recognition", "target"}]}]}
```
Thresholds and values in percent, full float64 precision; `null` where a value is undefined
(n = 0). `dicore study` writes the 0..100 step 1 sweeps and one pooled trade-off per vendor;
`dicore sweep` writes the grids it was given, the joint grid, and trade-offs per
(dataset, vendor) and pooled.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from dicore.tables import JointGrid, OperatingPoint, SweepCurve, TradeoffCurve, none_if_nan

RULES = {
    "dhc": "named fakes with confidence > beta / named fakes",
    "dhs": "unnamed fakes with similarity > gamma / unnamed fakes with a similarity",
    "joint": "fakes that are DHC(beta) or DHS(gamma) / fakes; values[b][g]",
    "tradeoffs": "names reported only at confidence >= tau; attack success over fakes, "
                 "genuine recognition over real images",
    "min_attack": "lowest attack success among the taus whose genuine recognition is >= "
                  "genuine_keep percent of the genuine recognition at the vendor's floor "
                  "(the point's target); ties -> smallest tau",
    "equal_error": "attack success = 100 - genuine recognition, linear interpolation "
                   "between grid points",
}


def sweeps_to_json(
    sweeps: list[SweepCurve], tradeoffs: list[TradeoffCurve],
    joint: list[JointGrid] | None = None,
) -> dict[str, Any]:
    """The `sweeps.json` curves (see the module docstring); `joint` only when given."""
    out: dict[str, Any] = {"sweeps": [asdict(s) for s in sweeps]}
    if joint is not None:
        out["joint"] = [asdict(j) for j in joint]
    out["tradeoffs"] = [asdict(t) for t in tradeoffs]
    return out


def sweeps_from_json(data: dict[str, Any]) -> tuple[list[SweepCurve], list[TradeoffCurve]]:
    """Parse `sweeps.json` (its sweep and trade-off curves); raises ValueError naming the
    entry at fault, or when the object has no `sweeps` list (not this format)."""
    if not isinstance(data, dict) or not isinstance(data.get("sweeps"), list):
        raise ValueError("expected an object with a 'sweeps' list (the sweeps.json format)")
    sweeps, tradeoffs = [], []
    for i, s in enumerate(data["sweeps"]):
        try:
            sweeps.append(SweepCurve(str(s["dataset"]), str(s["vendor"]), str(s["metric"]),
                                     [float(t) for t in s["thresholds"]],
                                     [none_if_nan(v) for v in s["values"]],
                                     None if s.get("n") is None else int(s["n"])))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"sweeps[{i}]: {exc}") from exc
    for i, t in enumerate(data.get("tradeoffs", [])):
        try:
            ops = [OperatingPoint(str(o["name"]), none_if_nan(o.get("tau")),
                                  none_if_nan(o.get("attack_success")),
                                  none_if_nan(o.get("genuine_recognition")),
                                  none_if_nan(o.get("target")))
                   for o in t.get("operating_points", [])]
            tradeoffs.append(TradeoffCurve(
                str(t["vendor"]), [float(x) for x in t["tau"]],
                [none_if_nan(x) for x in t["attack_success"]],
                [none_if_nan(x) for x in t["genuine_recognition"]], ops,
                str(t.get("dataset", "all")), str(t.get("attack", "TA")),
                none_if_nan(t.get("floor")),
                None if t.get("n_fakes") is None else int(t["n_fakes"]),
                None if t.get("n_reals") is None else int(t["n_reals"])))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"tradeoffs[{i}]: {exc}") from exc
    return sweeps, tradeoffs


def read_sweeps_json(path: str | Path) -> dict[str, Any]:
    """The raw sweeps.json object (`UserError` when it is not valid JSON)."""
    from dicore.formats.atomic import read_json

    return read_json(path)


def write_sweeps_json(
    path: str | Path, sweeps: list[SweepCurve], tradeoffs: list[TradeoffCurve], *,
    simulated: bool, genuine_keep: float, joint: list[JointGrid] | None = None,
    indent: int | None = 2,
) -> Path:
    """sweeps.json (the simulated label, the rules, the curves), atomically."""
    from dicore.formats.atomic import write_json

    payload = {"simulated": bool(simulated), "genuine_keep": float(genuine_keep),
               "rules": RULES, **sweeps_to_json(sweeps, tradeoffs, joint)}
    return write_json(path, payload, indent=indent)
