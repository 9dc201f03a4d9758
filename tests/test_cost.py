"""API cost (dicore.core.cost, `dicore cost`) against hand-computed numbers and a NumPy reference."""

import argparse
import csv
import datetime as dt
import json
import math

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dicore import paper
from dicore.commands import cost as cost_cmd
from dicore.core import cost
from dicore.errors import UserError

PRICING = paper.pricing()
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
TPS = {"aws": 10.0, "azure": 10.0, "naver": 10.0}
SOURCE = {"aws": "assumed", "azure": "paper", "naver": "assumed"}


def ref_cost(n, lower, upper, price):
    """Graduated tiers, one band at a time."""
    total = 0.0
    for lo, hi, p in zip(lower, upper, price, strict=True):
        total += max(0.0, min(n, hi) - lo) * p / 1000.0
    return total


# Hand-computed from paper section 5.2 (graduated).
HAND = [
    ("aws", 0, 0.0),
    ("aws", 1_000, 1.0),
    ("aws", 1_000_000, 1000.0),
    ("aws", 2_000_000, 1000.0 + 800.0),
    ("aws", 20_000_000, 1000.0 + 9_000 * 0.8 + 10_000 * 0.6),  # 14,200
    ("aws", 150_000_000, 1000.0 + 7200.0 + 90_000 * 0.6 + 50_000 * 0.4),  # 82,200
    ("azure", 6_000_000, 1000.0 + 4_000 * 0.8 + 1_000 * 0.6),  # 4,800
    ("azure", 100_000_000, 1000.0 + 3200.0 + 95_000 * 0.6),  # 61,200
    ("naver", 150_000_000, 1000.0 + 99_000 * 0.5 + 50_000 * 0.3),  # 65,500
    ("naver", 17_454, 17.454),
]


@pytest.mark.parametrize("vendor,calls,usd", HAND)
def test_hand_computed_costs(vendor, calls, usd):
    assert math.isclose(cost.vendor_cost(calls, vendor, pricing=PRICING), usd, rel_tol=1e-12, abs_tol=1e-9)


def test_graduated_not_all_units():
    # All-units pricing would make 1,000,001 calls cheaper than 1,000,000.
    for v in ("aws", "azure", "naver"):
        a, b = cost.vendor_cost(1_000_000, v, pricing=PRICING), cost.vendor_cost(1_000_001, v, pricing=PRICING)
        assert b > a and math.isclose(b - a, cost.tier_arrays(v, pricing=PRICING)[2][1] / 1000.0)


def _tiered(n, lower, upper, price):
    return cost.tiered_cost(n, lower=lower, upper=upper, usd_per_1000=price)


_tiered_jit = jax.jit(_tiered)


@settings(max_examples=40)
@given(st.sampled_from(["aws", "azure", "naver"]),
       st.lists(st.integers(0, 300_000_000), min_size=8, max_size=8))
def test_tiered_cost_matches_numpy_eager_and_jit(vendor, calls):
    # A fixed length: one compilation per vendor, not one per list length.
    lower, upper, price = cost.tier_arrays(vendor, pricing=PRICING)
    want = np.array([ref_cost(n, lower, upper, price) for n in calls])
    args = (np.array(calls), lower, upper, price)
    for got in (_tiered(*args), _tiered_jit(*args)):
        # float32: relative error only (10^8 calls do not fit 24 bits exactly).
        np.testing.assert_allclose(np.asarray(got), want, rtol=2e-6, atol=1e-3)
    assert np.all(np.diff(want[np.argsort(calls)]) >= 0)  # more calls never cost less
    assert [cost.vendor_cost(n, vendor, pricing=PRICING) for n in calls] == pytest.approx(want.tolist())


def test_tiered_cost_shape_check():
    with pytest.raises(ValueError, match=r"\(K,\)"):
        cost.tiered_cost(5, lower=np.zeros(2), upper=np.ones(3), usd_per_1000=np.ones(2))


def test_paper_scale_study():
    calls = cost.study_calls(17454, 16239)
    assert calls == {"aws": (17454, 16239), "azure": (17454, 16239), "naver": (17454, 0)}
    rows = {r.vendor: r for r in cost.study_cost(calls, pricing=PRICING, tps=TPS, start=START,
                                                 tps_source=SOURCE)}
    assert rows["aws"].usd == pytest.approx(33.693)
    assert rows["naver"].usd == pytest.approx(17.454)
    assert rows["azure"].seconds == pytest.approx(33693 / 10.0)
    assert rows["azure"].tps_source == "paper" and rows["aws"].tps_source == "assumed"
    total = cost.total_row(list(rows.values()))
    assert total["usd"] == pytest.approx(33.693 * 2 + 17.454)
    assert total["seconds"] == pytest.approx(3369.3)

    free = {r.vendor: r for r in cost.study_cost(calls, tier="free", pricing=PRICING, start=START,
                                                 tps={**TPS, "azure": 0.3}, tps_source=SOURCE)}
    assert free["azure"].usd == 0.0 and free["azure"].tier == "free"
    assert free["azure"].months == 2  # 33,693 calls > 30,000 a month
    assert free["azure"].seconds == pytest.approx(33693 / 0.3)
    assert free["aws"].usd == rows["aws"].usd  # the free tier is Azure's only


def test_tps_override_and_errors():
    rows = cost.study_cost({"aws": (100, 0)}, tps={"aws": 4}, pricing=PRICING, start=START)
    assert rows[0].seconds == 25 and rows[0].tps_source == "given"
    with pytest.raises(ValueError):
        cost.study_calls(10, 11)
    with pytest.raises(ValueError):
        cost.vendor_cost(-1, "aws", pricing=PRICING)
    assert cost.format_duration(30) == "30.0 s"
    assert cost.format_duration(3 * 3600 + 5 * 60) == "3 h 05 min"


def _parse(argv):
    p = argparse.ArgumentParser()
    cost_cmd.add_arguments(p)
    return p.parse_args(argv)


def test_cost_command_calls(capsys, tmp_path):
    out = tmp_path / "cost.json"
    assert cost_cmd.run(_parse(["--calls", "2000000", "--json", str(out),
                                "--start", "2026-01-01"])) == 0
    text = capsys.readouterr().out
    assert "total" in text and "1,800.00" in text and "1,500.00" in text
    data = json.loads(out.read_text())
    assert data["total"]["usd"] == pytest.approx(1800 + 1800 + 1500)


def test_cost_command_from_results(tmp_path, capsys):
    path = tmp_path / "results.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["vendor", "is_fake"])
        for v in ("aws", "naver"):
            w.writerows([[v, "true"]] * 3 + [[v, "false"]] * 2)
    out = tmp_path / "c.json"
    assert cost_cmd.run(_parse(["--results", str(path), "--json", str(out)])) == 0
    rows = {r["vendor"]: r for r in json.loads(out.read_text())["rows"]}
    assert rows["aws"]["total_calls"] == 5 + 3  # 5 images + 3 similarity calls
    assert rows["naver"]["total_calls"] == 5  # no similarity API


def test_cost_command_errors(tmp_path):
    with pytest.raises(UserError):
        cost_cmd.run(_parse(["--calls", "5", "--fakes", "6"]))
    with pytest.raises(UserError):
        cost_cmd.run(_parse(["--calls", "5", "--tps", "aws=fast"]))
    with pytest.raises(UserError, match="not found"):
        cost_cmd.run(_parse(["--results", str(tmp_path / "nope.csv")]))


def test_month_split_follows_the_calendar():
    # 10 TPS from Jan 1: 31 days of January, then February's 28, ...
    split = cost.month_split(60_000_000, 10.0, START)
    assert split[:2] == [31 * 86400 * 10, 28 * 86400 * 10] and sum(split) == 60_000_000
    mid = dt.datetime(2026, 1, 31, 12, tzinfo=dt.UTC)
    assert cost.month_split(1_000_000, 10.0, mid) == [432_000, 568_000]
    assert cost.month_split(5, math.inf, START) == [5]
    assert cost.month_split(0, 1.0, START) == [0]


def test_long_run_is_billed_per_calendar_month():
    """200M AWS calls at 10 TPS take 231 days: they were billed as one month's tiers."""
    rows = cost.study_cost({"aws": (200_000_000, 0)}, pricing=PRICING, tps={"aws": 10.0},
                           start=START)
    split = cost.month_split(200_000_000, 10.0, START)
    lower, upper, price = cost.tier_arrays("aws", pricing=PRICING)
    want = sum(ref_cost(n, lower, upper, price) for n in split)
    assert rows[0].months == len(split) == 8 and rows[0].usd == pytest.approx(want, rel=1e-12)
    one_month = cost.vendor_cost(200_000_000, "aws", pricing=PRICING)
    assert rows[0].usd > one_month + 10_000  # each month restarts at $1.00 / 1000


def test_cost_command_uses_the_runners_rates(capsys):
    """One source of rates: `dicore cost` defaults to what the runner paces at."""
    from dicore.ratelimit import LIVE_TPS

    out = cost_cmd.run(_parse(["--calls", "1000", "--vendors", "aws", "--start", "2026-01-01"]))
    assert out == 0
    text = capsys.readouterr().out
    assert f"{1000 / LIVE_TPS['aws'] / 60:.1f} min" in text
