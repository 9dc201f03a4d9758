"""`GroupSizes`: the static sizes that shape every per-group array of the core.

A group is one (dataset, vendor) pair, id `dataset * n_vendors + vendor`; SIC also counts
per identity. The sizes decide array shapes, so under `jit` they must be static: like
`dicore.core.kernel.UniformGrid`, `GroupSizes` is a pytree with no leaves (all of it is
static metadata), so it can be passed as an ordinary argument to a jitted function.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from jax import Array
from jax.ops import segment_sum

from dicore.core.vocab import VENDORS


@dataclasses.dataclass(frozen=True)
class GroupSizes:
    """Numbers of datasets, vendors and identities of a study (all static under `jit`)."""

    n_datasets: int
    n_vendors: int = len(VENDORS)
    n_identities: int = 1

    def __post_init__(self) -> None:
        for name in ("n_datasets", "n_vendors", "n_identities"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be an int >= 0, got {value!r}")

    @property
    def n_groups(self) -> int:
        """Number of (dataset, vendor) groups: n_datasets * n_vendors."""
        return self.n_datasets * self.n_vendors

    @classmethod
    def of(cls, vocab) -> GroupSizes:
        """The sizes of a `dicore.core.observations.Vocab` (at least one identity)."""
        return cls(len(vocab.datasets), len(vocab.vendors), max(len(vocab.identities), 1))


jax.tree_util.register_dataclass(
    GroupSizes, data_fields=[], meta_fields=["n_datasets", "n_vendors", "n_identities"]
)


def segment_count(mask: Array, segment_ids: Array, num_segments: int) -> Array:
    """How many rows of each segment have `mask` set: (num_segments,) int32. Segment ids
    outside 0..num_segments-1 are dropped."""
    return segment_sum(jnp.asarray(mask).astype(jnp.int32), segment_ids, num_segments=num_segments)
