"""The counts-at-thresholds kernel: every rate and sweep in dicore derives from it.

`counts_above(values, thresholds)[g, k]` is the (weighted) number of rows in
segment `g` whose value is strictly greater than `thresholds[k]` (or `>=` with
`inclusive=True`). NaN values are never counted. Exact on the grid: a histogram
over the K + 1 gaps between sorted thresholds, then a reverse cumulative sum,
O(N + K) after the binning.

Two ways to bin:
- `thresholds` an array (any sorted grid): `searchsorted`, O(N log K).
- `thresholds` a `UniformGrid(start, step, num)`: arithmetic binning, O(N),
  exact: every value lands in the bin `searchsorted` gives (float rounding alone
  misplaces values that sit on a threshold). The fast path has no table look-up
  per row (a gather costs XLA on CPU as much as the histogram itself): the
  rounded estimate `round((v - start) / step)` leaves one threshold in doubt, and
  which side of it the value lies on is settled per histogram bin, not per row,
  from the value's distance in ulps to an arithmetic reference point (see
  `_ulp_binning`). Grids too fine for that fall back to a one-step correction
  against the threshold table (`uniform_bins`).

`distinct_curve(scores, labels)` gives exact counts at every distinct score
(sort-based), the same numbers as scikit-learn's `roc_curve` before it drops
intermediate points. On CPU the sort runs in NumPy (XLA's CPU sort is 4 to 20
times slower than NumPy's); elsewhere in XLA.

Why this module runs past 400 lines: it holds both exact binning paths (ulp sub-bins and
the table correction) and both sort paths (NumPy on CPU, XLA elsewhere) of one kernel;
they must agree to the count, so they live and are tested side by side.
"""

from __future__ import annotations

import dataclasses
import functools
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

    def values(self, dtype=np.float64) -> np.ndarray:
        """The (num,) threshold values, in `dtype` (float64 by default: the exported scores'
        precision, docs/metrics.md "Exactness")."""
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


# Fast path: at most this many sub-bins per threshold (ulp offsets kept apart).
_MAX_SUB_BINS = 6


@dataclasses.dataclass(frozen=True)
class _UlpPlan:
    """How the fast path bins for one grid and dtype (static).

    `reference` is "mul", `(c + start/step) * step`, or "div", `(c + start/step) / (1/step)`
    (the one whose points lie nearest the thresholds); `lo..hi` is the range of
    `key(t_c) - key(reference(c))` over the grid, in ulps.
    """

    reference: str
    lo: int
    hi: int
    offsets: tuple[int, ...]  # (K,) key(t_c) - key(reference(c))

    @property
    def sub_bins(self) -> int:
        return self.hi - self.lo + 2


def _order_key(x):
    """Integers ordered like the floats `x` (float32 -> int32, float64 -> int64), -0 == +0.

    Works on NumPy and JAX arrays alike; NaN rows get arbitrary keys (callers mask them).
    """
    xp = jnp if isinstance(x, jax.Array) else np
    bits = 8 * x.dtype.itemsize
    ity = {32: xp.int32, 64: xp.int64}[bits]
    x = xp.where(x == 0, xp.zeros_like(x), x)  # -0.0 and +0.0 are one value
    b = jax.lax.bitcast_convert_type(x, ity) if xp is jnp else x.view(ity)
    # Negative floats: flip the 31 (63) low bits so that their order reverses.
    return b ^ ((b >> (bits - 1)) & xp.asarray(np.iinfo(ity).max, ity))


def _grid_reference(c, grid: UniformGrid, dtype, reference: str):
    """A point near threshold c computed without a table, in `dtype`.

    One add, then one multiply or divide (each correctly rounded, no multiply-add
    a compiler could fuse), so rows and the per-bin table compute the same values;
    `_ulp_plan` checks that the backend rounds them like NumPy.
    """
    q = np.asarray(grid.start / grid.step, dtype)
    x = c.astype(dtype) + q
    if reference == "mul":
        return x * np.asarray(grid.step, dtype)
    return x / np.asarray(1.0 / grid.step, dtype)


def _ulp_plan(grid: UniformGrid, dtype) -> _UlpPlan | None:
    """The fast path's plan for `grid` in `dtype`, or None where it cannot be exact
    (then `counts_above` uses the table path).

    It needs the rounded estimate `round((v - start) / step)` to be off by less than
    half a bin (so only threshold c is in doubt), the thresholds to lie within a few
    ulps of their reference points, and the backend to compute those points exactly
    as NumPy does (all checked here, once per grid, dtype and backend).
    """
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        return None
    return _ulp_plan_cached(grid, dtype.name, jax.default_backend())


@functools.lru_cache(maxsize=256)
def _ulp_plan_cached(grid: UniformGrid, dtype_name: str, backend: str) -> _UlpPlan | None:
    dtype = np.dtype(dtype_name)
    eps = float(np.finfo(dtype).eps)
    magnitude = max(abs(grid.start), abs(grid.stop), grid.step)
    # The estimate's error in bins is about 4 eps (magnitude / step + num): keep it < 1/4.
    if 16 * eps * (magnitude / grid.step + grid.num) > 1.0:
        return None
    t_key = _order_key(grid.values(dtype)).astype(np.int64)
    c = np.arange(grid.num, dtype=np.int32)
    best = None
    for reference in ("div", "mul"):
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            ref = _grid_reference(c, grid, dtype, reference)
        if not np.all(np.isfinite(ref)):
            continue
        # Rows compute the reference on the backend, which must round exactly like NumPy
        # (XLA on CPU, for one, turns a divide by a constant into a multiply).
        with jax.ensure_compile_time_eval():
            on_backend = jax.jit(lambda c, r=reference: _grid_reference(c, grid, dtype, r))(c)
        if not np.array_equal(np.asarray(on_backend), ref):
            continue
        off = t_key - _order_key(ref).astype(np.int64)
        plan = _UlpPlan(reference, int(off.min()), int(off.max()), tuple(int(o) for o in off))
        if plan.sub_bins <= _MAX_SUB_BINS and (best is None or plan.sub_bins < best.sub_bins):
            best = plan
    return best


def _ulp_bins(values, grid: UniformGrid, plan: _UlpPlan, inclusive: bool):
    """Per row: `c * sub_bins + j`, with c the estimated bin (thresholds 0..c-1 are
    certainly below the value, c+1.. certainly above) and j the row's distance in ulps
    to reference(c), clipped to the range where it still decides the side of t_c.
    No table look-up."""
    k = grid.num
    safe = jnp.where(jnp.isnan(values), grid.start, values)
    # An estimate: a multiply is cheaper than a divide, and its rounding is within budget.
    est = jnp.floor((safe - grid.start) * (1.0 / grid.step) + 0.5)
    c = jnp.clip(est, 0, k).astype(jnp.int32)  # clip in float: +-inf stay in range
    kv = _order_key(safe)
    ka = _order_key(_grid_reference(c, grid, values.dtype, plan.reference))
    # Distances outside [first, last] are on a known side of every t_c (offsets lie in lo..hi).
    first = plan.lo - 1 if inclusive else plan.lo
    last = first + plan.sub_bins - 1
    lo_key = ka + jnp.asarray(first, ka.dtype)  # no overflow: the reference is moderate
    hi_key = ka + jnp.asarray(last, ka.dtype)
    j = jnp.where(kv <= lo_key, 0, jnp.where(kv >= hi_key, last - first, kv - lo_key))
    return c * plan.sub_bins + j.astype(jnp.int32)


def _fold_ulp_histogram(fine, grid: UniformGrid, plan: _UlpPlan, inclusive: bool):
    """(G, (K+1) * sub_bins) histogram of `_ulp_bins` -> (G, K+1) histogram of the exact
    bins: rows of estimated bin c that lie above threshold c move up one bin."""
    k = grid.num
    fine = fine.reshape(fine.shape[0], k + 1, plan.sub_bins)
    off = jnp.asarray(np.append(plan.offsets, plan.hi + 1))  # bin K: never moves
    first = plan.lo - 1 if inclusive else plan.lo
    dist = first + jnp.arange(plan.sub_bins)
    # Above threshold c: key(v) > key(t_c), i.e. distance > offset (>= when inclusive).
    above = (dist[None, :] >= off[:, None]) if inclusive else (dist[None, :] > off[:, None])
    moved = jnp.sum(jnp.where(above, fine, 0), axis=2, dtype=fine.dtype)
    stay = jnp.sum(fine, axis=2, dtype=fine.dtype) - moved
    return stay + jnp.pad(moved[:, :-1], ((0, 0), (1, 0)))


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
    plan = None
    grid = thresholds if isinstance(thresholds, UniformGrid) else None
    if isinstance(thresholds, UniformGrid):
        k = thresholds.num
        plan = _ulp_plan(thresholds, values.dtype)
        if plan is None:
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
    segment_ids = jnp.asarray(segment_ids)
    weights = jnp.ones((n,), jnp.int32) if weights is None else jnp.asarray(weights)
    if segment_ids.shape != (n,) or weights.shape != (n,):
        raise ValueError(
            f"segment_ids {segment_ids.shape} and weights {weights.shape} must have shape ({n},)"
        )
    if num_segments < 1 or copies < 1:
        raise ValueError(f"num_segments ({num_segments}) and copies ({copies}) must be >= 1")
    seg = segment_ids.astype(jnp.int32)
    # NaN rows and out-of-range segments go to an index past the end, which segment_sum
    # drops (cheaper than zeroing their weights: the weights stay a constant).
    keep = (seg >= 0) & (seg < num_segments) & ~jnp.isnan(values)
    seg = jnp.where(keep, seg, num_segments * copies)
    if copies > 1:
        seg = seg + num_segments * (jnp.arange(n, dtype=jnp.int32) % copies)

    def histogram(bins, width):
        hist = segment_sum(weights, seg * width + bins, num_segments=copies * num_segments * width)
        return hist.reshape(copies, num_segments, width).sum(axis=0, dtype=weights.dtype)

    if plan is None:
        hist = histogram(bins, k + 1)
    else:
        assert grid is not None  # a plan exists only for a UniformGrid
        fine = histogram(_ulp_bins(values, grid, plan, inclusive), (k + 1) * plan.sub_bins)
        hist = _fold_ulp_histogram(fine, grid, plan, inclusive)
    # counts[:, j] = sum of hist[:, j+1:], i.e. rows whose bin lies above threshold j.
    # dtype kept (here and in the sums above): under x64 they would widen int32 to int64,
    # twice the bytes for every sweep downstream.
    return jnp.flip(jnp.cumsum(jnp.flip(hist[:, 1:], axis=1), axis=1, dtype=hist.dtype), axis=1)


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
    positive = labels != 0
    shapes = (
        jax.ShapeDtypeStruct((n,), scores.dtype),
        jax.ShapeDtypeStruct((n,), dtype),
        jax.ShapeDtypeStruct((n,), dtype),
        jax.ShapeDtypeStruct((), jnp.int32),
    )

    def on_host(scores, positive, w):
        # XLA's CPU sort is 4 to 20 times slower than NumPy's: on CPU, sort in NumPy.
        return jax.pure_callback(
            functools.partial(_distinct_curve_numpy, weighted=weights is not None),
            shapes, scores, positive, w, vmap_method="sequential",
        )

    out = jax.lax.platform_dependent(scores, positive, w, cpu=on_host, default=_distinct_curve_xla)
    return DistinctCurve(*out)


def _distinct_curve_xla(scores, positive, w):
    """`distinct_curve` in XLA: one sort carrying the positive and negative weights."""
    n = scores.shape[0]
    dtype = w.dtype
    nan = jnp.isnan(scores)
    pos = jnp.where(nan | ~positive, 0, w).astype(dtype)
    neg = jnp.where(nan | positive, 0, w).astype(dtype)
    # Sorting -score ascending puts the highest score first and NaN last.
    key, pos, neg = jax.lax.sort((-scores, pos, neg), num_keys=1)
    cpos = jnp.cumsum(pos, dtype=dtype)
    cneg = jnp.cumsum(neg, dtype=dtype)
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
    return thresholds, tps.astype(dtype), fps.astype(dtype), num.astype(jnp.int32)


def _distinct_curve_numpy(scores, positive, w, *, weighted: bool):
    """`distinct_curve` in NumPy (the CPU path): sort integer keys, not floats with payloads.

    Unweighted, it sorts the keys of all rows and of the positive rows apart and counts
    positives at each distinct score by a binary search (no argsort); weighted, it
    needs the argsort to carry the weights.
    """
    scores = np.asarray(scores)
    positive = np.asarray(positive, bool)
    w = np.asarray(w)
    n = scores.shape[0]
    work = scores if scores.dtype.itemsize in (4, 8) else scores.astype(np.float32)
    ok = ~np.isnan(work)
    key = ~_order_key(work[ok])  # ascending key = descending score; -0 and +0 are one
    if weighted:
        order = np.argsort(key, kind="stable")
        key = key[order]
        wp = np.where(positive[ok], w[ok], 0).astype(w.dtype)[order]
        wn = np.where(positive[ok], 0, w[ok]).astype(w.dtype)[order]
        cpos, cneg = np.cumsum(wp, dtype=w.dtype), np.cumsum(wn, dtype=w.dtype)
    else:
        key = np.sort(key)
        pos_keys = np.sort(~_order_key(work[ok & positive]))
    ends = np.flatnonzero(key[1:] != key[:-1])
    ends = np.append(ends, len(key) - 1) if len(key) else ends
    distinct = key[ends]
    if weighted:
        tps, fps = cpos[ends], cneg[ends]
        total_pos = cpos[-1] if len(key) else w.dtype.type(0)
        total_neg = cneg[-1] if len(key) else w.dtype.type(0)
    else:
        tps = np.searchsorted(pos_keys, distinct, side="right")
        fps = ends + 1 - tps
        total_pos, total_neg = len(pos_keys), len(key) - len(pos_keys)
    # Back from keys to the scores themselves.
    bits_key = ~distinct
    nbits = 8 * work.dtype.itemsize
    bits = bits_key ^ ((bits_key >> (nbits - 1)) & np.iinfo(bits_key.dtype).max)
    m = len(distinct)
    thresholds = np.full(n, np.nan, scores.dtype)
    thresholds[:m] = bits.view(work.dtype).astype(scores.dtype)
    tps_out = np.full(n, total_pos, w.dtype)
    tps_out[:m] = tps
    fps_out = np.full(n, total_neg, w.dtype)
    fps_out[:m] = fps
    return thresholds, tps_out, fps_out, np.asarray(m, np.int32)


def threshold_values(thresholds: Thresholds, dtype=np.float64) -> Array:
    """The (K,) threshold values of an array or a `UniformGrid`, in `dtype` (float64 by
    default, as the scores the core compares them with)."""
    if isinstance(thresholds, UniformGrid):
        return jnp.asarray(thresholds.values(dtype))
    thresholds = jnp.asarray(thresholds, dtype)
    if thresholds.ndim != 1:
        raise ValueError(f"thresholds must be 1-D, got shape {thresholds.shape}")
    return thresholds
