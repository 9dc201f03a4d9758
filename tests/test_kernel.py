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

from dicore.core.kernel import UniformGrid, counts_above, distinct_curve, uniform_bins

# A fixed set of grids and one padded row count keep JAX compiles few (tests stay fast).
# One grid: a negative start and a step that binary floats cannot hold (0.1) exercise
# the rounding the correction fixes; 0 sits on it (the subnormal case).
GRIDS = [UniformGrid(-5.0, 0.1, 1051)]
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
    """A grid and N float32 values: on thresholds, one ulp off, random, +-inf/huge, and
    NaN padding. Hypothesis draws the size, the mix and a seed; NumPy fills the values
    (drawing each value through hypothesis is slow)."""
    grid = draw(st.sampled_from(GRIDS))
    n = draw(st.integers(0, N))
    mix = np.asarray(draw(st.sampled_from([(1, 1, 1, 1), (4, 1, 0, 0), (0, 0, 1, 0), (1, 4, 1, 1)])), float)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    t = grid.values(np.float32)
    on = t[rng.integers(0, len(t), n)]
    side = rng.choice(np.array([-1, 1], np.float32), n)
    # One ulp off a threshold; next to 0 the smallest normal (XLA on CPU flushes subnormals).
    off = np.where(on == 0, side * np.finfo(np.float32).tiny, np.nextafter(on, side * np.float32(np.inf)))
    rand = rng.uniform(-20, 120, n).astype(np.float32)
    wild = rng.choice(np.array([np.inf, -np.inf, 1e30, -1e30], np.float32), n)
    kind = rng.choice(4, n, p=mix / mix.sum())
    vals = np.choose(kind, [on, off, rand, wild]).astype(np.float32)
    # Padding rows are NaN, which the kernel must ignore.
    return grid, np.concatenate([vals, np.full(N - n, np.nan, np.float32)])


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
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    # Segment ids include out-of-range ones (dropped); some draws leave segments empty.
    seg = rng.integers(-1, data.draw(st.integers(1, G + 1)), N).astype(np.int32)
    weights = rng.integers(0, 4, N).astype(np.int32) if weighted else np.ones(N, np.int32)
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
    grid = UniformGrid(0.0, 0.1, N)
    t = grid.values(np.float32)
    naive = np.floor(t / np.float32(0.1)).astype(np.int64) + 1  # count of thresholds <= t_k
    assert (naive != np.arange(1, N + 1)).any(), "float rounding should misplace some ties"
    np.testing.assert_array_equal(np.asarray(uniform_bins(t, grid, inclusive=True)), np.arange(1, N + 1))
    np.testing.assert_array_equal(np.asarray(uniform_bins(t, grid)), np.arange(0, N))
    seg = np.arange(N, dtype=np.int32) % G
    counts = np.asarray(counts_above(t, grid, segment_ids=seg, num_segments=G))
    np.testing.assert_array_equal(counts.sum(axis=0), np.arange(N - 1, -1, -1))
    # Private histogram copies (the GPU option) give the same counts.
    np.testing.assert_array_equal(
        np.asarray(counts_above(t, grid, segment_ids=seg, num_segments=G, copies=7)), counts
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
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    # Few distinct levels -> many ties at thresholds.
    scores = rng.integers(0, levels + 1, n).astype(np.float32) * np.float32(12.5)
    labels = rng.random(n) < data.draw(st.sampled_from([0.0, 0.3, 1.0]))
    # scikit-learn drops zero-weight rows, so keep weights positive to compare.
    weights = (rng.integers(1, 5, N) if weighted else np.ones(N)).astype(np.float32)
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
    curve = distinct_curve(with_nan, np.concatenate([labels, [True, False]]))  # eager
    t, tps, fps = curve.trimmed()
    np.testing.assert_array_equal(t, thr[1:])  # scikit-learn prepends inf
    np.testing.assert_allclose(tps / labels.sum(), tpr[1:])
    np.testing.assert_allclose(fps / (~labels).sum(), fpr[1:])


def test_distinct_curve_empty_input():
    curve = distinct_curve(jnp.zeros((0,)), jnp.zeros((0,), bool))
    assert int(curve.num) == 0 and curve.thresholds.shape == (0,)


# -- the fast paths (issue 11): no per-row table look-up, NumPy sort on CPU ---------------

# The study's grid, one across 0 with a step floats cannot hold, one of integers.
FAST_GRIDS = [UniformGrid(0.0, 0.1, 1001), UniformGrid(-50.0, 0.1, 1001), UniformGrid(55.0, 1.0, 46)]


@pytest.mark.parametrize("grid", FAST_GRIDS, ids=str)
def test_ulp_fast_path_equals_searchsorted_on_and_next_to_every_threshold(grid):
    from dicore.core.kernel import _ulp_plan

    assert _ulp_plan(grid, np.float32) is not None, "these grids take the fast path"
    t = grid.values(np.float32)
    up, down = np.nextafter(t, np.float32(np.inf)), np.nextafter(t, -np.float32(np.inf))
    # Next to 0 the smallest normal (XLA on CPU flushes subnormals to 0, as both paths see).
    tiny = np.finfo(np.float32).tiny
    up, down = np.where(t == 0, tiny, up), np.where(t == 0, -tiny, down)
    near = np.concatenate([t, up, down, np.nextafter(up, np.float32(np.inf)), np.nextafter(down, -np.float32(np.inf))])
    rng = np.random.default_rng(3)
    rand = rng.uniform(grid.start - 3 * grid.step, grid.stop + 3 * grid.step, 4000).astype(np.float32)
    wild = np.array([np.inf, -np.inf, 1e30, -1e30, 0.0, -0.0, np.nan], np.float32)
    values = np.concatenate([near, rand, wild]).astype(np.float32)
    seg = (np.arange(len(values)) % 4).astype(np.int32)  # segment 3 is out of range: dropped
    ok = ~np.isnan(values)
    both = jax.jit(lambda v, s: [
        counts_above(v, grid, segment_ids=s, num_segments=3, inclusive=inclusive)
        for inclusive in (False, True)
    ])
    for inclusive, got in zip((False, True), both(values, seg), strict=True):
        ref = ref_counts(values[ok], t, seg[ok], 3, np.ones(ok.sum(), np.int32), inclusive)
        np.testing.assert_array_equal(np.asarray(got), ref)


def test_fast_path_float64_under_x64():
    from dicore.core.kernel import _ulp_plan

    grid = UniformGrid(0.0, 0.1, 1001)
    with jax.enable_x64(True):
        assert _ulp_plan(grid, np.float64) is not None
        t = grid.values(np.float64)
        tiny = np.finfo(np.float64).tiny  # not a subnormal next to 0 (XLA flushes those)
        up = np.where(t == 0, tiny, np.nextafter(t, np.inf))
        down = np.where(t == 0, -tiny, np.nextafter(t, -np.inf))
        values = np.concatenate([t, up, down, [np.nan, np.inf]])
        got = np.asarray(jax.jit(lambda v: counts_above(v, grid))(jnp.asarray(values, jnp.float64)))
        ok = ~np.isnan(values)
        np.testing.assert_array_equal(got[0], ref_counts(values[ok], t, np.zeros(ok.sum()), 1, np.ones(ok.sum(), np.int64), False)[0])


def test_distinct_curve_numpy_and_xla_paths_agree_and_match_sklearn():
    from dicore.core.kernel import _distinct_curve_numpy, _distinct_curve_xla

    rng = np.random.default_rng(5)
    n = 3000
    scores = np.round(rng.uniform(-10, 10, n), 1).astype(np.float32)
    scores[::7] = -0.0  # -0 and +0 are one score
    scores[::11] = np.nan
    labels = rng.random(n) < 0.4
    for w in (np.ones(n, np.int32), rng.integers(1, 4, n).astype(np.float32)):
        weighted = w.dtype != np.int32
        host = _distinct_curve_numpy(scores, labels, w, weighted=weighted)
        xla = _distinct_curve_xla(jnp.asarray(scores), jnp.asarray(labels), jnp.asarray(w))
        for a, b in zip(host, xla, strict=True):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        ok = ~np.isnan(scores)
        _, fps, _, tps, thr = confusion_matrix_at_thresholds(labels[ok], scores[ok], sample_weight=w[ok])
        m = int(host[3])
        np.testing.assert_array_equal(host[0][:m], thr)
        np.testing.assert_allclose(host[1][:m], tps)
        np.testing.assert_allclose(host[2][:m], fps)
