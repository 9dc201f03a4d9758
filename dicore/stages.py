"""The study's analysis stages: results -> sweeps, trade-offs, defence and calibration rows.

Each stage is a function of the observations (or of the metric rows) and returns what
`dicore.tables` defines; `dicore.study` runs them in order and writes their files.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np

from dicore import paper
from dicore.tables import (
    GENUINE_KEEP,
    analytic_defence_table,
    comparison_rows,
    sweep_curves,
    tradeoff_curves,
)

TRADEOFF_POINTS = 101  # taus per vendor, from its reporting floor to 100 (one compile)


def compute_sweeps(obs, vocab):
    """(sweep curves, trade-off curves) in `dicore.tables`' form.

    Sweeps: DHC over beta and DHS over gamma per (dataset, vendor), grid 0..100 step 1.
    Trade-offs: per vendor over all datasets, TA and genuine recognition if the vendor
    reported names only at confidence >= tau, for tau from the vendor's floor to 100
    (below the floor the data are censored), with the operating points of
    docs/thresholds.md.
    """
    return sweep_curves(obs, vocab), compute_tradeoffs(obs, vocab)


def compute_tradeoffs(obs, vocab, *, attack: str = "TA", genuine_keep: float = GENUINE_KEEP):
    """Per-vendor trade-off curves (all datasets pooled), `TRADEOFF_POINTS` taus from each
    vendor's floor to 100, operating points by `dicore.tables.tradeoff_curves`' rule."""
    floors = paper.reporting_floors()
    taus = {v: np.linspace(f, 100.0, TRADEOFF_POINTS, dtype=np.float64) for v, f in floors.items()}
    return tradeoff_curves(obs, vocab, floors=floors, taus=taus, attack=attack,
                           genuine_keep=genuine_keep, pooled=True)


def compute_defence(metrics: list[dict]) -> list[dict]:
    """Table 2 style rows: the paper's detectors (by accuracy) in front of these TA/NA rates."""
    before = {
        (r["dataset"], r["vendor"], r["metric"]): r["value"]
        for r in metrics
        if r["metric"] in ("TA", "NA") and r["value"] is not None
    }
    detectors: dict[str, dict[str, float]] = {}
    for r in paper.table2():
        if r.dataset != paper.COMBINED:
            detectors.setdefault(r.dataset, {})[r.detector] = r.detector_acc
    dets = {d: sorted(v.items()) for d, v in detectors.items() if any(k[0] == d for k in before)}
    return analytic_defence_table(before, dets)


def calibration_rows(metrics: list[dict]) -> list[dict]:
    """Every TA/NA cell next to the paper's value (the simulated-vs-paper table)."""
    return [asdict(r) for r in comparison_rows(metrics)]
