"""The counts-at-thresholds kernel: every rate and sweep in dicore derives from it.

`counts_above(values, thresholds)[g, k]` is the (weighted) number of rows in
segment `g` whose value is strictly greater than `thresholds[k]` (or `>=` with
`inclusive=True`). NaN values are never counted. Exact on the grid: a histogram
over the K + 1 gaps between sorted thresholds, then a reverse cumulative sum,
O(N + K) after the binning.
"""

from __future__ import annotations

import jax.numpy as jnp
from jax import Array
from jax.ops import segment_sum


def counts_above(
    values: Array,
    thresholds: Array,
    *,
    segment_ids: Array | None = None,
    num_segments: int = 1,
    weights: Array | None = None,
    inclusive: bool = False,
) -> Array:
    """Counts of `values > thresholds[k]` (or `>=` if `inclusive`) per segment.

    Args:
      values: (N,) floats; NaN rows are ignored.
      thresholds: (K,) sorted ascending (not checked under `jit`).
      segment_ids: (N,) ints in [0, num_segments); rows outside are dropped.
      num_segments: static number of segments G.
      weights: (N,) per-row weights (default 1); use 0/1 masks to select rows.
      inclusive: count `value >= t` instead of `value > t`.

    Returns:
      (G, K) counts, dtype of the weights (int32 when unweighted).
    """
    values = jnp.asarray(values)
    thresholds = jnp.asarray(thresholds)
    if values.ndim != 1 or thresholds.ndim != 1:
        raise ValueError(
            f"values and thresholds must be 1-D, got shapes {values.shape} and {thresholds.shape}"
        )
    n, k = values.shape[0], thresholds.shape[0]
    if segment_ids is None:
        segment_ids = jnp.zeros((n,), jnp.int32)
    if weights is None:
        weights = jnp.ones((n,), jnp.int32)
    if segment_ids.shape != (n,) or weights.shape != (n,):
        raise ValueError(
            f"segment_ids {segment_ids.shape} and weights {weights.shape} must have shape ({n},)"
        )
    # bins[i] = number of thresholds below values[i] (strict) or at-or-below (inclusive).
    side = "right" if inclusive else "left"
    bins = jnp.searchsorted(thresholds, values, side=side).astype(jnp.int32)
    weights = jnp.where(jnp.isnan(values), jnp.zeros_like(weights), weights)
    flat = segment_ids.astype(jnp.int32) * (k + 1) + bins
    hist = segment_sum(weights, flat, num_segments=num_segments * (k + 1))
    hist = hist.reshape(num_segments, k + 1)
    # counts[:, j] = sum of hist[:, j+1:], i.e. rows whose bin lies above threshold j.
    return jnp.flip(jnp.cumsum(jnp.flip(hist[:, 1:], axis=1), axis=1), axis=1)
