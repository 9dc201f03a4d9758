"""Exact arithmetic on exported values: every score comparison in the core gives the answer
float64 arithmetic gives on the values of results.csv (docs/metrics.md, "Exactness").

Near-tie data: values a few float64 ulps apart (equal in float32, distinct in the CSV
text), compared with the point metrics, the sweeps and the policy replay, eagerly and
under `jax.jit`, against NumPy float64 references."""

from __future__ import annotations

import functools
import io

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dicore.core.groups import GroupSizes
from dicore.core.kernel import counts_above
from dicore.core.metrics import group_counts
from dicore.core.observations import Observations
from dicore.core.sweeps import dhc_sweep, dhs_sweep
from dicore.core.tradeoff import replay_counts

BASES = (99.9999993, 99.9999998, 100.0, 90.0, 80.0, 55.0, 70.0, 0.01, 50.5)
MODES = ("eager", "jit")


def ulps(x: float, k: int) -> float:
    """x moved k float64 ulps (towards +inf for k > 0)."""
    for _ in range(abs(k)):
        x = float(np.nextafter(x, np.inf if k > 0 else -np.inf))
    return min(max(x, 0.0), 100.0)


near_tie = st.builds(ulps, st.sampled_from(BASES), st.integers(-3, 3))
maybe = st.one_of(st.just(np.nan), near_tie)


N_REAL, N_FAKE, N_GRID = 4, 10, 8  # fixed shapes: jit compiles once per test


@st.composite
def studies(draw):
    """One dataset x vendor group: reals and fakes with near-tie confidences/similarities."""
    n_real, n_fake = N_REAL, N_FAKE
    real_named = draw(st.lists(st.booleans(), min_size=n_real, max_size=n_real))
    fake_named = draw(st.lists(st.booleans(), min_size=n_fake, max_size=n_fake))
    real_conf = [draw(near_tie) if k else np.nan for k in real_named]
    fake_conf = [draw(near_tie) if k else np.nan for k in fake_named]
    fake_sim = draw(st.lists(maybe, min_size=n_fake, max_size=n_fake))
    pair = draw(st.lists(st.integers(0, n_real - 1), min_size=n_fake, max_size=n_fake))
    n = n_real + n_fake
    is_fake = np.arange(n) >= n_real
    target = np.concatenate([np.arange(n_real), pair])  # real r is identity r
    named = np.concatenate([real_named, fake_named])
    obs = Observations.from_arrays(
        vendor=np.zeros(n, int), dataset=np.zeros(n, int), target=target, is_fake=is_fake,
        predicted=np.where(named, target, -1),
        confidence=np.concatenate([real_conf, fake_conf]),
        paired_row=np.concatenate([np.full(n_real, -1), pair]),
        similarity=np.concatenate([np.full(n_real, np.nan), fake_sim]),
    )
    return obs, n_real


def reference(obs, n_real, beta, gamma):
    """NumPy float64: DHF, DHC, DHS numerators and denominators (docs/metrics.md)."""
    conf = np.asarray(obs.confidence, np.float64)
    sim = np.asarray(obs.similarity, np.float64)
    pred = np.asarray(obs.predicted)
    pair = np.asarray(obs.paired_row)[n_real:]
    fconf, fsim, fnamed = conf[n_real:], sim[n_real:], pred[n_real:] >= 0
    real_conf = np.where(pred[pair] >= 0, conf[pair], 0.0)
    dhf = fnamed & (fconf > real_conf)
    dhc = fnamed & (fconf > beta)
    has_sim = ~fnamed & ~np.isnan(fsim)
    dhs = has_sim & (fsim > gamma)
    return (dhf.sum(), dhc.sum(), dhs.sum()), (len(fconf), fnamed.sum(), has_sim.sum())


@functools.cache
def _jitted(fn):
    return jax.jit(fn, static_argnames="sizes")


def call(fn, mode, *args, n_identities: int, **kwargs):
    """fn(*args, sizes=one dataset's sizes, **kwargs), eagerly or under jit."""
    sizes = GroupSizes(n_datasets=1, n_identities=n_identities)
    return (_jitted(fn) if mode == "jit" else fn)(*args, sizes=sizes, **kwargs)


@pytest.mark.parametrize("mode", MODES)
@settings(max_examples=60, deadline=None)
@given(study=studies(), beta=near_tie, gamma=near_tie)
def test_point_metrics_decide_near_ties_as_float64(mode, study, beta, gamma):
    obs, n_real = study
    counts = call(group_counts, mode, obs, n_identities=n_real, beta=beta, gamma=gamma)
    num = np.asarray(counts.numerator)[2:5, 0]  # DHF, DHC, DHS of the aws group
    den = np.asarray(counts.denominator)[2:5, 0]
    want_num, want_den = reference(obs, n_real, beta, gamma)
    assert tuple(num) == want_num and tuple(den) == want_den


@pytest.mark.parametrize("mode", MODES)
@settings(max_examples=40, deadline=None)
@given(study=studies(), grid=st.lists(near_tie, min_size=N_GRID, max_size=N_GRID))
def test_sweeps_and_replay_decide_near_ties_as_float64(mode, study, grid):
    obs, n_real = study
    grid = np.array(sorted(grid), np.float64)
    conf = np.asarray(obs.confidence, np.float64)
    sim = np.asarray(obs.similarity, np.float64)
    pred = np.asarray(obs.predicted)
    fake = np.asarray(obs.is_fake)
    named_fake = fake & (pred >= 0)

    dhc = np.asarray(call(dhc_sweep, mode, obs, grid, n_identities=n_real).numerator)[0]
    assert dhc.tolist() == [int((named_fake & (conf > t)).sum()) for t in grid]
    dhs = np.asarray(call(dhs_sweep, mode, obs, grid, n_identities=n_real).numerator)[0]
    assert dhs.tolist() == [int((fake & (pred < 0) & (sim > t)).sum()) for t in grid]
    replay = call(replay_counts, mode, obs, grid, n_identities=n_real)
    assert np.asarray(replay.na.numerator)[0].tolist() == [
        int((named_fake & (conf >= t)).sum()) for t in grid]
    genuine = ~fake & (pred >= 0) & (pred == np.asarray(obs.target))
    assert np.asarray(replay.genuine.numerator)[0].tolist() == [
        int((genuine & (conf >= t)).sum()) for t in grid]


@pytest.mark.parametrize("mode", MODES)
def test_the_kernel_keeps_float64_one_ulp_apart(mode):
    x = 99.9999993
    values = jnp.asarray([x, float(np.nextafter(x, 200.0)), 99.9999998])
    assert np.float32(values[0]) == np.float32(values[1])  # a float32 core would tie these
    thresholds = jnp.asarray([x])
    fn = jax.jit(counts_above, static_argnames="inclusive") if mode == "jit" else counts_above
    assert np.asarray(fn(values, thresholds)).tolist() == [[2]]
    assert np.asarray(fn(values, thresholds, inclusive=True)).tolist() == [[3]]


def test_scores_are_float64_and_a_float32_core_is_refused():
    obs = Observations.from_arrays(
        vendor=[0, 0], dataset=[0, 0], target=[0, 0], is_fake=[False, True], predicted=[0, 0],
        confidence=[99.9999993, 99.9999998], paired_row=[-1, 0])
    assert obs.confidence.dtype == np.float64 and obs.similarity.dtype == np.float64
    assert jax.config.jax_enable_x64  # importing dicore turns 64-bit JAX on
    as_float32 = Observations(**{**obs.__dict__, "confidence": obs.confidence.astype(np.float32)})
    with pytest.raises(ValueError, match="float64"):
        as_float32.check()


@settings(max_examples=50, deadline=None)
@given(st.lists(st.one_of(st.floats(0.0, 100.0), near_tie), min_size=1, max_size=30))
def test_results_csv_round_trips_every_float64(values):
    from dicore.formats.results import write_results_csv

    n = len(values)
    cols = {
        "vendor": ["aws"] * n, "backend": ["sim"] * n, "dataset": ["D"] * n,
        "method": ["real"] * n, "item_id": [f"i{k}" for k in range(n)], "is_fake": [False] * n,
        "real_item_id": [""] * n, "target": ["T"] * n, "reference": [""] * n,
        "predicted": ["T"] * n, "confidence": values, "similarity": list(reversed(values)),
    }
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = write_results_csv(Path(tmp) / "results.csv", cols)
        text = path.read_text()
    import csv

    rows = list(csv.DictReader(io.StringIO(text)))
    assert [float(r["confidence"]) for r in rows] == [float(v) for v in values]
    assert [float(r["similarity"]) for r in rows] == [float(v) for v in reversed(values)]


def test_threshold_defaults_are_float64():
    """A user calling the kernel's helpers without a dtype gets the thresholds the float64
    core compares with: 90.000001 stays above 90 (float32 would round it to 90.0)."""
    from dicore.core.kernel import UniformGrid, threshold_values

    t = threshold_values(np.array([90.0, 90.000001]))
    assert t.dtype == np.float64 and float(t[1]) > float(t[0])
    assert UniformGrid(0.0, 0.001, 3).values().dtype == np.float64
