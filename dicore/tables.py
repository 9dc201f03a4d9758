"""Core results -> the rows and curves that files and reports hold (a presentation layer).

`metrics_table` (metrics.json rows), the sweep and trade-off curve records, defence rows
(defence.csv), the paper comparison (calibration.json, the report). The one step from
counts to percent (`percent`) and the one from NaN to JSON null (`none_if_nan`) live here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from dicore import paper
from dicore.core import defence, intervals, sweeps
from dicore.core.metrics import group_counts
from dicore.core.observations import Observations, Vocab
from dicore.core.vocab import METRICS, VENDORS

SWEEP_GRID = np.linspace(0.0, 100.0, 101)
"""Thresholds of the study's DHC and DHS curves: 0..100 step 1, percent."""


def percent(numerator, denominator) -> np.ndarray:
    """`100 * numerator / denominator` in float64, NaN where the denominator is 0."""
    num = np.asarray(numerator, np.float64)
    den = np.asarray(denominator, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, 100.0 * num / np.where(den > 0, den, 1.0), np.nan)


def none_if_nan(x: Any, digits: int | None = None) -> float | None:
    """A JSON number: None for None or NaN, else the float (rounded to `digits` if given)."""
    if x is None:
        return None
    x = float(x)
    if math.isnan(x):
        return None
    return x if digits is None else round(x, digits)


_group_counts_jit = jax.jit(
    group_counts, static_argnames=("n_datasets", "n_identities", "n_vendors")
)


def metrics_table(
    obs: Observations,
    vocab: Vocab,
    *,
    beta: float = 90.0,
    gamma: float = 80.0,
    ci: str = "wilson",
    level: float = 0.95,
    n_resamples: int = 1000,
    seed: int = 0,
) -> list[dict]:
    """The metrics.json rows: `{"dataset","vendor","metric","value","ci_low","ci_high","n"}`.

    One row per metric for every (dataset, vendor) that has at least one row in
    `obs`, datasets in vocab order, vendors in `dicore.VENDORS` order. Values
    are percent; value and interval are None when n = 0. `ci` is "wilson"
    (score interval at `level`) or "bootstrap" (cluster bootstrap over target
    identities, `n_resamples` resamples seeded by `seed`).
    """
    if ci not in ("wilson", "bootstrap"):
        raise ValueError(f"ci must be 'wilson' or 'bootstrap', got {ci!r}")
    n_datasets, n_vendors = len(vocab.datasets), len(vocab.vendors)
    n_identities = max(len(vocab.identities), 1)
    counts = _group_counts_jit(
        obs,
        n_datasets=n_datasets,
        n_identities=n_identities,
        n_vendors=n_vendors,
        beta=jnp.float32(beta),
        gamma=jnp.float32(gamma),
    )
    den = np.asarray(counts.denominator)
    values = percent(counts.numerator, den)  # float64 for the file
    if ci == "wilson":
        low, high = intervals.wilson_interval_jit(counts.numerator, counts.denominator, level=level)
    else:
        low, high = intervals.cluster_bootstrap_jit(
            obs,
            key=jax.random.key(seed),
            n_datasets=n_datasets,
            n_identities=n_identities,
            n_vendors=n_vendors,
            n_resamples=n_resamples,
            level=level,
            beta=jnp.float32(beta),
            gamma=jnp.float32(gamma),
        )
    # The intervals contain their float32 estimate; keep them around the float64 value too.
    low = np.fmin(np.asarray(low, np.float64), values)
    high = np.fmax(np.asarray(high, np.float64), values)
    present = np.zeros(n_datasets * n_vendors, bool)
    if obs.n:
        present[np.unique(np.asarray(obs.dataset) * n_vendors + np.asarray(obs.vendor))] = True
    table = []
    for d, dataset in enumerate(vocab.datasets):
        for v, vendor in enumerate(vocab.vendors):
            g = d * n_vendors + v
            if not present[g]:
                continue
            for m, metric in enumerate(METRICS):
                table.append(
                    {
                        "dataset": dataset,
                        "vendor": vendor,
                        "metric": metric,
                        "value": none_if_nan(values[m, g]),
                        "ci_low": none_if_nan(low[m, g]),
                        "ci_high": none_if_nan(high[m, g]),
                        "n": int(den[m, g]),
                    }
                )
    return table


# ---- curves ----------------------------------------------------------------------


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


def sweep_curves(obs, vocab, grid: np.ndarray = SWEEP_GRID) -> list[SweepCurve]:
    """DHC over beta and DHS over gamma per (dataset, vendor), by `dicore.core.sweeps` (strict `>`;
    DHC over named fakes, DHS over unnamed fakes that have a similarity). Groups with no such
    fakes (Naver has no similarity) get no curve."""
    thresholds = np.asarray(grid, np.float32)
    n_d, n_v = len(vocab.datasets), len(vocab.vendors)
    curves = []
    for metric, fn in (("DHC", sweeps.dhc_sweep_jit), ("DHS", sweeps.dhs_sweep_jit)):
        counts = fn(obs, thresholds, n_datasets=n_d, n_vendors=n_v)
        num, den = np.asarray(counts.numerator), np.asarray(counts.denominator)
        for g in range(n_d * n_v):
            if den[g, 0] == 0:
                continue
            d, v = divmod(g, n_v)
            curves.append(SweepCurve(vocab.datasets[d], vocab.vendors[v], metric,
                                     [float(t) for t in grid],
                                     [none_if_nan(x) for x in percent(num[g], den[g])]))
    return curves


def comparison_rows(metrics: list[dict[str, Any]]) -> list[ComparisonRow]:
    """Every TA/NA cell of the paper that `metrics` also has, paper order
    (dataset, vendor, TA then NA). `difference` = dicore - paper, in percentage points."""
    mine = {(r["dataset"], r["vendor"], r["metric"]): none_if_nan(r.get("value")) for r in metrics}
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


# ---- defence rows (defence.csv) ---------------------------------------------------

ALL_DATASETS = "All Datasets Combined"


def defence_table(
    *,
    datasets: Sequence[str],
    is_fake: np.ndarray,
    passed: np.ndarray,
    ta: Mapping[str, np.ndarray],
    na: Mapping[str, np.ndarray],
    detector: str,
    source: str = "measured",
    combined: bool = True,
) -> list[dict]:
    """Table-2-style rows for one filter: per dataset (and all datasets combined), per vendor,
    per attack: `dataset, detector, detector_acc, vendor, attack, asr_before, asr_after,
    real_blocked, n_fake, source` (percent; `detector_acc` measured on that dataset's images).

    Args: datasets (N,) names; is_fake, passed (N,) bool; ta/na {vendor: (N,) bool};
    `source` says where scores came from ("measured", "simulated").
    """
    datasets_arr = np.asarray(datasets)
    n = datasets_arr.shape[0]
    is_fake = np.asarray(is_fake, bool)
    passed = np.asarray(passed, bool)
    if is_fake.shape != (n,) or passed.shape != (n,):
        raise ValueError(f"is_fake {is_fake.shape} and passed {passed.shape} must be ({n},)")
    vendors = list(ta)
    if set(vendors) != set(na):
        raise ValueError("ta and na must have the same vendors")
    ta_all = np.stack([np.asarray(ta[v], bool) for v in vendors])
    na_all = np.stack([np.asarray(na[v], bool) for v in vendors])
    if ta_all.shape != (len(vendors), n) or na_all.shape != ta_all.shape:
        raise ValueError(f"every ta/na array must have shape ({n},)")
    groups = [(d, datasets_arr == d) for d in dict.fromkeys(datasets_arr.tolist())]
    if combined and len(groups) > 1:
        groups.append((ALL_DATASETS, np.ones(n, bool)))
    rows = []
    for name, m in groups:
        out = defence.gate_outcome(passed[m], is_fake[m], ta_all[:, m], na_all[:, m])
        for i, vendor in enumerate(vendors):
            for attack, before, after in (("TA", out.ta_before, out.ta_after),
                                          ("NA", out.na_before, out.na_after)):
                rows.append({
                    "dataset": name, "detector": detector,
                    "detector_acc": none_if_nan(out.accuracy, 4),
                    "vendor": vendor, "attack": attack,
                    "asr_before": none_if_nan(before[i], 4),
                    "asr_after": none_if_nan(after[i], 4),
                    "real_blocked": none_if_nan(out.real_blocked, 4),
                    "n_fake": int(out.n_fake), "source": source,
                })
    return rows


def analytic_defence_table(
    asr_before: Mapping[tuple[str, str, str], float],
    detectors: Mapping[str, Sequence[tuple[str, float]]],
) -> list[dict]:
    """Table-2-style rows from the analytic model: for each (dataset, vendor, attack) rate
    in `asr_before` and each (detector name, accuracy) listed for that dataset."""
    rows = []
    for dataset, dets in detectors.items():
        for name, acc in dets:
            for (d, vendor, attack), before in asr_before.items():
                if d != dataset:
                    continue
                rows.append({
                    "dataset": dataset, "detector": name, "detector_acc": float(acc),
                    "vendor": vendor, "attack": attack, "asr_before": float(before),
                    "asr_after": round(float(defence.gated_asr(before, acc)), 4),
                    "real_blocked": None, "n_fake": None, "source": "analytic",
                })
    return rows
