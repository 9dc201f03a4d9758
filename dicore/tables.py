"""Core results -> the rows and curves that files and reports hold (a presentation layer).

`metrics_table` (metrics.json rows), the sweep and trade-off curve records, defence rows
(defence.csv), the paper comparison (calibration.json, the report). The one step from
counts to percent (`percent`) and the one from NaN to JSON null (`none_if_nan`) live here.

Over 400 lines because it is the one presentation layer: every row and curve record
the files and the report hold, with the single percent and NaN steps they share.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from dicore import paper
from dicore.core import defence, identity, impostors, intervals, sweeps, tradeoff
from dicore.core.groups import GroupSizes
from dicore.core.kernel import Thresholds, UniformGrid, threshold_values
from dicore.core.metrics import group_counts
from dicore.core.observations import Observations, Vocab
from dicore.core.vocab import DEFAULT_BETA, DEFAULT_GAMMA, DEFAULT_GENUINE_KEEP, METRICS, VENDORS

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


# The core jitted where it is called (`GroupSizes` and `UniformGrid` are static pytrees).
_group_counts = jax.jit(group_counts)
_wilson = jax.jit(intervals.wilson_interval, static_argnames=("level",))
_bootstrap = jax.jit(intervals.cluster_bootstrap, static_argnames=("n_resamples", "level"))
_genuine_impostor = jax.jit(impostors.genuine_impostor_counts)
_dhc_sweep = jax.jit(sweeps.dhc_sweep)
_dhs_sweep = jax.jit(sweeps.dhs_sweep)
_high_risk_sweep = jax.jit(sweeps.high_risk_sweep)
_replay_counts = jax.jit(tradeoff.replay_counts)
_min_attack_point = jax.jit(tradeoff.min_attack_point)
_equal_error_point = jax.jit(tradeoff.equal_error_point)


def present_groups(obs: Observations, sizes: GroupSizes) -> np.ndarray:
    """Sorted ids of the (dataset, vendor) groups that have at least one row."""
    g = np.asarray(obs.dataset, np.int64) * sizes.n_vendors + np.asarray(obs.vendor, np.int64)
    return np.unique(g)


def metrics_table(
    obs: Observations,
    vocab: Vocab,
    *,
    beta: float = DEFAULT_BETA,
    gamma: float = DEFAULT_GAMMA,
    ci: str = "wilson",
    level: float = 0.95,
    n_resamples: int = 1000,
    seed: int = 0,
) -> list[dict]:
    """The metrics.json rows: `{"dataset","vendor","metric","value","ci_low","ci_high","n"}`.

    One row per metric (`METRICS`, then IAPMR = TA and FNMR, the genuine miss rate) for
    every (dataset, vendor) that has at least one non-impostor row in `obs`, and an FMR row
    (impostors named) for every one with impostor rows; datasets in vocab order, vendors
    in `dicore.VENDORS` order. FNMR and FMR carry Wilson intervals (one image per trial). Values
    are percent; value and interval are None when n = 0. `ci` is "wilson"
    (score interval at `level`) or "bootstrap" (cluster bootstrap over target
    identities, `n_resamples` resamples seeded by `seed`).
    """
    if ci not in ("wilson", "bootstrap"):
        raise ValueError(f"ci must be 'wilson' or 'bootstrap', got {ci!r}")
    sizes = GroupSizes.of(vocab)
    n_vendors = sizes.n_vendors
    counts = _group_counts(obs, sizes=sizes, beta=jnp.float64(beta), gamma=jnp.float64(gamma))
    den = np.asarray(counts.denominator)
    values = percent(counts.numerator, den)  # float64 for the file
    if ci == "wilson":
        low, high = _wilson(counts.numerator, counts.denominator, level=level)
    else:
        low, high = _bootstrap(
            obs,
            key=jax.random.key(seed),
            sizes=sizes,
            n_resamples=n_resamples,
            level=level,
            beta=jnp.float64(beta),
            gamma=jnp.float64(gamma),
        )
    # The intervals contain their estimate; keep them around the float64 value exactly.
    low = np.fmin(np.asarray(low, np.float64), values)
    high = np.fmax(np.asarray(high, np.float64), values)
    # The ISO/IEC 19795 analogues (FNMR: genuine miss, FMR: impostors named), Wilson intervals.
    gi = _genuine_impostor(obs, sizes=sizes)
    groups = np.asarray(obs.dataset, np.int64) * n_vendors + np.asarray(obs.vendor, np.int64)
    impostor_row = np.asarray(obs.method) == impostors.IMPOSTOR
    present = np.zeros(sizes.n_groups, bool)  # groups with study (non-impostor) rows
    present[np.unique(groups[~impostor_row])] = True
    with_impostors = np.zeros_like(present)
    with_impostors[np.unique(groups[impostor_row])] = True
    return metrics_rows(vocab, values, low, high, den, gi, present, with_impostors, level=level)


def metrics_rows(vocab: Vocab, values, low, high, den, gi, present, with_impostors, *,
                 level: float = 0.95) -> list[dict]:
    """The metrics.json rows from the (6, G) values, interval bounds and denominators, the
    genuine/impostor counts `gi` (2, G) and which groups have study rows / impostor rows
    (shared by `metrics_table` and the streaming path, `dicore.streaming`)."""
    n_vendors = len(vocab.vendors)
    gi_den = np.asarray(gi.denominator)
    gi_values = percent(gi.numerator, gi_den)
    gi_low, gi_high = (np.asarray(x, np.float64) for x in
                       _wilson(gi.numerator, gi.denominator, level=level))
    gi_low, gi_high = np.fmin(gi_low, gi_values), np.fmax(gi_high, gi_values)

    def row(dataset, vendor, metric, value, lo, hi, n):
        return {"dataset": dataset, "vendor": vendor, "metric": metric,
                "value": none_if_nan(value), "ci_low": none_if_nan(lo),
                "ci_high": none_if_nan(hi), "n": int(n)}

    table = []
    ta = METRICS.index("TA")  # IAPMR is TA under its ISO/IEC 30107-3 name
    for d, dataset in enumerate(vocab.datasets):
        for v, vendor in enumerate(vocab.vendors):
            g = d * n_vendors + v
            if present[g]:
                for m, metric in enumerate(METRICS):
                    table.append(row(dataset, vendor, metric, values[m, g], low[m, g], high[m, g],
                                     den[m, g]))
                table.append(row(dataset, vendor, "IAPMR", values[ta, g], low[ta, g],
                                 high[ta, g], den[ta, g]))
                table.append(row(dataset, vendor, "FNMR", gi_values[0, g], gi_low[0, g],
                                 gi_high[0, g], gi_den[0, g]))
            if with_impostors[g]:
                table.append(row(dataset, vendor, "FMR", gi_values[1, g], gi_low[1, g],
                                 gi_high[1, g], gi_den[1, g]))
    return table


# ---- curves ----------------------------------------------------------------------


@dataclass(frozen=True)
class SweepCurve:
    """A metric over a threshold grid for one (dataset, vendor): DHC over beta, DHS over
    gamma. `n` is the metric's denominator (named fakes; unnamed fakes with a similarity)."""

    dataset: str
    vendor: str
    metric: str
    thresholds: list[float]
    values: list[float | None]
    n: int | None = None

    def __post_init__(self) -> None:
        if self.metric not in ("DHC", "DHS"):
            raise ValueError(f"sweep metric must be DHC or DHS, got {self.metric!r}")
        if len(self.thresholds) != len(self.values):
            raise ValueError(f"sweep {self.dataset}/{self.vendor}/{self.metric}: "
                             f"{len(self.thresholds)} thresholds but {len(self.values)} values")


@dataclass(frozen=True)
class JointGrid:
    """The high-risk share of all fakes (DHC(beta) or DHS(gamma)) on the beta x gamma grid
    of one (dataset, vendor): `values[b][g]`, percent; `n` = fakes."""

    dataset: str
    vendor: str
    betas: list[float]
    gammas: list[float]
    values: list[list[float | None]]
    n: int


@dataclass(frozen=True)
class OperatingPoint:
    """A chosen tau and the rates there. `target`: the genuine recognition the point had to
    keep (percent), for the rule-based point; None for the equal-error point."""

    name: str
    tau: float | None
    attack_success: float | None
    genuine_recognition: float | None
    target: float | None = None


@dataclass(frozen=True)
class TradeoffCurve:
    """Attack success and genuine recognition if the vendor reported names only at
    confidence >= tau, over a grid of tau (percent), for one vendor on one dataset or on
    all datasets pooled (`dataset="all"`)."""

    vendor: str
    tau: list[float]
    attack_success: list[float | None]
    genuine_recognition: list[float | None]
    operating_points: list[OperatingPoint] = field(default_factory=list)
    dataset: str = "all"
    attack: str = "TA"
    floor: float | None = None
    n_fakes: int | None = None
    n_reals: int | None = None

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


def sweep_curves(
    obs: Observations, vocab: Vocab, betas: Thresholds = SWEEP_GRID,
    gammas: Thresholds = SWEEP_GRID,
) -> list[SweepCurve]:
    """DHC over `betas` and DHS over `gammas` per (dataset, vendor), by `dicore.core.sweeps`
    (strict `>`; DHC over named fakes, DHS over unnamed fakes that have a similarity).
    Groups with no such fakes (Naver has no similarity) get no curve."""
    sizes = GroupSizes.of(vocab)
    n_v = sizes.n_vendors
    curves = []
    for metric, fn, grid in (("DHC", _dhc_sweep, betas), ("DHS", _dhs_sweep, gammas)):
        thresholds = _grid(grid)
        counts = jax.tree.map(np.asarray, fn(obs, thresholds, sizes=sizes))
        values = percent(counts.numerator, counts.denominator)
        taus = [float(x) for x in threshold_values(thresholds, np.float64)]
        for g in range(sizes.n_groups):
            n = int(counts.denominator[g, 0])
            if n == 0:
                continue
            d, v = divmod(g, n_v)
            curves.append(SweepCurve(vocab.datasets[d], vocab.vendors[v], metric, taus,
                                     [none_if_nan(x) for x in values[g]], n))
    return curves


def joint_grids(
    obs: Observations, vocab: Vocab, betas: Thresholds, gammas: Thresholds
) -> list[JointGrid]:
    """The high-risk share on the beta x gamma grid for every (dataset, vendor) with fakes."""
    sizes = GroupSizes.of(vocab)
    betas, gammas = _grid(betas), _grid(gammas)
    hr = jax.tree.map(np.asarray, _high_risk_sweep(obs, betas, gammas, sizes=sizes))
    values = percent(hr.numerator, hr.fakes[:, None, None])
    b_list = [float(x) for x in threshold_values(betas, np.float64)]
    g_list = [float(x) for x in threshold_values(gammas, np.float64)]
    out = []
    for g in present_groups(obs, sizes):
        if hr.fakes[g] == 0:
            continue
        d, v = divmod(int(g), sizes.n_vendors)
        out.append(JointGrid(vocab.datasets[d], vocab.vendors[v], b_list, g_list,
                             [[none_if_nan(x) for x in row] for row in values[g]],
                             int(hr.fakes[g])))
    return out


def _grid(grid: Thresholds) -> Thresholds:
    """A UniformGrid as it is (static); anything else as a float64 array (exact thresholds)."""
    return grid if isinstance(grid, UniformGrid) else np.asarray(grid, np.float64)


GENUINE_KEEP = DEFAULT_GENUINE_KEEP
"""The operating-point rule's default share (docs/thresholds.md)."""


def tradeoff_curves(
    obs: Observations,
    vocab: Vocab,
    *,
    floors: Mapping[str, float],
    taus: Mapping[str, np.ndarray],
    attack: str = "TA",
    genuine_keep: float = GENUINE_KEEP,
    pooled: bool = True,
) -> list[TradeoffCurve]:
    """Trade-off curves of attack success against genuine recognition over the reporting
    threshold tau, with the two operating points of docs/thresholds.md:

    - lowest `attack` success among the taus whose genuine recognition is >= `genuine_keep`
      percent of the genuine recognition at the vendor's floor (ties -> smallest tau);
    - where attack success equals the genuine miss rate (interpolated).

    One curve per vendor over all datasets pooled (`pooled=True`, dataset "all") or per
    (dataset, vendor). `taus[vendor]`: that vendor's grid (ascending, at or above its floor;
    `tradeoff.check_taus` first). Vendors without a floor, and groups without real images
    (no genuine rate), get no curve. Replay runs once on the union of the grids and floors.
    """
    if attack not in tradeoff.ATTACKS:
        raise ValueError(f"attack must be one of {tradeoff.ATTACKS}, got {attack!r}")
    sizes = GroupSizes.of(vocab)
    datasets: Sequence[str] = vocab.datasets
    if pooled:
        obs = dataclasses.replace(obs, dataset=jnp.zeros_like(obs.dataset))
        sizes = dataclasses.replace(sizes, n_datasets=1)
        datasets = ("all",)
    present = present_groups(obs, sizes)
    n_v = sizes.n_vendors
    vendors = [vocab.vendors[v] for v in sorted({int(g) % n_v for g in present})
               if vocab.vendors[v] in floors and vocab.vendors[v] in taus]
    if not vendors:
        return []
    grids = {v: np.asarray(taus[v], np.float64) for v in vendors}
    floor64 = {v: np.float64(floors[v]) for v in vendors}
    all_taus = np.unique(np.concatenate([*grids.values(), np.array(list(floor64.values()))]))
    rep = jax.tree.map(np.asarray, _replay_counts(obs, all_taus, sizes=sizes))
    attack_counts = rep.ta if attack == "TA" else rep.na
    attack_rate = percent(attack_counts.numerator, attack_counts.denominator)
    genuine = percent(rep.genuine.numerator, rep.genuine.denominator)
    k = max(len(g) for g in grids.values())
    curves = []
    for vendor in vendors:
        v = vocab.vendors.index(vendor)
        cols = np.searchsorted(all_taus, grids[vendor])
        at_floor = genuine[:, np.searchsorted(all_taus, floor64[vendor])]
        target = genuine_keep / 100.0 * at_floor  # (G,); NaN without reals: no point
        # Pad by repeating the last column: one compiled shape for every vendor, and a
        # repeated point changes neither operating point.
        padded = np.concatenate([cols, np.full(k - len(cols), cols[-1])])
        best = jax.tree.map(np.asarray, _min_attack_point(
            all_taus[padded], attack_rate[:, padded], genuine[:, padded],
            target=target[:, None].astype(np.float64)))
        eer = jax.tree.map(np.asarray, _equal_error_point(
            all_taus[padded], attack_rate[:, padded], genuine[:, padded]))
        for g in (int(g) for g in present if int(g) % n_v == v):
            n_reals = int(rep.genuine.denominator[g, 0])
            if n_reals == 0:
                continue  # no real images: no genuine rate to trade against
            name = (f"lowest {attack}, genuine >= {target[g]:.1f}% ({genuine_keep:g}% of "
                    f"{at_floor[g]:.1f}% at the floor {floors[vendor]:g})")
            points = [
                OperatingPoint(name, none_if_nan(best.tau[g]), none_if_nan(best.attack[g]),
                               none_if_nan(best.genuine[g]), none_if_nan(target[g])),
                OperatingPoint(f"{attack} = genuine miss rate", none_if_nan(eer.tau[g]),
                               none_if_nan(eer.attack[g]), none_if_nan(eer.genuine[g])),
            ]
            curves.append(TradeoffCurve(
                vendor=vendor, tau=[float(x) for x in grids[vendor]],
                attack_success=[none_if_nan(x) for x in attack_rate[g, cols]],
                genuine_recognition=[none_if_nan(x) for x in genuine[g, cols]],
                operating_points=points, dataset=datasets[g // n_v], attack=attack,
                floor=float(floors[vendor]), n_fakes=int(attack_counts.denominator[g, 0]),
                n_reals=n_reals,
            ))
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

ALL_DATASETS = paper.COMBINED  # "All Datasets Combined", as in the paper's Table 2


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


_per_identity_means = jax.jit(identity.per_identity_means)


def identity_rows(obs: Observations, vocab: Vocab) -> list[dict[str, Any]]:
    """Per (dataset, vendor, identity) score means, as in the paper's Tables 3 and 5
    (`dicore.core.identity`): rows `{dataset, vendor, identity, n_real, n_fake,
    reference, target, similarity}` in percent, a mean over no values 0 as the paper
    prints it. An identity is listed when the group holds a real image or a fake of it; a
    column is None for a vendor that gave no such value in the dataset at all (Naver has
    no similarity call)."""
    sizes = GroupSizes.of(vocab)
    m = jax.tree.map(np.asarray, _per_identity_means(obs, sizes=sizes))
    counts = {"reference": m.n_reference, "target": m.n_target, "similarity": m.n_similarity}
    rows = []
    for g in present_groups(obs, sizes).tolist():
        d, v = divmod(g, sizes.n_vendors)
        has_kind = {c: bool(counts[c][g].any()) for c in counts}
        for i in np.flatnonzero((m.n_real[g] + m.n_fake[g]) > 0).tolist():
            row = {"dataset": vocab.datasets[d], "vendor": vocab.vendors[v],
                   "identity": vocab.identities[i], "n_real": int(m.n_real[g, i]),
                   "n_fake": int(m.n_fake[g, i])}
            for c in counts:
                row[c] = float(getattr(m, c)[g, i]) if has_kind[c] else None
            rows.append(row)
    return rows
