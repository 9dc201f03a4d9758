"""Confidence intervals for the metrics, in percent: Wilson score and a cluster bootstrap.

Both are pure and `jit`-able (`n_resamples` and `level` static:
`jax.jit(cluster_bootstrap, static_argnames=("n_resamples", "level"))`). Every interval contains its estimate and lies in
0..100; where n = 0 the interval is (NaN, NaN).
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
    rates,
    segment_counts,
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
    z = z_value(level)
    safe_n = jnp.maximum(n, 1.0)
    p = k / safe_n
    z2n = z * z / safe_n
    center = (p + z2n / 2) / (1 + z2n)
    half = z / (1 + z2n) * jnp.sqrt(jnp.maximum(p * (1 - p) / safe_n + z2n / (4 * safe_n), 0.0))
    low = jnp.clip(jnp.minimum(center - half, p), 0.0, 1.0)
    high = jnp.clip(jnp.maximum(center + half, p), 0.0, 1.0)
    empty = n <= 0
    return Interval(jnp.where(empty, jnp.nan, 100.0 * low), jnp.where(empty, jnp.nan, 100.0 * high))


def identity_counts(
    obs: Observations,
    *,
    sizes: GroupSizes,
    beta: float | Array = DEFAULT_BETA,
    gamma: float | Array = DEFAULT_GAMMA,
) -> Counts:
    """Counts per (metric, group, target identity), shape (6, G, I): the bootstrap's clusters.

    Rows 0..4 are TA/NA/DHF/DHC/DHS counts of that identity's fakes (same rules
    and kernel as `dicore.core.metrics.group_counts`); row 5 (SIC) is 1/1 when the
    identity has a TA fake, 0/1 when it has fakes but none achieves TA, 0/0 otherwise.
    """
    n_groups, n_identities = sizes.n_groups, sizes.n_identities
    seg = identity_segments(obs, sizes=sizes)
    c = segment_counts(
        fake_outcomes(obs), seg, num_segments=n_groups * n_identities, beta=beta, gamma=gamma
    )
    num = c.numerator.reshape(5, n_groups, n_identities)
    den = c.denominator.reshape(5, n_groups, n_identities)
    has_fake = den[0] > 0  # TA's denominator = the identity's fakes
    sic_num = ((num[0] > 0) & has_fake).astype(jnp.int32)
    return Counts(
        jnp.concatenate([num, sic_num[None]]),
        jnp.concatenate([den, has_fake.astype(jnp.int32)[None]]),
    )


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
    """Cluster-bootstrap percentile intervals (6, G) for all metrics, in percent.

    Within each (dataset, vendor) group, resample its target identities (those
    with >= 1 fake) with replacement, carrying all of each identity's fakes
    (fakes of one identity are correlated); SIC resamples the same identities.
    Vectorised over `n_resamples` PRNG keys split from `key` with `vmap`;
    memory is about n_resamples x G x I integers.
    """
    clusters = identity_counts(obs, sizes=sizes, beta=beta, gamma=gamma)
    present = clusters.denominator[0] > 0
    keys = jax.random.split(key, n_resamples)
    samples = jax.vmap(lambda k: weighted_rates(clusters, resample_weights(k, present)))(keys)
    estimate = rates(group_counts(obs, sizes=sizes, beta=beta, gamma=gamma))
    return percentile_interval(samples, estimate, level=level)
