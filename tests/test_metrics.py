"""Metrics against plain-loop NumPy references, eagerly and under jit, plus properties."""

from __future__ import annotations

import csv
import importlib.resources
import json

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dicore import METHODS, METRICS
from dicore.core.groups import GroupSizes
from dicore.core.metrics import (
    dhc_counts,
    dhf_counts,
    dhs_counts,
    fake_outcomes,
    group_counts,
    group_ids,
    impersonation_counts,
    na_counts,
    rates,
    sic_counts,
    sic_indicators,
    ta_counts,
)
from dicore.core.observations import Observations, Vocab
from dicore.formats.metrics_json import write_metrics_json
from dicore.tables import metrics_table
from tests.helpers import pair_rows

N_ROWS, N_DATASETS, N_VENDORS, N_IDENTITIES = 24, 2, 3, 6
N_GROUPS = N_DATASETS * N_VENDORS
SYN = METHODS.index("synthesis")
REAL = METHODS.index("real")
# Values on and around the thresholds (beta 90, gamma 80) so ties are exercised.
CONFIDENCES = [0.01, 50.0, 79.99, 80.0, 80.01, 89.99, 90.0, 90.01, 99.0, 100.0]
THRESHOLDS = [0.0, 50.0, 80.0, 90.0, 99.0, 100.0]

# Eager JAX dispatches op by op (~0.1 s a call here): fewer examples where a test runs it.
EAGER_EXAMPLES = min(settings().max_examples, 15)


@st.composite
def observations_strategy(draw, n=N_ROWS):
    """Valid observations of fixed length n (one jit shape) with empty groups, all-fake and
    all-real inputs, and values sitting exactly on the thresholds.

    Hypothesis draws the regime and a seed; NumPy fills the columns (drawing every cell
    through hypothesis cost ~0.15 s per example)."""
    mode = draw(st.sampled_from(["mixed", "all_fake", "all_real", "one_group"]))
    p_named = draw(st.sampled_from([0.0, 0.5, 1.0]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    vendor = rng.integers(0, N_VENDORS, n).astype(np.int32)
    dataset = rng.integers(0, N_DATASETS, n).astype(np.int32)
    if mode == "one_group":
        vendor[:], dataset[:] = vendor[0], dataset[0]
    target = rng.integers(0, N_IDENTITIES - 1, n).astype(np.int32)
    is_fake = rng.random(n) < {"all_fake": 1.0, "all_real": 0.0}.get(mode, 0.6)
    method = np.where(is_fake, rng.integers(0, 3, n), REAL).astype(np.int32)
    reference = np.where(method == SYN, rng.integers(0, N_IDENTITIES - 1, n), -1)
    # Names mostly the row's own target (so TA happens), some other or outside names.
    other = rng.integers(0, N_IDENTITIES, n)
    predicted = np.where(rng.random(n) < 0.5, target, other)
    predicted = np.where(rng.random(n) < p_named, predicted, -1).astype(np.int32)
    confidence = np.where(predicted >= 0, rng.choice(CONFIDENCES, n), np.nan).astype(np.float32)
    similarity = np.where(is_fake & (rng.random(n) < 0.7), rng.choice(CONFIDENCES, n), np.nan)
    paired, ref_paired = pair_rows(rng, vendor=vendor, dataset=dataset, target=target,
                                   reference=reference, method=method, is_fake=is_fake)
    return Observations.from_arrays(
        vendor=vendor,
        dataset=dataset,
        method=method,
        target=target,
        reference=reference,
        is_fake=is_fake,
        predicted=predicted,
        confidence=confidence,
        similarity=similarity.astype(np.float32),
        paired_row=paired,
        ref_paired_row=ref_paired,
    )


def np_obs(obs):
    return {f: np.asarray(getattr(obs, f)) for f in obs.__dataclass_fields__}


def reference_outcomes(obs, beta=90.0, gamma=80.0):
    """Plain loop over rows: per-row TA, NA, DHF, DHC, DHS flags, DHC/DHS denominators and
    the identity a TA fake impersonates (SIC's credit; -1 if none)."""
    o = np_obs(obs)
    n = len(o["vendor"])
    out = {k: np.zeros(n, bool) for k in ("ta", "na", "dhf", "dhc", "dhc_den", "dhs", "dhs_den")}
    out["impersonated"] = np.full(n, -1)
    for i in range(n):
        if not o["is_fake"][i]:
            continue
        pred, conf = o["predicted"][i], o["confidence"][i]
        p = o["paired_row"][i]
        real_pred = o["predicted"][p] if p >= 0 else -1
        real_conf = o["confidence"][p] if (p >= 0 and real_pred >= 0) else np.float32(0)
        named = pred != -1
        ta = named and pred == o["target"][i] and real_pred == o["target"][i]
        if ta:
            out["impersonated"][i] = o["target"][i]
        r = o["ref_paired_row"][i]
        if not ta and named and o["method"][i] == SYN and o["reference"][i] >= 0 and r >= 0:
            ta = pred == o["reference"][i] and o["predicted"][r] == o["reference"][i]
            out["impersonated"][i] = o["reference"][i] if ta else -1
        out["ta"][i] = ta
        out["na"][i] = named
        out["dhf"][i] = named and conf > real_conf
        out["dhc_den"][i] = named
        out["dhc"][i] = named and conf > np.float32(beta)
        sim = o["similarity"][i]
        out["dhs_den"][i] = (not named) and not np.isnan(sim)
        out["dhs"][i] = out["dhs_den"][i] and sim > np.float32(gamma)
    return out


def reference_counts(obs, beta=90.0, gamma=80.0, n_datasets=N_DATASETS, n_identities=N_IDENTITIES):
    """(6, G) numerators and denominators by loops over rows and identities. SIC: the
    identities impersonated (a TA fake's target, or the reference a synthesis fake was
    named as) / the identities a fake could impersonate (targets, synthesis references)."""
    o = np_obs(obs)
    r = reference_outcomes(obs, beta, gamma)
    g_count = n_datasets * N_VENDORS
    num = np.zeros((6, g_count), np.int64)
    den = np.zeros((6, g_count), np.int64)
    ident_fake, ident_ta = {}, {}
    for i in range(len(o["vendor"])):
        g = o["dataset"][i] * N_VENDORS + o["vendor"][i]
        if not o["is_fake"][i]:
            continue
        for m, (key, den_key) in enumerate(
            [("ta", None), ("na", None), ("dhf", None), ("dhc", "dhc_den"), ("dhs", "dhs_den")]
        ):
            num[m, g] += r[key][i]
            den[m, g] += 1 if den_key is None else r[den_key][i]
        ident_fake.setdefault(g, set()).add(o["target"][i])
        if o["method"][i] == SYN and o["reference"][i] >= 0:
            ident_fake[g].add(o["reference"][i])
        if r["ta"][i]:
            ident_ta.setdefault(g, set()).add(r["impersonated"][i])
    for g, ids in ident_fake.items():
        den[5, g] = len(ids)
        num[5, g] = len(ident_ta.get(g, ()))
    return num, den


@chex.assert_max_traces(n=1)
def _counts_traced(obs, beta, gamma):
    return group_counts(
        obs, sizes=GroupSizes(n_datasets=N_DATASETS, n_identities=N_IDENTITIES), beta=beta, gamma=gamma
    )


counts_jit = jax.jit(_counts_traced)


def per_metric(obs, beta, gamma):
    """Each per-metric function and the per-row outcomes, for one jit of them all."""
    kw = {"sizes": GroupSizes(n_datasets=N_DATASETS, n_identities=N_IDENTITIES)}
    return (
        ta_counts(obs, **kw),
        na_counts(obs, **kw),
        dhf_counts(obs, **kw),
        dhc_counts(obs, **kw, beta=beta),
        dhs_counts(obs, **kw, gamma=gamma),
        sic_counts(obs, **kw),
    ), fake_outcomes(obs)


per_metric_jit = jax.jit(chex.assert_max_traces(per_metric, n=1))


def pad(obs, n=N_ROWS):
    """Append inert rows (reals in dataset N_DATASETS, outside every group) up to n rows.

    Keeps every test on one jit shape; the kernel drops rows outside the groups."""
    cols = np_obs(obs)
    extra = n - len(cols["vendor"])
    fill = {
        "dataset": N_DATASETS,
        "is_fake": False,
        "method": REAL,
        "confidence": np.nan,
        "similarity": np.nan,
        "predicted": -1,
        "paired_row": -1,
        "ref_paired_row": -1,
        "reference": -1,
    }
    return Observations.from_arrays(
        **{f: np.concatenate([v, np.full(extra, fill.get(f, 0), v.dtype)]) for f, v in cols.items()}
    )


@settings(max_examples=2 * EAGER_EXAMPLES)
@given(observations_strategy(), st.sampled_from(THRESHOLDS), st.sampled_from(THRESHOLDS))
def test_group_counts_match_reference_eager_and_jit(obs, beta, gamma):
    num, den = reference_counts(obs, beta, gamma)
    eager = group_counts(
        obs, sizes=GroupSizes(n_datasets=N_DATASETS, n_identities=N_IDENTITIES), beta=beta, gamma=gamma
    )
    jitted = counts_jit(obs, jnp.float32(beta), jnp.float32(gamma))  # traced once for all examples
    for c in (eager, jitted):
        np.testing.assert_array_equal(np.asarray(c.numerator), num)
        np.testing.assert_array_equal(np.asarray(c.denominator), den)


@settings(max_examples=EAGER_EXAMPLES)
@given(observations_strategy(), st.sampled_from(THRESHOLDS), st.sampled_from(THRESHOLDS))
def test_each_metric_function_and_row_outcomes_match_reference(obs, beta, gamma):
    num, den = reference_counts(obs, beta, gamma)
    r = reference_outcomes(obs, beta, gamma)
    eager = per_metric(obs, beta, gamma)
    jitted = per_metric_jit(obs, jnp.float32(beta), jnp.float32(gamma))
    for metrics, out in (eager, jitted):
        for m, c in enumerate(metrics):
            np.testing.assert_array_equal(np.asarray(c.numerator), num[m], err_msg=METRICS[m])
            np.testing.assert_array_equal(np.asarray(c.denominator), den[m], err_msg=METRICS[m])
        np.testing.assert_array_equal(np.asarray(out.targeted), r["ta"])
        np.testing.assert_array_equal(np.asarray(out.impersonated), r["impersonated"])
        np.testing.assert_array_equal(np.asarray(out.named), r["na"])
        np.testing.assert_array_equal(np.asarray(out.higher_than_real), r["dhf"])
        np.testing.assert_array_equal(np.asarray(out.fake_confidence) > np.float32(beta), r["dhc"])
        np.testing.assert_array_equal(~np.isnan(np.asarray(out.unnamed_similarity)), r["dhs_den"])
        np.testing.assert_array_equal(
            np.asarray(out.unnamed_similarity) > np.float32(gamma), r["dhs"]
        )


@given(observations_strategy())
def test_ta_implies_na_and_dhs_excludes_na(obs):
    out = fake_outcomes(obs)
    targeted, named = np.asarray(out.targeted), np.asarray(out.named)
    assert not np.any(targeted & ~named)
    assert not np.any(named & (np.asarray(out.unnamed_similarity) > 0))
    c = counts_jit(obs, jnp.float32(90.0), jnp.float32(80.0))
    assert np.all(np.asarray(c.numerator[0]) <= np.asarray(c.numerator[1]))


@given(observations_strategy(), st.sampled_from(THRESHOLDS), st.sampled_from(THRESHOLDS))
def test_dhc_and_dhs_non_increasing_in_threshold(obs, t1, t2):
    lo, hi = min(t1, t2), max(t1, t2)
    a = counts_jit(obs, jnp.float32(lo), jnp.float32(lo))
    b = counts_jit(obs, jnp.float32(hi), jnp.float32(hi))
    for m in (3, 4):  # DHC in beta, DHS in gamma; same denominators
        assert np.all(np.asarray(b.numerator[m]) <= np.asarray(a.numerator[m]))
        np.testing.assert_array_equal(np.asarray(a.denominator[m]), np.asarray(b.denominator[m]))


def permute(obs, perm):
    """Rows reordered by perm (new row i = old row perm[i]), row references fixed up."""
    inverse = np.empty_like(perm)
    inverse[perm] = np.arange(len(perm))
    cols = {f: np.asarray(v)[perm] for f, v in np_obs(obs).items()}
    for f in ("paired_row", "ref_paired_row"):
        cols[f] = np.where(cols[f] >= 0, inverse[np.maximum(cols[f], 0)], -1)
    return Observations.from_arrays(**cols)


@given(observations_strategy(), st.randoms(use_true_random=False))
def test_results_do_not_depend_on_row_order(obs, rnd):
    perm = np.array(rnd.sample(range(N_ROWS), N_ROWS))
    a = counts_jit(obs, jnp.float32(90.0), jnp.float32(80.0))
    b = counts_jit(permute(obs, perm), jnp.float32(90.0), jnp.float32(80.0))
    np.testing.assert_array_equal(np.asarray(a.numerator), np.asarray(b.numerator))
    np.testing.assert_array_equal(np.asarray(a.denominator), np.asarray(b.denominator))


@given(observations_strategy())
def test_group_result_equals_metric_on_that_group_alone(obs):
    full = counts_jit(obs, jnp.float32(90.0), jnp.float32(80.0))
    groups = np.asarray(group_ids(obs, sizes=GroupSizes(n_datasets=N_DATASETS)))
    for g in range(N_GROUPS):
        keep = np.flatnonzero(groups == g)
        new_index = np.full(N_ROWS, -1)
        new_index[keep] = np.arange(len(keep))
        cols = {f: v[keep] for f, v in np_obs(obs).items()}
        for f in ("paired_row", "ref_paired_row"):
            cols[f] = np.where(cols[f] >= 0, new_index[np.maximum(cols[f], 0)], -1)
        alone = counts_jit(
            pad(Observations.from_arrays(**cols)), jnp.float32(90.0), jnp.float32(80.0)
        )
        np.testing.assert_array_equal(
            np.asarray(alone.numerator)[:, g], np.asarray(full.numerator)[:, g]
        )
        np.testing.assert_array_equal(
            np.asarray(alone.denominator)[:, g], np.asarray(full.denominator)[:, g]
        )
        others = np.arange(N_GROUPS) != g
        assert not np.asarray(alone.denominator)[:, others].any()


def small_obs(rows):
    """rows: (vendor, is_fake, paired, target, predicted, confidence, similarity[, method, ref, ref_paired])."""
    cols = list(zip(*[r + (None,) * (10 - len(r)) for r in rows], strict=True))
    is_fake = np.array(cols[1], bool)
    method = [
        m if m is not None else (0 if f else REAL) for m, f in zip(cols[7], is_fake, strict=True)
    ]
    return Observations.from_arrays(
        vendor=cols[0],
        dataset=[0] * len(rows),
        is_fake=is_fake,
        paired_row=cols[2],
        target=cols[3],
        predicted=cols[4],
        confidence=[np.nan if c is None else c for c in cols[5]],
        similarity=[np.nan if s is None else s for s in cols[6]],
        method=method,
        reference=[-1 if r is None else r for r in cols[8]],
        ref_paired_row=[-1 if r is None else r for r in cols[9]],
    )


def counts_of(obs, beta=90.0, gamma=80.0):
    c = counts_jit(pad(obs), jnp.float32(beta), jnp.float32(gamma))
    return np.asarray(c.numerator)[:, 0], np.asarray(c.denominator)[:, 0]


def test_ties_at_thresholds_are_not_counted():
    obs = small_obs(
        [
            (0, False, -1, 0, 0, 90.0, None),
            (0, True, 0, 0, 0, 90.0, None),  # conf == beta and == real's conf: neither DHC nor DHF
            (0, True, 0, 0, -1, None, 80.0),  # similarity == gamma: not DHS
            (0, True, 0, 0, 1, 90.5, None),  # > beta, > real: DHC and DHF, not TA (wrong name)
        ]
    )
    num, den = counts_of(obs)
    assert dict(zip(METRICS, num.tolist(), strict=True)) == {
        "TA": 1,
        "NA": 2,
        "DHF": 1,
        "DHC": 1,
        "DHS": 0,
        "SIC": 1,
    }
    assert den.tolist() == [3, 3, 3, 2, 1, 1]
    num, _ = counts_of(obs, beta=89.99, gamma=79.99)
    assert num[3] == 2 and num[4] == 1


def test_unrecognised_real_counts_as_confidence_zero_and_blocks_ta():
    obs = small_obs(
        [
            (0, False, -1, 0, -1, None, None),  # real not named
            (0, True, 0, 0, 0, 0.01, None),  # named as target with 0.01 > 0: DHF, but not TA
        ]
    )
    num, den = counts_of(obs)
    assert num.tolist() == [0, 1, 1, 0, 0, 0] and den.tolist() == [1, 1, 1, 1, 0, 1]


def test_synthesis_counts_either_source_when_its_real_is_named():
    obs = small_obs(
        [
            (0, False, -1, 0, 0, 99.0, None),  # real of source 0, named 0
            (0, False, -1, 1, 2, 99.0, None),  # real of source 1, named as someone else
            (
                0,
                True,
                0,
                0,
                1,
                95.0,
                None,
                SYN,
                1,
                1,
            ),  # named reference 1 but its real is not: no TA
            (
                0,
                True,
                1,
                1,
                0,
                95.0,
                None,
                SYN,
                0,
                0,
            ),  # target 1, named reference 0, real 0 named 0: TA
            (
                0,
                True,
                0,
                0,
                1,
                95.0,
                None,
                0,
                1,
                1,
            ),  # same as row 2 but replacement: no reference path
        ]
    )
    _, out = per_metric_jit(pad(obs), jnp.float32(90.0), jnp.float32(80.0))
    assert np.asarray(out.targeted)[:5].tolist() == [False, False, False, True, False]
    assert np.asarray(out.impersonated)[:5].tolist() == [-1, -1, -1, 0, -1]
    num, den = counts_of(obs)
    assert num[5] == 1 and den[5] == 2  # SIC: identity 0 impersonated (by row 3), identity 1 not


def test_sic_credits_the_reference_a_blend_is_named_as_not_its_target():
    """Issue 9 (regression): a blend of target 1 and reference 0 named 0 (TA by reference)
    impersonates identity 0. The old SIC credited its target 1 (1 of 1 identities, 100%);
    SIC counts identity 0 impersonated and identity 1, which no fake impersonated, not:
    1 of 2."""
    obs = small_obs(
        [
            (0, False, -1, 0, 0, 99.0, None),  # real of identity 0, named 0
            (0, False, -1, 1, 1, 99.0, None),  # real of identity 1, named 1
            (0, True, 1, 1, 0, 95.0, None, SYN, 0, 0),  # blend: target 1, reference 0, named 0
        ]
    )
    num, den = counts_of(obs)
    assert num[0] == 1 and den[0] == 1  # TA, the row metric: unchanged
    assert num[5] == 1 and den[5] == 2
    sizes = GroupSizes(n_datasets=N_DATASETS, n_identities=N_IDENTITIES)
    per_identity = sic_indicators(impersonation_counts(pad(obs), sizes=sizes))
    assert np.asarray(per_identity.numerator)[0, :2].tolist() == [1, 0]
    assert np.asarray(per_identity.denominator)[0, :2].tolist() == [1, 1]


def old_target_sic(obs):
    """The target rule (before issue 9): identities with a TA fake as their target /
    identities with a fake as their target, per group."""
    o, r = np_obs(obs), reference_outcomes(obs)
    num, den = np.zeros(N_GROUPS, np.int64), np.zeros(N_GROUPS, np.int64)
    for g in range(N_GROUPS):
        fake = o["is_fake"] & (o["dataset"] * N_VENDORS + o["vendor"] == g)
        den[g] = len(set(o["target"][fake].tolist()))
        num[g] = len(set(o["target"][fake & r["ta"]].tolist()))
    return num, den


@given(observations_strategy())
def test_sic_is_the_target_rule_without_synthesis_and_never_exceeds_its_n(obs):
    c = counts_jit(obs, jnp.float32(90.0), jnp.float32(80.0))
    num, den = np.asarray(c.numerator[5]), np.asarray(c.denominator[5])
    assert np.all(num <= den)
    # Impersonable identities include every target of a fake (and synthesis references).
    _, old_den = old_target_sic(obs)
    assert np.all(den >= old_den)
    cols = np_obs(obs)
    cols["method"] = np.where(cols["method"] == SYN, 0, cols["method"])  # no synthesis fakes
    plain = Observations.from_arrays(**cols)
    c = counts_jit(plain, jnp.float32(90.0), jnp.float32(80.0))
    np.testing.assert_array_equal(np.asarray(c.numerator[5]), old_target_sic(plain)[0])
    np.testing.assert_array_equal(np.asarray(c.denominator[5]), old_target_sic(plain)[1])


def test_empty_observations_give_zero_counts_and_nan_rates():
    empty = Observations.from_arrays(
        vendor=[], dataset=[], target=[], is_fake=[], predicted=[], confidence=[], paired_row=[]
    )
    c = jax.jit(lambda o: group_counts(o, sizes=GroupSizes(n_datasets=2, n_identities=3)))(empty)
    assert c.numerator.shape == (6, 6) and not np.asarray(c.denominator).any()
    assert np.isnan(np.asarray(rates(c))).all()


def table1():
    text = (
        importlib.resources.files("dicore.data.paper").joinpath("table1_datasets.csv").read_text()
    )
    return {r["dataset"]: r for r in csv.DictReader(text.splitlines())}


def paper_cohort(dataset, d, *, dhf_fakes, ta_identities):
    """Columns for one dataset with Table 1's fakes and celebrities; reals named with 50%.

    The first `dhf_fakes` fakes get 60% (> their real's 50%), the rest 40%; one fake of
    each of the first `ta_identities` identities is named as its target, the rest as an
    outsider (id 999)."""
    row = table1()[dataset]
    n_ids, n_fakes = int(row["celebrities"]), int(row["fake"])
    target = np.concatenate([np.arange(n_ids), np.arange(n_fakes) % n_ids])
    is_fake = np.arange(n_ids + n_fakes) >= n_ids
    k = np.arange(n_fakes)
    return {
        "vendor": np.zeros(n_ids + n_fakes, np.int32),
        "dataset": np.full(n_ids + n_fakes, d, np.int32),
        "target": target,
        "is_fake": is_fake,
        "predicted": np.concatenate(
            [np.arange(n_ids), np.where(k < ta_identities, target[n_ids:], 999)]
        ),
        "confidence": np.concatenate([np.full(n_ids, 50.0), np.where(k < dhf_fakes, 60.0, 40.0)]),
        "paired_row": np.where(is_fake, target, -1),  # row index, offset below
    }


@pytest.fixture(scope="module")
def paper_counts():
    """VoxCelebTH (AWS DHF 902 of 3,200; MS SIC 94 of 100) and CelebDF (MS SIC 58 of 58), one call."""
    vox = paper_cohort("VoxCelebTH", 0, dhf_fakes=902, ta_identities=94)
    cdf = paper_cohort("CelebDF", 1, dhf_fakes=0, ta_identities=58)
    cdf["paired_row"] = np.where(cdf["is_fake"], cdf["paired_row"] + len(vox["vendor"]), -1)
    obs = Observations.from_arrays(**{k: np.concatenate([vox[k], cdf[k]]) for k in vox})
    return jax.jit(lambda o: group_counts(o, sizes=GroupSizes(n_datasets=2, n_identities=1000)))(obs)


def test_paper_dhf_voxcelebth_902_of_3200_is_28_2_percent(paper_counts):
    g = 0 * 3 + 0
    assert int(paper_counts.numerator[2, g]) == 902 and int(paper_counts.denominator[2, g]) == 3200
    assert round(float(rates(paper_counts)[2, g]), 1) == 28.2


@pytest.mark.parametrize("d,hit,n_ids,expected", [(0, 94, 100, 94.0), (1, 58, 58, 100.0)])
def test_paper_sic_counts(paper_counts, d, hit, n_ids, expected):
    g = d * 3
    assert int(paper_counts.numerator[5, g]) == hit and int(paper_counts.denominator[5, g]) == n_ids
    assert float(rates(paper_counts)[5, g]) == pytest.approx(expected)
    assert int(paper_counts.numerator[0, g]) == hit  # exactly one TA fake per hit identity


def _vocab():
    return Vocab(
        datasets=("CelebDF", "FCelebDF"), identities=tuple("ABCDEF"), items=(), backends=("sim",)
    )


@settings(max_examples=EAGER_EXAMPLES)
@pytest.mark.parametrize("ci", ["wilson", "bootstrap"])
@given(obs=observations_strategy())
def test_metrics_table_rows(ci, obs):
    all_rows = metrics_table(obs, _vocab(), ci=ci, n_resamples=50)
    rows = [r for r in all_rows if r["metric"] in METRICS]
    # IAPMR (ISO/IEC 30107-3) is TA under another name, row for row.
    iapmr = [r for r in all_rows if r["metric"] == "IAPMR"]
    assert [{**r, "metric": "TA"} for r in iapmr] == [r for r in rows if r["metric"] == "TA"]
    num, den = reference_counts(obs)
    present = sorted(
        set(zip(np.asarray(obs.dataset).tolist(), np.asarray(obs.vendor).tolist(), strict=True))
    )
    assert len(rows) == 6 * len(present)
    for r in rows:
        assert set(r) == {"dataset", "vendor", "metric", "value", "ci_low", "ci_high", "n"}
        g = ("CelebDF", "FCelebDF").index(r["dataset"]) * 3 + ("aws", "azure", "naver").index(
            r["vendor"]
        )
        m = METRICS.index(r["metric"])
        assert r["n"] == den[m, g]
        if r["n"] == 0:
            assert r["value"] is None and r["ci_low"] is None and r["ci_high"] is None
        else:
            assert r["value"] == pytest.approx(100.0 * num[m, g] / den[m, g])
            assert 0.0 <= r["ci_low"] <= r["value"] <= r["ci_high"] <= 100.0


def test_write_metrics_json_contract(tmp_path):
    rows = [
        {
            "dataset": "D",
            "vendor": "naver",
            "metric": "DHS",
            "value": None,
            "ci_low": None,
            "ci_high": None,
            "n": 0,
        }
    ]
    path = tmp_path / "metrics.json"
    write_metrics_json(path, rows, beta=90, gamma=80, simulated=True)
    data = json.loads(path.read_text())
    assert data == {"beta": 90.0, "gamma": 80.0, "simulated": True, "rows": rows}
    assert "null" in path.read_text() and not list(tmp_path.glob("*.tmp"))
