"""Per-identity score means, as in the paper's Tables 3 and 5, per (dataset, vendor) group.

For each identity (by `target`) of a group:

- reference: mean confidence of the identity's real images, over those that got a
  confidence (the API named somebody; the name need not be the identity's: a real
  image's confidence is whatever it got, as for DHF);
- target: mean confidence of the identity's deepfakes (fakes whose target it is), over
  those that got a confidence;
- similarity: mean similarity of those deepfakes to their paired real image, over those
  that got a similarity.

A mean over no values is 0, as the paper prints it ("0 where none did"); the counts say
which zeros are empty (`n_*`). Shapes (G, I): group g = dataset * n_vendors + vendor,
identity i = the target id. Pure and jit-able (`sizes` is static); sums in float64.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
from jax import Array
from jax.ops import segment_sum

from dicore.core.groups import GroupSizes, segment_count
from dicore.core.metrics import identity_segments
from dicore.core.observations import Observations

IDENTITY_COLUMNS = ("reference", "target", "similarity")


class IdentityMeans(NamedTuple):
    """Per (group, identity), shape (G, I) each: the three means (0 where no value) and
    the counts behind them."""

    reference: Array
    target: Array
    similarity: Array
    n_real: Array  # real images of the identity
    n_fake: Array  # deepfakes with the identity as target
    n_reference: Array  # real images that got a confidence
    n_target: Array  # deepfakes that got a confidence
    n_similarity: Array  # deepfakes that got a similarity


def per_identity_means(obs: Observations, *, sizes: GroupSizes) -> IdentityMeans:
    """Reference, target and similarity means per (dataset, vendor, identity); module doc."""
    obs.check()
    seg = identity_segments(obs, sizes=sizes)
    size = sizes.n_groups * sizes.n_identities
    shape = (sizes.n_groups, sizes.n_identities)
    is_fake = jnp.asarray(obs.is_fake, bool)
    conf = jnp.asarray(obs.confidence, jnp.float64)
    sim = jnp.asarray(obs.similarity, jnp.float64)

    def mean(values, rows):
        has = rows & ~jnp.isnan(values)
        total = segment_sum(jnp.where(has, values, 0.0), seg, num_segments=size)
        count = segment_count(has, seg, size)
        return (jnp.where(count > 0, total / jnp.maximum(count, 1), 0.0).reshape(shape),
                count.reshape(shape))

    reference, n_reference = mean(conf, ~is_fake)
    target, n_target = mean(conf, is_fake)
    similarity, n_similarity = mean(sim, is_fake)
    return IdentityMeans(
        reference, target, similarity,
        segment_count(~is_fake, seg, size).reshape(shape),
        segment_count(is_fake, seg, size).reshape(shape),
        n_reference, n_target, n_similarity,
    )
