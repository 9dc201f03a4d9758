"""Breakdowns of a study's results into rows for files and the report (no files read here):
per identity (per_identity.csv), where non-targeted hits land (metrics.json extra rows),
per video (per_video.csv, video-level metrics), per any grouping column, how often
predicted names repeat, detector curves (detectors.csv) and score distributions.

Every rate is percent with a Wilson interval at `level` and its n, like metrics.json rows.
Row labels that are not a results column (`video`, `group`) arrive as per-row string
sequences aligned with the observations (read by `dicore.formats.results.read_extra_columns`).
"""

from __future__ import annotations

import dataclasses
import functools
from collections import Counter
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from dicore.core import detection, landing, videos
from dicore.core.groups import GroupSizes
from dicore.core.intervals import wilson_interval
from dicore.core.metrics import fake_outcomes, group_ids, identity_segments, segment_counts
from dicore.core.observations import Observations, Vocab
from dicore.core.vocab import BREAKDOWN_METRICS
from dicore.tables import identity_rows, metrics_table, none_if_nan, percent, present_groups

LANDING_METRICS = tuple(f"NA_AS_{k.upper()}" for k in landing.LANDINGS)
assert set(LANDING_METRICS) <= set(BREAKDOWN_METRICS)
"""metrics.json extra rows: share of the named fakes named as their target, their
reference/source, another identity (n = named fakes)."""
VIDEO_METRICS = ("TA", "NA")


def _rate(num, den, level: float) -> dict[str, Any]:
    num, den = np.asarray(num, np.int64), np.asarray(den, np.int64)
    low, high = wilson_interval(num, den, level=level)
    value = percent(num, den)
    return {"value": none_if_nan(value), "ci_low": none_if_nan(np.fmin(low, value)),
            "ci_high": none_if_nan(np.fmax(high, value)), "n": int(den)}


# ---- per identity (Tables 3-6) ------------------------------------------------------

_identity_counts = jax.jit(
    lambda obs, sizes: segment_counts(fake_outcomes(obs), identity_segments(obs, sizes=sizes),
                                      num_segments=sizes.n_groups * sizes.n_identities))

def per_identity_rows(obs: Observations, vocab: Vocab) -> list[dict[str, Any]]:
    """per_identity.csv rows (`dicore.formats.per_identity_csv`): `dicore.tables.identity_rows` with each identity's TA and NA counts and rates."""
    sizes = GroupSizes.of(vocab)
    counts = np.asarray(_identity_counts(obs, sizes).numerator)  # (5, G * I)
    d_index = {d: i for i, d in enumerate(vocab.datasets)}
    v_index = {v: i for i, v in enumerate(vocab.vendors)}
    i_index = {x: i for i, x in enumerate(vocab.identities)}
    rows = []
    for r in identity_rows(obs, vocab):
        g = d_index[r["dataset"]] * sizes.n_vendors + v_index[r["vendor"]]
        cell = g * sizes.n_identities + i_index[r["identity"]]
        ta, na = int(counts[0, cell]), int(counts[1, cell])
        n = r["n_fake"]
        rows.append({**r, "ta": ta, "na": na,
                     "ta_rate": none_if_nan(percent(ta, n)), "na_rate": none_if_nan(percent(na, n))})
    return rows


def identity_spread(rows: Sequence[dict], metric: str = "ta_rate", k: int = 5) -> list[dict]:
    """Per (dataset, vendor): how the per-identity `metric` spreads over identities with
    fakes (min, quartiles, max) and the `k` most and least attacked identities. Ties are
    broken by identity name, and the rows say how many identities share the extreme value."""
    out = []
    for key in dict.fromkeys((r["dataset"], r["vendor"]) for r in rows):
        cell = [r for r in rows if (r["dataset"], r["vendor"]) == key and r["n_fake"] > 0
                and r[metric] is not None]
        if not cell:
            continue
        values = np.array([r[metric] for r in cell])
        order = sorted(cell, key=lambda r: (-r[metric], r["identity"]))
        q = np.percentile(values, [0, 25, 50, 75, 100])
        out.append({
            "dataset": key[0], "vendor": key[1], "identities": len(cell),
            "min": float(q[0]), "q1": float(q[1]), "median": float(q[2]), "q3": float(q[3]),
            "max": float(q[4]),
            "n_at_max": int(np.sum(values == q[4])), "n_at_min": int(np.sum(values == q[0])),
            "most": [(r["identity"], r[metric], r["n_fake"]) for r in order[:k]],
            "least": [(r["identity"], r[metric], r["n_fake"])
                      for r in sorted(cell, key=lambda r: (r[metric], r["identity"]))[:k]],
        })
    return out


# ---- where non-targeted hits land (4.2.2) -------------------------------------------

_hit_landing = jax.jit(landing.hit_landing)


def landing_rows(obs: Observations, vocab: Vocab, *, level: float = 0.95) -> list[dict]:
    """metrics.json extra rows (`LANDING_METRICS`) per (dataset, vendor) present, with the
    count in `count`: share of named fakes whose name is their target / reference / other."""
    sizes = GroupSizes.of(vocab)
    hits = jax.tree.map(np.asarray, _hit_landing(obs, sizes=sizes))
    rows = []
    for g in present_groups(obs, sizes).tolist():
        d, v = divmod(g, sizes.n_vendors)
        for metric, part in zip(LANDING_METRICS, (hits.target, hits.reference, hits.other),
                                strict=True):
            rows.append({"dataset": vocab.datasets[d], "vendor": vocab.vendors[v],
                         "metric": metric, **_rate(part[g], hits.named[g], level),
                         "count": int(part[g])})
    return rows


# ---- per video ----------------------------------------------------------------------

def _video_ids(video: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    names: dict[str, int] = {}
    ids = np.array([names.setdefault(v, len(names)) if v else -1 for v in video], np.int32)
    return ids, list(names)


@functools.partial(jax.jit, static_argnames=("sizes", "n_videos"))
def _video_counts_jit(obs, vid, *, sizes, n_videos):
    out = fake_outcomes(obs)
    g = group_ids(obs, sizes=sizes)
    return {metric: videos.video_counts(success, vid, g, obs.confidence, n_groups=sizes.n_groups,
                                        n_videos=n_videos, include=obs.is_fake)
            for metric, success in (("TA", out.targeted), ("NA", out.named))}


def _video_counts(obs, sizes, vid, n_videos):
    return jax.tree.map(np.asarray, _video_counts_jit(obs, vid, sizes=sizes, n_videos=n_videos))


def video_tables(obs: Observations, vocab: Vocab, video: Sequence[str], *,
                 level: float = 0.95) -> tuple[list[dict], list[dict]]:
    """(per_video.csv rows (`dicore.formats.per_video_csv`), video-level metric rows). Only fakes with a source video count.
    Metric rows: `{dataset, vendor, metric, rule, value, ci_low, ci_high, n, frames}` for
    metric TA/NA and rule any/majority; n = videos, Wilson intervals over videos."""
    if len(video) != obs.n:
        raise ValueError(f"{len(video)} video labels for {obs.n} rows")
    sizes = GroupSizes.of(vocab)
    vid, names = _video_ids(video)
    if not names:
        return [], []
    counts = _video_counts(obs, sizes, vid, len(names))
    ta, na = counts["TA"], counts["NA"]
    per_video, metric_rows = [], []
    for g in present_groups(obs, sizes).tolist():
        d, v = divmod(g, sizes.n_vendors)
        where = {"dataset": vocab.datasets[d], "vendor": vocab.vendors[v]}
        for j in np.flatnonzero(ta.frames[g] > 0).tolist():
            per_video.append({
                **where, "video": names[j], "frames": int(ta.frames[g, j]),
                "ta_frames": int(ta.successes[g, j]), "na_frames": int(na.successes[g, j]),
                "ta_any": bool(ta.successes[g, j] > 0),
                "ta_majority": bool(2 * ta.successes[g, j] > ta.frames[g, j]),
                "na_any": bool(na.successes[g, j] > 0),
                "na_majority": bool(2 * na.successes[g, j] > na.frames[g, j]),
                "mean_confidence": none_if_nan(na.mean_confidence[g, j]),
            })
        for metric, c in (("TA", ta), ("NA", na)):
            if not (c.frames[g] > 0).any():
                continue
            for rule in videos.RULES:
                num, den = videos.video_rates(c, rule)
                metric_rows.append({**where, "metric": f"{metric}_VIDEO_{rule.upper()}",
                                    "rule": rule, **_rate(num[g], den[g], level),
                                    "frames": int(c.frames[g].sum())})
    return per_video, metric_rows


# ---- any grouping column --------------------------------------------------------------


def group_metric_rows(obs: Observations, vocab: Vocab, groups: Sequence[str], column: str,
                      **metric_options) -> list[dict]:
    """Every metric per (group, vendor), datasets pooled, with intervals: `metrics_table`
    with the group labels in place of the datasets. Rows `{column, group, vendor, metric,
    value, ci_low, ci_high, n}`. A fake takes its own row's label (its paired real keeps
    its own label only for the TA/DHF rules, which read it by row). Groups without fakes
(e.g. `method` = real) are left out."""
    if len(groups) != obs.n:
        raise ValueError(f"{len(groups)} {column} labels for {obs.n} rows")
    labels = [str(g) if g not in (None, "") else "(empty)" for g in groups]
    names = sorted(set(labels))
    index = {x: i for i, x in enumerate(names)}
    regrouped = dataclasses.replace(obs, dataset=np.array([index[x] for x in labels], np.int32))
    rows = metrics_table(regrouped, dataclasses.replace(vocab, datasets=tuple(names)),
                         **metric_options)
    with_fakes = {r["dataset"] for r in rows if r["metric"] == "TA" and r["n"] > 0}
    return [{"column": column, "group": r.pop("dataset"), **r} for r in rows
            if r["dataset"] in with_fakes]


def name_repeat_rows(obs: Observations, vocab: Vocab, groups: Sequence[str] | None = None,
                     column: str = "dataset", top: int = 5) -> list[dict]:
    """How often each predicted name repeats among the named fakes, per (group, vendor):
    named fakes, distinct names, the most frequent name (ties: alphabetical, with how many
    names share that count) and the share of hits taken by the `top` most frequent names."""
    fake = np.asarray(obs.is_fake)
    pred = np.asarray(obs.predicted)
    vendor = np.asarray(obs.vendor)
    if groups is None:
        labels = np.asarray(vocab.datasets, dtype=object)[np.asarray(obs.dataset)]
    else:
        labels = np.asarray([str(g) if g else "(empty)" for g in groups], dtype=object)
    rows = []
    for label in dict.fromkeys(labels.tolist()):
        for v, vname in enumerate(vocab.vendors):
            m = fake & (pred >= 0) & (vendor == v) & (labels == label)
            if not m.any():
                continue
            counts = Counter(vocab.identities[i] for i in pred[m].tolist())
            ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            best = ranked[0][1]
            n = int(m.sum())
            rows.append({
                "column": column, "group": label, "vendor": vname, "named_fakes": n,
                "distinct_names": len(counts), "top_name": ranked[0][0], "top_count": best,
                "names_at_top_count": sum(1 for _, c in ranked if c == best),
                "top_share": 100.0 * best / n,
                f"top{top}_share": 100.0 * sum(c for _, c in ranked[:top]) / n,
                "repeats_per_name": n / len(counts),
            })
    return rows


# ---- detector curves (the defence) ----------------------------------------------------

def bucket(n: int) -> int:
    """Padded length (a power of two, at least 256): one compile serves many sizes."""
    return max(256, 1 << max(n - 1, 1).bit_length())


def _pad(x: np.ndarray, size: int, fill) -> np.ndarray:
    return np.concatenate([x, np.full(size - len(x), fill, dtype=x.dtype)])


@functools.partial(jax.jit, static_argnames=("n_videos",))
def _curves(scores, fake, valid, video, threshold, *, n_videos):
    eer, eer_t = detection.equal_error_rate(scores, fake, valid)
    at1 = detection.apcer_at_bpcer(scores, fake, 0.01, valid)
    at5 = detection.apcer_at_bpcer(scores, fake, 0.05, valid)
    vs, vf, vv = detection.video_scores(scores, video, fake, n_videos=n_videos, valid=valid)
    return (detection.roc_auc(scores, fake, valid), eer, eer_t,
            detection.average_precision(scores, fake, valid), at1.apcer, at1.threshold,
            at5.apcer, at5.threshold, detection.balanced_accuracy(scores, fake, threshold, valid),
            detection.roc_auc(vs, vf, vv), jnp.sum(vv))


_error_curve = jax.jit(detection.error_curve)


def _pct(x) -> float | None:
    return none_if_nan(100.0 * float(x))


def _thr(x) -> float | None:
    x = float(x)
    return None if not np.isfinite(x) else x


def detector_rows(scores: np.ndarray, is_fake: np.ndarray, datasets: Sequence[str],
                  detectors: Sequence[str], *, video: Sequence[str] | None = None,
                  threshold: float = 0.5, source: str = "measured",
                  combined_name: str = "All Datasets Combined", pad_to: int = 0,
                  videos_pad: int = 0) -> list[dict]:
    """`dicore.formats.detectors_json.COLUMNS` rows from a (N, D) score matrix over images
    (one row per image); rows per dataset, and all combined when there are several.
    `pad_to`/`videos_pad`: pad lengths shared by several calls (one compile for all)."""
    scores = np.asarray(scores, np.float64)
    is_fake = np.asarray(is_fake, bool)
    n = len(is_fake)
    size = max(bucket(n), pad_to)
    datasets_arr = np.asarray(datasets, dtype=object)
    parts = [(d, datasets_arr == d) for d in dict.fromkeys(datasets_arr.tolist())]
    if len(parts) > 1:
        parts.append((combined_name, np.ones(n, bool)))
    vid, names = _video_ids(video) if video is not None else (np.full(n, -1, np.int32), [])
    fake_p = _pad(is_fake, size, False)
    vid_p = _pad(vid.astype(np.int32), size, -1)
    n_videos = max(bucket(len(names)), videos_pad) if names else 1
    rows = []
    for j, det in enumerate(detectors):
        s = _pad(scores[:, j], size, 0.0)
        for name, m in parts:
            c = _curves(s, fake_p, _pad(m, size, False), vid_p, threshold, n_videos=n_videos)
            rows.append({
                "detector": det, "dataset": name, "n_real": int(np.sum(m & ~is_fake)),
                "n_fake": int(np.sum(m & is_fake)), "roc_auc": _pct(c[0]), "eer": _pct(c[1]),
                "eer_threshold": _thr(c[2]), "average_precision": _pct(c[3]),
                "apcer_at_bpcer_1": _pct(c[4]), "threshold_at_bpcer_1": _thr(c[5]),
                "apcer_at_bpcer_5": _pct(c[6]), "threshold_at_bpcer_5": _thr(c[7]),
                "balanced_accuracy": _pct(c[8]), "threshold": float(threshold),
                "video_auc": _pct(c[9]) if names else None,
                "n_videos": int(c[10]) if names else 0, "source": source,
            })
    return rows


def det_curves(scores: np.ndarray, is_fake: np.ndarray, detectors: Sequence[str], *,
               pad_to: int = 0) -> list[dict]:
    """Per detector, all images: the DET curve `{detector, apcer, bpcer}` (percent lists,
    thresholds ascending; the padding's points at +inf are dropped)."""
    is_fake = np.asarray(is_fake, bool)
    n = len(is_fake)
    size = max(bucket(n), pad_to)
    valid = _pad(np.ones(n, bool), size, False)
    out = []
    for j, det in enumerate(detectors):
        c = _error_curve(_pad(np.asarray(scores[:, j], np.float64), size, 0.0),
                         _pad(is_fake, size, False), valid)
        keep = np.isfinite(np.asarray(c.thresholds))
        keep[-1] = True
        out.append({"detector": det, "apcer": (100 * np.asarray(c.apcer)[keep]).tolist(),
                    "bpcer": (100 * np.asarray(c.bpcer)[keep]).tolist()})
    return out


# ---- score distributions -----------------------------------------------------------


def d_prime(a: np.ndarray, b: np.ndarray) -> float | None:
    """(mean a - mean b) / sqrt((var a + var b) / 2), sample variances; None when either
    side has fewer than 2 values or both variances are 0."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if len(a) < 2 or len(b) < 2:
        return None
    pooled = (np.var(a, ddof=1) + np.var(b, ddof=1)) / 2.0
    if pooled <= 0:
        return None
    return float((a.mean() - b.mean()) / np.sqrt(pooled))


def score_distributions(obs: Observations, vocab: Vocab) -> list[dict]:
    """Per vendor present (datasets pooled): the confidences of named real images and of
    named fakes, the similarities of fakes to their real, and the d-prime of real vs fake
    confidence (positive: real images get higher confidence)."""
    fake = np.asarray(obs.is_fake)
    conf = np.asarray(obs.confidence, np.float64)
    sim = np.asarray(obs.similarity, np.float64)
    vendor = np.asarray(obs.vendor)
    out = []
    for v, name in enumerate(vocab.vendors):
        m = vendor == v
        if not m.any():
            continue
        real_c = conf[m & ~fake & ~np.isnan(conf)]
        fake_c = conf[m & fake & ~np.isnan(conf)]
        out.append({"vendor": name, "real_confidence": real_c, "fake_confidence": fake_c,
                    "similarity": sim[m & fake & ~np.isnan(sim)],
                    "d_prime": d_prime(real_c, fake_c)})
    return out
