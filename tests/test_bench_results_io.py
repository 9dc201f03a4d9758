"""The results_io benchmark's parts (not its timings: benchmarks are not tests): the
generated files are valid results files of the promised shape, the counts cross-checks
catch a difference, the peak RSS is the command's own, and the harness says when a GPU
part was skipped."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from benchmarks import bench_results_io as bench
from benchmarks.harness import summary
from benchmarks.pandas_reference import counts
from benchmarks.results_files import main, make_stress_results, make_study_results, study_base
from dicore.formats.results import read_results_file


@pytest.fixture(scope="module")
def base():
    return study_base()


def test_study_file_is_the_study_replicated_with_unique_items(tmp_path, base):
    n = 2 * base.num_rows + 1000  # two copies and the start of a third
    path = tmp_path / "study.parquet"
    assert make_study_results(path, n, base) == n
    t = pq.read_table(path)
    assert t.num_rows == n
    keys = set(zip(t["vendor"].to_pylist(), t["item_id"].to_pylist(), strict=True))
    assert len(keys) == n  # every (vendor, item) once
    real_share = 1 - np.mean(t["is_fake"].to_numpy())
    assert 0.06 < real_share < 0.09  # the study's 7.2%, not the stress file's 50%
    obs, _ = read_results_file(path)  # valid: every fake pairs with a real of its copy
    assert len(obs.is_fake) == n


def test_study_copies_double_the_counts(tmp_path, base):
    one, two = tmp_path / "one.parquet", tmp_path / "two.parquet"
    make_study_results(one, base.num_rows, base)
    make_study_results(two, 2 * base.num_rows, base)
    c1, c2 = counts(str(one)), counts(str(two))
    assert c1.keys() == c2.keys()
    for k, (num, n) in c1.items():
        if k.endswith("|SIC"):  # the same identities in every copy
            assert c2[k] == [num, n]
        else:
            assert c2[k] == [2 * num, 2 * n]


def test_stress_file_is_half_real(tmp_path):
    path = tmp_path / "stress.parquet"
    rows = make_stress_results(path, 6000)
    t = pq.read_table(path)
    assert rows == t.num_rows == 6000
    assert np.mean(t["is_fake"].to_numpy()) == 0.5
    read_results_file(path)


def test_results_files_cli_usage(capsys):
    assert main(["nope", "10", "x.parquet"]) == 2
    assert "usage" in capsys.readouterr().err


def test_cross_checks_catch_a_different_count(tmp_path):
    ref = {"D|aws|DHC": [3, 10], "D|aws|DHS": [1, 4], "D|aws|TA": [2, 10]}
    metrics = {"rows": [
        {"dataset": "D", "vendor": "aws", "metric": "DHC", "value": 30.0, "n": 10},
        {"dataset": "D", "vendor": "aws", "metric": "DHS", "value": 25.0, "n": 4},
        {"dataset": "D", "vendor": "aws", "metric": "TA", "value": 20.0, "n": 10},
        {"dataset": "D", "vendor": "aws", "metric": "FMR", "value": 1.0, "n": 100},
    ]}
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps(metrics))
    assert bench.metrics_agree(path, ref)
    metrics["rows"][2]["value"] = 30.0
    path.write_text(json.dumps(metrics))
    assert not bench.metrics_agree(path, ref)

    sweeps = {"sweeps": [
        {"dataset": "D", "vendor": "aws", "metric": "DHC", "thresholds": [80.0, 90.0],
         "values": [50.0, 30.0], "n": 10},
        {"dataset": "D", "vendor": "aws", "metric": "DHS", "thresholds": [80.0, 90.0],
         "values": [25.0, 0.0], "n": 4},
    ]}
    path.write_text(json.dumps(sweeps))
    assert bench.sweep_agrees(path, ref)
    sweeps["sweeps"][0]["values"] = [30.0, 50.0]  # DHC read at the wrong threshold
    path.write_text(json.dumps(sweeps))
    assert not bench.sweep_agrees(path, ref)


def test_timed_reports_the_commands_own_peak_rss():
    r = bench._timed(["-c", "b = b'x' * (200 * 2**20); print(len(b))"])
    assert r["out"].strip() == str(200 * 2**20)
    assert 200 <= r["rss_mb"] < 400
    small = bench._timed(["-c", "print(1)"])
    assert small["rss_mb"] < 100  # not the benchmark's process, not the previous child's


def test_timed_records_a_failure_instead_of_raising():
    r = bench._timed(["-c", "import sys; sys.exit('bad input')"])
    assert "error" in r and "bad input" in r["error"]


def test_summary_says_a_gpu_part_was_skipped():
    result = {"name": "kernel", "status": "ok", "wall_s": 1.0, "targets": {},
              "figures": {"gpu_skipped": "no GPU: the jax backend is cpu here"}}
    assert "GPU part skipped: no GPU" in summary([result])


def test_gpu_run_on_cpu_says_so():
    import jax

    if jax.default_backend() != "cpu":
        pytest.skip("an accelerator is present")
    out = bench.run(quick=True, gpu=True)
    assert "no GPU" in out["figures"]["gpu_skipped"]


def _fake_measurements(prefix, times, mbs, rows):
    res = {}
    for n in times:
        figures = {f"{prefix}_{bench._tag(n)}_rows": rows[n]}
        for cmd in bench.COMMANDS:
            for phase in bench.PHASES:
                key = f"{prefix}_{bench._tag(n)}_{cmd}_{phase}"
                figures.update({f"{key}_s": times[n], f"{key}_peak_rss_mb": mbs[n]})
        ratios = {f"{prefix}_{bench._tag(n)}_metrics_{p}_{w}": v for p in bench.PHASES
                  for w, v in (("speed_vs_pandas", 3.5), ("memory_vs_pandas", 0.6))}
        res[n] = {"figures": figures, "ratios": ratios, "checks": {"x": True}}
    return res


@pytest.mark.parametrize("sizes", [[10**5, 10**6, 10**7], [10**6, 10**7]])
def test_goals_from_the_measurements(sizes):
    times = {10**5: 2.0, 10**6: 10.0, 10**7: 120.0}  # 12x for 10x the rows: super-linear
    mbs = {10**5: 300.0, 10**6: 800.0, 10**7: 1600.0}
    rows = {10**5: 10**5, 10**6: 10**6, 10**7: 10**7}
    res = _fake_measurements("study", {n: times[n] for n in sizes}, mbs, rows)
    targets, ratios, figures = {}, {}, {}
    bench._goals("study", sizes, res, targets, ratios, figures)
    assert targets["study_1e6_metrics_warm_>=3x_faster_than_pandas"]["met"]
    assert not targets["study_1e6_metrics_warm_<=0.5x_pandas_peak_rss"]["met"]
    assert not targets["study_1e7_sweep_cold_peak_rss_<=1536MB"]["met"]
    growth = targets["study_1e7_sweep_cold_time_at_most_linear"]
    assert growth["ratio"] == pytest.approx(1.2) and not growth["met"]
    assert ratios["study_sweep_cold_time_1e7_over_1e6"] == pytest.approx(12.0)
    marginal = figures.get("study_sweep_cold_marginal_growth_1e7_vs_1e6")
    if 10**5 in sizes:
        assert marginal == pytest.approx((118 / 8) / (9.9e6 / 9e5))
    else:
        assert marginal is None


def test_a_failed_run_misses_its_goals():
    sizes = [10**6, 10**7]
    res = _fake_measurements("stress", {10**6: 10.0, 10**7: 90.0}, {10**6: 500.0, 10**7: 900.0},
                             {10**6: 10**6, 10**7: 10**7})
    for k in [k for k in res[10**7]["figures"] if "_sweep_warm_" in k]:
        del res[10**7]["figures"][k]
    targets = {}
    bench._goals("stress", sizes, res, targets, {}, {})
    assert targets["stress_1e7_metrics_warm_peak_rss_<=1536MB"]["met"]
    assert targets["stress_1e7_metrics_warm_time_at_most_linear"]["met"]
    assert not targets["stress_1e7_sweep_warm_peak_rss_<=1536MB"]["met"]
    assert not targets["stress_1e7_sweep_warm_time_at_most_linear"]["met"]
