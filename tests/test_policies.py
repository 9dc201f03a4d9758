"""Vendor policies: the paper's reporting facts, calibration mappings, distractor rates."""

import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from simulators import SIMULATED_LABEL
from simulators.policies import (
    DATASETS,
    POLICIES,
    VendorPolicy,
    build_policies,
    cosine_sf,
    distractors_for_rate,
    false_name_rate,
    load_params,
    max_cosine_quantile,
)
from simulators.simulate import asian_leaning, make_distractors, random_unit, recognize

cosines = st.floats(-1.0, 1.0, allow_nan=False)


def test_three_vendors_plain_frozen_data_and_simulated():
    assert set(POLICIES) == {"aws", "azure", "naver"}
    assert SIMULATED_LABEL.startswith("SIMULATED")
    for pol in POLICIES.values():
        assert isinstance(pol, VendorPolicy) and pol.simulated
        with pytest.raises(dataclasses.FrozenInstanceError):
            pol.threshold = 0.0  # type: ignore[misc]


def test_reporting_facts_from_the_paper():
    aws, az, nav = POLICIES["aws"], POLICIES["azure"], POLICIES["naver"]
    assert (aws.floor, az.floor, nav.floor) == (55.0, 70.0, 0.01)
    assert not aws.always_reports and not az.always_reports and nav.always_reports
    assert aws.has_similarity and az.has_similarity and not nav.has_similarity
    # b is placed so that the naming threshold maps exactly to the floor
    assert aws.confidence(aws.threshold) == pytest.approx(55.0)
    assert az.confidence(az.threshold) == pytest.approx(70.0)


@pytest.mark.parametrize("vendor", ["aws", "azure", "naver"])
@given(a=cosines, b=cosines)
def test_confidence_and_similarity_monotone_in_cosine(vendor, a, b):
    pol = POLICIES[vendor]
    lo, hi = min(a, b), max(a, b)
    assert pol.confidence(lo) <= pol.confidence(hi)
    assert 0.0 <= pol.confidence(lo) <= 100.0
    if pol.has_similarity:
        assert pol.similarity_percent(lo) <= pol.similarity_percent(hi)
    else:
        assert np.isnan(pol.similarity_percent(lo))


def test_known_celebrities_are_an_exact_count():
    # the fame model: a vendor knows round(Phi(shift - cut) n) of a pool, whatever the seed
    fame = load_params()["cohort"]["fame"]
    assert fame["CelebDF"] == 0.0 and set(fame) == {"CelebDF", "FCelebDF", "VoxCelebTH", "CelebBlend"}
    for pol in POLICIES.values():
        for pool, shift in fame.items():
            for n in (20, 50, 58, 100):
                assert pol.n_known(pool, n) == round(stats.norm.cdf(shift - pol.fame_cut) * n)
    assert POLICIES["aws"].n_known("nope", 10) == 0


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_known_sets_are_nested_by_fame(seed):
    # one fame draw per pool, shared by the vendors: a vendor that knows a celebrity also
    # knows every more famous one, so the vendors' known sets are nested; CelebFOM's is
    # CelebDF's (the same people)
    from simulators import cohort

    for name in DATASETS:
        sp = cohort.spec(name)
        f = cohort.fame(seed, sp.pool, sp.n_identities)
        masks = sorted((cohort.known_mask(pol, sp, seed) for pol in POLICIES.values()), key=np.sum)
        for small, big in zip(masks, masks[1:], strict=False):
            assert not np.any(small & ~big)
        for pol in POLICIES.values():
            known = cohort.known_mask(pol, sp, seed)
            assert known.sum() == pol.n_known(sp.pool, sp.n_identities)
            if known.any() and not known.all():
                assert f[known].min() > f[~known].max()  # the most famous are known
    a = cohort.known_mask(POLICIES["azure"], cohort.spec("CelebDF"), seed)
    assert np.array_equal(a, cohort.known_mask(POLICIES["azure"], cohort.spec("CelebFOM"), seed))
    assert not np.array_equal(cohort.fame(seed, "CelebDF", 58), cohort.fame(seed + 1, "CelebDF", 58))


def test_false_name_rates_on_unknown_faces():
    # What N and the score model encode: AWS names about a third of unknown faces, MS few.
    aws, az = POLICIES["aws"], POLICIES["azure"]
    assert 0.2 <= aws.false_name_rate <= 0.5
    assert az.false_name_rate <= 0.08
    for pol in (aws, az):
        assert false_name_rate(pol.n_distractors, floor=pol.floor, a=pol.confidence_a,
                               k=pol.confidence_k, noise=pol.noise) == pytest.approx(pol.false_name_rate)  # fmt: skip
    # more distractors, more false names; no noise and a high floor, fewer
    kw = dict(floor=55.0, a=aws.confidence_a, k=aws.confidence_k, noise=aws.noise)
    assert false_name_rate(2 * aws.n_distractors, **kw) > aws.false_name_rate
    assert false_name_rate(aws.n_distractors, **{**kw, "floor": 90.0}) < aws.false_name_rate


@pytest.mark.parametrize("vendor", ["aws", "azure"])
def test_false_name_rate_holds_with_real_distractor_vectors(vendor):
    pol = POLICIES[vendor]
    _, dis = make_distractors(pol, seed=3)
    rng = np.random.default_rng(11)
    q = random_unit(rng, 3000)
    res = recognize(pol, gallery=np.zeros((0, 512)), known=np.zeros(0, bool), distractors=dis,
                    queries=q, image_noise=rng.standard_normal(len(q)))  # fmt: skip
    rate = np.mean(res.index >= 0)
    se = np.sqrt(pol.false_name_rate * (1 - pol.false_name_rate) / len(q))
    assert abs(rate - pol.false_name_rate) < 4 * se + 0.005


def test_max_cosine_law_matches_real_random_vectors():
    # The exact law (Beta) of the max of N random cosines, against real vectors.
    rng = np.random.default_rng(5)
    n = 1500
    maxima = (random_unit(rng, 800) @ random_unit(rng, n).T).max(axis=1)
    u = np.linspace(0.005, 0.995, 199)
    law = max_cosine_quantile(u, n)
    assert stats.kstest(maxima, lambda x: np.interp(x, law, u)).pvalue > 1e-3
    assert np.median(maxima) == pytest.approx(max_cosine_quantile(0.5, n), abs=0.004)
    # and the tail function: P(cos > 0) = 1/2 by symmetry
    assert cosine_sf(0.0) == pytest.approx(0.5)


@given(a=st.floats(-4.0, 0.0), noise=st.floats(0.0, 3.0), r=st.floats(0.05, 0.6))
def test_distractor_count_inverts_the_rate(a, noise, r):
    kw = dict(floor=55.0, a=a, k=12.0, noise=noise)
    n = distractors_for_rate(r, **kw)
    if 20 <= n < 10**9:  # a handful of distractors cannot hit every rate (N is an integer)
        assert false_name_rate(n, **kw) == pytest.approx(r, abs=0.01)
    assert false_name_rate(n + 50, **kw) >= false_name_rate(n, **kw)


def test_naver_leans_to_asian_celebrities():
    nav = POLICIES["naver"]
    names, vec = make_distractors(nav, seed=0)
    assert len(names) == nav.n_distractors == len(vec)
    assert all(n.startswith("Simulated Celebrity NAV-") for n in names)
    flags = asian_leaning(nav)
    assert flags.mean() == pytest.approx(nav.lean_share, abs=1 / nav.n_distractors)
    # unknown (western) faces are named, mostly as an Asian-leaning celebrity
    q = random_unit(np.random.default_rng(2), 2000)
    res = recognize(
        nav, gallery=np.zeros((0, 512)), known=np.zeros(0, bool), distractors=vec, queries=q
    )
    assert np.all(res.index >= 0)
    assert flags[res.index].mean() == pytest.approx(nav.lean_share, abs=0.05)


def test_policies_rebuild_from_params():
    params = load_params()
    assert build_policies(params) == POLICIES
    params["vendors"]["aws"]["confidence_a"] -= 0.5
    shifted = build_policies(params)["aws"]
    assert shifted.threshold == pytest.approx(
        POLICIES["aws"].threshold + 0.5 / shifted.confidence_k
    )
