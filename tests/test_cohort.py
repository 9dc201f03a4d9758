"""The synthetic cohort: sizes (Table 1), ArcFace-like statistics, attacks, results rows."""

import csv
import re
from importlib import resources

import numpy as np
import pytest

from simulators import cohort
from simulators.policies import DATASETS, POLICIES, load_params
from simulators.simulate import decide, recognize


def table1():
    text = resources.files("dicore").joinpath("data", "paper", "table1_datasets.csv").read_text()
    return {r["dataset"]: r for r in csv.DictReader(text.splitlines()) if r["dataset"] in DATASETS}


def test_paper_scale_sizes_match_table1_without_generating():
    t1 = table1()
    for d in DATASETS:
        sp = cohort.spec(d, "paper")
        assert (sp.n_identities, sp.n_real, sp.n_fake) == tuple(
            int(t1[d][k]) for k in ("celebrities", "real", "fake")
        )
    methods = {d: cohort.spec(d).method for d in DATASETS}
    assert methods == {"CelebDF": "replacement", "FCelebDF": "replacement",
                       "VoxCelebTH": "reenactment", "CelebFOM": "reenactment",
                       "CelebBlend": "synthesis"}  # fmt: skip
    assert cohort.spec("CelebFOM").pool == "CelebDF"  # the same 58 people


def test_small_scale_keeps_identities_fewer_images():
    for d in DATASETS:
        big, small = cohort.spec(d, "paper"), cohort.spec(d, "small")
        assert small.n_identities == big.n_identities
        assert big.n_identities <= small.n_real <= big.n_real
        assert small.n_fake <= big.n_fake and (small.n_fake <= big.n_fake // 5 or big.n_fake <= 200)
    with pytest.raises(ValueError):
        cohort.spec("CelebDF", "huge")


@pytest.fixture(scope="module")
def celebdf():
    return cohort.draw("CelebDF", "small", seed=0, keep_vectors=True)


def test_arcface_like_statistics():
    dr = cohort.draw("CelebFOM", "paper", seed=0, keep_vectors=True)  # several reals per person
    reals = dr.vectors["reals"]
    np.testing.assert_allclose(np.linalg.norm(reals, axis=1), 1.0, atol=1e-5)
    cos = reals @ reals.T
    same = dr.real_identity[:, None] == dr.real_identity[None, :]
    off = ~np.eye(len(reals), dtype=bool)
    s = cos[same & off]
    assert np.quantile(s, 0.005) >= 0.5 and s.max() <= 0.76 and 0.6 < s.mean() < 0.68
    diff = cos[~same]
    assert abs(diff.mean()) < 0.01 and diff.std() < 0.08 and np.abs(diff).max() < 0.33


@pytest.mark.parametrize("name", DATASETS)
def test_fakes_follow_their_attack_family(name):
    dr = cohort.draw(name, "small", seed=1, keep_vectors=True)
    dp = load_params()["cohort"]["datasets"][name]
    fakes = cohort.fake_vectors(dr, dp["level"], dp["spread"])
    np.testing.assert_allclose(np.linalg.norm(fakes, axis=1), 1.0, atol=1e-6)
    centres = dr.vectors["centres"]
    # the projections the fit recombines are the materialised vectors' cosines
    coef = cohort.fake_coefficients(dr, dp["level"], dp["spread"])
    np.testing.assert_allclose(np.einsum("kn,kng->ng", coef, dr.p), fakes @ centres.T, atol=1e-5)
    to_target = np.einsum("nd,nd->n", fakes, centres[dr.fake_target])
    to_ref = np.einsum("nd,nd->n", fakes, centres[dr.fake_reference])
    assert to_target.max() <= cohort.CAP + 1e-9  # never closer than a real image gets
    assert dr.spec.pool in dr.identities[0]
    assert np.all(dr.fake_target != dr.fake_reference)
    assert np.all(dr.real_identity[dr.fake_real] == dr.fake_target)  # paired real: same person
    if dr.spec.method == "synthesis":
        # a blend is close to both of its sources
        assert np.median(to_ref) > 0.3 * np.median(to_target)
    else:
        assert np.median(to_target) == pytest.approx(dp["level"], abs=0.03)
        lk = cohort.LEAKAGE[dr.spec.method]
        assert np.median(to_ref) == pytest.approx(lk, abs=0.02)


def test_draws_reproducible_by_seed():
    a = cohort.draw("CelebBlend", "small", seed=7)
    b = cohort.draw("CelebBlend", "small", seed=7)
    c = cohort.draw("CelebBlend", "small", seed=8)
    assert np.array_equal(a.p, b.p) and np.array_equal(a.fake_target, b.fake_target)
    assert not np.array_equal(a.p, c.p)
    # CelebFOM reuses CelebDF's identities (centres) within a seed
    x = cohort.draw("CelebDF", "small", 3, keep_vectors=True)
    y = cohort.draw("CelebFOM", "small", 3, keep_vectors=True)
    assert np.array_equal(x.vectors["centres"], y.vectors["centres"]) and x.identities == y.identities


def test_cohort_path_equals_recognize_on_vectors(celebdf):
    # without distractors, the projection path and the vector path give the same answers
    dr = celebdf
    dp = load_params()["cohort"]["datasets"]["CelebDF"]
    fakes = cohort.fake_vectors(dr, dp["level"], dp["spread"])
    coef = cohort.fake_coefficients(dr, dp["level"], dp["spread"])
    for pol in POLICIES.values():
        known = cohort.known_mask(pol, dr.spec, 0)
        n = len(fakes)
        a = decide(pol, np.einsum("kn,kng->ng", coef, dr.p), known, np.full(n, -np.inf), np.zeros(n, int))
        b = recognize(pol, gallery=dr.vectors["centres"], known=known, distractors=np.zeros((0, 512)), queries=fakes)
        assert np.array_equal(a.index, b.index)


COLUMNS = ("vendor, backend, dataset, method, item_id, is_fake, real_item_id, target, "
           "reference, predicted, confidence, similarity").split(", ")  # fmt: skip


@pytest.fixture(scope="module")
def results():
    return cohort.simulate_cohort_results(scale="small", seed=0)


def test_results_contract(results):
    assert list(results) == COLUMNS
    n = len(results["vendor"])
    assert all(len(v) == n for v in results.values())
    expected = sum(cohort.spec(d, "small").n_real + cohort.spec(d, "small").n_fake for d in DATASETS)
    assert n == 3 * expected
    assert set(results["backend"]) == {"sim"}
    assert set(results["method"]) == {"replacement", "reenactment", "synthesis", "real"}
    named = results["predicted"] != ""
    assert np.array_equal(named, ~np.isnan(results["confidence"]))
    assert np.all(np.isin(results["predicted"][~named], [""]))
    fake = results["is_fake"]
    assert np.all(results["real_item_id"][~fake] == "") and np.all(results["real_item_id"][fake] != "")
    assert np.all(np.isnan(results["similarity"][~fake]))
    nav = results["vendor"] == "naver"
    assert np.all(named[nav]) and np.all(np.isnan(results["similarity"][nav]))
    assert np.all(~np.isnan(results["similarity"][fake & ~nav]))
    pat = re.compile(r"^(\w+-id\d{2,}|Simulated Celebrity (AWS|MS|NAV)-\d{4,})$")
    assert all(pat.match(p) for p in results["predicted"][named])
    for v, floor in (("aws", 55), ("azure", 70)):
        m = (results["vendor"] == v) & named
        assert results["confidence"][m].min() >= floor - 1e-9
    # a fake's paired real item shows the same target
    rows = {(v, i): t for v, i, t in zip(results["vendor"], results["item_id"], results["target"], strict=True)}
    for v, r, t in zip(results["vendor"][fake], results["real_item_id"][fake], results["target"][fake], strict=True):
        assert rows[v, r] == t


def test_results_reproducible(results):
    again = cohort.simulate_cohort_results(scale="small", seed=0, datasets=("CelebBlend",))
    other = cohort.simulate_cohort_results(scale="small", seed=1, datasets=("CelebBlend",))
    mask = results["dataset"] == "CelebBlend"
    assert np.array_equal(again["predicted"], results["predicted"][mask])
    assert not np.array_equal(other["predicted"], again["predicted"])
    rows = cohort.as_rows(again)
    assert len(rows) == len(again["vendor"]) and list(rows[0]) == COLUMNS


@pytest.mark.parametrize("name", ["CelebDF", "CelebBlend"])
def test_pair_context_moves_only_the_paired_real(name):
    # pair_context mixes the paired real's non-identity direction into the fake's rest: the
    # fake-to-centre cosines keep their law (exactly, to the target and reference), only the
    # cosine to the paired real image rises
    dr = cohort.draw(name, "small", seed=2, keep_vectors=True)
    dp = load_params()["cohort"]["datasets"][name]
    centres, reals = dr.vectors["centres"], dr.vectors["reals"]
    basis = dr.vectors["basis"]
    gram = np.einsum("knd,jnd->nkj", basis, basis)
    np.testing.assert_allclose(gram, np.broadcast_to(np.eye(4), gram.shape), atol=1e-5)
    pair_means, spreads = [], []
    for c in (0.0, 0.24, 1.0):
        fakes = cohort.fake_vectors(dr, dp["level"], dp["spread"], c)
        np.testing.assert_allclose(np.linalg.norm(fakes, axis=1), 1.0, atol=1e-5)
        cos = fakes @ centres.T
        coef = cohort.fake_coefficients(dr, dp["level"], dp["spread"], c)
        np.testing.assert_allclose(np.einsum("kn,kng->ng", coef, dr.p), cos, atol=1e-5)
        pair = np.einsum("nd,nd->n", fakes, reals[dr.fake_real])
        np.testing.assert_allclose(np.einsum("kn,kn->n", coef, dr.r), pair, atol=1e-5)
        rows = np.arange(len(fakes))
        if c == 0.0:
            t_ref, r_ref = cos[rows, dr.fake_target], cos[rows, dr.fake_reference]
        np.testing.assert_allclose(cos[rows, dr.fake_target], t_ref, atol=1e-5)
        np.testing.assert_allclose(cos[rows, dr.fake_reference], r_ref, atol=1e-5)
        others = np.ones_like(cos, bool)
        others[rows, dr.fake_target] = others[rows, dr.fake_reference] = False
        spreads.append(float(cos[others].std()))
        assert abs(float(cos[others].mean())) < 0.005
        pair_means.append(float(pair.mean()))
    assert max(spreads) / min(spreads) < 1.05  # same law to every other identity
    assert pair_means[0] < pair_means[1] < pair_means[2]
    with pytest.raises(ValueError):
        cohort.fake_coefficients(dr, dp["level"], dp["spread"], 1.5)


def dhs(results, dataset, vendor, gamma=80.0):
    """The paper's DHS: of the fakes not named that have a similarity, the share above gamma."""
    m = ((results["dataset"] == dataset) & (results["vendor"] == vendor) & results["is_fake"]
         & (results["predicted"] == "") & ~np.isnan(results["similarity"].astype(float)))  # fmt: skip
    return 100.0 * float(np.mean(results["similarity"][m].astype(float) > gamma))


def test_dhs_near_the_three_published_figures(results):
    # fitted (with every other target) to these figures (paper section 5.4, Fig. 4e): AWS DHS
    # ranges from 30% to 94.4% over the five datasets; MS DHS on CelebFOM is 52.6%. Small
    # scale, one seed (CelebBlend has 18 fakes here): loose.
    aws = [dhs(results, d, "aws") for d in DATASETS]
    assert 12.0 <= min(aws) <= 40.0 and 82.0 <= max(aws) <= 100.0
    assert 40.0 <= dhs(results, "CelebFOM", "azure") <= 65.0
    # AWS has the highest DHS of the two similarity vendors on every dataset
    assert all(dhs(results, d, "aws") >= dhs(results, d, "azure") for d in DATASETS)
