"""`detectors.json`: each deepfake detector's curves, per dataset (and all combined).

`{"simulated": bool, "rows": [ROW], "det": [{"dataset", "detector", "apcer", "bpcer"}]}`.
A ROW has `COLUMNS`: detector, dataset, n_real, n_fake, roc_auc, eer, eer_threshold,
average_precision, apcer_at_bpcer_1, threshold_at_bpcer_1, apcer_at_bpcer_5,
threshold_at_bpcer_5, balanced_accuracy, threshold, video_auc, n_videos, source.
Rates are percent; thresholds are in score units (P(fake), 0..1; an image is blocked when
score >= threshold; null when only +inf qualifies, i.e. nothing is blocked). EER is
(APCER + BPCER) / 2 at the threshold where they are closest; APCER at BPCER <= 1% / 5% uses
the lowest such threshold; balanced accuracy = 1 - (APCER + BPCER) / 2 at `threshold`;
video_auc is the ROC AUC over videos scored by the mean of their frames' scores (null
without source videos). `det` holds the DET curve (APCER and BPCER in percent, at most
`MAX_DET_POINTS` points). `simulated` is true when the scores were simulated.
Written by `dicore defend --curves FILE` and the study (`dicore.breakdowns.detector_rows`).
"""

from __future__ import annotations

from pathlib import Path

from dicore.formats.atomic import read_json, write_json

COLUMNS = ("detector", "dataset", "n_real", "n_fake", "roc_auc", "eer", "eer_threshold",
           "average_precision", "apcer_at_bpcer_1", "threshold_at_bpcer_1", "apcer_at_bpcer_5",
           "threshold_at_bpcer_5", "balanced_accuracy", "threshold", "video_auc", "n_videos",
           "source")
MAX_DET_POINTS = 400


def _thin(curve: dict) -> dict:
    n = len(curve["apcer"])
    if n <= MAX_DET_POINTS:
        return curve
    keep = sorted({round(i * (n - 1) / (MAX_DET_POINTS - 1)) for i in range(MAX_DET_POINTS)})
    return {**curve, "apcer": [curve["apcer"][i] for i in keep],
            "bpcer": [curve["bpcer"][i] for i in keep]}


def write_detectors_json(path: str | Path, rows: list[dict], det: list[dict], *,
                         simulated: bool) -> Path:
    return write_json(path, {"simulated": bool(simulated),
                             "rows": [{c: r.get(c) for c in COLUMNS} for r in rows],
                             "det": [_thin(c) for c in det]})


def read_detectors_json(path: str | Path) -> dict:
    from dicore.errors import UserError

    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("rows"), list):
        raise UserError(f"{path}: expected an object with 'rows'",
                        "rewrite it with `dicore defend ... --curves detectors.json`")
    return data
