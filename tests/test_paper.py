"""The packaged copy of the paper's numbers (dicore.paper)."""

import math

from dicore import PAPER_VENDOR_NAMES, VENDORS, paper


def test_table1_counts_and_the_printed_total():
    rows = paper.table1()
    assert [r.dataset for r in rows] == list(paper.DATASETS[:1]) + [
        "FCelebDF", "VoxCelebTH", "CelebFOM", "CelebBlend"]
    for r in rows:
        assert r.images_tested == r.real + r.fake, r.dataset
    assert sum(r.real for r in rows) == 1260
    assert sum(r.fake for r in rows) == 16194
    total = paper.table1(include_total=True)[-1]
    assert total.dataset == "Total"
    # The printed fake total is 45 more than the column's sum (see paper/README.md).
    assert total.fake - sum(r.fake for r in rows) == 45
    assert paper.dataset_sizes()["CelebBlend"].videos is None


def test_table2_shape_and_vendor_ids():
    rows = paper.table2()
    assert len(rows) == 108
    assert {r.vendor for r in rows} == set(VENDORS)
    assert {r.attack for r in rows} == {"TA", "NA"}
    for r in rows:
        assert 0 <= r.asr_after <= r.asr_before <= 100
        assert 80 <= r.detector_acc < 100
        assert float(r.after_text) == r.asr_after


def test_asr_before_grid_is_the_full_30_cell_grid():
    grid = paper.asr_before_grid()
    assert len(grid) == 30
    assert {k[0] for k in grid} == set(paper.DATASETS)
    assert grid[("VoxCelebTH", "azure", "TA")] == 78.0
    assert grid[("VoxCelebTH", "aws", "TA")] == 68.7
    assert grid[("CelebBlend", "naver", "NA")] == 99.9
    assert all(0 <= value <= 100 for value in grid.values())
    # TA <= NA in every cell (a targeted success is also a non-targeted one).
    for d in paper.DATASETS:
        for v in VENDORS:
            assert grid[(d, v, "TA")] <= grid[(d, v, "NA")]


def test_text_figures_agree_with_the_grid_where_exact():
    grid = paper.asr_before_grid()
    names = {p: v for v, p in PAPER_VENDOR_NAMES.items()}
    metric = {"targeted_asr": "TA", "nontargeted_asr": "NA"}
    checked = 0
    for r in paper.text_figures():
        key = (r["dataset"], names.get(r["api"]), metric.get(r["metric"]))
        if r["value_kind"] == "exact" and key in grid:
            # FCelebDF AWS NA: the text says 34.3, Table 2 34.4 (known 0.1 disagreement).
            assert abs(float(r["value"]) - grid[key]) <= 0.1 + 1e-9, r["sentence"]
            checked += 1
    assert checked >= 6


def test_pricing_tiers_are_contiguous_and_start_at_one_dollar():
    p = paper.pricing()
    assert p["currency"] == "USD"
    for vendor in VENDORS:
        tiers = p["tiers"][vendor]
        assert tiers[0] == (0, 1_000_000, 1.0)
        assert tiers[-1][1] is None
        for a, b in zip(tiers, tiers[1:], strict=False):
            assert a[1] == b[0] and a[2] > b[2], vendor
    assert p["azure_free"] == {"free_tx_per_month": 30000, "tps": 0.3}
    assert p["azure_standard_tps"] == 10.0
    assert [t[2] for t in p["tiers"]["naver"]] == [1.0, 0.5, 0.3]


def test_reporting_policy_and_thresholds():
    pol = paper.reporting_policy()
    assert pol["aws"]["min_reported_confidence"] == 55
    assert pol["azure"]["min_reported_confidence"] == 70
    assert pol["naver"]["always_reports"] and math.isclose(
        pol["naver"]["min_reported_confidence"], 0.01)
    assert paper.thresholds() == {"beta": 90.0, "gamma": 80.0}
