"""Issue 12 items 5-10: per identity, where hits land, per video, grouping, detector curves
(against scikit-learn), score distributions; and the optional trailing results columns."""

from __future__ import annotations

import csv

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import (
    average_precision_score,
    balanced_accuracy_score,
    roc_auc_score,
    roc_curve,
)

from dicore import breakdowns as bd
from dicore.core import detection, videos
from dicore.core.groups import GroupSizes
from dicore.core.landing import hit_landing, landing_of_rows
from dicore.formats import per_identity_csv, per_video_csv
from dicore.formats.results import (
    RESULT_COLUMNS,
    VIDEO_COLUMNS,
    read_extra_columns,
    read_results_file,
    read_rows,
    write_results,
)
from dicore.tables import metrics_table


def row(vendor, item, target, predicted="", conf="", *, fake=False, real="", reference="",
        dataset="D", method=None, similarity=""):
    method = method or ("replacement" if fake else "real")
    return {"vendor": vendor, "backend": "sim", "dataset": dataset, "method": method,
            "item_id": item, "is_fake": "true" if fake else "false", "real_item_id": real,
            "target": target, "reference": reference, "predicted": predicted,
            "confidence": conf, "similarity": similarity}


# ---- detector curves: known answers from scikit-learn --------------------------------


def scored(seed: int, n: int = 300, ties: bool = True):
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.4
    y[:2] = [True, False]  # both classes
    s = np.clip(rng.normal(0.35 + 0.3 * y, 0.2), 0, 1)
    return (np.round(s, 2) if ties else s), y


def eer_reference(s, y):
    """EER from sklearn's ROC: where |FNR - FPR| is smallest, lowest threshold on ties."""
    fpr, tpr, thr = roc_curve(y, s, drop_intermediate=False)
    fnr = 1 - tpr
    gap = np.abs(fnr - fpr)
    i = np.flatnonzero(gap == gap.min())[-1]  # thresholds descend: the last is the lowest
    return (fnr[i] + fpr[i]) / 2, thr[i]


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("jit", [False, True])
def test_detector_curves_equal_scikit_learn(seed, jit):
    s, y = scored(seed, ties=seed % 2 == 0)
    f = jax.jit if jit else (lambda g: g)
    assert float(f(detection.roc_auc)(s, y)) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert float(f(detection.average_precision)(s, y)) == pytest.approx(
        average_precision_score(y, s), abs=1e-12)
    eer, t = f(detection.equal_error_rate)(s, y)
    ref_eer, ref_t = eer_reference(s, y)
    assert float(eer) == pytest.approx(ref_eer, abs=1e-12) and float(t) == pytest.approx(ref_t)
    assert float(f(detection.balanced_accuracy)(s, y, 0.5)) == pytest.approx(
        balanced_accuracy_score(y, s >= 0.5), abs=1e-12)


@pytest.mark.parametrize("bpcer_max", [0.0, 0.01, 0.05, 0.2])
def test_apcer_at_bpcer_is_the_lowest_threshold_within_the_budget(bpcer_max):
    s, y = scored(5)
    op = detection.apcer_at_bpcer(s, y, bpcer_max)
    # Brute force over every threshold that could matter.
    cands = sorted({*s.tolist(), np.inf})
    ok = [t for t in cands if np.mean(s[~y] >= t) <= bpcer_max + 1e-12]
    best = min(ok)
    assert float(op.threshold) == best
    assert float(op.apcer) == pytest.approx(np.mean(s[y] < best))
    assert float(op.bpcer) <= bpcer_max + 1e-12


def test_masked_rows_drop_out_and_video_auc_uses_frame_means():
    s, y = scored(7)
    valid = np.arange(len(s)) % 3 != 0
    assert float(detection.roc_auc(s, y, valid)) == pytest.approx(
        roc_auc_score(y[valid], s[valid]))
    # Videos of 3 frames each (labels by video): the video AUC is sklearn's on frame means.
    video = np.arange(len(s)) // 3
    y_video = np.repeat(y[::3], 3)[: len(s)]
    means = np.array([s[video == v].mean() for v in range(video.max() + 1)])
    labels = np.array([y_video[video == v][0] for v in range(video.max() + 1)])
    got = jax.jit(detection.video_auc, static_argnames="n_videos")(
        s, video, y_video, n_videos=int(video.max()) + 1)
    assert float(got) == pytest.approx(roc_auc_score(labels, means), abs=1e-12)


def test_detector_rows_per_dataset_and_combined():
    s, y = scored(1)
    scores = np.stack([s, 1 - s], axis=1)
    datasets = np.where(np.arange(len(s)) % 2 == 0, "A", "B")
    rows = bd.detector_rows(scores, y, datasets, ["good", "inverted"])
    assert [(r["detector"], r["dataset"]) for r in rows] == [
        ("good", "A"), ("good", "B"), ("good", "All Datasets Combined"),
        ("inverted", "A"), ("inverted", "B"), ("inverted", "All Datasets Combined")]
    combined = rows[2]
    assert combined["roc_auc"] == pytest.approx(100 * roc_auc_score(y, s))
    assert rows[5]["roc_auc"] == pytest.approx(100 - combined["roc_auc"])
    a = datasets == "A"
    assert rows[0]["roc_auc"] == pytest.approx(100 * roc_auc_score(y[a], s[a]))
    assert rows[0]["video_auc"] is None and rows[0]["n_fake"] == int(y[a].sum())


# ---- per video: known answers ----------------------------------------------------------


def test_video_rules_any_and_strict_majority():
    # frames: video 0 = [T, F, F], 1 = [T, T, F], 2 = [F], 3 = [T, F] (half is no majority)
    success = np.array([1, 0, 0, 1, 1, 0, 0, 1, 0], bool)
    video = np.array([0, 0, 0, 1, 1, 1, 2, 3, 3])
    conf = np.array([90, np.nan, 50, 80, 70, 60, np.nan, 99, 1.0])
    c = jax.jit(videos.video_counts, static_argnames=("n_groups", "n_videos"))(
        success, video, np.zeros(9, int), conf, n_groups=1, n_videos=4)
    assert np.asarray(c.attacked("any"))[0].tolist() == [True, True, False, True]
    assert np.asarray(c.attacked("majority"))[0].tolist() == [False, True, False, False]
    mean = np.asarray(c.mean_confidence)[0]
    assert mean[:2].tolist() == [70.0, 70.0] and np.isnan(mean[2]) and mean[3] == 50.0
    assert [int(x[0]) for x in videos.video_rates(c, "any")] == [3, 4]
    assert [int(x[0]) for x in videos.video_rates(c, "majority")] == [1, 4]
    with pytest.raises(ValueError, match="rule"):
        c.attacked("most")


def video_results():
    """Two videos of fakes of P: v1 = 3 frames (2 TA), v2 = 2 frames (1 named as Q)."""
    rows = [row("aws", "r", "P", "P", "99")]
    rows += [row("aws", f"f{i}", "P", p, c, fake=True, real="r", reference="Q")
             for i, (p, c) in enumerate([("P", "95"), ("P", "91"), ("", ""), ("", ""),
                                         ("Q", "60")])]
    video = ["r-video", "v1", "v1", "v1", "v2", "v2"]
    return rows, video


def test_video_tables_known_answer():
    rows, video = video_results()
    obs, vocab = read_rows(rows)
    per_video, metric_rows = bd.video_tables(obs, vocab, video)
    by = {r["video"]: r for r in per_video}
    assert set(by) == {"v1", "v2"}  # the real image's video holds no fake
    assert (by["v1"]["ta_frames"], by["v1"]["ta_any"], by["v1"]["ta_majority"]) == (2, True, True)
    assert (by["v2"]["na_frames"], by["v2"]["na_any"], by["v2"]["na_majority"]) == (1, True, False)
    assert by["v1"]["mean_confidence"] == pytest.approx(93.0)
    values = {r["metric"]: (r["value"], r["n"]) for r in metric_rows}
    assert values["TA_VIDEO_ANY"] == (50.0, 2) and values["TA_VIDEO_MAJORITY"] == (50.0, 2)
    assert values["NA_VIDEO_ANY"] == (100.0, 2) and values["NA_VIDEO_MAJORITY"] == (50.0, 2)


# ---- where a non-targeted hit lands --------------------------------------------------


def test_hit_landing_known_answer():
    rows, _ = video_results()
    rows.append(row("aws", "f9", "P", "Someone", "70", fake=True, real="r", reference="Q"))
    obs, vocab = read_rows(rows)
    assert np.asarray(landing_of_rows(obs)).tolist() == [-1, 0, 0, -1, -1, 1, 2]
    hits = hit_landing(obs, sizes=GroupSizes.of(vocab))
    assert [int(x[0]) for x in hits] == [2, 1, 1, 4]
    land = {r["metric"]: r for r in bd.landing_rows(obs, vocab)}
    assert land["NA_AS_TARGET"]["value"] == 50.0 and land["NA_AS_TARGET"]["n"] == 4
    assert land["NA_AS_REFERENCE"]["count"] == 1 and land["NA_AS_OTHER"]["value"] == 25.0
    assert land["NA_AS_REFERENCE"]["ci_low"] < 25.0 < land["NA_AS_REFERENCE"]["ci_high"]


# ---- per identity ----------------------------------------------------------------------


def test_per_identity_rows_and_csv_round_trip(tmp_path):
    rows, _ = video_results()
    rows += [row("aws", "r2", "Q", "", ""),
             row("aws", "g1", "Q", "Q", "88", fake=True, real="r2", reference="P")]
    obs, vocab = read_rows(rows)
    per = {r["identity"]: r for r in bd.per_identity_rows(obs, vocab)}
    p, q = per["P"], per["Q"]
    assert (p["n_real"], p["n_fake"], p["ta"], p["na"]) == (1, 5, 2, 3)
    assert p["target"] == pytest.approx((95 + 91 + 60) / 3) and p["reference"] == 99.0
    assert p["ta_rate"] == 40.0 and p["na_rate"] == 60.0
    assert (q["ta"], q["na"], q["reference"]) == (0, 1, 0.0)  # real unnamed: no TA; mean 0
    path = per_identity_csv.write_per_identity_csv(tmp_path / "per_identity.csv",
                                                    list(per.values()))
    back = per_identity_csv.read_per_identity_csv(path)
    assert back[0]["ta_rate"] == p["ta_rate"] and back[0]["n_fake"] == 5
    spread = bd.identity_spread(list(per.values()))[0]
    assert spread["most"][0][0] == "P" and spread["least"][0][0] == "Q"
    assert (spread["max"], spread["min"], spread["n_at_min"]) == (40.0, 0.0, 1)


# ---- grouping ------------------------------------------------------------------------


def test_grouping_by_the_dataset_column_reproduces_the_metrics():
    from simulators.cohort import simulate_cohort_results

    cols = simulate_cohort_results(scale="small", seed=3, datasets=("CelebBlend", "VoxCelebTH"))
    obs, vocab = read_rows([dict(zip(cols, v, strict=True))
                            for v in zip(*(cols[c].tolist() for c in cols), strict=True)])
    labels = np.asarray(vocab.datasets, dtype=object)[np.asarray(obs.dataset)].tolist()
    grouped = bd.group_metric_rows(obs, vocab, labels, "dataset")
    plain = metrics_table(obs, vocab)
    key = lambda r, k: (r[k], r["vendor"], r["metric"])  # noqa: E731
    assert {key(r, "group"): (r["value"], r["ci_low"], r["n"]) for r in grouped} == {
        key(r, "dataset"): (r["value"], r["ci_low"], r["n"]) for r in plain}
    # A column that holds only real images' labels for some rows: groups without fakes go.
    method = np.asarray(vocab.methods, dtype=object)[np.asarray(obs.method)].tolist()
    assert {r["group"] for r in bd.group_metric_rows(obs, vocab, method, "method")} == {
        "reenactment", "synthesis"}


def test_name_repeats_known_answer():
    rows = [row("aws", "r", "P", "P", "99")]
    rows += [row("aws", f"f{i}", "P", p, "70" if p else "", fake=True, real="r")
             for i, p in enumerate(["A", "A", "B", "B", "C", ""])]
    obs, vocab = read_rows(rows)
    (r,) = bd.name_repeat_rows(obs, vocab)
    assert (r["named_fakes"], r["distinct_names"], r["top_name"], r["top_count"]) == (5, 3, "A", 2)
    assert r["names_at_top_count"] == 2  # A and B tie; A by name, and the tie is said
    assert r["top_share"] == 40.0 and r["top5_share"] == 100.0


# ---- score distributions -----------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0, 100), min_size=2, max_size=30),
       st.lists(st.floats(0, 100), min_size=2, max_size=30))
def test_d_prime_matches_its_formula(a, b):
    a, b = np.array(a), np.array(b)
    pooled = (a.var(ddof=1) + b.var(ddof=1)) / 2
    got = bd.d_prime(a, b)
    if pooled <= 0:
        assert got is None
    else:
        assert got == pytest.approx((a.mean() - b.mean()) / np.sqrt(pooled))


# ---- optional trailing results columns ----------------------------------------------


def test_video_columns_trail_the_contract_and_are_optional(tmp_path):
    rows, video = video_results()
    cols = {c: [r[c] for r in rows] for c in RESULT_COLUMNS}
    cols["is_fake"] = [r["is_fake"] == "true" for r in rows]
    for c in ("confidence", "similarity"):
        cols[c] = [float(x) if x else None for x in cols[c]]
    cols["source_video"] = video
    cols["frame_index"] = [0, 0, 1, 2, None, 1]
    csv_path, pq_path = write_results(tmp_path, cols)
    with open(csv_path, newline="") as fh:
        header = next(csv.reader(fh))
    assert header == [*RESULT_COLUMNS, *VIDEO_COLUMNS]
    for path in (csv_path, pq_path):
        obs, _ = read_results_file(path)
        assert obs.n == 6
        extra = read_extra_columns(path, list(VIDEO_COLUMNS))
        assert extra["source_video"] == video
        assert extra["frame_index"] == ["0", "0", "1", "2", "", "1"]
    # Without them: the 12 columns only, and the reader takes it.
    del cols["source_video"], cols["frame_index"]
    plain, _ = write_results(tmp_path / "plain", cols)
    with open(plain, newline="") as fh:
        assert next(csv.reader(fh)) == list(RESULT_COLUMNS)
    assert read_results_file(plain).obs.n == 6
    from dicore.errors import UserError

    with pytest.raises(UserError, match="no column source_video"):
        read_extra_columns(plain, ["source_video"])


def test_per_video_csv_round_trip(tmp_path):
    rows, video = video_results()
    obs, vocab = read_rows(rows)
    per_video, _ = bd.video_tables(obs, vocab, video)
    path = per_video_csv.write_per_video_csv(tmp_path / "per_video.csv", per_video)
    back = per_video_csv.read_per_video_csv(path)
    assert back[0]["ta_any"] is True and back[1]["na_majority"] is False
    assert back[0]["mean_confidence"] == per_video[0]["mean_confidence"]
