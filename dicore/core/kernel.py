"""The counts-at-thresholds kernel: every rate and sweep in dicore derives from it.

`counts_above(values, thresholds)[g, k]` is the (weighted) number of rows in
segment `g` whose value is strictly greater than `thresholds[k]` (or `>=` with
`inclusive=True`). NaN values are never counted. Exact on the grid: a histogram
over the K + 1 gaps between sorted thresholds, then a reverse cumulative sum,
O(N + K) after the binning.

Two ways to bin:
- `thresholds` an array (any sorted grid): `searchsorted`, O(N log K).
- `thresholds` a `UniformGrid(start, step, num)`: arithmetic binning
  `floor((v - start) / step)` plus a one-step correction against the actual
  threshold values, so every value lands in exactly the bin `searchsorted`
  gives (float rounding alone misplaces values that sit on a threshold). O(N).

`distinct_curve(scores, labels)` gives exact counts at every distinct score
(sort-based), the same numbers as scikit-learn's `roc_curve` before it drops
intermediate points.
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.ops import segment_sum


@dataclasses.dataclass(frozen=True)
class UniformGrid:
    """The thresholds `start + step * k` for k = 0..num-1 (static, hashable).

    A pytree without leaves, so it can be passed straight to a jitted function:
    each distinct grid compiles once, like a static argument.

    The threshold values themselves are computed in float64 and then cast to the
    dtype of the data (`values(dtype)`), so NumPy references and the JAX kernel
    see exactly the same numbers.
    """

    start: float
    step: float
    num: int

    def __post_init__(self) -> None:
        if not (math.isfinite(self.start) and math.isfinite(self.step) and self.step > 0):
            raise ValueError(f"UniformGrid needs a finite start and step > 0, got {self}")
        if int(self.num) != self.num or self.num < 1:
            raise ValueError(f"UniformGrid needs num >= 1, got {self.num}")

    @classmethod
    def from_range(cls, start: float, stop: float, step: float) -> UniformGrid:
        """The grid start, start + step, ..., stop (stop included when it lies on the grid)."""
        if step <= 0 or stop < start:
            raise ValueError(f"need step > 0 and stop >= start, got {start}:{stop}:{step}")
        num = int(math.floor((stop - start) / step + 1e-9)) + 1
        return cls(float(start), float(step), num)

    @property
    def stop(self) -> float:
        return self.start + self.step * (self.num - 1)

    def values(self, dtype=np.float32) -> np.ndarray:
        """The (num,) threshold values, in `dtype`."""
        return (self.start + self.step * np.arange(self.num, dtype=np.float64)).astype(dtype)

    def check_dtype(self, dtype) -> None:
        """Raise ValueError when arithmetic binning in `dtype` could be off by more than one bin."""
        eps = float(np.finfo(dtype).eps)
        magnitude = max(abs(self.start), abs(self.stop), self.step)
        # Rounding error of (v - start) / step in bins: about eps * (magnitude / step + num).
        if eps * (magnitude / self.step + self.num) > 0.25:
            raise ValueError(
                f"{self} is too fine for {np.dtype(dtype).name} arithmetic binning; "
                "pass the thresholds as an array to use the searchsorted path"
            )


# A pytree with no leaves: passed to `jit` it is static (part of the cache key).
jax.tree_util.register_dataclass(UniformGrid, data_fields=[], meta_fields=["start", "step", "num"])

Thresholds = Array | np.ndarray | UniformGrid


def _as_float(values: Array) -> Array:
    values = jnp.asarray(values)
    if not jnp.issubdtype(values.dtype, jnp.floating):
        values = values.astype(jnp.float32)
    return values


def uniform_bins(values: Array, grid: UniformGrid, *, inclusive: bool = False) -> Array:
    """Number of grid thresholds `< v` (`<= v` if inclusive), equal to `searchsorted`.

    `searchsorted(grid.values(dtype), v, side="left" | "right")` for every non-NaN v
    (NaN rows get an arbitrary bin; callers zero their weight).
    """
    values = _as_float(values)
    grid.check_dtype(values.dtype)
    t = jnp.asarray(grid.values(values.dtype))
    k = grid.num
    safe = jnp.where(jnp.isnan(values), grid.start, values)
    # Candidate count of thresholds <= v; clip in float so +-inf stay in range.
    pos = jnp.floor((safe - grid.start) / grid.step) + 1
    c = jnp.clip(pos, 0, k).astype(jnp.int32)
    nxt = t[jnp.minimum(c, k - 1)]  # first threshold not counted
    prev = t[jnp.maximum(c - 1, 0)]  # last threshold counted
    if inclusive:
        up = (c < k) & (nxt <= safe)
        down = (c > 0) & (prev > safe)
    else:
        up = (c < k) & (nxt < safe)
        down = (c > 0) & (prev >= safe)
    # Rounding moves the estimate by at most one bin (check_dtype), so one step fixes it.
    return c + up.astype(jnp.int32) - down.astype(jnp.int32)


def counts_above(
    values: Array,
    thresholds: Thresholds,
    *,
    segment_ids: Array | None = None,
    num_segments: int = 1,
    weights: Array | None = None,
    inclusive: bool = False,
    copies: int = 1,
) -> Array:
    """Counts of `values > thresholds[k]` (or `>=` if `inclusive`) per segment.

    Args:
      values: (N,) floats; NaN rows are ignored.
      thresholds: (K,) sorted ascending (not checked under `jit`), or a static
        `UniformGrid` (fast arithmetic binning, same result as the array path on
        `grid.values(values.dtype)`).
      segment_ids: (N,) ints in [0, num_segments); rows outside are dropped.
      num_segments: static number of segments G.
      weights: (N,) per-row weights (default 1); use 0/1 masks to select rows.
      inclusive: count `value >= t` instead of `value > t`.
      copies: static number of private histogram copies (rows are spread over
        them by index); > 1 cuts scatter contention on GPUs, same result.

    Returns:
      (G, K) counts, dtype of the weights (int32 when unweighted).
    """
    values = _as_float(values)
    if values.ndim != 1:
        raise ValueError(f"values must be 1-D, got shape {values.shape}")
    n = values.shape[0]
    if isinstance(thresholds, UniformGrid):
        k = thresholds.num
        bins = uniform_bins(values, thresholds, inclusive=inclusive)
    else:
        thresholds = jnp.asarray(thresholds)
        if thresholds.ndim != 1:
            raise ValueError(f"thresholds must be 1-D, got shape {thresholds.shape}")
        k = thresholds.shape[0]
        # bins[i] = number of thresholds below values[i] (strict) or at-or-below (inclusive).
        side = "right" if inclusive else "left"
        bins = jnp.searchsorted(thresholds, values, side=side).astype(jnp.int32)
    if segment_ids is None:
        segment_ids = jnp.zeros((n,), jnp.int32)
    if weights is None:
        weights = jnp.ones((n,), jnp.int32)
    segment_ids = jnp.asarray(segment_ids)
    weights = jnp.asarray(weights)
    if segment_ids.shape != (n,) or weights.shape != (n,):
        raise ValueError(
            f"segment_ids {segment_ids.shape} and weights {weights.shape} must have shape ({n},)"
        )
    if num_segments < 1 or copies < 1:
        raise ValueError(f"num_segments ({num_segments}) and copies ({copies}) must be >= 1")
    weights = jnp.where(jnp.isnan(values), jnp.zeros_like(weights), weights)
    seg = segment_ids.astype(jnp.int32)
    # Out-of-range segments go to an index past the end, which segment_sum drops.
    seg = jnp.where((seg >= 0) & (seg < num_segments), seg, num_segments * copies)
    if copies > 1:
        seg = seg + num_segments * (jnp.arange(n, dtype=jnp.int32) % copies)
    flat = seg * (k + 1) + bins
    hist = segment_sum(weights, flat, num_segments=copies * num_segments * (k + 1))
    hist = hist.reshape(copies, num_segments, k + 1).sum(axis=0)
    # counts[:, j] = sum of hist[:, j+1:], i.e. rows whose bin lies above threshold j.
    return jnp.flip(jnp.cumsum(jnp.flip(hist[:, 1:], axis=1), axis=1), axis=1)


class DistinctCurve(NamedTuple):
    """Counts at every distinct score, highest score first (scikit-learn's order).

    Entries `i < num` are valid: `tps[i]` (`fps[i]`) is the weighted number of
    positive (negative) rows with `score >= thresholds[i]`. Entries `i >= num`
    are padding (threshold NaN, counts equal to the totals) so shapes stay static.
    """

    thresholds: Array
    tps: Array
    fps: Array
    num: Array

    def trimmed(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Concrete (thresholds, tps, fps) without the padding (outside `jit`)."""
        m = int(self.num)
        return (np.asarray(self.thresholds)[:m], np.asarray(self.tps)[:m], np.asarray(self.fps)[:m])


def distinct_curve(scores: Array, labels: Array, *, weights: Array | None = None) -> DistinctCurve:
    """Exact positive/negative counts at every distinct score (inclusive: `score >= t`).

    Sort-based, O(N log N); thresholds are the distinct non-NaN scores in
    descending order, as in `sklearn.metrics.roc_curve(..., drop_intermediate=False)`
    (whose `tps`, `fps` are these counts; scikit-learn adds a leading `inf` point).
    NaN scores are ignored. Ties: rows with equal scores enter at the same threshold.

    Args:
      scores: (N,) floats.
      labels: (N,) 0/1 (bool or numeric); 1 = positive.
      weights: (N,) non-negative weights (default 1).
    """
    scores = _as_float(scores)
    labels = jnp.asarray(labels)
    if scores.ndim != 1 or labels.shape != scores.shape:
        raise ValueError(
            f"scores must be 1-D and labels the same shape, got {scores.shape} and {labels.shape}"
        )
    n = scores.shape[0]
    dtype = jnp.int32 if weights is None else jnp.result_type(weights, jnp.float32)
    w = jnp.ones((n,), dtype) if weights is None else jnp.asarray(weights, dtype)
    if w.shape != (n,):
        raise ValueError(f"weights must have shape ({n},), got {w.shape}")
    nan = jnp.isnan(scores)
    pos = jnp.where(nan | (labels == 0), 0, w).astype(dtype)
    neg = jnp.where(nan | (labels != 0), 0, w).astype(dtype)
    # Sorting -score ascending puts the highest score first and NaN last.
    key, pos, neg = jax.lax.sort((-scores, pos, neg), num_keys=1)
    cpos = jnp.cumsum(pos)
    cneg = jnp.cumsum(neg)
    valid = ~jnp.isnan(key)
    # The last row of each run of equal scores carries the counts at that score.
    last = valid & jnp.concatenate([key[1:] != key[:-1], jnp.ones((1,), bool)])
    num = jnp.sum(last.astype(jnp.int32))
    dest = jnp.where(last, jnp.cumsum(last.astype(jnp.int32)) - 1, n)
    thresholds = jnp.full((n,), jnp.nan, scores.dtype).at[dest].set(-key, mode="drop")
    total_pos = cpos[-1] if n else jnp.zeros((), dtype)
    total_neg = cneg[-1] if n else jnp.zeros((), dtype)
    tps = jnp.full((n,), total_pos, dtype).at[dest].set(cpos, mode="drop")
    fps = jnp.full((n,), total_neg, dtype).at[dest].set(cneg, mode="drop")
    return DistinctCurve(thresholds, tps, fps, num)


def threshold_values(thresholds: Thresholds, dtype=np.float32) -> Array:
    """The (K,) threshold values of an array or a `UniformGrid`, in `dtype`."""
    if isinstance(thresholds, UniformGrid):
        return jnp.asarray(thresholds.values(dtype))
    thresholds = jnp.asarray(thresholds, dtype)
    if thresholds.ndim != 1:
        raise ValueError(f"thresholds must be 1-D, got shape {thresholds.shape}")
    return thresholds
