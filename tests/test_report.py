"""The report (dicore.report, `dicore report`): contents, self-containment, SIMULATED labels."""

import argparse
import base64
import csv
import json
import re

import numpy as np
import pytest

from dicore import paper
from dicore.commands import report as report_cmd
from dicore.errors import UserError
from dicore.formats.results import read_results_file
from dicore.formats.sweeps_json import sweeps_from_json, sweeps_to_json
from dicore.report import (
    OperatingPoint,
    ReportInputs,
    SweepCurve,
    TradeoffCurve,
    comparison_rows,
    write_report,
)

VENDORS = ("aws", "azure", "naver")


def _metrics(offset=1.5):
    rows = []
    for (d, v, m), val in paper.asr_before_grid().items():
        x = min(100.0, val + offset)
        rows.append(dict(dataset=d, vendor=v, metric=m, value=x, ci_low=max(0, x - 2),
                         ci_high=min(100, x + 2), n=100))
    for d in paper.DATASETS:
        for v in VENDORS:
            for m in ("DHF", "DHC", "DHS", "SIC"):
                if m == "DHS" and v == "naver":  # no similarity API: n = 0
                    rows.append(dict(dataset=d, vendor=v, metric=m, value=None, ci_low=None,
                                     ci_high=None, n=0))
                else:
                    rows.append(dict(dataset=d, vendor=v, metric=m, value=42.0, ci_low=40.0,
                                     ci_high=44.0, n=50))
    return rows


def _inputs(backend="sim"):
    grid = [float(t) for t in range(0, 101, 5)]
    sweeps = [SweepCurve(d, v, m, grid, [100.0 - t for t in grid]) for d in paper.DATASETS
              for v in VENDORS for m in ("DHC", "DHS") if not (m == "DHS" and v == "naver")]
    tau = [float(t) for t in range(0, 101, 10)]
    trade = [TradeoffCurve(v, tau, [max(0.0, 60 - t / 2) for t in tau],
                           [100 - t / 4 for t in tau],
                           [OperatingPoint("genuine >= 90%", 40.0, 40.0, 90.0)]) for v in VENDORS]
    defence_rows = [dict(dataset="CelebDF", detector="CLRNet", detector_acc=98.2, vendor="aws",
                         attack="TA", asr_before=10.7, asr_after=0.19, real_blocked=None,
                         n_fake=None, source="analytic")]
    return ReportInputs(metrics=_metrics(), sweeps=sweeps, tradeoffs=trade,
                        defence=defence_rows,
                        provenance={"backends": {v: backend for v in VENDORS}, "seed": 7})


def test_comparison_rows_cover_every_ta_na_cell():
    rows = comparison_rows(_metrics(offset=1.5))
    assert len(rows) == 30
    grid = paper.asr_before_grid()
    for r in rows:
        assert r.paper == grid[(r.dataset, r.vendor, r.metric)]
        assert r.difference == pytest.approx(min(100.0, r.paper + 1.5) - r.paper)
    assert [r.dataset for r in rows[:6]] == ["CelebDF"] * 6


def test_inputs_validate():
    with pytest.raises(ValueError, match="unknown metric"):
        ReportInputs(metrics=[dict(dataset="D", vendor="aws", metric="XX", value=1.0)])
    # metrics.json may hold extra rows (e.g. NA_AS_TARGET); the six stay as they are.
    ReportInputs(metrics=[dict(dataset="D", vendor="aws", metric="NA_AS_TARGET", value=1.0)])
    with pytest.raises(ValueError, match="lacks"):
        ReportInputs(metrics=[dict(dataset="D", vendor="aws", metric="TA")])
    with pytest.raises(ValueError, match="thresholds"):
        SweepCurve("D", "aws", "DHC", [1.0, 2.0], [3.0])
    assert _inputs("live").simulated is False and _inputs("sim").simulated is True


def _pngs_in_html(html):
    return re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", html)


def test_write_report_simulated(tmp_path):
    written = write_report(tmp_path, _inputs("sim"))
    assert set(written) == {"figure4.png", "tradeoff.png", "sweeps.png", "report.md",
                            "report.html"}
    for name in ("figure4.png", "tradeoff.png", "sweeps.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (tmp_path / "report.md").read_text()
    html = (tmp_path / "report.html").read_text()
    assert md.count("SIMULATED") >= 3 and html.count("SIMULATED") >= 3
    # Every TA/NA cell of the paper appears in the comparison table.
    for (d, v, m), val in paper.asr_before_grid().items():
        assert re.search(rf"\| {d} \| {v} \([A-Z]+\) \| {m} \| [\d.]+ \| {val:.1f} \| \+1\.5 \|",
                         md) or val + 1.5 > 100, (d, v, m)
    assert "| CelebDF | CLRNet | 98.2 | aws (AWS) | TA | 10.70 | 0.19 |" in md
    assert "seed" in md and "backends" in md
    # Self-contained: three inlined PNGs, no other file referenced.
    images = _pngs_in_html(html)
    assert len(images) == 3
    assert all(base64.b64decode(b)[:4] == b"\x89PNG" for b in images)
    assert not re.search(r"(src|href)=['\"](?!data:|#)", html)  # in-page anchors only


def test_write_report_live_has_no_simulated_label(tmp_path):
    inputs = _inputs("live")
    inputs.sweeps, inputs.tradeoffs = [], []
    written = write_report(tmp_path, inputs)
    assert set(written) == {"figure4.png", "report.md", "report.html"}
    assert "SIMULATED" not in (tmp_path / "report.md").read_text()
    assert "SIMULATED" not in (tmp_path / "report.html").read_text()
    assert "| dataset | vendor | metric | measured | paper |" in (tmp_path / "report.md").read_text()


def test_sweeps_json_round_trip_and_errors():
    inputs = _inputs()
    data = json.loads(json.dumps(sweeps_to_json(inputs.sweeps, inputs.tradeoffs)))
    sweeps, trade = sweeps_from_json(data)
    assert sweeps == inputs.sweeps and trade == inputs.tradeoffs
    data["sweeps"][1]["values"] = [1.0]
    with pytest.raises(ValueError, match=r"sweeps\[1\]"):
        sweeps_from_json(data)


# ------------------------------------------------------------------ `dicore report --dir`

COLS = ["vendor", "backend", "dataset", "method", "item_id", "is_fake", "real_item_id",
        "target", "reference", "predicted", "confidence", "similarity"]


def _folder(tmp_path):
    """results.csv with known confidences/similarities, and metrics.json from dicore.core.metrics."""
    from dicore.formats.metrics_json import write_metrics_json
    from dicore.tables import metrics_table

    rng = np.random.default_rng(0)
    rows = []
    for v in ("aws", "naver"):
        for who in ("alice", "bob", "carol"):
            rows.append([v, "sim", "CelebDF", "real", f"r_{who}", "false", "", who, "",
                         who, "96.5", ""])
            for i in range(6):
                named = v == "naver" or i % 2 == 0
                conf = f"{rng.uniform(50, 100):.2f}" if named else ""
                sim = f"{rng.uniform(0, 100):.2f}" if v == "aws" else ""
                rows.append([v, "sim", "CelebDF", "replacement", f"f_{who}{i}", "true",
                             f"r_{who}", who, "x", who if named else "", conf, sim])
    res = tmp_path / "results.csv"
    with res.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(COLS)
        w.writerows(rows)
    obs, vocab = read_results_file(res)
    write_metrics_json(tmp_path / "metrics.json", metrics_table(obs, vocab), beta=90.0,
                       gamma=80.0, simulated=True)
    return rows


def _parse(argv):
    p = argparse.ArgumentParser()
    report_cmd.add_arguments(p)
    return p.parse_args(argv)


def test_report_command_rebuilds_from_folder(tmp_path, capsys):
    rows = _folder(tmp_path)
    (tmp_path / "calibration.json").write_text(json.dumps({"fit": {"max_abs_error_pp": 3.7}}))
    (tmp_path / "defence.csv").write_text(
        "dataset,detector,detector_acc,vendor,attack,asr_before,asr_after,real_blocked,n_fake,"
        "source\nCelebDF,DD1,90.0,aws,TA,50.0,5.0,2.0,18,simulated\n")
    assert report_cmd.run(_parse(["--dir", str(tmp_path)])) == 0
    assert "SIMULATED" in capsys.readouterr().out
    md = (tmp_path / "report.md").read_text()
    assert "calibration fit.max_abs_error_pp | 3.7" in md
    assert "aws: sim" in md and "recomputed from results" in md
    assert "| CelebDF | DD1 | 90.0 | aws (AWS) | TA | 50.00 | 5.00 | 2.00 | simulated |" in md
    assert (tmp_path / "sweeps.png").is_file() and not (tmp_path / "tradeoff.png").exists()

    # Recomputed sweeps against a direct NumPy count (strict >), and against metrics.json.
    from dicore.report.folder import load_inputs

    inputs = load_inputs(tmp_path)
    curves = {(s.vendor, s.metric): s for s in inputs.sweeps}
    assert set(curves) == {("aws", "DHC"), ("aws", "DHS"), ("naver", "DHC")}
    fakes = [r for r in rows if r[5] == "true"]
    for (vendor, metric), s in curves.items():
        if metric == "DHC":
            vals = np.array([float(r[10]) for r in fakes if r[0] == vendor and r[9]])
        else:
            vals = np.array([float(r[11]) for r in fakes if r[0] == vendor and not r[9]])
        want = [100.0 * np.mean(vals > t) for t in s.thresholds]
        np.testing.assert_allclose(s.values, want, atol=1e-4)
        at90 = s.values[s.thresholds.index(90.0 if metric == "DHC" else 80.0)]
        m = next(r for r in inputs.metrics if (r["vendor"], r["metric"]) == (vendor, metric))
        assert at90 == pytest.approx(m["value"], abs=1e-4)


def test_report_command_uses_sweeps_json_and_errors(tmp_path):
    _folder(tmp_path)
    inputs = _inputs()
    (tmp_path / "sweeps.json").write_text(json.dumps(sweeps_to_json(inputs.sweeps[:2],
                                                                    inputs.tradeoffs)))
    out = tmp_path / "copy"
    assert report_cmd.run(_parse(["--dir", str(tmp_path), "--out", str(out)])) == 0
    assert (out / "tradeoff.png").is_file() and (out / "report.html").is_file()
    assert "genuine >= 90%" in (out / "report.md").read_text()
    (tmp_path / "sweeps.json").write_text("{not json")
    with pytest.raises(UserError, match="not valid JSON"):
        report_cmd.run(_parse(["--dir", str(tmp_path)]))
    with pytest.raises(UserError, match="metrics.json"):
        report_cmd.run(_parse(["--dir", str(tmp_path / "copy")]))
    with pytest.raises(UserError, match="not found"):
        report_cmd.run(_parse(["--dir", str(tmp_path / "missing")]))
