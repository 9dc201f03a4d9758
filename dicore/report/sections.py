"""The report's breakdown sections (issue 12 items 5-10) and the defence summary (item 12).

Each builder takes the `ReportInputs` and returns a `Section` (or None when there is nothing
to show); `dicore.report.render` lays them out in markdown and HTML. Tables are (header,
rows of strings); `details` tables go into a collapsible block.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from dicore import paper
from dicore.report import breakdown_figures as bf
from dicore.report.model import ReportInputs, vendor_label


@dataclass
class Section:
    key: str  # anchor id
    heading: str
    note: str = ""
    pngs: dict[str, bytes] = field(default_factory=dict)
    tables: list[tuple[str, list[str], list[list[str]]]] = field(default_factory=list)
    details: list[tuple[str, list[str], list[list[str]]]] = field(default_factory=list)


def _f(x, digits: int = 1) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def _ci(r: dict) -> str:
    if r.get("value") is None:
        return "n/a"
    return f"{r['value']:.1f} [{_f(r.get('ci_low'))}, {_f(r.get('ci_high'))}]"


def per_identity(inputs: ReportInputs) -> Section | None:
    from dicore.breakdowns import identity_spread

    b = inputs.breakdowns
    rows = [] if b is None else b.per_identity
    if not rows or "ta_rate" not in rows[0]:
        return None
    png = bf.per_identity(rows, inputs.datasets, inputs.vendors, inputs.simulated)
    spread = identity_spread(rows, "ta_rate", k=3)

    def names(items):
        return "; ".join(f"{name} {rate:.0f}% (n={n})" for name, rate, n in items)

    table = [[s["dataset"], vendor_label(s["vendor"]), str(s["identities"]),
              f"{s['min']:.0f} / {s['median']:.0f} / {s['max']:.0f}",
              f"{s['n_at_max']} at max, {s['n_at_min']} at min",
              names(s["most"]), names(s["least"])] for s in spread]
    return Section(
        "per-identity", "Per identity (the paper's Tables 3-6)",
        "Each identity's TA rate (% of its fakes). Full table: per_identity.csv (n real, n "
        "fake, mean confidence of real images and of fakes, mean similarity, TA/NA counts and "
        "rates). Most/least attacked: 3 each, ties broken by name; the tie counts say how "
        "many identities share the extreme value.",
        {"per_identity.png": png} if png else {},
        [("", ["dataset", "vendor", "identities", "TA min / median / max %", "ties",
               "most attacked", "least attacked"], table)])


def hit_landing(inputs: ReportInputs) -> Section | None:
    rows = [r for r in inputs.metrics if str(r["metric"]).startswith("NA_AS_")]
    if not rows:
        return None
    cell = {(r["dataset"], r["vendor"], r["metric"]): r for r in rows}
    table = []
    for d in inputs.datasets:
        for v in inputs.vendors:
            if (d, v, "NA_AS_TARGET") not in cell:
                continue
            parts = [cell[(d, v, f"NA_AS_{k}")] for k in ("TARGET", "REFERENCE", "OTHER")]
            table.append([d, vendor_label(v), str(parts[0]["n"]),
                          *[f"{p.get('count', '?')} = {_ci(p)}" for p in parts]])
    png = bf.hit_landing(rows, inputs.datasets, inputs.vendors, inputs.simulated)
    return Section(
        "hit-landing", "Where a non-targeted hit lands (paper 4.2.2)",
        "Every named fake, by the name it got: its target, its reference/source (driver, "
        "swap destination or second blend source), or another identity. Rates are % of the "
        "named fakes with 95% Wilson intervals (metrics.json rows NA_AS_TARGET, "
        "NA_AS_REFERENCE, NA_AS_OTHER, count in `count`).",
        {"hit_landing.png": png} if png else {},
        [("", ["dataset", "vendor", "named fakes", "as target", "as reference", "as other"],
          table)])


def per_video(inputs: ReportInputs) -> Section | None:
    rows = [r for r in inputs.metrics if "_VIDEO_" in str(r["metric"])]
    if not rows:
        return None
    cell = {(r["dataset"], r["vendor"], r["metric"]): r for r in rows}
    frame = {(r["dataset"], r["vendor"], r["metric"]): r for r in inputs.metrics}
    table = []
    for d in inputs.datasets:
        for v in inputs.vendors:
            if (d, v, "TA_VIDEO_ANY") not in cell:
                continue
            any_ = cell[(d, v, "TA_VIDEO_ANY")]
            table.append([d, vendor_label(v), str(any_["n"]), str(any_.get("frames", "?")),
                          _ci(frame.get((d, v, "TA"), {})), _ci(any_),
                          _ci(cell[(d, v, "TA_VIDEO_MAJORITY")]),
                          _ci(frame.get((d, v, "NA"), {})), _ci(cell[(d, v, "NA_VIDEO_ANY")]),
                          _ci(cell[(d, v, "NA_VIDEO_MAJORITY")])])
    note = ("A video counts as attacked when any of its frames succeeds, or when strictly "
            "more than half do; rates are % of videos (95% Wilson), beside the frame-level "
            "rate. Per video (frames, successes, mean confidence): per_video.csv.")
    if inputs.simulated:
        note += (" SIMULATED cohort: frames of one video are independent draws, so the "
                 "any-frame rate overstates what frames of one real video would give.")
    return Section("per-video", "Per video", note, {}, [(
        "", ["dataset", "vendor", "videos", "frames", "TA frames %", "TA any %",
             "TA majority %", "NA frames %", "NA any %", "NA majority %"], table)])


def groups(inputs: ReportInputs) -> Section | None:
    b = inputs.breakdowns
    if b is None or not b.groups:
        return None
    png = bf.groups(b.groups, inputs.vendors, inputs.simulated)
    metric_rows = [[r["column"], r["group"], vendor_label(r["vendor"]), r["metric"], _ci(r),
                    str(r["n"])] for r in b.groups]
    repeats = [[r["column"], r["group"], vendor_label(r["vendor"]), str(r["named_fakes"]),
                str(r["distinct_names"]), f"{r['repeats_per_name']:.2f}",
                f"{r['top_name']} ({r['top_count']}, {r['top_share']:.1f}%)"
                + (f", tied with {r['names_at_top_count'] - 1} more"
                   if r["names_at_top_count"] > 1 else ""),
                f"{r['top5_share']:.1f}"] for r in b.name_repeats]
    return Section(
        "groups", "By group: " + ", ".join(b.group_columns),
        "Every metric per group of a column (datasets pooled) with 95% intervals: groups.json "
        "(`dicore metrics --group-by COLUMN` for any manifest column carried into the results "
        "file). Name repeats (the paper's appendix H question): how often each predicted "
        "name recurs among the named fakes.",
        {"groups.png": png} if png else {},
        [("How often predicted names repeat", ["column", "group", "vendor", "named fakes",
                                              "distinct names", "fakes per name",
                                              "most frequent name", "top-5 share %"], repeats)],
        [("All metrics by group", ["column", "group", "vendor", "metric", "% [95% CI]", "n"],
          metric_rows)])


def detectors(inputs: ReportInputs) -> Section | None:
    b = inputs.breakdowns
    if b is None or not b.detectors:
        return None
    png = bf.det(b.det, inputs.simulated, b.detectors_simulated)
    table = [[r["dataset"], r["detector"], f"{r['n_real']}/{r['n_fake']}", _f(r["roc_auc"], 2),
              f"{_f(r['eer'], 2)} at {_f(r['eer_threshold'], 3)}", _f(r["average_precision"], 2),
              f"{_f(r['apcer_at_bpcer_1'], 2)} / {_f(r['apcer_at_bpcer_5'], 2)}",
              _f(r["balanced_accuracy"], 2), _f(r["video_auc"], 2)] for r in b.detectors]
    note = ("Per detector: ROC AUC, EER (APCER = BPCER) and its score threshold, average "
            "precision (fakes positive), APCER at BPCER <= 1% / 5% (ISO/IEC 30107-3: APCER = "
            "fakes passed, BPCER = real images blocked), balanced accuracy at threshold 0.5, and "
            "the video-level AUC from frame scores (mean per video). File: detectors.json.")
    if b.detectors_simulated:
        note += (" SIMULATED detector scores, drawn at the paper's Table 2 accuracies "
                 "(dicore.core.defence.simulate_detector_scores); not measured detectors.")
    return Section("detectors", "Detector curves (defence)", note,
                   {"det.png": png} if png else {},
                   [("", ["dataset", "detector", "real/fake", "ROC AUC %", "EER % at threshold",
                          "AP %", "APCER % at BPCER 1% / 5%", "balanced acc. %",
                          "video AUC %"], table)])


def distributions(inputs: ReportInputs) -> Section | None:
    b = inputs.breakdowns
    if b is None or not b.distributions:
        return None
    floors = paper.reporting_floors()
    png = bf.distributions(b.distributions, inputs.beta, inputs.gamma, floors, inputs.simulated)
    table = [[vendor_label(d["vendor"]), str(len(d["real_confidence"])),
              str(len(d["fake_confidence"])), str(len(d["similarity"])),
              _f(d["d_prime"], 2)] for d in b.distributions]
    return Section(
        "distributions", "Score distributions",
        "Confidence of named real images vs named fakes per vendor (dashed: beta; dotted: the "
        "vendor's reporting floor), and similarity of each fake to its real (dashed: gamma). "
        "d' = (mean real - mean fake) / sqrt((var real + var fake) / 2) of the confidences.",
        {"distributions.png": png} if png else {},
        [("", ["vendor", "named real images", "named fakes", "fakes with a similarity", "d'"],
          table)])


BUILDERS: tuple[Callable[[ReportInputs], Section | None], ...] = (
    per_identity, hit_landing, per_video, groups, detectors, distributions)


def breakdown_sections(inputs: ReportInputs) -> list[Section]:
    """Every breakdown section that has data, in report order."""
    return [s for s in (build(inputs) for build in BUILDERS) if s is not None]


def defence_summary(defence: list[dict]) -> list[list[str]]:
    """Best detector per (dataset, vendor, attack): the lowest attack success after the
    filter. Ties are all named (joined by ' = '), never one picked arbitrarily."""
    cells: dict[tuple, list[dict]] = {}
    for r in defence:
        if r.get("asr_after") is None:
            continue
        cells.setdefault((r["dataset"], r["vendor"], r["attack"]), []).append(r)
    out = []
    for (d, v, a), rows in cells.items():
        best = min(r["asr_after"] for r in rows)
        tied = sorted({str(r["detector"]) for r in rows if r["asr_after"] == best})
        acc = [r.get("detector_acc") for r in rows if r["asr_after"] == best]
        out.append([str(d), vendor_label(str(v)), str(a), " = ".join(tied),
                    _f(acc[0]) if acc else "n/a", _f(rows[0].get("asr_before"), 2),
                    _f(best, 2), str(len(rows))])
    return out
