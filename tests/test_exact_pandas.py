"""A user who checks our numbers with pandas gets our numbers.

Runs a study like the default one (`dicore study`, small scale for CI time) through the
command line, then recomputes every metric (TA, NA, DHF, DHC, DHS, SIC per dataset x
vendor) from results.csv with plain pandas in float64, following docs/metrics.md, and
finds metrics.json equal to 1e-9 pp. results.parquet holds the same values.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd  # in the test extra: this check must run, never skip
import pytest

from dicore.core.vocab import BREAKDOWN_METRICS

ROOT = Path(__file__).resolve().parents[1]
TEXT = ["vendor", "backend", "dataset", "method", "item_id", "real_item_id", "target",
        "reference", "predicted"]  # fmt: skip


def read_results_csv(path: Path):
    """results.csv as a user would read it: text columns as text ('' when empty)."""
    df = pd.read_csv(path, dtype={c: str for c in TEXT}, keep_default_na=False,
                     na_values={"confidence": [""], "similarity": [""]})
    df["is_fake"] = df["is_fake"].astype(str).str.lower().eq("true")
    assert df["confidence"].dtype == np.float64 and df["similarity"].dtype == np.float64
    return df


def pandas_metrics(df, beta: float = 90.0, gamma: float = 80.0) -> dict[tuple[str, str, str], float]:
    """The six metrics of docs/metrics.md, in plain pandas float64: {(dataset, vendor, metric): %}."""
    real = df[~df.is_fake]
    fake = df[df.is_fake].copy()
    real_by_item = real.set_index(["vendor", "dataset", "item_id"])[["predicted", "confidence"]]
    paired = real_by_item.reindex(list(zip(fake.vendor, fake.dataset, fake.real_item_id, strict=True)))
    real_pred = paired["predicted"].fillna("").to_numpy()
    real_conf = np.where(real_pred != "", paired["confidence"].to_numpy(), 0.0)
    # A synthesis fake's reference: the first real row of R (by item id) in its vendor x dataset.
    first_real = real.sort_values("item_id").drop_duplicates(["vendor", "dataset", "target"])
    first_real = first_real.set_index(["vendor", "dataset", "target"])["predicted"]
    ref_pred = first_real.reindex(list(zip(fake.vendor, fake.dataset, fake.reference, strict=True)))
    ref_pred = ref_pred.fillna("").to_numpy()

    named = (fake.predicted != "").to_numpy()
    predicted, target, reference = (fake[c].to_numpy() for c in ("predicted", "target", "reference"))
    synthesis = (fake.method == "synthesis").to_numpy() & (reference != "")
    by_target = named & (predicted == target) & (real_pred == target)
    by_reference = named & synthesis & (predicted == reference) & (ref_pred == reference)
    fake["TA"] = by_target | by_reference
    # SIC's credit: the identity a TA fake impersonates ('' if none); who it could impersonate.
    fake["impersonated"] = np.where(by_target, target, np.where(by_reference, reference, ""))
    fake["impersonable_reference"] = np.where(synthesis, reference, "")
    fake["NA"] = named
    fake["DHF"] = named & (fake.confidence.to_numpy() > real_conf)
    fake["DHC"] = named & (fake.confidence.to_numpy() > beta)
    fake["named"] = named
    has_sim = ~named & fake.similarity.notna().to_numpy()
    fake["DHS"] = has_sim & (fake.similarity.to_numpy() > gamma)
    fake["has_sim"] = has_sim

    out: dict[tuple[str, str, str], float] = {}
    for (dataset, vendor), g in fake.groupby(["dataset", "vendor"]):
        n = len(g)
        out[dataset, vendor, "TA"] = 100.0 * g.TA.sum() / n
        out[dataset, vendor, "NA"] = 100.0 * g.NA.sum() / n
        out[dataset, vendor, "DHF"] = 100.0 * g.DHF.sum() / n
        out[dataset, vendor, "DHC"] = 100.0 * g.DHC.sum() / g.named.sum() if g.named.any() else None
        out[dataset, vendor, "DHS"] = 100.0 * g.DHS.sum() / g.has_sim.sum() if g.has_sim.any() else None
        impersonated = set(g.impersonated) - {""}
        impersonable = set(g.target) | (set(g.impersonable_reference) - {""})
        out[dataset, vendor, "SIC"] = 100.0 * len(impersonated) / len(impersonable)
        out[dataset, vendor, "IAPMR"] = out[dataset, vendor, "TA"]  # ISO/IEC 30107-3 name
    # ISO/IEC 19795 analogues: FNMR = real images not named as themselves; FMR = impostors named.
    for (dataset, vendor), g in real.groupby(["dataset", "vendor"]):
        genuine, impostor = g[g.method == "real"], g[g.method == "impostor"]
        if len(genuine):
            out[dataset, vendor, "FNMR"] = 100.0 * (genuine.predicted != genuine.target).sum() / len(genuine)
        if len(impostor):
            out[dataset, vendor, "FMR"] = 100.0 * (impostor.predicted != "").sum() / len(impostor)
    return out


def run_study(out: Path, *extra: str) -> None:
    env = {**os.environ, "COLUMNS": "120", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "dicore", "study", "--scale", "small", "--seed", "0",
         "--out", str(out), "--no-report", *extra],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("exact") / "study"
    run_study(out)
    return out


def test_every_metric_equals_a_pandas_float64_recomputation(study):
    ours = json.loads((study / "metrics.json").read_text())
    theirs = pandas_metrics(read_results_csv(study / "results.csv"), ours["beta"], ours["gamma"])
    rows = {(r["dataset"], r["vendor"], r["metric"]): r["value"] for r in ours["rows"]
            if r["metric"] not in BREAKDOWN_METRICS}  # the breakdowns' extra rows: below
    assert set(rows) == set(theirs) and len([k for k in rows if k[2] != "FMR"]) == 5 * 3 * 8
    wrong = {
        k: (rows[k], theirs[k]) for k in rows
        if (rows[k] is None) != (theirs[k] is None)
        or (rows[k] is not None and abs(rows[k] - theirs[k]) > 1e-9)
    }
    assert not wrong, f"metrics.json differs from pandas float64 on {len(wrong)} cell(s): {wrong}"


def test_the_parquet_file_holds_the_csv_values_bit_for_bit(study):
    csv_df = read_results_csv(study / "results.csv")
    pq_df = pd.read_parquet(study / "results.parquet")
    for column in ("confidence", "similarity"):
        a, b = csv_df[column].to_numpy(), pq_df[column].to_numpy(np.float64)
        assert np.array_equal(a, b, equal_nan=True), column
    assert pandas_metrics(csv_df) == pandas_metrics(
        pq_df.fillna({c: "" for c in TEXT}).astype({c: str for c in TEXT}))


def test_near_ties_in_the_file_decide_dhf_as_float64_does(study, tmp_path):
    """Hand-made near-tie file: a fake 1 float64 ulp above its real, and values 1 ulp apart
    in float32; `dicore metrics` must count exactly what pandas counts."""
    real_conf = 99.9999993
    rows = [
        dict(vendor="azure", backend="sim", dataset="D", method="real", item_id="r1",
             is_fake="false", real_item_id="", target="T", reference="", predicted="T",
             confidence=repr(real_conf), similarity=""),
        dict(vendor="azure", backend="sim", dataset="D", method="replacement", item_id="f1",
             is_fake="true", real_item_id="r1", target="T", reference="X", predicted="T",
             confidence=repr(float(np.nextafter(real_conf, 200.0))), similarity="80.00000000000001"),
        dict(vendor="azure", backend="sim", dataset="D", method="replacement", item_id="f2",
             is_fake="true", real_item_id="r1", target="T", reference="X", predicted="T",
             confidence="99.9999998", similarity=""),
        dict(vendor="azure", backend="sim", dataset="D", method="replacement", item_id="f3",
             is_fake="true", real_item_id="r1", target="T", reference="X", predicted="",
             confidence="", similarity="80.00000000000001"),
        dict(vendor="azure", backend="sim", dataset="D", method="replacement", item_id="f4",
             is_fake="true", real_item_id="r1", target="T", reference="X", predicted="T",
             confidence="90.00000000000001", similarity=""),
    ]
    path = tmp_path / "near_ties.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "dicore", "metrics", "--results", str(path), "--out",
         str(tmp_path / "m.json")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    ours = {(r["dataset"], r["vendor"], r["metric"]): r["value"]
            for r in json.loads((tmp_path / "m.json").read_text())["rows"]}
    theirs = pandas_metrics(read_results_csv(path))
    assert theirs["D", "azure", "DHF"] == 50.0  # f1 (one ulp above) and f2; float32 ties both
    assert theirs["D", "azure", "DHC"] == 100.0  # 90.00000000000001 > 90
    assert theirs["D", "azure", "DHS"] == 100.0  # 80.00000000000001 > 80
    for key, value in theirs.items():
        assert ours[key] == pytest.approx(value, abs=1e-9), key


def test_hit_landing_and_video_rows_equal_a_pandas_recomputation(study):
    """metrics.json's NA_AS_* and *_VIDEO_* rows (issue 12) from results.csv in pandas."""
    ours = {(r["dataset"], r["vendor"], r["metric"]): r for r in
            json.loads((study / "metrics.json").read_text())["rows"]}
    df = pd.read_csv(study / "results.csv", dtype=str, keep_default_na=False)
    fake = df[df.is_fake == "true"].copy()
    real = df[df.is_fake == "false"].set_index(["vendor", "dataset", "item_id"])
    fake["real_pred"] = [real.loc[(v, d, r), "predicted"] for v, d, r in
                         zip(fake.vendor, fake.dataset, fake.real_item_id, strict=True)]
    fake["named"] = fake.predicted != ""
    # A synthesis fake also succeeds as its reference R when R's first real image is named R.
    first = (df[df.is_fake == "false"].sort_values("item_id")
             .groupby(["vendor", "dataset", "target"]).predicted.first())
    ref_pred = [first.get((v, d, r), "") for v, d, r in
                zip(fake.vendor, fake.dataset, fake.reference, strict=True)]
    by_ref = (fake.method == "synthesis") & fake.named & (fake.predicted == fake.reference) & (
        pd.Series(ref_pred, index=fake.index) == fake.reference)
    fake["ta"] = (fake.named & (fake.predicted == fake.target) & (fake.real_pred == fake.target)
                  ) | by_ref
    checked = 0
    for (d, v), g in fake.groupby(["dataset", "vendor"]):
        named = g[g.named]
        kinds = {"TARGET": named.predicted == named.target,
                 "REFERENCE": (named.predicted != named.target) & (named.predicted == named.reference)}
        kinds["OTHER"] = ~(kinds["TARGET"] | kinds["REFERENCE"])
        for k, mask in kinds.items():
            row = ours[(d, v, f"NA_AS_{k}")]
            assert row["count"] == int(mask.sum()) and row["n"] == len(named)
            if len(named):
                assert row["value"] == 100.0 * int(mask.sum()) / len(named)
        per_video = g.groupby("source_video").agg(frames=("ta", "size"), ta=("ta", "sum"),
                                                  na=("named", "sum"))
        for metric in ("TA", "NA"):
            col = per_video[metric.lower()]
            any_ = 100.0 * (col > 0).sum() / len(per_video)
            majority = 100.0 * (2 * col > per_video.frames).sum() / len(per_video)
            assert ours[(d, v, f"{metric}_VIDEO_ANY")]["value"] == pytest.approx(any_, abs=1e-12)
            assert ours[(d, v, f"{metric}_VIDEO_MAJORITY")]["value"] == pytest.approx(
                majority, abs=1e-12)
            assert ours[(d, v, f"{metric}_VIDEO_ANY")]["n"] == len(per_video)
        checked += 1
    assert checked == 15
