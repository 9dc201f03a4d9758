"""Where a non-targeted hit lands (paper section 4.2.2): a named fake is named as its
target, as its reference/source (the driver, the face-swap destination, the second blend
source), or as some other identity.

Pure and `jit`-able (`sizes` static). Groups are (dataset, vendor), as everywhere.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
from jax import Array

from dicore.core.groups import GroupSizes, segment_count
from dicore.core.metrics import fake_outcomes, group_ids
from dicore.core.observations import Observations

LANDINGS = ("target", "reference", "other")
"""Where a named fake's name lands, in the order of `landing_of_rows`' codes 0, 1, 2."""


class HitLanding(NamedTuple):
    """Per group, shape (G,) int32: named fakes named as their target, as their reference,
    as any other identity; and all named fakes (their sum, NA's numerator)."""

    target: Array
    reference: Array
    other: Array
    named: Array


def landing_of_rows(obs: Observations) -> Array:
    """Per row (N,) int32: 0 named as its target, 1 as its reference, 2 as another identity,
    -1 not a named fake. A fake whose target and reference are the same person counts as
    target. Confidence plays no part, nor what the paired real was named (that is TA)."""
    named = fake_outcomes(obs).named
    predicted = jnp.asarray(obs.predicted, jnp.int32)
    reference = jnp.asarray(obs.reference, jnp.int32)
    kind = jnp.where(predicted == jnp.asarray(obs.target, jnp.int32), 0,
                     jnp.where((reference >= 0) & (predicted == reference), 1, 2))
    return jnp.where(named, kind, -1).astype(jnp.int32)


def hit_landing(obs: Observations, *, sizes: GroupSizes) -> HitLanding:
    """Counts of `landing_of_rows` per (dataset, vendor) group."""
    kind = landing_of_rows(obs)
    seg = group_ids(obs, sizes=sizes)
    t, r, o = (segment_count(kind == k, seg, sizes.n_groups) for k in range(3))
    return HitLanding(t, r, o, t + r + o)
