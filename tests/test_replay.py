"""Reporting-policy replay, censoring, trade-off and operating points vs NumPy references."""

from __future__ import annotations

import json
from pathlib import Path

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dicore import METHODS, VENDORS, paper
from dicore.core.groups import GroupSizes
from dicore.core.kernel import UniformGrid
from dicore.core.metrics import na_counts, ta_counts
from dicore.core.tradeoff import (
    check_taus,
    equal_error_point,
    min_attack_point,
    replay_counts,
    replay_policy,
    trade_off,
)
from tests.test_sweeps import (
    ARRAY_GRID,
    EAGER_EXAMPLES,
    GRID,
    N_DATASETS,
    N_VENDORS,
    make_observations,
    observations,
)

# jitted at the call site, as every caller of the core does
replay_counts_jit = jax.jit(replay_counts)

G = N_DATASETS * N_VENDORS
SYN = METHODS.index("synthesis")
KW = dict(sizes=GroupSizes(n_datasets=N_DATASETS, n_vendors=N_VENDORS))
FLOORS = paper.reporting_floors()


def ref_replay(obs, taus):
    """Loop over rows: TA, NA, genuine numerators (G, K) and fakes, reals (G,), `>= tau`."""
    o = {f: np.asarray(getattr(obs, f)) for f in obs.__dataclass_fields__}
    k = len(taus)
    ta, na, gen = (np.zeros((G, k), np.int64) for _ in range(3))
    fakes, reals = np.zeros(G, np.int64), np.zeros(G, np.int64)
    for i in range(len(o["vendor"])):
        g = o["dataset"][i] * N_VENDORS + o["vendor"][i]
        pred, conf, tgt = o["predicted"][i], o["confidence"][i], o["target"][i]
        if not o["is_fake"][i]:
            reals[g] += 1
            if pred >= 0 and pred == tgt:
                gen[g] += conf >= taus
            continue
        fakes[g] += 1
        if pred < 0:
            continue
        na[g] += conf >= taus
        for t_idx, tau in enumerate(taus):
            if conf < tau:
                continue
            p, r = o["paired_row"][i], o["ref_paired_row"][i]
            # A name counts only if reported: its confidence must be >= tau too.
            by_t = pred == tgt and p >= 0 and o["predicted"][p] == tgt and o["confidence"][p] >= tau
            ref = o["reference"][i]
            by_r = (
                o["method"][i] == SYN and ref >= 0 and pred == ref and r >= 0
                and o["predicted"][r] == ref and o["confidence"][r] >= tau
            )
            ta[g, t_idx] += by_t or by_r
    return ta, na, gen, fakes, reals


def check_replay(obs, taus, rep):
    thr = taus.values() if isinstance(taus, UniformGrid) else taus
    ta, na, gen, fakes, reals = ref_replay(obs, thr)
    k = len(thr)
    np.testing.assert_array_equal(np.asarray(rep.ta.numerator), ta)
    np.testing.assert_array_equal(np.asarray(rep.na.numerator), na)
    np.testing.assert_array_equal(np.asarray(rep.genuine.numerator), gen)
    np.testing.assert_array_equal(np.asarray(rep.ta.denominator), np.repeat(fakes[:, None], k, 1))
    np.testing.assert_array_equal(np.asarray(rep.na.denominator), np.repeat(fakes[:, None], k, 1))
    np.testing.assert_array_equal(np.asarray(rep.genuine.denominator), np.repeat(reals[:, None], k, 1))


@given(obs=observations(), grid=st.sampled_from(["uniform", "array"]))
def test_replay_matches_numpy_under_jit(obs, grid):
    taus = GRID if grid == "uniform" else ARRAY_GRID
    check_replay(obs, taus, replay_counts_jit(obs, taus, **KW))


@settings(max_examples=EAGER_EXAMPLES)
@given(obs=observations())
def test_replay_matches_numpy_eagerly(obs):
    check_replay(obs, ARRAY_GRID, replay_counts(obs, ARRAY_GRID, **KW))


@given(obs=observations())
def test_replay_at_zero_equals_the_point_metrics_and_is_monotone(obs):
    # Every reported confidence is >= 0, so tau = 0 reports every name: TA and NA as measured.
    rep = replay_counts_jit(obs, GRID, **KW)
    ta, na = ta_counts(obs, **KW), na_counts(obs, **KW)
    np.testing.assert_array_equal(np.asarray(rep.ta.numerator[:, 0]), np.asarray(ta.numerator))
    np.testing.assert_array_equal(np.asarray(rep.ta.denominator[:, 0]), np.asarray(ta.denominator))
    np.testing.assert_array_equal(np.asarray(rep.na.numerator[:, 0]), np.asarray(na.numerator))
    for c in rep:
        num = np.asarray(c.numerator)
        assert np.all(np.diff(num, axis=1) <= 0)
        assert np.all(num <= np.asarray(c.denominator))
    # TA <= NA at every tau.
    assert np.all(np.asarray(rep.ta.numerator) <= np.asarray(rep.na.numerator))


def test_floors_come_from_the_paper_data():
    assert paper.reporting_floors() == {"aws": 55.0, "azure": 70.0, "naver": 0.01}
    data = json.loads(
        (Path(__file__).parents[1] / "dicore/data/paper/policy_and_pricing.json").read_text()
    )["reporting_policy"]
    assert data["AWS"]["approx_min_reported_confidence_pct"] == paper.reporting_floors()["aws"]


def _one_vendor(vendor: str):
    obs = make_observations(seed=3)
    cols = {f: np.asarray(getattr(obs, f)) for f in obs.__dataclass_fields__}
    cols["vendor"] = np.full_like(cols["vendor"], VENDORS.index(vendor))
    return type(obs)(**cols)


@pytest.mark.parametrize("vendor,floor", [("aws", 55.0), ("azure", 70.0), ("naver", 0.01)])
def test_tau_below_the_floor_is_censored(vendor, floor):
    obs = _one_vendor(vendor)
    below = np.array([floor - 0.5, floor, 100.0], np.float64)
    with pytest.raises(ValueError, match=f"below {vendor}'s reporting floor"):
        replay_policy(obs, below, **KW, floors=FLOORS)
    with pytest.raises(ValueError, match="censored"):
        replay_policy(obs, UniformGrid(0.0, 1.0, 101), **KW, floors=FLOORS)
    # At and above the floor the replay is a number (tau == floor is allowed).
    rep = replay_policy(obs, np.array([floor, 90.0], np.float64), **KW, floors=FLOORS)
    assert rep.na.numerator.shape == (G, 2)
    rep = replay_policy(obs, UniformGrid.from_range(floor, 100.0, 5.0), **KW, floors=FLOORS)
    assert rep.genuine.numerator.shape[0] == G


def test_check_taus_rejects_bad_grids_and_takes_floors():
    with pytest.raises(ValueError, match="sorted"):
        check_taus(np.array([60.0, 56.0]), ["aws"], floors=FLOORS)
    with pytest.raises(ValueError, match="non-empty"):
        check_taus(np.zeros((0,)), ["aws"], floors=FLOORS)
    with pytest.raises(ValueError, match="no reporting floor"):
        check_taus(np.array([60.0]), ["acme"], floors=FLOORS)
    check_taus(np.array([10.0]), ["aws"], floors={"aws": 10.0})
    # A vendor mix: the highest floor present rules.
    obs = make_observations(seed=1)
    with pytest.raises(ValueError, match="azure"):
        replay_policy(obs, np.array([60.0, 80.0], np.float64), **KW, floors=FLOORS)


# ---- operating points -------------------------------------------------------------------

K = 7
TAUS = np.array([0.0, 10.0, 20.0, 20.5, 50.0, 90.0, 100.0], np.float64)


def ref_min_attack(attack, genuine, target):
    out = []
    for a, gn in zip(attack, genuine, strict=True):
        ok = [j for j in range(K) if gn[j] >= target and not np.isnan(a[j])]
        if not ok:
            out.append((-1, np.nan, np.nan, np.nan))
            continue
        best = min(ok, key=lambda j: (a[j], j))  # ties -> smallest tau
        out.append((best, TAUS[best], a[best], gn[best]))
    return out


def ref_equal_error(attack, genuine):
    out = []
    for a, gn in zip(attack, genuine, strict=True):
        d = a - (100.0 - gn)
        if d[0] == 0:
            out.append((0, TAUS[0], a[0], gn[0]))
            continue
        for j in range(K - 1):
            if d[j] > 0 and d[j + 1] <= 0:
                f = d[j] / (d[j] - d[j + 1])
                lerp = lambda x, j=j, f=f: x[j] + f * (x[j + 1] - x[j])  # noqa: E731
                out.append((j + 1 if d[j + 1] == 0 else -1, lerp(TAUS), lerp(a), lerp(gn)))
                break
        else:
            out.append((-1, np.nan, np.nan, np.nan))
    return out


@st.composite
def curves(draw, groups=4):
    """Non-increasing percent curves (as replay gives) on a coarse lattice, so ties and
    exact crossings happen; some groups are NaN (empty). Seeded NumPy fills them."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))

    def curve():
        steps = rng.choice([0.0, 0.0, 10.0, 25.0], (groups, K))
        start = rng.choice([0.0, 50.0, 75.0, 100.0], (groups, 1))
        return np.clip(start - np.cumsum(steps, axis=1) + steps[:, :1], 0, 100).astype(np.float32)

    attack, genuine = curve(), curve()
    attack[rng.random(groups) < draw(st.sampled_from([0.0, 0.3]))] = np.nan
    return attack, genuine


_min_attack_jit = jax.jit(min_attack_point)
_equal_error_jit = jax.jit(equal_error_point)


def _assert_points(point, expected):
    idx, tau, att, gen = (np.array(x, np.float64) for x in zip(*expected, strict=True))
    np.testing.assert_array_equal(np.asarray(point.index), idx)
    np.testing.assert_array_equal(np.asarray(point.found), idx_found(expected))
    for got, want in ((point.tau, tau), (point.attack, att), (point.genuine, gen)):
        np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=1e-5, atol=1e-4)


def idx_found(expected):
    return np.array([not np.isnan(e[1]) for e in expected])


@given(c=curves(), target=st.sampled_from([0.0, 25.0, 50.0, 75.0, 100.0]))
def test_min_attack_point_matches_numpy(c, target):
    attack, genuine = c
    expected = ref_min_attack(attack, genuine, target)
    _assert_points(min_attack_point(TAUS, attack, genuine, target=target), expected)
    _assert_points(_min_attack_jit(TAUS, attack, genuine, target=target), expected)


@given(c=curves())
def test_equal_error_point_matches_numpy(c):
    attack, genuine = c
    expected = ref_equal_error(attack, genuine)
    _assert_points(equal_error_point(TAUS, attack, genuine), expected)
    point = _equal_error_jit(TAUS, attack, genuine)
    _assert_points(point, expected)
    # At the point, attack success equals the miss rate.
    ok = np.asarray(point.found)
    np.testing.assert_allclose(
        np.asarray(point.attack)[ok], 100.0 - np.asarray(point.genuine)[ok], atol=1e-3
    )


def test_operating_points_on_a_replayed_trade_off():
    obs = _one_vendor("naver")
    taus = UniformGrid.from_range(0.01, 100.0, 1.0)
    curve = trade_off(replay_policy(obs, taus, **KW, floors=FLOORS), taus, attack="NA")
    assert curve.attack.shape == curve.genuine.shape == (G, taus.num)
    point = min_attack_point(curve.taus, curve.attack, curve.genuine, target=0.0)
    present = np.asarray(point.found)
    assert present.any()
    # With target 0 every tau is allowed: the lowest attack success on the whole curve.
    attack = np.asarray(curve.attack)
    np.testing.assert_allclose(np.asarray(point.attack)[present], np.nanmin(attack[present], axis=1))
    with pytest.raises(ValueError, match="attack must be"):
        trade_off(replay_policy(obs, taus, **KW, floors=FLOORS), taus, attack="DHF")
    with pytest.raises(ValueError, match=r"\(3, 4\)"):
        equal_error_point(TAUS, np.zeros((3, 4)), np.zeros((3, 4)))
