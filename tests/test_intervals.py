"""Wilson and cluster-bootstrap intervals against NumPy/scipy references, eagerly and under jit."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest

from dicore.core.groups import GroupSizes
from dicore.core.intervals import (
    cluster_bootstrap,
    cluster_wilson_interval,
    identity_counts,
    percentile_interval,
    resample_weights,
    weighted_rates,
    wilson_interval,
    z_value,
)
from dicore.core.metrics import Counts, group_counts, rates
from dicore.core.observations import Observations
from tests.test_metrics import (
    EAGER_EXAMPLES,
    N_DATASETS,
    N_IDENTITIES,
    N_VENDORS,
    SYN,
    np_obs,
    observations_strategy,
    reference_outcomes,
)

# jitted at the call site, as every caller of the core does
cluster_bootstrap_jit = jax.jit(cluster_bootstrap, static_argnames=("n_resamples", "level"))
wilson_interval_jit = jax.jit(wilson_interval, static_argnames=("level",))

N_GROUPS = N_DATASETS * N_VENDORS
N_RESAMPLES = 50  # same static arguments as tests/test_metrics.py's table test: one compile


def np_wilson(k, n, z):
    """Closed form, float64, percent."""
    p = k / n
    center = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return 100 * (center - half), 100 * (center + half)


def test_z_value():
    assert z_value(0.95) == pytest.approx(1.959964, abs=1e-6)
    assert z_value(0.99) == pytest.approx(2.575829, abs=1e-6)
    with pytest.raises(ValueError, match="level"):
        z_value(1.0)


@chex.assert_max_traces(n=1)
def _wilson_traced(k, n):
    return wilson_interval(k, n, level=0.95)


wilson_jit = jax.jit(_wilson_traced)


@settings(max_examples=2 * EAGER_EXAMPLES)
@given(st.lists(st.tuples(st.integers(0, 5000), st.integers(0, 5000)), min_size=8, max_size=8))
def test_wilson_matches_scipy_and_closed_form_eager_and_jit(pairs):
    k = np.array([min(a, b) for a, b in pairs])
    n = np.array([max(a, b) for a, b in pairs])
    for low, high in (wilson_interval(k, n), wilson_jit(k, n)):  # one trace for all examples
        low, high = np.asarray(low), np.asarray(high)
        for i in range(len(k)):
            if n[i] == 0:
                assert np.isnan(low[i]) and np.isnan(high[i])
                continue
            ci = binomtest(int(k[i]), int(n[i])).proportion_ci(0.95, method="wilson")
            ref_low, ref_high = np_wilson(k[i], n[i], z_value(0.95))
            assert ref_low == pytest.approx(100 * ci.low, abs=1e-9)
            assert low[i] == pytest.approx(max(ref_low, 0.0), abs=2e-3)
            assert high[i] == pytest.approx(min(ref_high, 100.0), abs=2e-3)
            p = 100 * k[i] / n[i]
            assert 0.0 <= low[i] <= np.float32(p) <= high[i] <= 100.0


def test_wilson_edges_and_shapes():
    low, high = wilson_interval_jit(jnp.array([0, 7, 7]), jnp.array([7, 7, 0]))
    assert low[0] == 0.0 and high[1] == 100.0 and 0 < high[0] < 50 and 50 < low[1] < 100
    assert np.isnan(low[2]) and np.isnan(high[2])
    wide, _ = wilson_interval(jnp.array([5]), jnp.array([10]), level=0.99)
    narrow, _ = wilson_interval(jnp.array([5]), jnp.array([10]), level=0.8)
    assert wide[0] < narrow[0]
    with pytest.raises(ValueError, match=r"\(2,\).*\(3,\)"):
        wilson_interval(jnp.zeros(2), jnp.zeros(3))


def reference_identity_counts(obs, beta=90.0, gamma=80.0):
    """(6, G, I) per-identity counts by a loop over rows; row 5 SIC per identity: 1/1 a fake
    impersonates it, 0/1 a fake could (its target, a synthesis fake's reference), else 0/0."""
    o, r = np_obs(obs), reference_outcomes(obs, beta, gamma)
    num = np.zeros((6, N_GROUPS, N_IDENTITIES), np.int64)
    den = np.zeros_like(num)
    for i in np.flatnonzero(o["is_fake"]):
        g, t = o["dataset"][i] * N_VENDORS + o["vendor"][i], o["target"][i]
        for m, (key, den_key) in enumerate(
            [("ta", None), ("na", None), ("dhf", None), ("dhc", "dhc_den"), ("dhs", "dhs_den")]
        ):
            num[m, g, t] += r[key][i]
            den[m, g, t] += 1 if den_key is None else r[den_key][i]
        if r["impersonated"][i] >= 0:
            num[5, g, r["impersonated"][i]] = 1
        den[5, g, t] = 1
        if o["method"][i] == SYN and o["reference"][i] >= 0:
            den[5, g, o["reference"][i]] = 1
    return num, den


def _idc(obs):
    return identity_counts(obs, sizes=GroupSizes(n_datasets=N_DATASETS, n_identities=N_IDENTITIES))


idc_jit = jax.jit(chex.assert_max_traces(_idc, n=1))


@settings(max_examples=EAGER_EXAMPLES)
@given(observations_strategy())
def test_identity_counts_match_reference_and_sum_to_group_counts(obs):
    num, den = reference_identity_counts(obs)
    for c in (_idc(obs), idc_jit(obs)):
        np.testing.assert_array_equal(np.asarray(c.numerator), num)
        np.testing.assert_array_equal(np.asarray(c.denominator), den)
    groups = group_counts(obs, sizes=GroupSizes(n_datasets=N_DATASETS, n_identities=N_IDENTITIES))
    np.testing.assert_array_equal(num.sum(-1), np.asarray(groups.numerator))
    np.testing.assert_array_equal(den.sum(-1), np.asarray(groups.denominator))


def np_resample(rng, present):
    """Reference draw: per group, m_g picks with replacement among its present identities."""
    w = np.zeros(present.shape, np.int64)
    for g in range(present.shape[0]):
        ids = np.flatnonzero(present[g])
        for _ in range(len(ids)):
            w[g, rng.choice(ids)] += 1
    return w


rw_jit = jax.jit(chex.assert_max_traces(resample_weights, n=1))


@settings(max_examples=EAGER_EXAMPLES)
@given(
    st.lists(st.booleans(), min_size=N_GROUPS * N_IDENTITIES, max_size=N_GROUPS * N_IDENTITIES),
    st.integers(0, 2**31 - 1),
)
def test_resample_weights_draw_only_present_identities(flags, seed):
    present = np.array(flags).reshape(N_GROUPS, N_IDENTITIES)
    key = jax.random.key(seed)
    eager, jitted = (
        np.asarray(resample_weights(key, jnp.asarray(present))),
        np.asarray(rw_jit(key, jnp.asarray(present))),
    )
    np.testing.assert_array_equal(eager, jitted)
    np.testing.assert_array_equal(eager.sum(1), present.sum(1))
    assert not eager[~present].any()


def test_resample_weights_uniform_over_present_identities():
    present = np.zeros((N_GROUPS, N_IDENTITIES), bool)
    present[0, [0, 2, 4]] = True
    present[1, :] = True
    present[2, 5] = True
    keys = jax.random.split(jax.random.key(0), 2000)
    jax_mean = np.mean([np.asarray(rw_jit(k, jnp.asarray(present))) for k in keys], axis=0)
    rng = np.random.default_rng(0)
    np_mean = np.mean([np_resample(rng, present) for _ in range(2000)], axis=0)
    # Each present identity is drawn once per resample on average (sd of the mean < 0.025).
    np.testing.assert_allclose(jax_mean[present], 1.0, atol=0.08)
    np.testing.assert_allclose(np_mean[present], 1.0, atol=0.08)
    assert not jax_mean[~present].any() and jax_mean[2, 5] == 1.0


@given(observations_strategy(), st.integers(0, 2**31 - 1))
def test_weighted_rates_match_reference(obs, seed):
    num, den = reference_identity_counts(obs)
    w = np_resample(np.random.default_rng(seed), den[0] > 0)
    clusters = Counts(jnp.asarray(num), jnp.asarray(den))
    got_eager = np.asarray(weighted_rates(clusters, jnp.asarray(w)))
    got_jit = np.asarray(jax.jit(weighted_rates)(clusters, jnp.asarray(w)))
    wn, wd = (num * w).sum(-1), (den * w).sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = np.where(wd > 0, 100.0 * wn / wd, np.nan)
    np.testing.assert_allclose(got_eager, expected, rtol=1e-5)
    np.testing.assert_allclose(got_jit, expected, rtol=1e-5)
    with pytest.raises(ValueError, match="weights shape"):
        weighted_rates(clusters, jnp.ones((2, 2)))


@given(st.integers(0, 2**31 - 1))
def test_percentile_interval_matches_numpy(seed):
    rng = np.random.default_rng(seed)
    samples = rng.choice([0.0, 25.0, 50.0, 100.0, np.nan], size=(40, 3, 4)).astype(np.float32)
    estimate = rng.choice([0.0, 50.0, 100.0, np.nan], size=(3, 4)).astype(np.float32)
    low, high = percentile_interval(jnp.asarray(samples), jnp.asarray(estimate))
    with (
        np.errstate(invalid="ignore"),
        pytest.warns(RuntimeWarning) if np.isnan(samples).all(0).any() else _null(),
    ):
        q = np.nanpercentile(samples, [2.5, 97.5], axis=0)
    exp_low = np.where(np.isnan(estimate), np.nan, np.clip(np.fmin(q[0], estimate), 0, 100))
    exp_high = np.where(np.isnan(estimate), np.nan, np.clip(np.fmax(q[1], estimate), 0, 100))
    np.testing.assert_allclose(np.asarray(low), exp_low, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(high), exp_high, rtol=1e-5)


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _boot(obs, key):
    # Same arguments as dicore.core.metrics.metrics_table passes, so the compile is shared.
    return cluster_bootstrap_jit(
        obs,
        key=key,
        sizes=GroupSizes(n_datasets=N_DATASETS, n_vendors=N_VENDORS, n_identities=N_IDENTITIES),
        n_resamples=N_RESAMPLES,
        level=0.95,
        beta=jnp.float32(90.0),
        gamma=jnp.float32(80.0),
    )


@given(observations_strategy(), st.integers(0, 2**31 - 1))
def test_bootstrap_intervals_contain_estimate_within_0_100(obs, seed):
    low, high = (np.asarray(x) for x in _boot(obs, jax.random.key(seed)))
    est = np.asarray(rates(group_counts(obs, sizes=GroupSizes(n_datasets=N_DATASETS, n_identities=N_IDENTITIES))))
    empty = np.isnan(est)
    assert np.array_equal(np.isnan(low), empty) and np.array_equal(np.isnan(high), empty)
    ok = ~empty
    assert np.all((0 <= low[ok]) & (low[ok] <= est[ok]) & (est[ok] <= high[ok]) & (high[ok] <= 100))


@settings(max_examples=min(settings().max_examples, 5))
@given(observations_strategy(), st.integers(0, 2**31 - 1))
def test_bootstrap_equals_its_eager_steps(obs, seed):
    """cluster_bootstrap under jit == its steps run eagerly, key by key (an eager vmap of the
    PRNG compiles op by op for ~20 s, so the composition is checked eagerly this way)."""
    key = jax.random.key(seed)
    low, high = _boot(obs, key)
    clusters = identity_counts(obs, sizes=GroupSizes(n_datasets=N_DATASETS, n_identities=N_IDENTITIES))
    present = clusters.denominator[5] > 0  # SIC's n: identities with fakes, and references
    samples = jnp.stack(
        [
            weighted_rates(clusters, resample_weights(k, present))
            for k in jax.random.split(key, N_RESAMPLES)
        ]
    )
    est = rates(group_counts(obs, sizes=GroupSizes(n_datasets=N_DATASETS, n_identities=N_IDENTITIES)))
    boot = percentile_interval(samples, est)
    floor = cluster_wilson_interval(clusters.numerator, clusters.denominator)
    exp_low = np.where(np.isnan(est), np.nan, np.fmin(np.asarray(boot.low), np.asarray(floor.low)))
    exp_high = np.where(np.isnan(est), np.nan, np.fmax(np.asarray(boot.high), np.asarray(floor.high)))
    np.testing.assert_allclose(np.asarray(low), np.asarray(exp_low), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(np.asarray(high), np.asarray(exp_high), rtol=1e-5, atol=1e-4)


N_COHORT, B_COHORT = 30, 1000  # one shape for the cohort tests: one compile


def _cohort_boot(obs, key):
    return cluster_bootstrap_jit(
        obs, key=key, sizes=GroupSizes(n_datasets=1, n_identities=N_COHORT), n_resamples=B_COHORT
    )


def _cohort(success):
    """One group: identity t has 10 fakes, success[t] of them named as t (TA) with a named real."""
    n_ids = len(success)
    rows_target = np.concatenate([np.arange(n_ids), np.repeat(np.arange(n_ids), 10)])
    is_fake = np.arange(len(rows_target)) >= n_ids
    k = np.tile(np.arange(10), n_ids)
    hit = k < np.repeat(success, 10)
    return Observations.from_arrays(
        vendor=np.zeros(len(rows_target)),
        dataset=np.zeros(len(rows_target)),
        target=rows_target,
        is_fake=is_fake,
        predicted=np.concatenate(
            [np.arange(n_ids), np.where(hit, np.repeat(np.arange(n_ids), 10), -1)]
        ),
        confidence=np.concatenate([np.full(n_ids, 99.0), np.where(hit, 95.0, np.nan)]),
        paired_row=np.where(is_fake, rows_target, -1),
    )


def test_bootstrap_matches_numpy_cluster_bootstrap():
    success = np.random.default_rng(1).integers(0, 11, N_COHORT)
    obs = _cohort(success)
    low, high = _cohort_boot(obs, jax.random.key(3))
    rng = np.random.default_rng(4)
    ta = [100 * success[rng.integers(0, 30, 30)].sum() / 300 for _ in range(4000)]
    ref_low, ref_high = np.percentile(ta, [2.5, 97.5])
    # Two independent runs of the same bootstrap (1000 and 4000 resamples): endpoints agree
    # within 1.5 pp (their Monte Carlo error is about 0.5 pp).
    assert float(low[0, 0]) == pytest.approx(ref_low, abs=1.5)
    assert float(high[0, 0]) == pytest.approx(ref_high, abs=1.5)
    # Clustering matters: wider than the Wilson interval that treats the 300 fakes as independent.
    w_low, w_high = wilson_interval(jnp.array(success.sum()), jnp.array(300))
    assert float(high[0, 0] - low[0, 0]) > 1.2 * float(w_high - w_low)


def test_bootstrap_never_zero_width_when_identities_alike_and_seeded():
    # Every resample gives 40% TA and 100% SIC: the percentile interval alone has zero width;
    # the cluster-adjusted Wilson floor keeps the width of Wilson's interval (deff = 1).
    low, high = _cohort_boot(_cohort(np.full(N_COHORT, 4)), jax.random.key(0))
    w_low, w_high = (np.asarray(x) for x in wilson_interval(jnp.array([120, 30]), jnp.array([300, 30])))
    assert float(low[0, 0]) == pytest.approx(w_low[0], abs=1e-3)
    assert float(high[0, 0]) == pytest.approx(w_high[0], abs=1e-3)
    assert float(high[5, 0]) == 100.0 and float(low[5, 0]) < 95
    # SIC at 100%: 30 identities with one trial each, n_min = 30: Wilson's bound for 30 of 30.
    assert float(low[5, 0]) == pytest.approx(w_low[1], abs=1e-3)
    obs = _cohort(np.arange(N_COHORT) % 11)
    a = _cohort_boot(obs, jax.random.key(0))
    b = _cohort_boot(obs, jax.random.key(0))
    c = _cohort_boot(obs, jax.random.key(1))
    np.testing.assert_array_equal(np.asarray(a.low), np.asarray(b.low))
    assert not np.array_equal(np.asarray(a.low), np.asarray(c.low))
