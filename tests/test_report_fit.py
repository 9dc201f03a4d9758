"""The report's fit to the paper: headlines and table as measured, inconsistencies where they
bite, the paper's Figure 4 markers, simulated always labelled."""

from __future__ import annotations

from dicore import paper
from dicore.report import ReportInputs, write_report
from dicore.report.fit import figure_markers, fit_table, headlines


def metric_rows(offset: float) -> list[dict]:
    rows = []
    for (d, v, m), value in paper.asr_before_grid().items():
        rows.append(dict(dataset=d, vendor=v, metric=m, value=value + offset, ci_low=None,
                         ci_high=None, n=10**6))
    return rows


def test_headlines_count_what_was_measured_and_say_simulated():
    close = headlines(ReportInputs(metrics=metric_rows(0.5), simulated=True))
    assert close[0] == "Fit to the paper (simulated vendors): TA/NA: 30/30 within max(5 pp, 2 SE)."
    # No DHF/DHC/DHS/SIC values and no per-identity rows: nothing of those families is within.
    assert close[1].endswith("Figure 4 figures: 0/20 (NAV DHS on CelebFOM excluded).")
    assert "per-identity means: 0/16" in close[2] and "not measured" in close[3]
    far = headlines(ReportInputs(metrics=metric_rows(8.0), simulated=False))
    assert far[0] == "Fit to the paper (measured vendors): TA/NA: 0/30 within max(5 pp, 2 SE)."


def test_the_fit_table_lists_every_target_with_its_verdict(tmp_path):
    inputs = ReportInputs(metrics=metric_rows(0.5), simulated=True)
    header, rows = fit_table(inputs)
    assert header[2] == "simulated" and len(rows) == 30 + 21 + 17
    assert sum(r[6] == "yes" for r in rows) == 30 and sum(r[6] == "excluded" for r in rows) == 1
    sic = next(r for r in rows if r[1] == "SIC CelebDF MS (exact)")
    assert sic[6] == "NO" and "Don Cheadle" in sic[7]
    write_report(tmp_path, inputs)
    md = (tmp_path / "report.md").read_text()
    assert "## Fit to the paper" in md and "## The paper's known inconsistencies" in md
    assert "Fit to the paper (simulated vendors): TA/NA: 30/30" in md
    assert "55/58 = 94.8%" in md and "SIMULATED" in md
    assert "Fit to the paper (simulated vendors)" in (tmp_path / "report.html").read_text()


def test_figure4_markers_cover_every_stated_figure():
    markers = {m: figure_markers(m) for m in ("DHF", "DHC", "DHS", "SIC")}
    ranges = [(m, x["vendor"], x["low"], x["high"]) for m, xs in markers.items() for x in xs
              if x["rule"] == "range"]
    assert sorted(ranges) == [("DHC", "aws", 27.3, 73.4), ("DHC", "azure", 42.0, 86.5),
                              ("DHS", "aws", 30.0, 94.4)]
    assert {(x["vendor"], x["value"]) for x in markers["DHF"] if x["rule"] == "max"} == {
        ("naver", 93.7)}
    assert [x for x in markers["DHS"] if x["rule"] == "excluded"][0]["dataset"] == "CelebFOM"
    assert [x["value"] for x in markers["SIC"] if x["rule"] == "upper"] == [21.0]
    # 21 stated figures; each range's two ends are one band.
    assert sum(len(xs) for xs in markers.values()) == 21 - 3
