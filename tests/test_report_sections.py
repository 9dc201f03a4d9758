"""Issue 12 items 7-12 at the edges: the report's breakdown sections and navigation,
`dicore metrics --by video / --group-by`, `dicore defend` curves, `dicore cassettes check`."""

from __future__ import annotations

import json
import re
import shutil
import struct
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from dicore import stages
from dicore.formats.results import VIDEO_COLUMNS, read_columns, write_results
from dicore.report import write_report
from dicore.report.figures import mark_zero_and_na, plt
from dicore.report.model import ReportInputs
from dicore.report.render import _summary
from dicore.report.sections import defence_summary
from dicore.tables import metrics_table

ROOT = Path(__file__).resolve().parents[1]


def in_process(capsys, *args: str) -> tuple[int, str, str]:
    from dicore.cli import main

    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.err, captured.out


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """Two datasets of the small cohort with source videos: (folder, obs, vocab, inputs)."""
    from simulators.cohort import simulate_cohort_results
    from simulators.cohort_videos import video_columns

    cols = simulate_cohort_results(scale="small", seed=1, datasets=("CelebBlend", "VoxCelebTH"))
    cols.update(video_columns(cols))
    cols = {c: v.tolist() for c, v in cols.items()}
    out = tmp_path_factory.mktemp("sections")
    write_results(out, cols)
    obs, vocab = read_columns(cols)
    metrics = metrics_table(obs, vocab)
    b = stages.compute_breakdowns(obs, vocab, cols, beta=90.0, gamma=80.0)
    inputs = ReportInputs(metrics=metrics + b.landing + b.video_metrics, breakdowns=b,
                          defence=stages.compute_defence(metrics), identity=b.per_identity,
                          provenance={"backends": {"aws": "sim"}})
    return out, obs, vocab, inputs


def png_width(data: bytes) -> int:
    return struct.unpack(">I", data[16:20])[0]


def test_report_has_contents_and_no_empty_section(small, tmp_path):
    _, _, _, inputs = small
    written = write_report(tmp_path, inputs)
    page = (tmp_path / "report.html").read_text()
    # Table of contents: one link per section, every link lands on a heading.
    toc = re.findall(r"<li><a href='#([^']+)'>", page)
    anchors = re.findall(r"<h2 id='([^']+)'>", page)
    assert toc == anchors and len(anchors) >= 12
    for key in ("per-identity", "hit-landing", "per-video", "groups", "detectors",
                "distributions", "defence", "figure4"):
        assert key in anchors, key
    # No section is empty: between two headings there is a table, a figure or a details.
    chunks = re.split(r"<h2 id=", page)[1:]
    for chunk in chunks:
        assert re.search(r"<table|<img|<details", chunk), chunk[:80]
    assert "(no rows)" not in page
    # Every figure is inline and a click shows it at full size; mine fit a page (<= 1100 px).
    links = re.findall(r"<img [^>]*title='click: full size \(([^)]+\.png)\)' onclick=", page)
    assert len(links) == page.count("<img") and len(links) >= 6
    for name in links:
        assert name in written and (tmp_path / name).is_file()
    for name in ("per_identity.png", "hit_landing.png", "groups.png", "det.png",
                 "distributions.png"):
        assert png_width((tmp_path / name).read_bytes()) <= 1100, name
    # The full defence table is collapsed; its summary is shown.
    assert "<details><summary>Full defence table" in page
    md = (tmp_path / "report.md").read_text()
    assert "**Contents:**" in md and "## Per video" in md


def test_zero_bars_are_marked_and_na_is_written():
    fig, ax = plt.subplots()
    mark_zero_and_na(ax, [0.0, 1.0, 2.0], np.array([0.0, np.nan, 5.0]))
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["0", "n/a"]
    assert len(ax.lines) == 1  # the zero marker; 5.0 gets none
    plt.close(fig)


def test_headlines_name_every_tie():
    rows = [dict(dataset=d, vendor="naver", metric="NA", value=100.0, ci_low=99.0,
                 ci_high=100.0, n=10) for d in ("A", "B")]
    rows.append(dict(dataset="A", vendor="aws", metric="NA", value=40.0, ci_low=30.0,
                     ci_high=50.0, n=10))
    (line,) = _summary(ReportInputs(metrics=rows, comparison=[]))
    assert "naver (NAV) on A" in line and "naver (NAV) on B" in line and "2 cells tie" in line


def test_defence_summary_names_tied_detectors():
    base = dict(dataset="D", vendor="aws", attack="TA", asr_before=10.0, detector_acc=90.0)
    rows = [dict(base, detector="X", asr_after=1.0), dict(base, detector="Y", asr_after=1.0),
            dict(base, detector="Z", asr_after=2.0)]
    (best,) = defence_summary(rows)
    assert best[3] == "X = Y" and best[6] == "1.00" and best[7] == "3"


def test_report_from_a_folder_shows_the_breakdowns(small, tmp_path, capsys):
    out, obs, vocab, inputs = small
    folder = tmp_path / "study"
    shutil.copytree(out, folder)
    from dicore.formats.metrics_json import write_metrics_json

    write_metrics_json(folder / "metrics.json", inputs.metrics, beta=90, gamma=80, simulated=True)
    stages.write_breakdowns(folder, inputs.breakdowns, beta=90, gamma=80, simulated=True)
    code, err, _ = in_process(capsys, "report", "--dir", str(folder))
    assert code == 0, err
    page = (folder / "report.html").read_text()
    for heading in ("Per identity", "Where a non-targeted hit lands", "Per video",
                    "By group", "Detector curves", "Score distributions"):
        assert heading in page, heading


# ---- dicore metrics --by video / --group-by -----------------------------------------


def test_metrics_by_video_and_group_by(small, tmp_path, capsys):
    out, obs, vocab, inputs = small
    results = out / "results.csv"
    code, err, text = in_process(capsys, "metrics", "--results", str(results), "--by", "video",
                                 "--per-video", str(tmp_path / "v.csv"),
                                 "--out", str(tmp_path / "v.json"))
    assert code == 0, err
    rows = json.loads((tmp_path / "v.json").read_text())["rows"]
    assert rows == json.loads(json.dumps(inputs.breakdowns.video_metrics))
    assert (tmp_path / "v.csv").is_file() and "TA_VIDEO_MAJORITY" in text
    code, err, _ = in_process(capsys, "metrics", "--results", str(results), "--group-by",
                              "method", "--out", str(tmp_path / "g.json"), "--ci", "bootstrap",
                              "--resamples", "50")
    assert code == 0, err
    g = json.loads((tmp_path / "g.json").read_text())
    assert g["columns"] == ["method"] and {r["group"] for r in g["rows"]} == {
        "reenactment", "synthesis"}
    assert all(r["ci_low"] <= r["value"] <= r["ci_high"] for r in g["rows"] if r["n"])
    # A column the file lacks: one clear error, exit 2.
    code, err, _ = in_process(capsys, "metrics", "--results", str(results), "--group-by",
                              "gender")
    assert code == 2 and "no column gender" in err and "Traceback" not in err


def test_metrics_by_video_without_the_column_fails_clearly(small, tmp_path, capsys):
    out, *_ = small
    import csv

    with open(out / "results.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    plain = tmp_path / "plain.csv"
    with open(plain, "w", newline="") as fh:
        names = [c for c in rows[0] if c not in VIDEO_COLUMNS]
        w = csv.DictWriter(fh, fieldnames=names, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    code, err, _ = in_process(capsys, "metrics", "--results", str(plain), "--by", "video")
    assert code == 2 and "no column source_video" in err


def test_defend_writes_detector_curves(small, tmp_path, capsys):
    out, *_ = small
    code, err, text = in_process(capsys, "defend", "--results", str(out / "results.csv"),
                                 "--simulate-accuracy", "90", "99", "--out",
                                 str(tmp_path / "d.csv"), "--curves", str(tmp_path / "det.json"))
    assert code == 0, err
    data = json.loads((tmp_path / "det.json").read_text())
    assert data["simulated"] is True and {r["detector"] for r in data["rows"]} == {"sim90",
                                                                                     "sim99"}
    better = {r["detector"]: r["roc_auc"] for r in data["rows"]
              if r["dataset"] == "All Datasets Combined"}
    assert better["sim99"] > better["sim90"] > 80
    assert all(r["video_auc"] is not None for r in data["rows"])
    assert "APCER@1" in text


# ---- cassette freshness ---------------------------------------------------------------


def old_cassette(tmp_path: Path, days: float) -> Path:
    src = ROOT / "cassettes" / "aws" / "docs_examples.yaml"
    dst = tmp_path / "aws" / "old.yaml"
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(src, dst)
    prov = json.loads(src.with_name("docs_examples.provenance.json").read_text())
    prov["recorded_at"] = (datetime.now(UTC) - timedelta(days=days)).isoformat()
    dst.with_name("old.provenance.json").write_text(json.dumps(prov))
    return dst


def test_cassettes_check_exit_codes(tmp_path, capsys):
    old_cassette(tmp_path, 200)
    code, _, text = in_process(capsys, "cassettes", "check", str(tmp_path))
    assert code == 1 and "STALE" in text and "1 stale" in text
    code, _, text = in_process(capsys, "cassettes", "check", str(tmp_path), "--max-age", "30w")
    assert code == 0 and "0 stale" in text
    code, err, _ = in_process(capsys, "cassettes", "check", str(tmp_path), "--max-age", "soon")
    assert code == 2 and "not a duration" in err
    code, err, _ = in_process(capsys, "cassettes", "check", str(tmp_path / "nothing"))
    assert code == 2 and "no cassette" in err


def test_freshness_limits_and_the_contract_warning(tmp_path):
    from dicore.backends.freshness import freshness, parse_duration

    assert parse_duration("180d") == timedelta(days=180) == parse_duration("180")
    assert parse_duration("2w") == timedelta(days=14)
    c = old_cassette(tmp_path, 10)
    assert not freshness(c).stale and freshness(c, max_age=timedelta(days=5)).stale
    prov = json.loads(c.with_name("old.provenance.json").read_text())
    prov["max_age_days"] = 7  # the sidecar's own limit
    c.with_name("old.provenance.json").write_text(json.dumps(prov))
    assert freshness(c).stale and freshness(c).limit == timedelta(days=7)
    from tests.test_contract import warn_if_stale

    with pytest.warns(UserWarning, match="older than its limit"):
        warn_if_stale(c)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_stale(c, now=datetime.now(UTC) - timedelta(days=9))  # fresh then: no warning
