"""Confidence intervals for the metrics, in percent: Wilson score, a cluster-adjusted
Wilson interval and a cluster bootstrap.

All are pure and `jit`-able (`n_resamples` and `level` static:
`jax.jit(cluster_bootstrap, static_argnames=("n_resamples", "level"))`). Every interval
contains its estimate and lies in 0..100; where n = 0 the interval is (NaN, NaN).

Clusters are identities: the fakes (and real images) of one person are correlated, so
they are not n independent trials. A fake belongs to its target's cluster; an identity
only a synthesis fake's reference is a cluster too (SIC counts it), with no fakes.

- `cluster_wilson_interval`: the Wilson interval at an effective n = N / deff, where the
  design effect deff = (ratio-estimator variance over clusters) / (binomial variance
  p(1 - p) / N), with n_eff never below n_min = N^2 / sum(n_i^2) (the effective n when
  every identity's trials are one trial: intra-identity correlation 1). At p = 0 or 1
  the clusters show no variation, so their correlation cannot be estimated: n_eff =
  n_min (the worst case; about the number of identities), never zero width when N > 0.
  One identity only: n_eff = 1.
- `cluster_bootstrap`: percentile intervals of identity resamples, widened to contain
  the cluster-adjusted Wilson interval (its floor): a bootstrap at 0% (every resample
  0%) would otherwise have zero width.
"""

from __future__ import annotations

from statistics import NormalDist
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import Array

from dicore.core.groups import GroupSizes, segment_count
from dicore.core.metrics import (
    Counts,
    fake_outcomes,
    group_counts,
    identity_segments,
    impersonation_counts,
    rates,
    segment_counts,
    sic_indicators,
)
from dicore.core.observations import Observations
from dicore.core.vocab import DEFAULT_BETA, DEFAULT_GAMMA


class Interval(NamedTuple):
    """Lower and upper bounds in percent (NaN where n = 0)."""

    low: Array
    high: Array


def z_value(level: float) -> float:
    """Two-sided normal quantile for a confidence level in (0, 1): 0.95 -> 1.959964.

    `level` is a Python float (static under jit); computing z outside XLA keeps
    eager calls cheap."""
    level = float(level)
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    return NormalDist().inv_cdf(0.5 + 0.5 * level)


def wilson_interval(numerator, denominator, *, level: float = 0.95) -> Interval:
    """Wilson score interval for k successes of n, elementwise, in percent.

    center = (p + z^2 / 2n) / (1 + z^2 / n),
    half = z / (1 + z^2 / n) * sqrt(p (1 - p) / n + z^2 / 4n^2), with p = k / n.
    The bounds are clipped to 0..100 and widened to contain p (this only
    absorbs float rounding at p = 0 or 1). n = 0 gives NaN.
    """
    k = jnp.asarray(numerator, jnp.float64)
    n = jnp.asarray(denominator, jnp.float64)
    if k.shape != n.shape:
        raise ValueError(f"numerator shape {k.shape} and denominator shape {n.shape} must match")
    return _wilson_real(k / jnp.maximum(n, 1.0), n, level)


def cluster_wilson_interval(numerator, denominator, *, level: float = 0.95) -> Interval:
    """Cluster-adjusted Wilson interval, percent, over the last axis as clusters.

    `numerator`, `denominator`: (..., I) successes and trials per cluster (identity);
    clusters with no trials are absent. Returns bounds of shape (...). With K = sum k_i,
    N = sum n_i, p = K / N and m present clusters:
    v = m / (m - 1) * sum (k_i - p n_i)^2 / N^2 (ratio-estimator variance),
    deff = v / (p (1 - p) / N), n_eff = N / max(deff, 1) but at least n_min = N^2 / sum n_i^2
    (n_min itself where p is 0 or 1), and the Wilson interval of (p n_eff, n_eff).
    A single cluster gives n_eff = 1. See the module docstring.
    """
    k = jnp.asarray(numerator, jnp.float64)
    n = jnp.asarray(denominator, jnp.float64)
    if k.shape != n.shape or k.ndim < 1:
        raise ValueError(f"numerator {k.shape} and denominator {n.shape} must match, (..., clusters)")
    big_k, big_n = k.sum(-1), n.sum(-1)
    m = jnp.sum(n > 0, axis=-1).astype(jnp.float64)
    safe_n = jnp.maximum(big_n, 1.0)
    p = big_k / safe_n
    resid = jnp.sum(jnp.square(k - p[..., None] * n), axis=-1)
    v = jnp.where(m > 1, m / jnp.maximum(m - 1.0, 1.0), 0.0) * resid / jnp.square(safe_n)
    v0 = p * (1.0 - p) / safe_n
    deff = v / jnp.where(v0 > 0, v0, 1.0)
    # Never below the n of perfectly correlated identities (1 for a single identity).
    n_min = jnp.square(big_n) / jnp.maximum(jnp.sum(jnp.square(n), axis=-1), 1.0)
    # At p = 0 or 1 the clusters cannot show their correlation: assume the worst (n_min).
    n_eff = jnp.where(v0 > 0, jnp.maximum(big_n / jnp.maximum(deff, 1.0), n_min), n_min)
    n_eff = jnp.where(m > 1, n_eff, jnp.minimum(big_n, 1.0))
    return _wilson_real(p, n_eff, level)


def hull(a: Interval, b: Interval) -> Interval:
    """The smallest interval containing both (NaN bounds of one side are ignored)."""
    return Interval(jnp.fmin(a.low, b.low), jnp.fmax(a.high, b.high))


def _wilson_real(p, n, level: float) -> Interval:
    """Wilson interval for a proportion p at a real-valued n (percent; NaN where n = 0)."""
    z = z_value(level)
    safe_n = jnp.maximum(n, 1e-9)
    z2n = z * z / safe_n
    center = (p + z2n / 2) / (1 + z2n)
    half = z / (1 + z2n) * jnp.sqrt(jnp.maximum(p * (1 - p) / safe_n + z2n / (4 * safe_n), 0.0))
    low = jnp.clip(jnp.minimum(center - half, p), 0.0, 1.0)
    high = jnp.clip(jnp.maximum(center + half, p), 0.0, 1.0)
    empty = n <= 0
    return Interval(jnp.where(empty, jnp.nan, 100.0 * low), jnp.where(empty, jnp.nan, 100.0 * high))


def identity_tallies(
    obs: Observations,
    *,
    sizes: GroupSizes,
    beta: float | Array = DEFAULT_BETA,
    gamma: float | Array = DEFAULT_GAMMA,
) -> Counts:
    """Counts per (metric, group, identity), shape (6, G, I), that add over parts of a
    file (`dicore.streaming` sums them): rows 0..4 are TA/NA/DHF/DHC/DHS counts of the
    identity's fakes (those whose target it is; same rules and kernel as
    `dicore.core.metrics.group_counts`); row 5 is
    `dicore.core.metrics.impersonation_counts` (fakes impersonating the identity / fakes
    that could). `clusters_from_tallies` makes them the bootstrap's clusters."""
    n_groups, n_identities = sizes.n_groups, sizes.n_identities
    c = segment_counts(
        fake_outcomes(obs), identity_segments(obs, sizes=sizes),
        num_segments=n_groups * n_identities, beta=beta, gamma=gamma,
    )
    sic = impersonation_counts(obs, sizes=sizes)
    return Counts(
        jnp.concatenate([c.numerator.reshape(5, n_groups, n_identities), sic.numerator[None]]),
        jnp.concatenate([c.denominator.reshape(5, n_groups, n_identities), sic.denominator[None]]),
    )


def clusters_from_tallies(tallies: Counts) -> Counts:
    """The bootstrap's clusters (6, G, I) from `identity_tallies` (or their sums): row 5
    becomes SIC per identity (`dicore.core.metrics.sic_indicators`: 1/1 impersonated, 0/1
    impersonable only, 0/0 otherwise). Summed over identities they are `group_counts`."""
    sic = sic_indicators(Counts(tallies.numerator[5], tallies.denominator[5]))
    return Counts(
        jnp.concatenate([tallies.numerator[:5], sic.numerator[None]]),
        jnp.concatenate([tallies.denominator[:5], sic.denominator[None]]),
    )


def identity_counts(
    obs: Observations,
    *,
    sizes: GroupSizes,
    beta: float | Array = DEFAULT_BETA,
    gamma: float | Array = DEFAULT_GAMMA,
) -> Counts:
    """Counts per (metric, group, identity), shape (6, G, I): the bootstrap's clusters.

    Rows 0..4 are TA/NA/DHF/DHC/DHS counts of the fakes whose target the identity is;
    row 5 (SIC) is 1/1 when some fake impersonates the identity, 0/1 when fakes could
    but none does, 0/0 otherwise (`clusters_from_tallies` of `identity_tallies`).
    """
    return clusters_from_tallies(identity_tallies(obs, sizes=sizes, beta=beta, gamma=gamma))


def resample_weights(key: Array, present: Array) -> Array:
    """One cluster-bootstrap draw: per group, m_g identities drawn with replacement from
    the m_g present ones (`present`, (G, I) bool). Returns (G, I) int32 draw counts
    (each group's row sums to m_g; absent identities get 0)."""
    n_groups, n_identities = present.shape
    m = jnp.sum(present, axis=1, dtype=jnp.int32)
    # Present identities first (stable), so draw u in [0, m_g) picks order[g, u].
    order = jnp.argsort(~present, axis=1, stable=True)
    u = jax.random.randint(key, (n_groups, n_identities), 0, jnp.maximum(m, 1)[:, None])
    picked = jnp.take_along_axis(order, u, axis=1)
    used = jnp.arange(n_identities)[None, :] < m[:, None]
    flat = (jnp.arange(n_groups)[:, None] * n_identities + picked).reshape(-1)
    w = segment_count(used.reshape(-1), flat, n_groups * n_identities)
    return w.reshape(n_groups, n_identities)


def weighted_rates(clusters: Counts, weights: Array) -> Array:
    """Rates (6, G) in percent of the clusters (6, G, I) weighted by draw counts (G, I)."""
    if weights.shape != clusters.numerator.shape[1:]:
        raise ValueError(
            f"weights shape {weights.shape} must be {clusters.numerator.shape[1:]} (groups, identities)"
        )
    return rates(
        Counts(
            jnp.einsum("mgi,gi->mg", clusters.numerator, weights),
            jnp.einsum("mgi,gi->mg", clusters.denominator, weights),
        )
    )


def percentile_interval(samples: Array, estimate: Array, *, level: float = 0.95) -> Interval:
    """Percentile interval of bootstrap `samples` (B, ...) around `estimate` (...).

    NaN samples (a resample with n = 0) are ignored. The bounds are widened to
    contain the estimate (a percentile interval may miss it for skewed
    statistics) and are NaN where the estimate is NaN.
    """
    if samples.shape[1:] != estimate.shape:
        raise ValueError(f"samples {samples.shape} must be (B,) + estimate shape {estimate.shape}")
    z_value(level)  # validates level
    alpha = (1.0 - float(level)) / 2
    q = jnp.nanquantile(samples, jnp.array([alpha, 1.0 - alpha]), axis=0)
    low = jnp.clip(jnp.fmin(q[0], estimate), 0.0, 100.0)
    high = jnp.clip(jnp.fmax(q[1], estimate), 0.0, 100.0)
    empty = jnp.isnan(estimate)
    return Interval(jnp.where(empty, jnp.nan, low), jnp.where(empty, jnp.nan, high))


def cluster_bootstrap(
    obs: Observations,
    *,
    key: Array,
    sizes: GroupSizes,
    n_resamples: int = 1000,
    level: float = 0.95,
    beta: float | Array = DEFAULT_BETA,
    gamma: float | Array = DEFAULT_GAMMA,
) -> Interval:
    """Cluster-bootstrap percentile intervals (6, G) for all metrics, in percent, with a
    cluster-adjusted Wilson floor.

    Within each (dataset, vendor) group, resample its identities (those some fake could
    impersonate: targets of its fakes and references of its synthesis fakes) with
    replacement, carrying all of each identity's fakes (fakes of one identity are
    correlated); SIC resamples the same identities.
    The percentile interval is then widened to contain `cluster_wilson_interval`
    of the same clusters, so it is never zero-width at 0% or 100% when n > 0.
    Vectorised over `n_resamples` PRNG keys split from `key` with `vmap`;
    memory is about n_resamples x G x I integers.
    """
    return bootstrap_from_clusters(
        identity_counts(obs, sizes=sizes, beta=beta, gamma=gamma),
        group_counts(obs, sizes=sizes, beta=beta, gamma=gamma),
        key=key, n_resamples=n_resamples, level=level)


def bootstrap_from_clusters(
    clusters: Counts, counts: Counts, *, key: Array, n_resamples: int = 1000, level: float = 0.95
) -> Interval:
    """`cluster_bootstrap` from its counts: the per-identity `clusters` (6, G, I) and the
    per-group `counts` (6, G) (their sums over identities). Counts add over parts of a
    file, so a file read part by part (`dicore.streaming`) gets the same intervals."""
    present = clusters.denominator[5] > 0  # impersonable: every identity with fakes, and more
    keys = jax.random.split(key, n_resamples)
    samples = jax.vmap(lambda k: weighted_rates(clusters, resample_weights(k, present)))(keys)
    estimate = rates(counts)
    boot = percentile_interval(samples, estimate, level=level)
    floor = cluster_wilson_interval(clusters.numerator, clusters.denominator, level=level)
    return floored(boot, floor, estimate)


def floored(boot: Interval, floor: Interval, estimate: Array) -> Interval:
    """`boot` widened to contain `floor` (NaN where the estimate is NaN)."""
    out = hull(boot, floor)
    empty = jnp.isnan(estimate)
    return Interval(jnp.where(empty, jnp.nan, out.low), jnp.where(empty, jnp.nan, out.high))
