"""Coverage of the clustered intervals by simulation (nominal 95%), vectorised with vmap.

Clustered synthetic data: m identities, identity i has n_i ~ 1 + Poisson(size) trials with
success probability p_i ~ Beta (mean p, intra-identity correlation rho). A 95% interval
must cover p in 92-98% of the replications. The fast test runs 500 replications per
setting (Monte Carlo sd about 1 pp); the slow one 3000 and more settings.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dicore.core.intervals import (
    Interval,
    cluster_wilson_interval,
    hull,
    percentile_interval,
    resample_weights,
    wilson_interval,
)


def clustered(key, reps, m, size, p, rho):
    """(reps, m) successes and trials per identity."""
    k1, k2, k3 = jax.random.split(key, 3)
    a, b = p * (1 / rho - 1), (1 - p) * (1 / rho - 1)
    pi = jax.random.beta(k1, a, b, (reps, m))
    n = jax.random.poisson(k2, size, (reps, m)) + 1
    k = jax.random.binomial(k3, n.astype(jnp.float32), pi)
    return k.astype(jnp.int32), n.astype(jnp.int32)


def _floored_bootstrap(key, k, n, n_resamples):
    """The metrics' cluster bootstrap (percentile + cluster-Wilson floor) for one replication."""
    present = (n > 0)[None]
    keys = jax.random.split(key, n_resamples)

    def one(kk):
        w = resample_weights(kk, present)[0]
        return 100.0 * jnp.sum(k * w) / jnp.maximum(jnp.sum(n * w), 1)

    est = 100.0 * k.sum() / n.sum()
    boot = percentile_interval(jax.vmap(one)(keys)[:, None], est[None])
    floor = cluster_wilson_interval(k[None], n[None])
    return hull(boot, floor)


@jax.jit
def _bootstrap_all(keys, k, n):
    out = jax.vmap(lambda kk, a, b: _floored_bootstrap(kk, a, b, 200))(keys, k, n)
    return Interval(out.low[:, 0], out.high[:, 0])


def coverage(interval, p):
    low, high = np.asarray(interval.low), np.asarray(interval.high)
    return float(np.mean((low <= 100 * p) & (100 * p <= high)))


SETTINGS = [(30, 5, 0.3, 0.2), (100, 3, 0.05, 0.2)]  # (identities, mean size, p, rho)
SLOW_SETTINGS = SETTINGS + [(50, 10, 0.1, 0.1), (20, 8, 0.5, 0.3), (40, 6, 0.02, 0.2), (60, 5, 0.7, 0.1)]


def _check(settings, reps):
    measured = []
    for i, (m, size, p, rho) in enumerate(settings):
        k, n = clustered(jax.random.key(i), reps, m, size, p, rho)
        cw = coverage(cluster_wilson_interval(k, n), p)
        boot = coverage(_bootstrap_all(jax.random.split(jax.random.key(100 + i), reps), k, n), p)
        naive = coverage(wilson_interval(k.sum(-1), n.sum(-1)), p)
        measured.append((m, size, p, rho, cw, boot, naive))
    for m, size, p, rho, cw, boot, naive in measured:
        where = f"m={m} size={size} p={p} rho={rho}: cluster-Wilson {cw:.3f}, bootstrap {boot:.3f}"
        assert 0.92 <= cw <= 0.98, where
        assert 0.92 <= boot <= 0.98, where
        # The data are clustered: Wilson over all trials as if independent under-covers.
        assert naive < 0.92, f"{where}, plain Wilson {naive:.3f}"


def test_clustered_intervals_cover_95_percent():
    _check(SETTINGS, reps=500)


@pytest.mark.slow
def test_clustered_intervals_cover_95_percent_more_settings():
    _check(SLOW_SETTINGS, reps=3000)


def test_cluster_wilson_matches_numpy_reference_eager_and_jit():
    rng = np.random.default_rng(0)
    k = rng.integers(0, 6, (4, 7))
    n = k + rng.integers(0, 4, (4, 7))
    n[0, 3:] = 0
    k[0, 3:] = 0
    k[1] = 0  # an edge: p = 0
    k[2] = n[2]  # p = 1
    z = 1.959963984540054
    for low, high in (cluster_wilson_interval(k, n), jax.jit(cluster_wilson_interval)(k, n)):
        for r in range(4):
            kk, nn = k[r][n[r] > 0].astype(float), n[r][n[r] > 0].astype(float)
            big_k, big_n, m = kk.sum(), nn.sum(), len(nn)
            p = big_k / big_n
            v = m / (m - 1) * np.sum((kk - p * nn) ** 2) / big_n**2
            n_min = big_n**2 / np.sum(nn**2)
            n_eff = max(big_n / max(v / (p * (1 - p) / big_n), 1.0), n_min) if 0 < p < 1 else n_min
            c = (p + z * z / (2 * n_eff)) / (1 + z * z / n_eff)
            h = z / (1 + z * z / n_eff) * np.sqrt(p * (1 - p) / n_eff + z * z / (4 * n_eff**2))
            assert float(low[r]) == pytest.approx(100 * max(min(c - h, p), 0), abs=2e-3)
            assert float(high[r]) == pytest.approx(100 * min(max(c + h, p), 1), abs=2e-3)
    assert float(high[1]) > 0 and float(low[2]) < 100  # never zero width at 0% or 100%


def test_cluster_wilson_single_identity_and_empty():
    low, high = cluster_wilson_interval(jnp.array([[3, 0], [0, 0]]), jnp.array([[10, 0], [0, 0]]))
    w = wilson_interval(jnp.array([0.3]), jnp.array([1.0]))  # n_eff = 1 for one identity
    assert float(low[0]) == pytest.approx(float(w.low[0]), abs=1e-4)
    assert np.isnan(low[1]) and np.isnan(high[1])


def test_bootstrap_at_zero_is_not_zero_width_voxcelebth_naver_regression():
    """Regression: `VoxCelebTH naver TA 0.0 [0.0, 0.0] n=320` (--ci bootstrap). 100 identities,
    320 fakes, none achieving TA: the interval must have a non-zero upper bound."""
    from dicore.core.observations import Observations, Vocab
    from dicore.tables import metrics_table

    n_id, n_fake = 100, 320
    target = np.concatenate([np.arange(n_id), np.arange(n_fake) % n_id])
    is_fake = np.arange(n_id + n_fake) >= n_id
    obs = Observations.from_arrays(
        vendor=np.full(len(target), 2), dataset=np.zeros(len(target)), target=target,
        is_fake=is_fake, predicted=np.full(len(target), n_id),  # every image named someone else
        confidence=np.full(len(target), 3.0), paired_row=np.where(is_fake, target, -1),
        method=np.where(is_fake, 1, 3),
    )
    vocab = Vocab(datasets=("VoxCelebTH",), identities=tuple(f"id{i}" for i in range(n_id + 1)),
                  items=tuple(map(str, range(len(target)))))
    rows = metrics_table(obs, vocab, ci="bootstrap", n_resamples=200)
    ta = next(r for r in rows if r["metric"] == "TA")
    assert (ta["value"], ta["ci_low"], ta["n"]) == (0.0, 0.0, 320)
    # n_eff = n_min = 320^2 / sum(n_i^2) = 97.0 identities' worth: Wilson's upper bound there.
    n_min = n_fake**2 / (20 * 16 + 80 * 9)
    assert ta["ci_high"] == pytest.approx(100 * 1.96**2 / (n_min + 1.96**2), abs=0.01)
