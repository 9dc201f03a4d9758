"""The zero-effort impostor view: real faces of people a vendor does not know.

An impostor row is a real image (`is_fake` false) with method `impostor`: its `target` is
the person's own label, never a name the vendor could know, so any name the vendor gives
it is a false name. Beside the attack view this gives the classic genuine-vs-impostor
view (ISO/IEC 19795 analogues, docs/metrics.md):

- false-name rate FNR(tau) (FMR analogue): impostors named (any name) with confidence
  >= tau / impostors; at the vendor's own reporting (no tau) impostors named / impostors.
- genuine miss rate (FNMR analogue): real images of the study's identities (method
  `real`) not named as themselves / those images.
- `tau_at_rate`: the smallest tau on the grid whose false-name rate is <= a target
  (e.g. 1%, 0.1%); the rates fall as tau rises, so above it they stay below the target.

Per segment (a (dataset, vendor) group `dataset * n_vendors + vendor`, or any segments
the caller gives; rows outside [0, num_segments) are dropped). Pure and `jit`-able.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import numpy as np
from jax import Array

from dicore.core.groups import GroupSizes, segment_count
from dicore.core.kernel import Thresholds, counts_above, threshold_values
from dicore.core.metrics import Counts, group_ids
from dicore.core.observations import Observations
from dicore.core.vocab import METHODS

IMPOSTOR = METHODS.index("impostor")
REAL = METHODS.index("real")


def false_name_segment_counts(
    obs: Observations, taus: Thresholds, *, segment_ids, num_segments: int
) -> Counts:
    """(S, K): impostors named with confidence >= tau (inclusive, as the reporting replay)
    over impostors, per segment."""
    obs.check()
    seg = jnp.asarray(segment_ids, jnp.int32)
    impostor = jnp.asarray(obs.method, jnp.int32) == IMPOSTOR
    named = impostor & (jnp.asarray(obs.predicted, jnp.int32) >= 0)
    value = jnp.where(named, jnp.asarray(obs.confidence, jnp.float64), jnp.nan)
    num = counts_above(value, taus, segment_ids=seg, num_segments=num_segments, inclusive=True)
    den = segment_count(impostor, seg, num_segments)
    return Counts(num, jnp.broadcast_to(den[:, None], num.shape))


def false_name_counts(obs: Observations, taus: Thresholds, *, sizes: GroupSizes) -> Counts:
    """False-name rate counts per (dataset, vendor) group at every tau, (G, K)."""
    return false_name_segment_counts(
        obs, taus, segment_ids=group_ids(obs, sizes=sizes), num_segments=sizes.n_groups
    )


def genuine_impostor_segment_counts(obs: Observations, *, segment_ids, num_segments: int) -> Counts:
    """(2, S) at the vendor's own reporting: row 0 the genuine miss (FNMR analogue: real
    images of study identities not named as themselves / those images), row 1 the false
    names (FMR analogue: impostors named / impostors)."""
    obs.check()
    seg = jnp.asarray(segment_ids, jnp.int32)
    method = jnp.asarray(obs.method, jnp.int32)
    predicted = jnp.asarray(obs.predicted, jnp.int32)
    genuine = ~jnp.asarray(obs.is_fake, bool) & (method == REAL)
    impostor = method == IMPOSTOR
    missed = genuine & (predicted != jnp.asarray(obs.target, jnp.int32))
    return Counts(
        jnp.stack([segment_count(missed, seg, num_segments), segment_count(impostor & (predicted >= 0), seg, num_segments)]),
        jnp.stack([segment_count(genuine, seg, num_segments), segment_count(impostor, seg, num_segments)]),
    )


def genuine_impostor_counts(obs: Observations, *, sizes: GroupSizes) -> Counts:
    """`genuine_impostor_segment_counts` per (dataset, vendor) group, (2, G)."""
    return genuine_impostor_segment_counts(
        obs, segment_ids=group_ids(obs, sizes=sizes), num_segments=sizes.n_groups
    )


class RatePoint(NamedTuple):
    """Per group (G,): grid index (-1 if none), tau, the rate there, and whether found."""

    index: Array  # type: ignore[assignment]  # a field named like tuple.index
    tau: Array
    rate: Array
    found: Array


def tau_at_rate(taus: Thresholds, rate, *, target: float | Array) -> RatePoint:
    """The smallest tau on the grid (ascending) with rate <= target (percent), per group.

    `rate`: (G, K) percent, NaN where undefined. Groups with no such tau (or no
    impostors) get index -1, NaN and found False. jit-able.
    """
    t = jnp.asarray(threshold_values(taus, np.float64), jnp.float64)
    rate = jnp.asarray(rate, jnp.float64)
    if rate.ndim != 2 or rate.shape[1] != t.shape[0]:
        raise ValueError(f"rate must be (G, {t.shape[0]}), got {rate.shape}")
    ok = rate <= target  # NaN compares False
    found = jnp.any(ok, axis=1)
    idx = jnp.argmax(ok, axis=1)
    at = jnp.take_along_axis(rate, idx[:, None], axis=1)[:, 0]
    return RatePoint(
        jnp.where(found, idx, -1).astype(jnp.int32),
        jnp.where(found, t[idx], jnp.nan),
        jnp.where(found, at, jnp.nan),
        found,
    )
