"""Threshold sweeps of DHC and DHS, and their joint beta x gamma grid, per (dataset, vendor).

Every sweep is one call of the counts-at-thresholds kernel (`dicore.core.kernel.counts_above`)
on the per-row values `dicore.core.metrics.fake_outcomes` gives, so each grid point equals the
point metric (`dicore.core.metrics.dhc_counts(beta=b)`, `dhs_counts(gamma=g)`) exactly.

- `dhc_sweep`: DHC(beta) for every beta: named fakes with confidence > beta (strict) /
  named fakes. Shapes (G, B).
- `dhs_sweep`: DHS(gamma) for every gamma: unnamed fakes with similarity > gamma
  (strict) / unnamed fakes that have a similarity. Shapes (G, Γ).
- `high_risk_sweep`, the joint grid: the share of *all* fakes that are high-risk at
  (beta, gamma), i.e. DHC(beta) or DHS(gamma): named with confidence > beta, or
  unnamed with similarity > gamma. Denominator: fakes in the group (so it is neither
  DHC's nor DHS's denominator). A fake is either named or not, so the two events are
  disjoint and the count is `dhc[b] + dhs[g]`, exact; O(N + B + Γ) before the
  B x Γ output. Shapes (G, B, Γ).

Grids are arrays (sorted ascending) or a static `dicore.core.kernel.UniformGrid` (fast exact
binning). Group g = dataset * n_vendors + vendor, as in `dicore.core.metrics`. Every
function is `jit`-able as it stands: `sizes` (a `GroupSizes`) and a `UniformGrid` are static
pytrees, so `jax.jit(dhc_sweep)(obs, grid, sizes=sizes)` compiles once per input shape, grid
and sizes.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
from jax import Array

from dicore.core.groups import GroupSizes, segment_count
from dicore.core.kernel import Thresholds, counts_above
from dicore.core.metrics import Counts, FakeOutcomes, fake_outcomes, group_ids, rates
from dicore.core.observations import Observations


def _tile(den, k):
    """(G,) denominators repeated along the grid axis -> (G, K)."""
    return jnp.broadcast_to(den[:, None], (den.shape[0], k))


def dhc_sweep_counts(
    outcomes: FakeOutcomes, segment_ids, *, num_segments: int, betas: Thresholds
) -> Counts:
    """DHC at every beta per segment: (S, B) counts of named fakes with confidence > beta
    (strict) over named fakes (the denominator repeated along B)."""
    seg = jnp.asarray(segment_ids, jnp.int32)
    num = counts_above(
        outcomes.fake_confidence, betas, segment_ids=seg, num_segments=num_segments
    )
    den = segment_count(outcomes.named, seg, num_segments)
    return Counts(num, _tile(den, num.shape[1]))


def dhs_sweep_counts(
    outcomes: FakeOutcomes, segment_ids, *, num_segments: int, gammas: Thresholds
) -> Counts:
    """DHS at every gamma per segment: (S, Γ) counts of unnamed fakes with similarity >
    gamma (strict) over unnamed fakes that have a similarity."""
    seg = jnp.asarray(segment_ids, jnp.int32)
    num = counts_above(
        outcomes.unnamed_similarity, gammas, segment_ids=seg, num_segments=num_segments
    )
    den = segment_count(~jnp.isnan(outcomes.unnamed_similarity), seg, num_segments)
    return Counts(num, _tile(den, num.shape[1]))


def dhc_sweep(obs: Observations, betas: Thresholds, *, sizes: GroupSizes) -> Counts:
    """DHC(beta) per group for every beta, shapes (G, B); see the module docstring."""
    return dhc_sweep_counts(
        fake_outcomes(obs),
        group_ids(obs, sizes=sizes),
        num_segments=sizes.n_groups,
        betas=betas,
    )


def dhs_sweep(obs: Observations, gammas: Thresholds, *, sizes: GroupSizes) -> Counts:
    """DHS(gamma) per group for every gamma, shapes (G, Γ); see the module docstring."""
    return dhs_sweep_counts(
        fake_outcomes(obs),
        group_ids(obs, sizes=sizes),
        num_segments=sizes.n_groups,
        gammas=gammas,
    )


class JointCounts(NamedTuple):
    """High-risk counts on the beta x gamma grid: numerator (G, B, Γ), fakes (G,).

    The denominator is kept per group (not repeated B x Γ times: at 1001 x 1001 that
    would double the memory written).
    """

    numerator: Array
    fakes: Array

    def rates(self) -> Array:
        """Percent of fakes, (G, B, Γ) float64; NaN for groups without fakes."""
        den = jnp.asarray(self.fakes, jnp.float64)[:, None, None]
        if den.shape[0] != self.numerator.shape[0]:
            raise ValueError(f"fakes {self.fakes.shape} must have shape ({self.numerator.shape[0]},)")
        return rates(Counts(self.numerator, jnp.broadcast_to(den, self.numerator.shape)))


def high_risk_sweep(
    obs: Observations,
    betas: Thresholds,
    gammas: Thresholds,
    *,
    sizes: GroupSizes,
) -> JointCounts:
    """Fakes that are DHC(beta) or DHS(gamma), over all fakes: numerator (G, B, Γ).

    A fake counts at (beta, gamma) when it is named with confidence > beta, or not
    named with similarity > gamma (both strict). The events are disjoint, so the
    numerator is DHC's count at beta plus DHS's count at gamma.
    """
    outcomes = fake_outcomes(obs)
    seg = group_ids(obs, sizes=sizes)
    g = sizes.n_groups
    dhc = dhc_sweep_counts(outcomes, seg, num_segments=g, betas=betas).numerator
    dhs = dhs_sweep_counts(outcomes, seg, num_segments=g, gammas=gammas).numerator
    num = dhc[:, :, None] + dhs[:, None, :]
    return JointCounts(num, segment_count(outcomes.is_fake, seg, g))
