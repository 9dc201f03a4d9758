"""The dev/eval protocol, intervals on the trade-off curves and operating points, and the
simulated impostor set."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from dicore.core import curve_intervals
from dicore.core.groups import GroupSizes
from dicore.core.metrics import Counts
from dicore.core.protocol import split_identities
from dicore.core.tradeoff import replay_counts
from dicore.formats.results import read_rows
from dicore.tables import cluster_ids, tradeoff_curves

FLOORS = {"aws": 55.0, "azure": 70.0, "naver": 0.01}
TAUS = {"aws": np.array([55.0, 70.0, 90.0])}


def _rows():
    """Identities A0..A3 (dev) and B0..B3 (eval); each has a real named as itself at 99 and
    two fakes achieving TA: A's at confidence 60, B's at 80."""
    out = []
    for side, conf in (("A", "60"), ("B", "80")):
        for i in range(4):
            who = f"{side}{i}"
            out.append(dict(vendor="aws", backend="sim", dataset="D", method="real",
                            item_id=f"{who}-r", is_fake="false", real_item_id="", target=who,
                            reference="", predicted=who, confidence="99", similarity=""))
            for k in range(2):
                out.append(dict(vendor="aws", backend="sim", dataset="D", method="reenactment",
                                item_id=f"{who}-f{k}", is_fake="true", real_item_id=f"{who}-r",
                                target=who, reference="", predicted=who, confidence=conf,
                                similarity=""))
    return out


def test_dev_eval_point_differs_from_the_all_data_point():
    obs, vocab = read_rows(_rows())
    dev = np.array([vocab.identities[t].startswith("A") for t in np.asarray(obs.target)])
    (all_curve,) = tradeoff_curves(obs, vocab, floors=FLOORS, taus=TAUS, n_resamples=50)
    (split_curve,) = tradeoff_curves(obs, vocab, floors=FLOORS, taus=TAUS, dev_rows=dev,
                                     n_resamples=50)
    best_all, best_split = all_curve.operating_points[0], split_curve.operating_points[0]
    # All data: TA 100% at 55, 50% at 70 (B's fakes), 0% at 90 -> tau 90.
    assert (best_all.tau, best_all.attack_success, best_all.chosen_on) == (90.0, 0.0, "all")
    # Dev (A only): TA 0% from 70 on -> tau 70, where the eval set (B) still has TA 100%.
    assert (best_split.tau, best_split.chosen_on, best_split.reported_on) == (70.0, "dev", "eval")
    assert best_split.dev_attack_success == 0.0 and best_split.attack_success == 100.0
    assert split_curve.attack_success == [100.0, 100.0, 0.0]  # the eval curve
    assert split_curve.dev_attack_success == [100.0, 0.0, 0.0]
    lo, hi = best_split.attack_ci
    assert lo < 100.0 == hi  # never zero-width at 100%


def test_split_is_seeded_stratified_and_keeps_a_person_on_one_side():
    rng = np.random.default_rng(0)
    dataset = np.repeat([0, 1, 2], 400)
    target = np.concatenate([rng.integers(0, 40, 400), rng.integers(30, 80, 400),
                             rng.integers(80, 100, 400)])  # 30..39 in datasets 0 and 1
    dev = split_identities(dataset, target, dev_fraction=0.5, seed=3)
    again = split_identities(dataset, target, dev_fraction=0.5, seed=3)
    other = split_identities(dataset, target, dev_fraction=0.5, seed=4)
    np.testing.assert_array_equal(dev, again)
    assert not np.array_equal(dev, other)
    for t in np.unique(target):
        assert len(set(dev[target == t])) == 1  # one side per person
    for d in (0, 2):
        ids = np.unique(target[dataset == d])
        n_dev = sum(dev[target == t][0] for t in ids)
        assert n_dev == round(0.5 * len(ids))
    with pytest.raises(ValueError, match="dev_fraction"):
        split_identities(dataset, target, dev_fraction=1.0, seed=0)


def test_cluster_replay_sums_to_the_group_replay_and_intervals_contain_rates():
    obs, vocab = read_rows(_rows())
    sizes = GroupSizes.of(vocab)
    cids, n_c = cluster_ids(obs)
    taus = np.array([55.0, 70.0, 90.0])
    group = replay_counts(obs, taus, sizes=sizes)
    for fn in (curve_intervals.replay_clusters,
               jax.jit(curve_intervals.replay_clusters, static_argnames=("n_clusters",))):
        clusters = fn(obs, taus, cids, sizes=sizes, n_clusters=n_c)
        for a, b in zip(clusters, group, strict=True):
            np.testing.assert_array_equal(np.asarray(a.numerator).sum(-1), np.asarray(b.numerator))
            np.testing.assert_array_equal(np.asarray(a.denominator).sum(-1), np.asarray(b.denominator))
    ta = clusters.ta
    ci = curve_intervals.curve_interval(ta)
    rate = 100.0 * np.asarray(ta.numerator).sum(-1)[0] / np.asarray(ta.denominator).sum(-1)[0]
    low, high = np.asarray(ci.low)[0], np.asarray(ci.high)[0]
    assert np.all(low <= rate) and np.all(rate <= high) and np.all(high - low > 0)


def test_bootstrap_points_contain_the_point_eager_and_jit():
    obs, vocab = read_rows(_rows())
    sizes = GroupSizes.of(vocab)
    cids, n_c = cluster_ids(obs)
    taus = np.array([55.0, 70.0, 90.0])
    rep = curve_intervals.replay_clusters(obs, taus, cids, sizes=sizes, n_clusters=n_c)
    args = (rep.ta, rep.genuine, Counts(rep.genuine.numerator[:, 0], rep.genuine.denominator[:, 0]),
            taus)
    kw = dict(key=jax.random.key(0), genuine_keep=90.0, n_resamples=64)
    eager = curve_intervals.bootstrap_points(*args, **kw)
    jitted = jax.jit(curve_intervals.bootstrap_points, static_argnames=("n_resamples",))(*args, **kw)
    for a, b in zip(jax.tree.leaves(eager), jax.tree.leaves(jitted), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), equal_nan=True)
    p = eager.min_attack
    assert float(p.tau.low[0]) <= 90.0 <= float(p.tau.high[0])
    assert float(p.attack.low[0]) == 0.0 < float(p.attack.high[0])  # floored at 0%


def test_simulated_impostors_are_labelled_and_follow_the_policies():
    from simulators.impostors import IMPOSTOR_DATASET, SIZES, simulate_impostor_results
    from simulators.policies import POLICIES

    cols = simulate_impostor_results(scale="paper", seed=0)
    assert set(cols["method"]) == {"impostor"} and not cols["is_fake"].any()
    assert set(cols["backend"]) == {"sim"} and set(cols["dataset"]) == {IMPOSTOR_DATASET}
    for vendor, pol in POLICIES.items():
        m = cols["vendor"] == vendor
        assert m.sum() == 2 * SIZES["paper"]
        named = (cols["predicted"][m] != "").astype(float)
        # The calibrated policy's P(an unknown face is named); a person's two images share
        # their look-alike, so the standard error is over the 1000 people.
        se = max(np.sqrt(pol.false_name_rate * (1 - pol.false_name_rate) / SIZES["paper"]), 1e-3)
        assert abs(named.mean() - pol.false_name_rate) < 4 * se, vendor
