"""End to end, through the real command line in subprocesses:

- `dicore study --scale small` writes every output of the contract, and the metrics
  recomputed here from results.csv (plain NumPy) equal metrics.json;
- a rerun over the stored study recomputes nothing and changes no file;
- `dicore run` killed with SIGKILL mid-run and resumed ends with exactly the results
  of an uninterrupted run;
- bad manifests and missing files fail with one clear line and leave the store as it was.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from dicore.formats.results import VIDEO_COLUMNS
from dicore.store import RESULT_COLUMNS

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from test_runner import photo_manifest  # noqa: E402


def dicore(*args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "120", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "dicore", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"dicore {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}")
    return proc


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("study") / "out"
    proc = dicore("study", "--scale", "small", "--out", str(out), "--seed", "0")
    assert "SIMULATED" in proc.stdout and "CelebBlend" in proc.stdout
    return out


def test_outputs_satisfy_the_contract(study):
    for name in ("results.csv", "results.parquet", "metrics.json", "sweeps.json",
                 "calibration.json", "defence.csv", "provenance.json", "report.md",
                 "report.html", "store.sqlite", "per_identity.csv", "per_video.csv",
                 "groups.json", "detectors.json"):
        assert (study / name).is_file(), name
    assert list(study.glob("*.png")), "the report has figures"
    with open(study / "results.csv", newline="") as fh:
        reader = csv.reader(fh)
        # The 12 contract columns first, then the optional trailing video columns.
        assert next(reader) == [*RESULT_COLUMNS, *VIDEO_COLUMNS]
        rows = list(reader)
    import pyarrow.parquet as pq

    table = pq.read_table(study / "results.parquet")
    assert table.column_names == [*RESULT_COLUMNS, *VIDEO_COLUMNS]
    assert table.num_rows == len(rows)
    pq_conf = table.column("confidence").to_pylist()
    assert [float(r[10]) if r[10] else None for r in rows] == pq_conf  # exact round trip
    by_vendor = defaultdict(set)
    for r in rows:
        by_vendor[r[0]].add(r[4])
        assert r[1] == "sim" and r[5] in ("true", "false")
        assert (r[9] == "") == (r[10] == "")  # a name exactly when a confidence
        if r[5] == "false":
            assert r[6] == "" and r[11] == ""
    assert set(by_vendor) == {"aws", "azure", "naver"}
    assert by_vendor["aws"] == by_vendor["azure"] == by_vendor["naver"]
    assert not any(r[11] for r in rows if r[0] == "naver")  # no similarity call at Naver

    metrics = json.loads((study / "metrics.json").read_text())
    assert set(metrics) == {"beta", "gamma", "simulated", "rows"}
    assert (metrics["beta"], metrics["gamma"], metrics["simulated"]) == (90.0, 80.0, True)
    six = [r for r in metrics["rows"] if r["metric"] in ("TA", "NA", "DHF", "DHC", "DHS", "SIC")]
    assert len(six) == 5 * 3 * 6
    assert set(six[0]) == {"dataset", "vendor", "metric", "value", "ci_low", "ci_high", "n"}
    iso = [r for r in metrics["rows"] if r["metric"] in ("IAPMR", "FNMR")]
    assert len(iso) == 5 * 3 * 2
    extra = {r["metric"] for r in metrics["rows"]} - {r["metric"] for r in six + iso}
    assert extra == {"NA_AS_TARGET", "NA_AS_REFERENCE", "NA_AS_OTHER", "TA_VIDEO_ANY",
                     "TA_VIDEO_MAJORITY", "NA_VIDEO_ANY", "NA_VIDEO_MAJORITY", "FMR"}
    # The impostor set (NonCelebrities) has one FMR row per vendor, nothing else.
    fmr = [r for r in metrics["rows"] if r["metric"] == "FMR"]
    assert [(r["dataset"], r["n"] > 0) for r in fmr] == [("NonCelebrities", True)] * 3
    for name in ("sweeps.json", "calibration.json", "provenance.json"):
        assert json.loads((study / name).read_text())["simulated"] is True
    calib = json.loads((study / "calibration.json").read_text())
    assert len(calib["rows"]) == 30  # every TA/NA cell of the paper
    # The fit error the README promises, and this run's error, in provenance (issue 10).
    prov = json.loads((study / "provenance.json").read_text())
    assert set(prov["calibration_fit_error_pp"]) >= {"max_abs_error_pp", "mean_abs_error_pp"}
    assert prov["calibration_error_pp"]["max_abs_error_pp"] == calib["max_abs_error_pp"]
    assert prov["backends"] == {"aws": "sim", "azure": "sim", "naver": "sim"}
    assert "SIMULATED" in (study / "report.md").read_text()
    assert "SIMULATED" in (study / "report.html").read_text()


def recompute(path: Path, beta: float, gamma: float) -> dict:
    """TA, NA, DHF, DHC, DHS, SIC per (dataset, vendor) from a results.csv, in plain NumPy
    (percent values as float32, as dicore keeps them)."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    f32 = lambda s: np.float32(s) if s else np.float32("nan")  # noqa: E731
    index = {(r["vendor"], r["dataset"], r["item_id"]): r for r in rows}
    first_real = {}
    for r in sorted(rows, key=lambda r: r["item_id"]):
        if r["is_fake"] == "false":
            first_real.setdefault((r["vendor"], r["dataset"], r["target"]), r)
    acc = defaultdict(lambda: defaultdict(list))
    idents = defaultdict(lambda: defaultdict(bool))
    for r in rows:
        if r["method"] == "real":  # the FNMR analogue: a real image not named as itself
            acc[(r["dataset"], r["vendor"])]["FNMR"].append(r["predicted"] != r["target"])
        if r["method"] == "impostor":  # the FMR analogue: an impostor named as anyone
            acc[(r["dataset"], r["vendor"])]["FMR"].append(r["predicted"] != "")
        if r["is_fake"] != "true":
            continue
        g = (r["dataset"], r["vendor"])
        real = index[(r["vendor"], r["dataset"], r["real_item_id"])]
        named = r["predicted"] != ""
        ta = named and r["predicted"] == r["target"] and real["predicted"] == r["target"]
        impersonated = r["target"]  # SIC credits the identity a TA fake impersonates
        if not ta and r["method"] == "synthesis" and named and r["predicted"] == r["reference"]:
            ref = first_real.get((r["vendor"], r["dataset"], r["reference"]))
            ta, impersonated = ref is not None and ref["predicted"] == r["reference"], r["reference"]
        real_conf = f32(real["confidence"]) if real["predicted"] else np.float32(0)
        acc[g]["TA"].append(ta)
        acc[g]["NA"].append(named)
        acc[g]["DHF"].append(named and f32(r["confidence"]) > real_conf)
        if named:
            acc[g]["DHC"].append(f32(r["confidence"]) > np.float32(beta))
        elif r["similarity"]:
            acc[g]["DHS"].append(f32(r["similarity"]) > np.float32(gamma))
        # SIC's n: the identities a fake could impersonate (targets, synthesis references)
        idents[g].setdefault(r["target"], False)
        if r["method"] == "synthesis" and r["reference"]:
            idents[g].setdefault(r["reference"], False)
        idents[g][impersonated] |= ta
    out = {}
    for g, metrics in acc.items():
        for m, xs in metrics.items():
            out[(*g, m)] = (100.0 * np.mean(xs), len(xs))
        if "TA" not in metrics:
            continue  # the impostor set: FMR only
        hits = list(idents[g].values())
        out[(*g, "SIC")] = (100.0 * np.mean(hits), len(hits))
        out[(*g, "IAPMR")] = out[(*g, "TA")]
    return out


def test_metrics_recomputed_from_results_csv(study):
    metrics = json.loads((study / "metrics.json").read_text())
    mine = recompute(study / "results.csv", metrics["beta"], metrics["gamma"])
    checked = 0
    for row in metrics["rows"]:
        if row["metric"] not in ("TA", "NA", "DHF", "DHC", "DHS", "SIC"):
            continue  # the breakdowns' extra rows: test_breakdowns_agree_with_the_metrics
        key = (row["dataset"], row["vendor"], row["metric"])
        if row["n"] == 0:
            assert row["value"] is None and key not in mine
            continue
        value, n = mine[key]
        assert row["n"] == n, key
        assert row["value"] == pytest.approx(value, abs=1e-9), key
        assert row["ci_low"] <= row["value"] <= row["ci_high"]
        checked += 1
    assert checked >= 5 * 3 * 5  # all but Naver's DHS


def test_breakdowns_agree_with_the_metrics(study):
    """per_identity.csv, the hit-landing rows and per_video.csv add up to metrics.json's
    TA and NA counts (each from its own code path)."""
    metrics = json.loads((study / "metrics.json").read_text())
    by = {(r["dataset"], r["vendor"], r["metric"]): r for r in metrics["rows"]}
    with open(study / "per_identity.csv", newline="") as fh:
        per_identity = list(csv.DictReader(fh))
    with open(study / "per_video.csv", newline="") as fh:
        per_video = list(csv.DictReader(fh))
    for (d, v, m), r in by.items():
        if m != "TA":
            continue
        ta = round(r["value"] * r["n"] / 100)
        na = round(by[(d, v, "NA")]["value"] * r["n"] / 100)
        cell = [x for x in per_identity if (x["dataset"], x["vendor"]) == (d, v)]
        assert sum(int(x["ta"]) for x in cell) == ta and sum(int(x["na"]) for x in cell) == na
        assert sum(int(x["n_fake"]) for x in cell) == r["n"]
        landed = sum(by[(d, v, f"NA_AS_{k}")]["count"] for k in ("TARGET", "REFERENCE", "OTHER"))
        assert landed == na == by[(d, v, "NA_AS_TARGET")]["n"]
        videos = [x for x in per_video if (x["dataset"], x["vendor"]) == (d, v)]
        assert sum(int(x["frames"]) for x in videos) == r["n"]
        assert sum(int(x["ta_frames"]) for x in videos) == ta
        any_ = sum(x["ta_any"] == "True" for x in videos)
        assert by[(d, v, "TA_VIDEO_ANY")]["value"] == pytest.approx(100 * any_ / len(videos))
    groups = json.loads((study / "groups.json").read_text())
    assert groups["columns"] == ["method"] and groups["simulated"] is True
    assert {r["group"] for r in groups["rows"]} == {"replacement", "reenactment", "synthesis"}
    detectors = json.loads((study / "detectors.json").read_text())
    assert detectors["simulated"] is True and detectors["det"]
    # The study's report shows every breakdown section, each with a figure or a table.
    page = (study / "report.html").read_text()
    chunks = dict(re.findall(r"<h2 id='([^']+)'>(.*?)(?=<h2 id=|</body>)", page, re.S))
    for key in ("per-identity", "hit-landing", "per-video", "groups", "detectors",
                "distributions"):
        assert key in chunks and re.search(r"<table|<img", chunks[key]), key
    assert "(no rows)" not in page
    assert all(r["source"] == "simulated" and 50 < r["roc_auc"] <= 100 for r in detectors["rows"])


def test_rerun_recomputes_nothing(study):
    before = {p.name: sha(p) for p in study.iterdir() if p.is_file() and "store" not in p.name}
    proc = dicore("study", "--scale", "small", "--out", str(study), "--seed", "0")
    assert "up to date" in proc.stdout.replace("\n", " ")
    after = {p.name: sha(p) for p in study.iterdir() if p.is_file() and "store" not in p.name}
    assert after == before


def in_process(capsys, *args: str) -> tuple[int, str, str]:
    """`dicore ARGS` through `dicore.cli.main` in this process (fast: no interpreter start):
    (exit code, stderr, stdout)."""
    from dicore.cli import main

    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.err, captured.out


def test_sweep_and_study_write_one_sweeps_format_and_one_operating_point_rule(study, tmp_path):
    """`dicore sweep` writes the study's sweeps.json format (plus the joint grid), `dicore
    report` reads either without telling them apart, and both pick operating points by the
    one rule of docs/thresholds.md (same target from the same data)."""
    mine = json.loads((study / "sweeps.json").read_text())
    out = tmp_path / "sweeps.json"
    proc = dicore("sweep", "--results", str(study / "results.csv"), "--out", str(out),
                  "--betas", "0:100:10", "--gammas", "0:100:10")
    assert "90% of" in proc.stdout  # the operating point states its target
    theirs = json.loads(out.read_text())
    assert set(mine) == {"simulated", "genuine_keep", "rules", "protocol", "intervals", "sweeps",
                         "tradeoffs"}
    assert mine["protocol"]["name"] == theirs["protocol"]["name"] == "all"
    assert set(theirs) == set(mine) | {"joint"}
    assert mine["rules"] == theirs["rules"] and mine["genuine_keep"] == theirs["genuine_keep"]
    for key in ("sweeps", "tradeoffs"):
        assert {frozenset(e) for e in mine[key]} == {frozenset(e) for e in theirs[key]}
    pooled = {c["vendor"]: c for c in mine["tradeoffs"]}
    for c in theirs["tradeoffs"]:
        if c["dataset"] == "all":  # same data, same floor: the same target by the same rule
            assert c["operating_points"][0]["target"] == pytest.approx(
                pooled[c["vendor"]]["operating_points"][0]["target"])
    folder = tmp_path / "folder"
    folder.mkdir()
    for name in ("metrics.json", "results.csv"):
        (folder / name).write_bytes((study / name).read_bytes())
    (folder / "sweeps.json").write_bytes(out.read_bytes())
    dicore("report", "--dir", str(folder))
    assert "Trade-off" in (folder / "report.md").read_text()
    (folder / "sweeps.json").write_text(json.dumps({"groups": [], "replay": []}))  # not the format
    proc = dicore("report", "--dir", str(folder), check=False)
    assert proc.returncode == 2 and "sweeps" in proc.stderr


def test_another_study_in_the_same_folder_is_refused(study, capsys):
    store = study / "store.sqlite"
    digest = sha(store)
    code, err, _ = in_process(capsys, "study", "--scale", "small", "--out", str(study), "--seed", "7")
    assert code == 2
    assert "holds another study" in err and "seed=0" in err
    assert "hint:" in err and sha(store) == digest


def test_bad_manifests_fail_clearly_and_keep_the_store(study, tmp_path, capsys):
    store = study / "store.sqlite"
    digest = sha(store)
    (tmp_path / "a.jpg").write_bytes(b"x")
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "item_id,path,is_fake,dataset,method,target,reference,real_item_id\n"
        "r1,a.jpg,false,D,real,alice,,\n"
        "f1,a.jpg,true,D,faceswap,alice,bob,r1\n"
    )
    missing = tmp_path / "missing.csv"
    missing.write_text(
        "item_id,path,is_fake,dataset,method,target\nr1,gone.jpg,false,D,real,alice\n"
    )
    cases = [
        (["run", "--manifest", str(bad), "--store", str(store)], "row 2, field 'method'"),
        (["run", "--manifest", str(missing), "--store", str(store)], "file not found"),
        (["run", "--manifest", str(tmp_path / "nope.csv"), "--store", str(store)],
         "does not exist"),
        (["study", "--manifest", str(bad), "--out", str(study)], "unknown method 'faceswap'"),
        (["study", "--vendors", "aws,ibm", "--out", str(study)], "unknown vendor(s) ibm"),
        (["study", "--beta", "120", "--out", str(study)], "--beta 120.0 is outside 0..100"),
    ]
    for args, words in cases:
        code, err, _ = in_process(capsys, *args)
        assert code == 2, args
        first = err.strip().splitlines()[0]
        assert first.startswith(f"dicore {args[0]}: error:") and words in first, err
        assert "hint:" in err
    assert sha(store) == digest
    # And through a real process: one line plus a hint, no traceback.
    proc = dicore("run", "--manifest", str(bad), "--store", str(store), check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("dicore run: error:") and "hint:" in proc.stderr


def _calls_in(store: Path) -> int:
    if not store.exists():
        return 0
    try:
        db = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=1)
        try:
            return db.execute("SELECT COUNT(*) FROM calls").fetchone()[0]
        finally:
            db.close()
    except sqlite3.OperationalError:  # schema not there yet
        return 0


def test_sigkill_mid_run_then_resume_equals_uninterrupted(tmp_path, capsys, monkeypatch):
    pytest.importorskip("onnxruntime")
    manifest = photo_manifest(tmp_path / "data")
    total = 7 * 3 + 2 * 2  # recognitions + similarity calls (aws, azure)
    killed = tmp_path / "killed.sqlite"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # Paced at 4 calls/s per vendor so that the kill lands mid-run.
    args = ["run", "--manifest", str(manifest), "--rate", "aws=4,azure=4,naver=4"]
    proc = subprocess.Popen([sys.executable, "-m", "dicore", *args, "--store", str(killed)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while _calls_in(killed) < 4 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    stored = _calls_in(killed)
    assert 4 <= stored < total, "the kill must land mid-run"
    db = sqlite3.connect(killed)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()

    resumed = dicore(*args, "--store", str(killed), "--results", str(tmp_path / "resumed.csv"))
    assert f"{stored} already stored" in resumed.stdout.replace("\n", " ")
    assert _calls_in(killed) == total
    # The uninterrupted reference: a whole study over the same manifest, unpaced, run in
    # this process (its simulated vendors may already be loaded here).
    monkeypatch.setenv("DICORE_JAX_CACHE", "0")
    code, _, out = in_process(capsys, "study", "--manifest", str(manifest),
                         "--out", str(tmp_path / "whole"), "--no-report")
    assert code == 0
    assert "3 call(s) failed" in out.replace("\n", " ")  # the broken image, per vendor
    resumed_rows = (tmp_path / "resumed.csv").read_text()
    assert resumed_rows == (tmp_path / "whole" / "results.csv").read_text()
    assert len(resumed_rows.splitlines()) == 1 + 6 * 3  # the broken image is left out
    assert json.loads((tmp_path / "whole" / "metrics.json").read_text())["simulated"] is True


def test_a_manifest_that_lost_rows_is_analysed_again(tmp_path, capsys):
    """Rows removed from a manifest leave the store unchanged; the outputs must not be
    taken as up to date (they would still hold the removed items)."""
    pytest.importorskip("onnxruntime")
    manifest = photo_manifest(tmp_path / "data")
    args = ("study", "--manifest", str(manifest), "--out", str(tmp_path / "study"),
            "--vendors", "aws", "--no-report")
    code, err, _ = in_process(capsys, *args)
    assert code == 0, err
    results = tmp_path / "study" / "results.csv"
    assert "macron" in results.read_text()
    kept = [line for line in manifest.read_text().splitlines() if "macron" not in line]
    manifest.write_text("\n".join(kept) + "\n")
    code, err, out = in_process(capsys, *args)
    assert code == 0, err
    assert "up to date" not in out.replace("\n", " ")
    assert "macron" not in results.read_text()
