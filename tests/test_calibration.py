"""The calibration: the paper's 30 TA/NA cells, the reporting-policy facts, the command."""

import argparse
import json

import numpy as np
import pytest

from dicore.commands import calibrate as cmd
from dicore.errors import UserError
from simulators import calibration, cohort, targets
from simulators.policies import DATASETS, load_params


def test_paper_grid_has_30_cells():
    cells = calibration.paper_cells()
    assert len(cells) == 30
    assert cells["VoxCelebTH", "azure", "TA"] == 78.0 and cells["FCelebDF", "naver", "NA"] == 98.6


def test_parameters_are_parsimonious_with_provenance():
    p = load_params()
    assert set(p["cohort"]["datasets"]) == set(DATASETS)
    assert all(set(v) == {"level", "spread"} for v in p["cohort"]["datasets"].values())
    # who is known: one fame cut per vendor and one fame shift per identity pool (CelebDF's
    # the reference, 0), no count per dataset x vendor pair
    assert p["cohort"]["fame"]["CelebDF"] == 0.0 and len(p["cohort"]["fame"]) == 4
    for v in ("aws", "azure", "naver"):
        assert "coverage" not in p["vendors"][v] and isinstance(p["vendors"][v]["fame_cut"], float)
    # at most 30 fitted parameters, each recorded with its value and meaning, and the table
    # is the one the code fits (continuous parameters plus the integer grids)
    table = p["parameters"]["table"]
    assert p["parameters"]["fitted"] == len(table) <= 30
    assert len(table) == len(calibration.CONTINUOUS) + len(calibration.FAME)
    assert all(r["meaning"] and r["value"] is not None for r in table)
    for par, row in zip(calibration.CONTINUOUS + calibration.FAME, table, strict=True):
        assert row["name"] == par.name and row["value"] == pytest.approx(
            par.get(p), rel=1e-3, abs=1e-3
        )
    prov = p["provenance"]
    assert prov["simulated"] and prov["date"] and prov["command"].startswith("dicore calibrate")
    assert len(p["fit"]["cells"]) == 30
    assert p["fit"]["max_abs_error_pp"] == pytest.approx(
        max(abs(c["difference"]) for c in p["fit"]["cells"]), abs=0.01
    )
    # the fit error per target family on seed 0
    fams = p["fit"]["seed0"]["summary"]
    assert (
        fams["TA/NA"]["of"] == 30
        and fams["Figure 4"]["of"] == 20
        and fams["per-identity"]["of"] == 16
    )
    assert fams["genuine"]["of"] == 3


def test_targets_are_the_papers():
    figs = targets.figures()
    assert len(figs) == 20
    assert {f.metric for f in figs} == {"DHF", "DHC", "DHS", "SIC"}
    assert not any(f.metric == "DHS" and f.vendor == "naver" for f in figs)  # no similarity call
    kinds = {(f.metric, f.vendor, f.dataset, f.kind): f.value for f in figs}
    assert kinds["DHF", "aws", "VoxCelebTH", "exact"] in (28.2, 28.0)
    assert (
        kinds["DHC", "aws", None, "range_min"] == 27.3
        and kinds["SIC", "naver", None, "upper_bound"] == 21.0
    )
    ident = targets.per_identity()
    assert len(ident) == 16
    assert (
        len(ident["CelebDF", "aws", "reference"]) == 58
        and len(ident["VoxCelebTH", "naver", "target"]) == 100
    )
    # the printed averages of Tables 3 and 5 (two known OCR issues move Table 5 by < 1.1)
    assert ident["CelebDF", "aws", "reference"].mean() == pytest.approx(94.3, abs=0.15)
    assert ident["VoxCelebTH", "azure", "reference"].mean() == pytest.approx(80.6, abs=0.15)


def test_wasserstein_and_tolerance():
    assert targets.wasserstein_1([0, 1, 2], [1, 2, 3]) == pytest.approx(1.0)
    assert targets.wasserstein_1([5, 5], [5, 5, 5, 5]) == pytest.approx(0.0)
    assert targets.tolerance(50.0, 10_000) == 5.0  # 2 SE = 1 pp < 5 pp
    assert targets.tolerance(50.0, 20) == pytest.approx(2 * 100 * np.sqrt(0.25 / 20))


@pytest.fixture(scope="module")
def small_eval():
    eng = calibration.Engine("small", (0,))
    return calibration.evaluate(eng, load_params())


def test_evaluation_covers_every_family(small_eval):
    fams = small_eval["summary"]
    assert (fams["TA/NA"]["of"], fams["Figure 4"]["of"], fams["per-identity"]["of"]) == (30, 20, 16)
    assert np.isfinite(fams["per-identity"]["mean_w1_pp"])
    # the objective is a number that grows when the fit is spoiled
    bad = load_params()
    bad["vendors"]["aws"]["confidence_a"] += 3.0
    eng = calibration.Engine("small", (0,))
    assert calibration.objective(calibration.evaluate(eng, bad), bad) > calibration.objective(
        small_eval, load_params()
    )


@pytest.fixture(scope="module")
def small_table():
    return calibration.calibration_table(seeds=(0, 1, 2), scale="small")


def test_small_cohort_reproduces_the_paper_grid_within_8pp(small_table):
    assert len(small_table) == 30
    bad = [r for r in small_table if abs(r["difference"]) > 8.0]
    assert not bad, bad
    assert calibration.summarize(small_table)["mean_abs_error_pp"] < 3.0
    nav_na = [r["simulated"] for r in small_table if r["vendor"] == "naver" and r["metric"] == "NA"]
    assert nav_na == [100.0] * 5  # Naver always reports (the paper: 98.6..99.9; see docs)


def test_fast_engine_agrees_with_full_simulation():
    # the fit's tabulated distractor maxima vs the exact quantiles of the full simulation
    eng = calibration.Engine("small", (0,))
    fast = eng.cells(load_params())
    full = {(r["dataset"], r["vendor"], r["metric"]): r["simulated"]
            for r in calibration.calibration_table(seeds=(0,), scale="small")}  # fmt: skip
    assert max(abs(fast[k] - full[k]) for k in full) < 0.6  # only distractor indices differ


def test_ms_names_fakes_with_high_confidence():
    # paper section 7: MS names deepfakes "with high confidence on all attack datasets (i.e.,
    # greater than 87.25% on average, even in the worst case)"; a consequence of the fit
    eng = calibration.Engine("small", (0, 1))
    worst = 100.0
    for (_s, _d, _v), (_dr, _real, fake, _sim) in eng.results(load_params(), ("azure",)).items():
        conf = fake.confidence[~np.isnan(fake.confidence)]
        worst = min(worst, float(conf.mean()))
    assert worst > 85.0


def test_calibrate_command_check_only(tmp_path):
    parser = argparse.ArgumentParser()
    cmd.add_arguments(parser)
    out = tmp_path / "p.json"
    args = parser.parse_args(
        ["--check-only", "--scale", "small", "--seeds", "1", "--out", str(out)]
    )
    assert cmd.run(args) == 0
    written = json.loads(out.read_text())
    assert written["provenance"]["check"]["seeds"] == [0] and len(written["fit"]["cells"]) == 30
    assert written["parameters"]["fitted"] <= 30 and len(written["fit"]["seed0"]["rows"]) == 69
    with pytest.raises(UserError):
        cmd.run(parser.parse_args(["--seeds", "0"]))
    with pytest.raises(UserError):
        cmd.run(parser.parse_args(["--check-only", "--params", str(tmp_path / "missing.json")]))
    assert cmd.NAME == "calibrate" and "Examples" in cmd.__doc__


def test_similarity_centres_keep_real_photos_right():
    p = load_params()
    assert 0.0 <= p["cohort"]["pair_context"] <= 1.0
    for v in ("aws", "azure"):
        lo, hi = calibration.similarity_b_bounds(p["vendors"][v]["similarity_k"], v)
        assert lo <= p["vendors"][v]["similarity_b"] <= hi


def test_fit_keeps_the_facts_it_is_constrained_to(small_eval):
    # real photos (issue item 5): a known celebrity's median real image at >= 90%, a
    # different person under the floor (Naver: under 50%); MS's named fakes above 87.25% on
    # average (paper section 7) is a soft constraint: checked at paper scale in the slow test
    from simulators.policies import POLICIES

    bad = calibration.constraint_violations(small_eval, load_params())
    assert all(bad[k] == 0.0 for k in bad if k.startswith(("photo", "similarity"))), bad
    for v, pol in POLICIES.items():
        assert pol.confidence(calibration.PHOTO_COS) >= 90.0
        assert pol.confidence(calibration.OTHER_PERSON_COS) < calibration.OTHER_PERSON_CONFIDENCE[v]
    # the constraints bite: a flat Naver breaks the photo one
    flat = load_params()
    flat["vendors"]["naver"]["confidence_k"] = 1.0
    assert calibration.constraint_violations(small_eval, flat)["photo naver"] > 0


@pytest.mark.slow
def test_paper_scale_grid_within_tolerance_over_seeds():
    # issue 9: the 10-seed mean max TA/NA error <= 4.5 pp (4.31 with the packaged fit)
    rows = calibration.calibration_table(seeds=tuple(range(10)), scale="paper")
    assert calibration.summarize(rows)["max_abs_error_pp"] <= 4.5


@pytest.mark.slow
def test_paper_scale_seed0_targets():
    ev = targets.evaluate(calibration.full_stats(load_params(), (0,), "paper"))
    stored = load_params()["fit"]["seed0"]["summary"]
    for fam in ("TA/NA", "Figure 4", "per-identity", "genuine"):
        assert ev["summary"][fam]["met"] == stored[fam]["met"], fam  # calibrated.json is the truth
    # issue item 4 on the study's own simulation: genuine recognition lost from the floor to
    # 99 is measurable (>= 3 SE) for every vendor, pooled over seeds 0-2 (Naver knows few
    # celebrities: about 11 genuine recognitions per seed)
    pooled = targets.evaluate(calibration.full_stats(load_params(), (0, 1, 2), "paper"))
    for v, g in pooled["summary"]["genuine_drop"].items():
        assert g["lost"] >= 3 * g["se"], (v, g)


@pytest.mark.slow
def test_packaged_fit_table_is_what_the_parameters_give():
    p = load_params()
    seeds = tuple(p["provenance"]["check"]["seeds"])
    rows = calibration.calibration_table(p, seeds, p["provenance"]["check"]["scale"])
    stored = {(c["dataset"], c["vendor"], c["metric"]): c["simulated"] for c in p["fit"]["cells"]}
    for r in rows:
        assert r["simulated"] == pytest.approx(
            stored[r["dataset"], r["vendor"], r["metric"]], abs=0.01
        )


@pytest.mark.slow
def test_paper_scale_cohort_results_complete():
    cols = cohort.simulate_cohort_results(scale="paper", seed=0)
    assert len(cols["vendor"]) == 3 * (16194 + 1260)
    assert np.all(cols["predicted"][cols["vendor"] == "naver"] != "")


@pytest.mark.parametrize("name", [p.name for p in calibration.FAME])
def test_fame_search_visits_every_set_of_known_counts(name):
    # the fame parameters move the loss only where a known count changes: the search's
    # candidates give every distinct set of counts in its window once (checked on a fine grid)
    par = next(p for p in calibration.FAME if p.name == name)
    params = load_params()

    def counts(x):
        p = json.loads(json.dumps(params))
        par.set(p, x)
        pols = calibration.build_policies(p)
        return tuple(pol.n_known(pool, n) for pol in pols.values()
                     for pool, n in calibration.POOL_SIZE.items())  # fmt: skip

    x0 = par.get(params)
    cand = calibration.fame_candidates(par, params)
    got = [counts(x) for x in cand if x != x0]
    assert len(set(got)) == len(got)  # each once
    w = calibration.FAME_WINDOW
    grid = np.linspace(max(x0 - w, par.bounds[0]) + 1e-6, min(x0 + w, par.bounds[1]) - 1e-6, 3001)
    assert {counts(x) for x in grid} <= set(got) | {counts(x0)}
