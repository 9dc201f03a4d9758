"""Core results -> the rows and curves that files and reports hold (a presentation layer).

`metrics_table` (metrics.json rows), the sweep and trade-off curve records, defence rows
(defence.csv), the paper comparison (calibration.json, the report). The one step from
counts to percent (`percent`) and the one from NaN to JSON null (`none_if_nan`) live here.

Over 400 lines because it is the one presentation layer: every row and curve record
the files and the report hold, with the single percent and NaN steps they share.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from dicore import paper
from dicore.core import curve_intervals, defence, identity, impostors, intervals, sweeps, tradeoff
from dicore.core.groups import GroupSizes, segment_count
from dicore.core.kernel import Thresholds, UniformGrid, threshold_values
from dicore.core.metrics import Counts, group_counts, group_ids, rates
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
_identity_counts = jax.jit(intervals.identity_counts)
_bootstrap_clusters = jax.jit(intervals.bootstrap_from_clusters,
                              static_argnames=("n_resamples", "level"))
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
    b, g = jnp.float64(beta), jnp.float64(gamma)
    counts = _group_counts(obs, sizes=sizes, beta=b, gamma=g)
    clusters = _identity_counts(obs, sizes=sizes, beta=b, gamma=g) if ci == "bootstrap" else None
    # The ISO/IEC 19795 analogues (FNMR: genuine miss, FMR: impostors named), Wilson intervals.
    gi = _genuine_impostor(obs, sizes=sizes)
    groups = np.asarray(obs.dataset, np.int64) * n_vendors + np.asarray(obs.vendor, np.int64)
    impostor_row = np.asarray(obs.method) == impostors.IMPOSTOR
    present = np.zeros(sizes.n_groups, bool)  # groups with study (non-impostor) rows
    present[np.unique(groups[~impostor_row])] = True
    with_impostors = np.zeros_like(present)
    with_impostors[np.unique(groups[impostor_row])] = True
    return metrics_from_counts(vocab, counts, gi, present, with_impostors, clusters=clusters,
                               ci=ci, level=level, n_resamples=n_resamples, seed=seed)


def metrics_from_counts(vocab: Vocab, counts: Counts, gi: Counts, present, with_impostors, *,
                        clusters: Counts | None = None, ci: str = "wilson", level: float = 0.95,
                        n_resamples: int = 1000, seed: int = 0) -> list[dict]:
    """The metrics.json rows from counts: `counts` (6, G) int32, `gi` the genuine/impostor
    counts (2, G), which groups have study / impostor rows, and for `ci="bootstrap"` the
    per-identity `clusters` (6, G, I). Counts add, so the streaming path
    (`dicore.streaming`) sums them over a file's parts and gets the same rows."""
    den = np.asarray(counts.denominator)
    values = percent(counts.numerator, den)  # float64 for the file
    if ci == "wilson":
        low, high = _wilson(counts.numerator, counts.denominator, level=level)
    else:
        if clusters is None:
            raise ValueError("ci='bootstrap' needs the per-identity clusters")
        low, high = _bootstrap_clusters(clusters, counts, key=jax.random.key(seed),
                                        n_resamples=n_resamples, level=level)
    # The intervals contain their estimate; keep them around the float64 value exactly.
    low = np.fmin(np.asarray(low, np.float64), values)
    high = np.fmax(np.asarray(high, np.float64), values)
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
    ci_low: list[float | None] | None = None  # cluster-adjusted Wilson 95%, per threshold
    ci_high: list[float | None] | None = None

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
    # The grid's marginals as shares of all fakes, with cluster-adjusted Wilson 95%
    # intervals: {"beta": {"values", "ci_low", "ci_high"}} (named, confidence > beta) and
    # {"gamma": ...} (not named, similarity > gamma); high-risk(b, g) = beta[b] + gamma[g].
    marginals: dict[str, dict[str, list[float | None]]] | None = None


@dataclass(frozen=True)
class OperatingPoint:
    """A chosen tau and the rates there. `target`: the genuine recognition the point had to
    keep (percent), for the rule-based point; None for the equal-error point."""

    name: str
    tau: float | None
    attack_success: float | None
    genuine_recognition: float | None
    target: float | None = None
    # 95% intervals [low, high]: tau and rates by the cluster bootstrap over identities
    # (rates floored by the cluster-adjusted Wilson interval); under dev-eval, tau's from
    # the dev set and the rates' from the eval set at that tau.
    tau_ci: list[float | None] | None = None
    attack_ci: list[float | None] | None = None
    genuine_ci: list[float | None] | None = None
    chosen_on: str = "all"  # the data the point was chosen on: "all" or "dev"
    reported_on: str = "all"  # the data its rates come from: "all" or "eval"
    dev_attack_success: float | None = None  # dev-eval: the rates on the dev set
    dev_genuine_recognition: float | None = None
    false_name_rate: float | None = None  # impostors named at this tau (three-class view)


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
    # Cluster-adjusted Wilson 95% intervals per tau.
    attack_ci_low: list[float | None] | None = None
    attack_ci_high: list[float | None] | None = None
    genuine_ci_low: list[float | None] | None = None
    genuine_ci_high: list[float | None] | None = None
    # The zero-effort impostor view (three classes): impostors named at confidence >= tau.
    false_name_rate: list[float | None] | None = None
    false_name_ci_low: list[float | None] | None = None
    false_name_ci_high: list[float | None] | None = None
    n_impostors: int | None = None
    false_name_points: list[OperatingPoint] = field(default_factory=list)
    # dev-eval protocol: the curves above are the eval set's; these the dev set's.
    dev_attack_success: list[float | None] | None = None
    dev_genuine_recognition: list[float | None] | None = None

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


MAX_CLUSTER_CELLS = 50_000_000
"""Curve intervals need groups x thresholds x identities counts; finer grids get none."""

LEVEL = 0.95
"""The level of every interval on a curve or an operating point."""


def cluster_ids(obs: Observations) -> tuple[np.ndarray, int]:
    """Dense cluster id of each row (its target identity) and the number of clusters."""
    uniq, inverse = np.unique(np.asarray(obs.target), return_inverse=True)
    return inverse.astype(np.int32).reshape(-1), max(len(uniq), 1)


def _fits(sizes: GroupSizes, k: int, n_clusters: int) -> bool:
    return sizes.n_groups * k * n_clusters <= MAX_CLUSTER_CELLS


def _list(a) -> list[float | None]:
    return [none_if_nan(x) for x in np.asarray(a, np.float64)]


def curve_counts(obs: Observations, sizes: GroupSizes, *, cids, n_clusters: int, betas=None,
                 gammas=None, taus=None, dev_rows=None, joint: bool = False) -> dict[str, Any]:
    """Every count the curves need, as NumPy arrays (they add over parts of a file, so the
    streaming path, `dicore.streaming`, sums them batch by batch): "dhc"/"dhs" (G, K)
    sweep counts over `betas`/`gammas`, their per-cluster counts "dhc_c"/"dhs_c" (G, K, C)
    where `_fits`, "fakes" (G,), "fakes_c" (G, C) for the joint grid's marginals, and over
    `taus` the replay "replay" (TA, NA, genuine; (G, K, C) each), "fnr" (false names) and,
    with `dev_rows`, "dev_replay" on the dev rows (the others are the eval rows)."""
    parts = []
    if betas is not None:
        parts += ["dhc"] + (["dhc_c"] if _fits(sizes, _size(betas), n_clusters) else [])
    if gammas is not None:
        parts += ["dhs"] + (["dhs_c"] if _fits(sizes, _size(gammas), n_clusters) else [])
    if joint and betas is not None and gammas is not None and _fits(
            sizes, max(_size(betas), _size(gammas)), n_clusters):
        parts.append("fakes_c")
    if taus is not None:
        parts += ["replay"] + (["dev"] if dev_rows is not None else [])
    dev = np.zeros(obs.n, bool) if dev_rows is None else np.asarray(dev_rows, bool)
    out = _curve_counts_jit(obs, None if betas is None else _grid(betas),
                            None if gammas is None else _grid(gammas),
                            None if taus is None else np.asarray(taus, np.float64),
                            np.asarray(cids, np.int32), dev, sizes=sizes, n_clusters=n_clusters,
                            parts=tuple(parts))
    return jax.tree.map(np.asarray, out)


def _size(grid: Thresholds) -> int:
    return len(threshold_values(_grid(grid), np.float64))


def _curve_counts(obs, betas, gammas, taus, cids, dev, *, sizes, n_clusters, parts):
    out: dict[str, Any] = {"fakes": segment_count(
        jnp.asarray(obs.is_fake), group_ids(obs, sizes=sizes), sizes.n_groups)}
    for metric, grid in (("dhc", betas), ("dhs", gammas)):
        if metric in parts:
            fn = sweeps.dhc_sweep if metric == "dhc" else sweeps.dhs_sweep
            out[metric] = fn(obs, grid, sizes=sizes)
        if metric + "_c" in parts:
            out[metric + "_c"] = curve_intervals.sweep_clusters(
                obs, grid, cids, sizes=sizes, n_clusters=n_clusters, metric=metric.upper())
    if "fakes_c" in parts:
        seg = curve_intervals.cluster_segments(obs, cids, sizes=sizes, n_clusters=n_clusters)
        out["fakes_c"] = segment_count(jnp.asarray(obs.is_fake), seg,
                                       sizes.n_groups * n_clusters).reshape(sizes.n_groups, n_clusters)
    if "replay" in parts:
        def drop(rows):  # rows moved past the last dataset: no count sees them
            return dataclasses.replace(obs, dataset=jnp.where(rows, sizes.n_datasets, obs.dataset))

        eval_obs = drop(dev) if "dev" in parts else obs
        out["replay"], out["fnr"] = _replay_ci(eval_obs, taus, cids, sizes=sizes, n_clusters=n_clusters)
        if "dev" in parts:
            out["dev_replay"] = _replay_ci(drop(~dev), taus, cids, sizes=sizes, n_clusters=n_clusters)[0]
    return out


_curve_counts_jit = jax.jit(_curve_counts, static_argnames=("n_clusters", "parts"))


def _i32(c):
    """Counts as int32 arrays (the core's count dtype), whichever path summed them."""
    return jax.tree.map(lambda a: np.asarray(a).astype(np.int32), c)


_curve_interval = jax.jit(curve_intervals.curve_interval, static_argnames=("level",))


def sweep_curves(
    obs: Observations, vocab: Vocab, betas: Thresholds = SWEEP_GRID,
    gammas: Thresholds = SWEEP_GRID,
) -> list[SweepCurve]:
    """DHC over `betas` and DHS over `gammas` per (dataset, vendor), by `dicore.core.sweeps`
    (strict `>`; DHC over named fakes, DHS over unnamed fakes that have a similarity).
    Groups with no such fakes (Naver has no similarity) get no curve."""
    sizes = GroupSizes.of(vocab)
    cids, n_c = cluster_ids(obs)
    return sweep_curves_from(curve_counts(obs, sizes, cids=cids, n_clusters=n_c, betas=betas,
                                          gammas=gammas), vocab, betas, gammas)


def sweep_curves_from(c: dict, vocab: Vocab, betas: Thresholds = SWEEP_GRID,
                      gammas: Thresholds = SWEEP_GRID) -> list[SweepCurve]:
    """`sweep_curves` from `curve_counts` (of a whole file, or summed over its parts)."""
    sizes = GroupSizes.of(vocab)
    n_v = sizes.n_vendors
    curves = []
    for metric, key, grid in (("DHC", "dhc", betas), ("DHS", "dhs", gammas)):
        counts = _i32(c[key])
        values = percent(counts.numerator, counts.denominator)
        taus = [float(x) for x in threshold_values(_grid(grid), np.float64)]
        ci = None
        if key + "_c" in c:
            ci = jax.tree.map(np.asarray, _curve_interval(Counts(*_i32(c[key + "_c"])), level=LEVEL))
        for g in range(sizes.n_groups):
            n = int(counts.denominator[g, 0])
            if n == 0:
                continue
            d, v = divmod(g, n_v)
            curves.append(SweepCurve(
                vocab.datasets[d], vocab.vendors[v], metric, taus,
                [none_if_nan(x) for x in values[g]], n,
                None if ci is None else _list(np.fmin(ci.low[g], values[g])),
                None if ci is None else _list(np.fmax(ci.high[g], values[g]))))
    return curves


def joint_grids(
    obs: Observations, vocab: Vocab, betas: Thresholds, gammas: Thresholds
) -> list[JointGrid]:
    """The high-risk share on the beta x gamma grid for every (dataset, vendor) with fakes."""
    sizes = GroupSizes.of(vocab)
    cids, n_c = cluster_ids(obs)
    c = curve_counts(obs, sizes, cids=cids, n_clusters=n_c, betas=betas, gammas=gammas, joint=True)
    return joint_grids_from(c, present_groups(obs, sizes), vocab, betas, gammas)


def joint_grids_from(c: dict, present, vocab: Vocab, betas: Thresholds,
                     gammas: Thresholds) -> list[JointGrid]:
    """`joint_grids` from `curve_counts(..., joint=True)` and the groups with rows. The
    grid is DHC's count at beta plus DHS's at gamma (`dicore.core.sweeps.high_risk_sweep`)."""
    sizes = GroupSizes.of(vocab)
    dhc, dhs = _i32(c["dhc"]), _i32(c["dhs"])
    fakes = np.asarray(c["fakes"]).astype(np.int32)
    values = percent(dhc.numerator[:, :, None] + dhs.numerator[:, None, :], fakes[:, None, None])
    b_list = [float(x) for x in threshold_values(_grid(betas), np.float64)]
    g_list = [float(x) for x in threshold_values(_grid(gammas), np.float64)]
    margins = None
    if "fakes_c" in c:
        fakes_c = np.asarray(c["fakes_c"]).astype(np.int32)
        margins = {axis: jax.tree.map(np.asarray, _marginal_jit(Counts(*_i32(c[key])), fakes_c))
                   for axis, key in (("beta", "dhc_c"), ("gamma", "dhs_c"))}
    out = []
    for g in present:
        if fakes[g] == 0:
            continue
        d, v = divmod(int(g), sizes.n_vendors)
        marginals = None
        if margins is not None:
            marginals = {axis: {"values": _list(m[0][g]), "ci_low": _list(np.fmin(m[1][g], m[0][g])),
                                "ci_high": _list(np.fmax(m[2][g], m[0][g]))}
                         for axis, m in margins.items()}
        out.append(JointGrid(vocab.datasets[d], vocab.vendors[v], b_list, g_list,
                             [[none_if_nan(x) for x in row] for row in values[g]],
                             int(fakes[g]), marginals))
    return out


def _marginal(c: Counts, fakes_c):
    """A joint-grid marginal from DHC (or DHS) counts over all fakes: rate and interval (G, K)."""
    fakes = jnp.broadcast_to(fakes_c[:, None, :], c.numerator.shape)
    share = Counts(c.numerator, fakes)
    ci = curve_intervals.curve_interval(share, level=LEVEL)
    return rates(Counts(share.numerator.sum(-1), share.denominator.sum(-1))), ci.low, ci.high


_marginal_jit = jax.jit(_marginal)


def _grid(grid: Thresholds) -> Thresholds:
    """A UniformGrid as it is (static); anything else as a float64 array (exact thresholds)."""
    return grid if isinstance(grid, UniformGrid) else np.asarray(grid, np.float64)


GENUINE_KEEP = DEFAULT_GENUINE_KEEP
"""The operating-point rule's default share (docs/thresholds.md)."""


FALSE_NAME_TARGETS = (1.0, 0.1)
"""False-name rates (percent) at which the trade-off reports the tau (the FMR100/FMR1000 idea)."""


def _replay_ci(obs, taus, cids, *, sizes, n_clusters):
    """Per-cluster replay (TA, NA, genuine) and false-name counts, (G, K, C) each."""
    rep = curve_intervals.replay_clusters(obs, taus, cids, sizes=sizes, n_clusters=n_clusters)
    fnr = curve_intervals.false_name_clusters(obs, taus, cids, sizes=sizes, n_clusters=n_clusters)
    return rep, fnr


_replay_ci_jit = jax.jit(_replay_ci, static_argnames=("n_clusters",))
_bootstrap_points = jax.jit(curve_intervals.bootstrap_points,
                            static_argnames=("n_resamples", "level"))
_cluster_wilson = jax.jit(intervals.cluster_wilson_interval, static_argnames=("level",))
_tau_at_rate = jax.jit(impostors.tau_at_rate)


def restrict(obs: Observations, keep: np.ndarray, sizes: GroupSizes) -> Observations:
    """`obs` with the rows not in `keep` moved to a group past the end (every core count
    drops them); paired rows stay addressable."""
    dataset = np.where(np.asarray(keep, bool), np.asarray(obs.dataset), sizes.n_datasets)
    return dataclasses.replace(obs, dataset=dataset.astype(np.int32))


def _summed(c: Counts) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(c.numerator).sum(-1), np.asarray(c.denominator).sum(-1)


def _pair(low, high, g, value=None):
    lo, hi = none_if_nan(low[g]), none_if_nan(high[g])
    if value is not None and lo is not None:
        lo, hi = min(lo, value), max(hi, value)
    return None if lo is None else [lo, hi]


def tradeoff_taus(present, vocab: Vocab, floors: Mapping[str, float],
                  taus: Mapping[str, np.ndarray]):
    """(vendors, their grids, floors as float64, the union of grids and floors) of the
    groups `present` (ids) that have a floor and a grid; None when no vendor has."""
    n_v = len(vocab.vendors)
    vendors = [vocab.vendors[v] for v in sorted({int(g) % n_v for g in present})
               if vocab.vendors[v] in floors and vocab.vendors[v] in taus]
    if not vendors:
        return None
    grids = {v: np.asarray(taus[v], np.float64) for v in vendors}
    floor64 = {v: np.float64(floors[v]) for v in vendors}
    all_taus = np.unique(np.concatenate([*grids.values(), np.array(list(floor64.values()))]))
    return vendors, grids, floor64, all_taus


def tradeoff_curves(
    obs: Observations,
    vocab: Vocab,
    *,
    floors: Mapping[str, float],
    taus: Mapping[str, np.ndarray],
    attack: str = "TA",
    genuine_keep: float = GENUINE_KEEP,
    pooled: bool = True,
    dev_rows: np.ndarray | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
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

    Every rate carries a cluster-adjusted Wilson 95% interval per tau; the operating points
    carry cluster-bootstrap intervals on tau and on their rates (`n_resamples`, `seed`).
    Groups with impostor rows also get the false-name rate over tau and the taus where it
    first falls to `FALSE_NAME_TARGETS` (the three-class view).

    `dev_rows` (N,) bool: the dev/eval protocol. The points are chosen on the dev rows and
    reported on the others (eval); the curves are the eval set's, `dev_*` the dev set's.
    Without it the points are chosen on the data they are reported on (`chosen_on` "all").
    """
    if attack not in tradeoff.ATTACKS:
        raise ValueError(f"attack must be one of {tradeoff.ATTACKS}, got {attack!r}")
    sizes = GroupSizes.of(vocab)
    present = present_groups(obs, sizes)
    chosen = tradeoff_taus(present, vocab, floors, taus)
    if chosen is None:
        return []
    cids, n_c = cluster_ids(obs)
    c = curve_counts(obs, sizes, cids=cids, n_clusters=n_c, taus=chosen[3], dev_rows=dev_rows)
    return tradeoff_curves_from(c, present, vocab, floors=floors, taus=taus, attack=attack,
                                genuine_keep=genuine_keep, pooled=pooled,
                                n_resamples=n_resamples, seed=seed)


def tradeoff_curves_from(c: dict, present, vocab: Vocab, *, floors, taus, attack: str = "TA",
                         genuine_keep: float = GENUINE_KEEP, pooled: bool = True,
                         n_resamples: int = 1000, seed: int = 0) -> list[TradeoffCurve]:
    """`tradeoff_curves` from `curve_counts(..., taus=<the union of tradeoff_taus>)` per
    (dataset, vendor) (pooled: summed over the datasets) and the groups with rows."""
    if attack not in tradeoff.ATTACKS:
        raise ValueError(f"attack must be one of {tradeoff.ATTACKS}, got {attack!r}")
    sizes = GroupSizes.of(vocab)
    datasets: Sequence[str] = vocab.datasets
    n_v = sizes.n_vendors
    rep, fnr = tradeoff.PolicyReplay(*(Counts(*x) for x in c["replay"])), Counts(*c["fnr"])
    dev_rep = tradeoff.PolicyReplay(*(Counts(*x) for x in c["dev_replay"])) if "dev_replay" in c else None
    present = np.asarray(present, np.int64)
    if pooled:
        def pool(x: Counts) -> Counts:
            # The pooled rows are repeated to the per-dataset group count, so the kernels
            # below compile once for both calls; only the first n_v rows are read.
            def repeated(a: Any) -> Any:
                summed = a.reshape(sizes.n_datasets, n_v, *a.shape[1:]).sum(0)
                return np.concatenate([summed] * sizes.n_datasets)

            return Counts(*(repeated(a) for a in x))

        rep, fnr = tradeoff.PolicyReplay(*(pool(x) for x in rep)), pool(fnr)
        dev_rep = None if dev_rep is None else tradeoff.PolicyReplay(*(pool(x) for x in dev_rep))
        present = np.unique(present % n_v)
        sizes = dataclasses.replace(sizes, n_datasets=1)
        datasets = ("all",)
    chosen = tradeoff_taus(present, vocab, floors, taus)
    if chosen is None:
        return []
    vendors, grids, floor64, all_taus = chosen
    split = dev_rep is not None
    rep, fnr = _i32(rep), _i32(fnr)
    dev_rep = _i32(dev_rep) if split else rep
    to_np = functools.partial(jax.tree.map, np.asarray)
    attack_c = rep.ta if attack == "TA" else rep.na
    dev_attack_c = dev_rep.ta if attack == "TA" else dev_rep.na
    attack_rate, genuine = percent(*_summed(attack_c)), percent(*_summed(rep.genuine))
    dev_attack, dev_genuine = percent(*_summed(dev_attack_c)), percent(*_summed(dev_rep.genuine))
    fnr_rate = percent(*_summed(fnr))
    a_ci = to_np(_cluster_wilson(attack_c.numerator, attack_c.denominator, level=LEVEL))
    g_ci = to_np(_cluster_wilson(rep.genuine.numerator, rep.genuine.denominator, level=LEVEL))
    f_ci = to_np(_cluster_wilson(fnr.numerator, fnr.denominator, level=LEVEL))
    k = max(len(g) for g in grids.values())
    curves = []
    for vendor in vendors:
        v = vocab.vendors.index(vendor)
        cols = np.searchsorted(all_taus, grids[vendor])
        floor_col = np.searchsorted(all_taus, floor64[vendor])
        at_floor = dev_genuine[:, floor_col]
        target = genuine_keep / 100.0 * at_floor  # (G,); NaN without reals: no point
        # Pad by repeating the last column: one compiled shape for every vendor, and a
        # repeated point changes neither operating point.
        padded = np.concatenate([cols, np.full(k - len(cols), cols[-1])])
        best = to_np(_min_attack_point(
            all_taus[padded], dev_attack[:, padded], dev_genuine[:, padded],
            target=target[:, None].astype(np.float64)))
        eer = to_np(_equal_error_point(
            all_taus[padded], dev_attack[:, padded], dev_genuine[:, padded]))
        # On the vendor's own grid: below its floor its names are censored.
        fn_points = [to_np(_tau_at_rate(all_taus[padded], fnr_rate[:, padded], target=t))
                     for t in FALSE_NAME_TARGETS]
        gv = np.arange(v, sizes.n_groups, n_v)  # this vendor's groups: row g // n_v below
        # Pooled (one group) repeats its row up to the per-dataset count: one compiled
        # bootstrap (~2 s of XLA) for both calls. Row 0 is unchanged: threefry draws are
        # keyed by element index (jax_threefry_partitionable) and groups do not interact.
        gv = np.concatenate([gv, np.full(len(vocab.datasets) - len(gv), gv[-1])])
        boot = to_np(_bootstrap_points(
            Counts(dev_attack_c.numerator[gv][:, padded], dev_attack_c.denominator[gv][:, padded]),
            Counts(dev_rep.genuine.numerator[gv][:, padded],
                   dev_rep.genuine.denominator[gv][:, padded]),
            Counts(dev_rep.genuine.numerator[gv, floor_col],
                   dev_rep.genuine.denominator[gv, floor_col]),
            all_taus[padded], key=jax.random.key(seed), genuine_keep=genuine_keep,
            n_resamples=n_resamples, level=LEVEL))
        for g in (int(g) for g in present if int(g) % n_v == v):
            n_reals = int(rep.genuine.denominator[g, 0].sum())
            if n_reals == 0:
                continue  # no real images: no genuine rate to trade against
            name = (f"lowest {attack}, genuine >= {target[g]:.1f}% ({genuine_keep:g}% of "
                    f"{at_floor[g]:.1f}% at the floor {floors[vendor]:g})")
            points = [
                _point(name, best, boot.min_attack, g, g // n_v, target[g], all_taus[padded],
                       (attack_rate[:, padded], genuine[:, padded], fnr_rate[:, padded]),
                       (a_ci, g_ci), padded, split),
                _point(f"{attack} = genuine miss rate", eer, boot.equal_error, g, g // n_v, None,
                       all_taus[padded],
                       (attack_rate[:, padded], genuine[:, padded], fnr_rate[:, padded]),
                       (a_ci, g_ci), padded, split),
            ]
            n_imp = int(fnr.denominator[g, 0].sum())
            # The tau where the false-name rate first falls to t, read on the reported data.
            fn_list = [OperatingPoint(
                f"false-name rate <= {t:g}%", none_if_nan(p.tau[g]),
                none_if_nan(attack_rate[g, padded[p.index[g]]]) if p.found[g] else None,
                none_if_nan(genuine[g, padded[p.index[g]]]) if p.found[g] else None, t,
                false_name_rate=none_if_nan(p.rate[g]), chosen_on="eval" if split else "all",
                reported_on="eval" if split else "all")
                for t, p in zip(FALSE_NAME_TARGETS, fn_points, strict=True)] if n_imp else []
            curves.append(TradeoffCurve(
                vendor=vendor, tau=[float(x) for x in grids[vendor]],
                attack_success=_list(attack_rate[g, cols]),
                genuine_recognition=_list(genuine[g, cols]),
                operating_points=points, dataset=datasets[g // n_v], attack=attack,
                floor=float(floors[vendor]), n_fakes=int(attack_c.denominator[g, 0].sum()),
                n_reals=n_reals,
                attack_ci_low=_list(np.fmin(a_ci.low[g, cols], attack_rate[g, cols])),
                attack_ci_high=_list(np.fmax(a_ci.high[g, cols], attack_rate[g, cols])),
                genuine_ci_low=_list(np.fmin(g_ci.low[g, cols], genuine[g, cols])),
                genuine_ci_high=_list(np.fmax(g_ci.high[g, cols], genuine[g, cols])),
                false_name_rate=_list(fnr_rate[g, cols]) if n_imp else None,
                false_name_ci_low=_list(np.fmin(f_ci.low[g, cols], fnr_rate[g, cols])) if n_imp else None,
                false_name_ci_high=_list(np.fmax(f_ci.high[g, cols], fnr_rate[g, cols])) if n_imp else None,
                n_impostors=n_imp or None, false_name_points=fn_list,
                dev_attack_success=_list(dev_attack[g, cols]) if split else None,
                dev_genuine_recognition=_list(dev_genuine[g, cols]) if split else None,
            ))
    return curves


def _point(name, p, boot, g, bg, target, taus, eval_curves, cis, padded, split) -> OperatingPoint:
    """An operating point of group g: tau (and its bootstrap interval) chosen on the dev
    set (all data without a split), rates read on the eval set at that tau."""
    tau = none_if_nan(p.tau[g])
    attack, genuine, fnr = eval_curves
    if tau is None:
        return OperatingPoint(name, None, None, None, none_if_nan(target),
                              chosen_on="dev" if split else "all",
                              reported_on="eval" if split else "all")

    def at(curve):
        # the eval curve at the chosen tau: the grid point, or interpolated like the point
        j = int(np.searchsorted(taus, tau, side="right")) - 1
        j = min(max(j, 0), len(taus) - 1)
        if taus[j] == tau or j + 1 >= len(taus):
            return float(curve[g, j])
        w = (tau - taus[j]) / (taus[j + 1] - taus[j])
        return float(curve[g, j] + w * (curve[g, j + 1] - curve[g, j]))

    if split:
        col = padded[int(np.argmin(np.abs(taus - tau)))]
        a_ci, g_ci = ([float(c.low[g, col]), float(c.high[g, col])] for c in cis)
        a, gen = at(attack), at(genuine)
        attack_ci = [min(a_ci[0], a), max(a_ci[1], a)] if not math.isnan(a) else None
        genuine_ci = [min(g_ci[0], gen), max(g_ci[1], gen)] if not math.isnan(gen) else None
        return OperatingPoint(
            name, tau, none_if_nan(a), none_if_nan(gen), none_if_nan(target),
            tau_ci=_pair(boot.tau.low, boot.tau.high, bg, tau), attack_ci=attack_ci,
            genuine_ci=genuine_ci, chosen_on="dev", reported_on="eval",
            dev_attack_success=none_if_nan(p.attack[g]),
            dev_genuine_recognition=none_if_nan(p.genuine[g]),
            false_name_rate=none_if_nan(at(fnr)))
    a, gen = none_if_nan(p.attack[g]), none_if_nan(p.genuine[g])
    return OperatingPoint(
        name, tau, a, gen, none_if_nan(target),
        tau_ci=_pair(boot.tau.low, boot.tau.high, bg, tau),
        attack_ci=_pair(boot.attack.low, boot.attack.high, bg, a),
        genuine_ci=_pair(boot.genuine.low, boot.genuine.high, bg, gen),
        false_name_rate=none_if_nan(at(fnr)))


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
