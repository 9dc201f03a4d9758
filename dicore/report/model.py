"""What a report is made of (`ReportInputs`): metric rows, curves, defence rows, provenance.

The curve and comparison records themselves are `dicore.tables`'; the files they come
from are read by `dicore.formats` (`dicore.report.folder` gathers them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dicore import PAPER_VENDOR_NAMES, VENDORS, paper
from dicore.core.vocab import ALL_METRICS, BREAKDOWN_METRICS, DEFAULT_BETA, DEFAULT_GAMMA
from dicore.tables import ComparisonRow, SweepCurve, TradeoffCurve, comparison_rows


@dataclass
class ReportInputs:
    """Everything `write_report` draws. `metrics` rows are metrics.json's rows
    (`dataset, vendor, metric, value, ci_low, ci_high, n`, percent); `defence` rows are
    `dicore.tables.defence_table` rows; `provenance` holds at least `backends` {vendor: sim|live|replay}
    and may hold model, calibration file, fit error, seed, versions, timestamp."""

    metrics: list[dict[str, Any]]
    beta: float = DEFAULT_BETA
    gamma: float = DEFAULT_GAMMA
    sweeps: list[SweepCurve] = field(default_factory=list)
    tradeoffs: list[TradeoffCurve] = field(default_factory=list)
    defence: list[dict[str, Any]] = field(default_factory=list)
    # Per-identity rows (`dicore.tables.identity_rows`); empty: not measured.
    identity: list[dict[str, Any]] = field(default_factory=list)
    comparison: list[ComparisonRow] | None = None  # None: built from metrics and the paper
    provenance: dict[str, Any] = field(default_factory=dict)
    simulated: bool | None = None  # None: any backend in provenance is `sim`
    title: str = "dicore: face-recognition APIs under deepfake impersonation"
    # `dicore.stages.Breakdowns` (per identity, hit landing, videos, groups, detectors,
    # score distributions); None: those sections are left out.
    breakdowns: Any = None

    def __post_init__(self) -> None:
        for i, row in enumerate(self.metrics):
            missing = {"dataset", "vendor", "metric", "value"} - set(row)
            if missing:
                raise ValueError(f"metrics row {i} lacks {sorted(missing)}")
            if row["metric"] not in ALL_METRICS + BREAKDOWN_METRICS:
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


def vendor_label(vendor: str) -> str:
    """'aws (AWS)', 'azure (MS)', 'naver (NAV)'."""
    p = PAPER_VENDOR_NAMES.get(vendor)
    return f"{vendor} ({p})" if p else vendor
