"""The study's analysis stages: results -> sweeps, trade-offs, defence and calibration rows.

Each stage is a function of the observations (or of the metric rows) and returns what
`dicore.tables` defines; `dicore.study` runs them in order and writes their files.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict

import jax.numpy as jnp
import numpy as np

from dicore import paper
from dicore.core import tradeoff
from dicore.tables import (
    OperatingPoint,
    TradeoffCurve,
    analytic_defence_table,
    comparison_rows,
    none_if_nan,
    sweep_curves,
)

TRADEOFF_POINTS = 101  # taus per vendor, from its reporting floor to 100 (one compile)
# Operating point: lowest TA keeping this share of the genuine recognition the vendor has at
# its floor (relative, since a vendor that does not know a person never names their real image).
GENUINE_KEEP = 0.9


def compute_sweeps(obs, vocab):
    """(sweep curves, trade-off curves) in the report model's form.

    Sweeps: DHC over beta and DHS over gamma per (dataset, vendor), grid 0..100 step 1.
    Trade-offs: per vendor over all datasets, TA and genuine recognition if the vendor
    reported names only at confidence >= tau, for tau from the vendor's floor to 100
    (below the floor the data are censored), with two operating points.
    """
    return sweep_curves(obs, vocab), compute_tradeoffs(obs, vocab)


def compute_tradeoffs(obs, vocab, *, attack: str = "TA", genuine_keep: float = GENUINE_KEEP):
    """Per-vendor trade-off curves (all datasets pooled) with their operating points:
    the tau with the lowest attack success that keeps genuine recognition >= `genuine_keep`
    x its value at the vendor's floor, and the tau where attack success = genuine miss rate."""
    n_v = len(vocab.vendors)
    pooled = dataclasses.replace(obs, dataset=jnp.zeros_like(obs.dataset))
    floors = paper.reporting_floors()

    def value(a, g):
        return none_if_nan(np.asarray(a)[g])

    present = set(np.unique(np.asarray(obs.vendor)).tolist())
    curves = []
    for v, vendor in enumerate(vocab.vendors):
        if vendor not in floors or v not in present:
            continue
        # Starts at the vendor's floor: below it the vendor's data are censored.
        taus = np.linspace(floors[vendor], 100.0, TRADEOFF_POINTS, dtype=np.float32)
        counts = tradeoff.replay_counts_jit(pooled, taus, n_datasets=1, n_vendors=n_v)
        curve = tradeoff.trade_off(counts, taus, attack=attack)
        if float(np.asarray(counts.genuine.denominator)[v, 0]) == 0:
            continue  # no real images for this vendor: no genuine rate to trade against
        target = genuine_keep * float(np.asarray(curve.genuine)[v, 0])
        best = tradeoff.min_attack_point_jit(taus, curve.attack, curve.genuine, target=target)
        eer = tradeoff.equal_error_point_jit(taus, curve.attack, curve.genuine)
        points = [
            OperatingPoint(f"lowest {attack}, genuine >= {target:.1f}% ({genuine_keep:.0%} of floor)",
                           value(best.tau, v), value(best.attack, v), value(best.genuine, v)),
            OperatingPoint(f"{attack} = genuine miss rate",
                           value(eer.tau, v), value(eer.attack, v), value(eer.genuine, v)),
        ]
        attack_row, genuine_row = np.asarray(curve.attack)[v], np.asarray(curve.genuine)[v]
        curves.append(TradeoffCurve(
            vendor=vendor, tau=taus.astype(float).tolist(),
            attack_success=[none_if_nan(x) for x in attack_row],
            genuine_recognition=[none_if_nan(x) for x in genuine_row],
            operating_points=points, attack=attack,
        ))
    return curves


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
