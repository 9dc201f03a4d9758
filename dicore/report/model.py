"""What a report is made of (`ReportInputs`), and the JSON forms that `dicore report` reads.

`sweeps.json` (optional in an output folder):

```
{"sweeps": [{"dataset", "vendor", "metric": "DHC"|"DHS", "thresholds": [...], "values": [...]}],
 "tradeoffs": [{"vendor", "dataset": "all", "attack": "TA"|"NA", "tau": [...],
                "attack_success": [...], "genuine_recognition": [...],
                "operating_points": [{"name", "tau", "attack_success", "genuine_recognition"}]}]}
```
Thresholds and values in percent; `null` where a value is undefined (n = 0).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from dicore import PAPER_VENDOR_NAMES, VENDORS, paper

METRICS = ("TA", "NA", "DHF", "DHC", "DHS", "SIC")


@dataclass(frozen=True)
class SweepCurve:
    """A metric over a threshold grid for one (dataset, vendor): DHC over beta, DHS over gamma."""

    dataset: str
    vendor: str
    metric: str
    thresholds: list[float]
    values: list[float | None]

    def __post_init__(self) -> None:
        if self.metric not in ("DHC", "DHS"):
            raise ValueError(f"sweep metric must be DHC or DHS, got {self.metric!r}")
        if len(self.thresholds) != len(self.values):
            raise ValueError(f"sweep {self.dataset}/{self.vendor}/{self.metric}: "
                             f"{len(self.thresholds)} thresholds but {len(self.values)} values")


@dataclass(frozen=True)
class OperatingPoint:
    name: str
    tau: float | None
    attack_success: float | None
    genuine_recognition: float | None


@dataclass(frozen=True)
class TradeoffCurve:
    """Attack success and genuine recognition if the vendor reported names only at
    confidence >= tau, over a grid of tau (percent)."""

    vendor: str
    tau: list[float]
    attack_success: list[float | None]
    genuine_recognition: list[float | None]
    operating_points: list[OperatingPoint] = field(default_factory=list)
    dataset: str = "all"
    attack: str = "TA"

    def __post_init__(self) -> None:
        k = len(self.tau)
        if len(self.attack_success) != k or len(self.genuine_recognition) != k:
            raise ValueError(f"trade-off {self.vendor}: tau, attack_success and "
                             "genuine_recognition must have equal lengths")


@dataclass(frozen=True)
class ComparisonRow:
    """One TA/NA cell: dicore's value (simulated or measured) next to the paper's."""

    dataset: str
    vendor: str
    metric: str
    simulated: float | None
    paper: float
    difference: float | None


@dataclass
class ReportInputs:
    """Everything `write_report` draws. `metrics` rows are metrics.json's rows
    (`dataset, vendor, metric, value, ci_low, ci_high, n`, percent); `defence` rows are
    `dicore.defence` table rows; `provenance` holds at least `backends` {vendor: sim|live|replay}
    and may hold model, calibration file, fit error, seed, versions, timestamp."""

    metrics: list[dict[str, Any]]
    beta: float = 90.0
    gamma: float = 80.0
    sweeps: list[SweepCurve] = field(default_factory=list)
    tradeoffs: list[TradeoffCurve] = field(default_factory=list)
    defence: list[dict[str, Any]] = field(default_factory=list)
    comparison: list[ComparisonRow] | None = None  # None: built from metrics and the paper
    provenance: dict[str, Any] = field(default_factory=dict)
    simulated: bool | None = None  # None: any backend in provenance is `sim`
    title: str = "dicore: face-recognition APIs under deepfake impersonation"

    def __post_init__(self) -> None:
        for i, row in enumerate(self.metrics):
            missing = {"dataset", "vendor", "metric", "value"} - set(row)
            if missing:
                raise ValueError(f"metrics row {i} lacks {sorted(missing)}")
            if row["metric"] not in METRICS:
                raise ValueError(f"metrics row {i}: unknown metric {row['metric']!r}")
        if self.comparison is None:
            self.comparison = comparison_rows(self.metrics)
        if self.simulated is None:
            backends = self.provenance.get("backends", {})
            self.simulated = (not backends) or any(b == "sim" for b in backends.values())

    @property
    def vendors(self) -> list[str]:
        seen = {r["vendor"] for r in self.metrics}
        return [v for v in VENDORS if v in seen] + sorted(seen - set(VENDORS))

    @property
    def datasets(self) -> list[str]:
        seen = list(dict.fromkeys(r["dataset"] for r in self.metrics))
        known = [d for d in paper.DATASETS if d in seen]
        return known + [d for d in seen if d not in known]


def _finite(x: Any) -> float | None:
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else x


def comparison_rows(metrics: list[dict[str, Any]]) -> list[ComparisonRow]:
    """Every TA/NA cell of the paper that `metrics` also has, paper order
    (dataset, vendor, TA then NA). `difference` = dicore - paper, in percentage points."""
    mine = {(r["dataset"], r["vendor"], r["metric"]): _finite(r.get("value")) for r in metrics}
    out = []
    for (dataset, vendor, metric), value in paper.asr_before_grid().items():
        if (dataset, vendor, metric) not in mine:
            continue
        sim = mine[(dataset, vendor, metric)]
        out.append(ComparisonRow(dataset, vendor, metric, sim, value,
                                 None if sim is None else round(sim - value, 4)))
    order = {d: i for i, d in enumerate(paper.DATASETS)}
    out.sort(key=lambda r: (order.get(r.dataset, 99), VENDORS.index(r.vendor)
                            if r.vendor in VENDORS else 9, METRICS.index(r.metric)))
    return out


def vendor_label(vendor: str) -> str:
    """'aws (AWS)', 'azure (MS)', 'naver (NAV)'."""
    p = PAPER_VENDOR_NAMES.get(vendor)
    return f"{vendor} ({p})" if p else vendor


def sweeps_to_json(sweeps: list[SweepCurve], tradeoffs: list[TradeoffCurve]) -> dict[str, Any]:
    """The `sweeps.json` form (see module docstring)."""
    return {"sweeps": [asdict(s) for s in sweeps], "tradeoffs": [asdict(t) for t in tradeoffs]}


def sweeps_from_json(data: dict[str, Any]) -> tuple[list[SweepCurve], list[TradeoffCurve]]:
    """Parse `sweeps.json`; raises ValueError naming the entry at fault."""
    sweeps, tradeoffs = [], []
    for i, s in enumerate(data.get("sweeps", [])):
        try:
            sweeps.append(SweepCurve(str(s["dataset"]), str(s["vendor"]), str(s["metric"]),
                                     [float(t) for t in s["thresholds"]],
                                     [_finite(v) for v in s["values"]]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"sweeps[{i}]: {exc}") from exc
    for i, t in enumerate(data.get("tradeoffs", [])):
        try:
            ops = [OperatingPoint(str(o["name"]), _finite(o.get("tau")),
                                  _finite(o.get("attack_success")),
                                  _finite(o.get("genuine_recognition")))
                   for o in t.get("operating_points", [])]
            tradeoffs.append(TradeoffCurve(
                str(t["vendor"]), [float(x) for x in t["tau"]],
                [_finite(x) for x in t["attack_success"]],
                [_finite(x) for x in t["genuine_recognition"]], ops,
                str(t.get("dataset", "all")), str(t.get("attack", "TA"))))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"tradeoffs[{i}]: {exc}") from exc
    return sweeps, tradeoffs
