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


def protocol_split(obs, vocab, protocol: str, dev_fraction: float, split_seed: int):
    """(dev_rows or None, the protocol record for sweeps.json) for --protocol."""
    import numpy as np

    from dicore.core.protocol import split_identities

    if protocol == "all":
        return None, None
    if protocol != "dev-eval":
        raise ValueError(f"protocol must be 'all' or 'dev-eval', got {protocol!r}")
    dev = split_identities(np.asarray(obs.dataset), np.asarray(obs.target),
                           dev_fraction=dev_fraction, seed=split_seed)
    sides: dict[str, dict[str, list[str]]] = {"dev": {}, "eval": {}}
    for d, t, is_dev in sorted(set(zip(np.asarray(obs.dataset).tolist(),
                                       np.asarray(obs.target).tolist(), dev.tolist(), strict=True))):
        sides["dev" if is_dev else "eval"].setdefault(vocab.datasets[d], []).append(
            vocab.identities[t])
    record = {
        "name": "dev-eval", "dev_fraction": float(dev_fraction), "split_seed": int(split_seed),
        "unit": "target identity, stratified by dataset (dicore.core.protocol)",
        "note": "operating points chosen on dev, reported on eval (curves: eval; dev_*: dev)",
        "n_dev_rows": int(dev.sum()), "n_eval_rows": int((~dev).sum()),
        "dev_identities": sides["dev"], "eval_identities": sides["eval"],
    }
    return dev, record


def compute_sweeps(obs, vocab, *, dev_rows=None):
    """(sweep curves, trade-off curves) in `dicore.tables`' form.

    Sweeps: DHC over beta and DHS over gamma per (dataset, vendor), grid 0..100 step 1.
    Trade-offs: per vendor over all datasets, TA and genuine recognition if the vendor
    reported names only at confidence >= tau, for tau from the vendor's floor to 100
    (below the floor the data are censored), with the operating points of
    docs/thresholds.md.
    """
    return sweep_curves(obs, vocab), compute_tradeoffs(obs, vocab, dev_rows=dev_rows)


def compute_tradeoffs(obs, vocab, *, attack: str = "TA", genuine_keep: float = GENUINE_KEEP,
                      dev_rows=None):
    """Per-vendor trade-off curves (all datasets pooled), `TRADEOFF_POINTS` taus from each
    vendor's floor to 100, operating points by `dicore.tables.tradeoff_curves`' rule."""
    floors = paper.reporting_floors()
    taus = {v: np.linspace(f, 100.0, TRADEOFF_POINTS, dtype=np.float64) for v, f in floors.items()}
    return tradeoff_curves(obs, vocab, floors=floors, taus=taus, attack=attack,
                           genuine_keep=genuine_keep, pooled=True, dev_rows=dev_rows)


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
