"""The counts-at-thresholds kernel against NumPy and scikit-learn references."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.metrics import confusion_matrix_at_thresholds, roc_curve

from dicore.kernel import UniformGrid, counts_above, distinct_curve, uniform_bins

# A fixed set of grids and one padded row count keep JAX compiles few (tests stay fast).
GRIDS = [UniformGrid(0.0, 0.1, 1001), UniformGrid(-5.0, 1 / 3, 40)]
N = 64
G = 3


def ref_counts(values, thresholds, seg, num_segments, weights, inclusive):
    """NumPy reference: compare every row with every threshold, sum per segment."""
    hit = (values[None, :] >= thresholds[:, None]) if inclusive else (values[None, :] > thresholds[:, None])
    out = np.zeros((num_segments, len(thresholds)), dtype=weights.dtype)
    for g in range(num_segments):
        out[g] = (hit & (seg == g)[None, :]) @ weights
    return out


@st.composite
def grid_and_values(draw):
    """A grid and N float32 values: on thresholds, one ulp off, random, NaN/inf padding."""
    grid = draw(st.sampled_from(GRIDS))
    t = grid.values(np.float32)
    n = draw(st.integers(0, N))
    vals = []
    for kind in draw(st.lists(st.integers(0, 4), min_size=n, max_size=n)):
        tk = t[draw(st.integers(0, len(t) - 1))]
        if kind <= 1:  # exactly on a threshold: the tie case
            vals.append(tk)
        elif kind == 2:  # one float32 ulp either side of a threshold
            side = np.float32(draw(st.sampled_from([-1, 1])))
            # XLA on CPU flushes subnormals to zero, so next to 0 use the smallest normal.
            vals.append(side * np.finfo(np.float32).tiny if tk == 0 else np.nextafter(tk, side * np.float32(np.inf)))
        elif kind == 3:
            vals.append(draw(st.floats(-20, 120, width=32, allow_subnormal=False)))
        else:
            vals.append(draw(st.sampled_from([np.inf, -np.inf, 1e30, -1e30])))
    vals += [np.nan] * (N - n)  # padding rows are NaN, which the kernel must ignore
    return grid, np.asarray(vals, dtype=np.float32)


@functools.partial(jax.jit, static_argnames=("thresholds", "inclusive", "copies"))
def _counts_grid_jit(values, seg, weights, thresholds, inclusive, copies=1):
    return counts_above(
        values, thresholds, segment_ids=seg, num_segments=G, weights=weights,
        inclusive=inclusive, copies=copies,
    )


@functools.partial(jax.jit, static_argnames=("inclusive",))
def _counts_array_jit(values, seg, weights, thresholds, inclusive):
    return counts_above(
        values, thresholds, segment_ids=seg, num_segments=G, weights=weights, inclusive=inclusive
    )


@given(data=st.data(), gv=grid_and_values(), inclusive=st.booleans(), weighted=st.booleans())
def test_counts_above_matches_numpy_loop(data, gv, inclusive, weighted):
    grid, values = gv
    # Segment ids include out-of-range ones (dropped) and often leave a segment empty.
    seg = np.asarray(data.draw(st.lists(st.integers(-1, G), min_size=N, max_size=N)), np.int32)
    if weighted:
        weights = np.asarray(data.draw(st.lists(st.integers(0, 3), min_size=N, max_size=N)), np.int32)
    else:
        weights = np.ones(N, np.int32)
    thr = grid.values(np.float32)
    seg_ref = np.where((seg >= 0) & (seg < G), seg, -1)
    ref = ref_counts(values, thr, seg_ref, G, weights, inclusive)
    kw = dict(segment_ids=seg, num_segments=G, inclusive=inclusive)
    if weighted:
        kw["weights"] = weights
    for thresholds in (grid, thr):
        eager = counts_above(values, thresholds, **kw)
        assert eager.shape == (G, grid.num)
        np.testing.assert_array_equal(np.asarray(eager), ref)
    np.testing.assert_array_equal(np.asarray(_counts_grid_jit(values, seg, weights, grid, inclusive)), ref)
    np.testing.assert_array_equal(
        np.asarray(_counts_array_jit(values, seg, weights, thr, inclusive)), ref
    )


@functools.partial(jax.jit, static_argnames=("grid", "inclusive"))
def _bins_jit(values, grid, inclusive):
    return uniform_bins(values, grid, inclusive=inclusive)


@given(gv=grid_and_values(), inclusive=st.booleans())
def test_uniform_bins_equal_searchsorted(gv, inclusive):
    grid, values = gv
    ok = ~np.isnan(values)
    expected = np.searchsorted(grid.values(np.float32), values[ok], side="right" if inclusive else "left")
    np.testing.assert_array_equal(np.asarray(uniform_bins(values, grid, inclusive=inclusive))[ok], expected)
    np.testing.assert_array_equal(np.asarray(_bins_jit(values, grid, inclusive))[ok], expected)


def test_naive_arithmetic_binning_misplaces_ties_and_the_correction_fixes_it():
    grid = UniformGrid(0.0, 0.1, 1001)
    t = grid.values(np.float32)
    naive = np.floor(t / np.float32(0.1)).astype(np.int64) + 1  # count of thresholds <= t_k
    assert (naive != np.arange(1, 1002)).any(), "float rounding should misplace some ties"
    np.testing.assert_array_equal(np.asarray(uniform_bins(t, grid, inclusive=True)), np.arange(1, 1002))
    np.testing.assert_array_equal(np.asarray(uniform_bins(t, grid)), np.arange(0, 1001))
    counts = np.asarray(counts_above(t, grid))[0]
    np.testing.assert_array_equal(counts, np.arange(1000, -1, -1))
    # Private histogram copies (the GPU option) give the same counts.
    seg = np.arange(1001, dtype=np.int32) % 3
    np.testing.assert_array_equal(
        np.asarray(counts_above(t, grid, segment_ids=seg, num_segments=3, copies=7)),
        np.asarray(counts_above(t, grid, segment_ids=seg, num_segments=3)),
    )


def test_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"\(2, 2\)"):
        counts_above(np.zeros((2, 2)), np.zeros(3))
    with pytest.raises(ValueError, match=r"\(3, 1\)"):
        counts_above(np.zeros(3), np.zeros((3, 1)))
    with pytest.raises(ValueError, match=r"must have shape \(3,\)"):
        counts_above(np.zeros(3), np.zeros(2), weights=np.ones(4))
    with pytest.raises(ValueError, match="too fine"):
        counts_above(np.zeros(3, np.float32), UniformGrid(1e6, 1e-3, 10))
    with pytest.raises(ValueError, match="step > 0"):
        UniformGrid(0.0, 0.0, 3)
    with pytest.raises(ValueError, match="labels the same shape"):
        distinct_curve(np.zeros(3), np.zeros(4))


def test_grid_from_range_includes_stop():
    grid = UniformGrid.from_range(0, 100, 0.1)
    assert grid.num == 1001
    assert grid.values()[-1] == np.float32(100.0)
    assert UniformGrid.from_range(55, 100, 1).num == 46


def test_counts_above_compiles_once_per_shape():
    @jax.jit
    @chex.assert_max_traces(n=1)
    def f(v, s):
        return counts_above(v, UniformGrid(0.0, 1.0, 101), segment_ids=s, num_segments=3)

    rng = np.random.default_rng(0)
    for _ in range(3):
        v = rng.uniform(0, 100, 50).astype(np.float32)
        f(v, rng.integers(0, 3, 50).astype(np.int32))
    chex.clear_trace_counter()


_distinct_jit = jax.jit(distinct_curve)


@given(data=st.data(), n=st.integers(1, N), levels=st.integers(1, 8), weighted=st.booleans())
def test_distinct_curve_matches_sklearn(data, n, levels, weighted):
    # Few distinct levels -> many ties at thresholds.
    scores = np.asarray(
        data.draw(st.lists(st.integers(0, levels), min_size=n, max_size=n)), np.float32
    ) * np.float32(12.5)
    labels = np.asarray(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), bool)
    # scikit-learn drops zero-weight rows, so keep weights positive to compare.
    weights = np.asarray(
        data.draw(st.lists(st.integers(1, 4), min_size=N, max_size=N)) if weighted else [1] * N,
        np.float32,
    )
    _, fps_ref, _, tps_ref, thr_ref = confusion_matrix_at_thresholds(
        labels, scores, pos_label=True, sample_weight=weights[:n]
    )
    # Pad to N rows with NaN scores, which must be ignored.
    padded = np.concatenate([scores, np.full(N - n, np.nan, np.float32)])
    plabels = np.concatenate([labels, np.ones(N - n, bool)])
    for curve in (
        distinct_curve(padded, plabels, weights=weights if weighted else None),
        _distinct_jit(padded, plabels, weights=weights),
    ):
        thr, tps, fps = curve.trimmed()
        np.testing.assert_array_equal(thr, thr_ref)
        np.testing.assert_allclose(tps, tps_ref)
        np.testing.assert_allclose(fps, fps_ref)
        # Padding repeats the totals.
        assert np.all(np.asarray(curve.tps)[int(curve.num):] == tps_ref[-1])
    # The grid path on the same (ascending) thresholds gives the same counts.
    # Thresholds padded with +inf (nothing reaches it) keep one compiled shape.
    m = len(thr_ref)
    thr_up = np.concatenate([thr_ref[::-1], np.full(N - m, np.inf, np.float32)])
    pos = _counts_array_jit(padded, np.zeros(N, np.int32), plabels * weights, thr_up, True)
    np.testing.assert_allclose(np.asarray(pos)[0][:m][::-1], tps_ref)


def test_distinct_curve_matches_roc_curve_and_ignores_nan():
    rng = np.random.default_rng(1)
    scores = np.round(rng.uniform(0, 100, 500), 0).astype(np.float32)
    labels = rng.random(500) < 0.4
    fpr, tpr, thr = roc_curve(labels, scores, drop_intermediate=False)
    with_nan = np.concatenate([scores, [np.nan, np.nan]]).astype(np.float32)
    curve = distinct_curve(with_nan, np.concatenate([labels, [True, False]]))
    t, tps, fps = curve.trimmed()
    np.testing.assert_array_equal(t, thr[1:])  # scikit-learn prepends inf
    np.testing.assert_allclose(tps / labels.sum(), tpr[1:])
    np.testing.assert_allclose(fps / (~labels).sum(), fpr[1:])


def test_distinct_curve_empty_input():
    curve = distinct_curve(jnp.zeros((0,)), jnp.zeros((0,), bool))
    assert int(curve.num) == 0 and curve.thresholds.shape == (0,)
