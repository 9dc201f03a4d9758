"""95% intervals on every curve and on the operating points, from per-identity clusters.

A curve's rate at threshold t is K(t) / N(t) summed over identities (clusters): the
target identity of a fake, the identity of a real image or of an impostor. Per (group,
cluster) counts at every threshold, shape (G, K, C), give

- `curve_interval`: the cluster-adjusted Wilson interval at every grid point
  (`dicore.core.intervals.cluster_wilson_interval`), shape (G, K);
- `bootstrap_points`: a cluster bootstrap of the operating points: resample each group's
  clusters with replacement, rebuild the curves, choose the points again by the same
  rule (lowest attack success keeping `genuine_keep` percent of the genuine recognition at
  the floor; attack = genuine miss rate), and take percentile intervals of tau and of the
  rates there. The rate intervals are floored by the cluster-adjusted Wilson interval at
  the point's grid column (the nearest one for an interpolated point), so they are never
  zero-width at 0% or 100%.

Cluster ids are dense (0..C-1) and passed in (`cluster_ids`), so distractor names that
only a vendor produced do not inflate C. Pure and `jit`-able (C and the resample count
static).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import Array

from dicore.core import impostors, tradeoff
from dicore.core.groups import GroupSizes
from dicore.core.intervals import (
    Interval,
    cluster_wilson_interval,
    floored,
    percentile_interval,
    resample_weights,
)
from dicore.core.kernel import Thresholds
from dicore.core.metrics import Counts, fake_outcomes, group_ids, rates
from dicore.core.observations import Observations
from dicore.core.sweeps import dhc_sweep_counts, dhs_sweep_counts


def cluster_segments(obs: Observations, cluster_ids, *, sizes: GroupSizes, n_clusters: int) -> Array:
    """Segment of each row: group * n_clusters + cluster."""
    return group_ids(obs, sizes=sizes) * n_clusters + jnp.asarray(cluster_ids, jnp.int32)


def _per_cluster(c: Counts, sizes: GroupSizes, n_clusters: int) -> Counts:
    """(G*C, K) -> (G, K, C)."""
    def shape(a):
        return jnp.swapaxes(a.reshape(sizes.n_groups, n_clusters, -1), 1, 2)

    return Counts(shape(c.numerator), shape(c.denominator))


def sweep_clusters(
    obs: Observations, grid: Thresholds, cluster_ids, *, sizes: GroupSizes, n_clusters: int,
    metric: str,
) -> Counts:
    """DHC (over betas) or DHS (over gammas) counts per (group, threshold, cluster)."""
    seg = cluster_segments(obs, cluster_ids, sizes=sizes, n_clusters=n_clusters)
    n = sizes.n_groups * n_clusters
    c = (dhc_sweep_counts(fake_outcomes(obs), seg, num_segments=n, betas=grid) if metric == "DHC"
         else dhs_sweep_counts(fake_outcomes(obs), seg, num_segments=n, gammas=grid))
    return _per_cluster(c, sizes, n_clusters)


def replay_clusters(
    obs: Observations, taus: Thresholds, cluster_ids, *, sizes: GroupSizes, n_clusters: int
) -> tradeoff.PolicyReplay:
    """TA, NA and genuine recognition counts per (group, tau, cluster)."""
    seg = cluster_segments(obs, cluster_ids, sizes=sizes, n_clusters=n_clusters)
    rep = tradeoff.replay_segment_counts(obs, taus, segment_ids=seg,
                                         num_segments=sizes.n_groups * n_clusters)
    return tradeoff.PolicyReplay(*(_per_cluster(c, sizes, n_clusters) for c in rep))


def false_name_clusters(
    obs: Observations, taus: Thresholds, cluster_ids, *, sizes: GroupSizes, n_clusters: int
) -> Counts:
    """Impostors named with confidence >= tau, per (group, tau, cluster)."""
    seg = cluster_segments(obs, cluster_ids, sizes=sizes, n_clusters=n_clusters)
    c = impostors.false_name_segment_counts(obs, taus, segment_ids=seg,
                                            num_segments=sizes.n_groups * n_clusters)
    return _per_cluster(c, sizes, n_clusters)


def curve_interval(clusters: Counts, *, level: float = 0.95) -> Interval:
    """Cluster-adjusted Wilson interval (G, K) of per-cluster counts (G, K, C)."""
    return cluster_wilson_interval(clusters.numerator, clusters.denominator, level=level)


class PointInterval(NamedTuple):
    """Intervals (G,) on an operating point's tau and on its rates."""

    tau: Interval
    attack: Interval
    genuine: Interval


class PointIntervals(NamedTuple):
    min_attack: PointInterval
    equal_error: PointInterval


def _weighted(c: Counts, w: Array) -> Array:
    return rates(Counts(jnp.einsum("gkc,gc->gk", c.numerator, w),
                        jnp.einsum("gkc,gc->gk", c.denominator, w)))


def _choose(taus, attack, genuine, genuine_floor, genuine_keep):
    target = genuine_keep / 100.0 * genuine_floor
    best = tradeoff.min_attack_point(taus, attack, genuine, target=target[:, None])
    eer = tradeoff.equal_error_point(taus, attack, genuine)
    return best, eer


def bootstrap_points(
    attack: Counts,
    genuine: Counts,
    genuine_floor: Counts,
    taus,
    *,
    key: Array,
    genuine_keep: float | Array,
    n_resamples: int = 1000,
    level: float = 0.95,
) -> PointIntervals:
    """Cluster-bootstrap intervals of both operating points (see the module docstring).

    `attack`, `genuine`: (G, K, C) counts over the ascending `taus` (K,); `genuine_floor`:
    (G, C) genuine counts at the vendor's floor (the rule's reference).
    """
    taus = jnp.asarray(taus, jnp.float64)
    present = (attack.denominator[:, 0, :] > 0) | (genuine.denominator[:, 0, :] > 0)

    def rate_floor(c: Counts):
        return rates(Counts(jnp.sum(c.numerator, -1), jnp.sum(c.denominator, -1)))

    full = _choose(taus, rate_floor(attack), rate_floor(genuine), rate_floor(genuine_floor),
                   genuine_keep)

    def one(k):
        w = resample_weights(k, present)
        gf = rates(Counts(jnp.sum(genuine_floor.numerator * w, -1),
                          jnp.sum(genuine_floor.denominator * w, -1)))
        best, eer = _choose(taus, _weighted(attack, w), _weighted(genuine, w), gf, genuine_keep)
        return jnp.stack([best.tau, best.attack, best.genuine, eer.tau, eer.attack, eer.genuine])

    samples = jax.vmap(one)(jax.random.split(key, n_resamples))  # (B, 6, G)
    a_ci, g_ci = curve_interval(attack, level=level), curve_interval(genuine, level=level)

    def point(p, offset):
        col = jnp.argmin(jnp.abs(taus[None, :] - jnp.nan_to_num(p.tau, nan=jnp.inf)[:, None]), axis=1)

        def at(ci):
            return Interval(*(jnp.take_along_axis(x, col[:, None], axis=1)[:, 0] for x in ci))

        tau = percentile_interval(samples[:, offset], p.tau, level=level)
        # Taus are thresholds, not rates: percentile_interval's 0..100 clip is harmless.
        rate_a = floored(percentile_interval(samples[:, offset + 1], p.attack, level=level),
                         at(a_ci), p.attack)
        rate_g = floored(percentile_interval(samples[:, offset + 2], p.genuine, level=level),
                         at(g_ci), p.genuine)
        return PointInterval(tau, rate_a, rate_g)

    return PointIntervals(point(full[0], 0), point(full[1], 3))
