"""Put a deepfake detector in front of the API: attack success after the filter (Table 2).

Reads a results file (results.csv / .parquet, the results contract) and a detector scores
file, and writes Table-2-style rows: dataset, detector, detector_acc, vendor, attack,
asr_before, asr_after, real_blocked, n_fake, source (percent), vendor_simulated. A fake the filter blocks
cannot succeed; attack success after the filter is over all fakes. `real_blocked` is the
share of real images the filter wrongly blocks. Rows for each dataset and all combined.

Scores file (CSV, header required): `item_id,detector,score`, one row per image and
detector; `score` is the detector's probability that the image is fake (0..1). Every
item_id of the results file needs a score from every detector used.

Filters (an image passes, i.e. reaches the API, when judged real):
  --detector NAME [--threshold T]  DD1: that detector, passes when score < T (ties blocked)
  --mode dd1 (default)              DD1 for each detector in the file, one block of rows each
  --mode dd2                        DD2: passes only if every detector has score < T
  --mode dd3 [--folds K --seed S]   DD3: logistic-regression stacking of all detectors,
                                    fitted in JAX, evaluated out of fold (K folds)
  --simulate-accuracy A [A ...]     no scores file: SIMULATED detectors of these accuracies
                                    (percent), seeded by --seed; rows are labelled simulated

Detector curves (every run, per detector in the scores, over each image once): ROC AUC, EER
and its threshold, average precision, APCER at BPCER <= 1% and 5%, balanced accuracy at
--threshold, and the video-level AUC from frame scores (mean per video, when the results
file has source_video); printed, and written as detectors.json with --curves FILE
(format: dicore/formats/detectors_json.py; ISO/IEC 30107-3: APCER = fakes passed, BPCER =
real images blocked).

examples:
  dicore defend --scores scores.csv --results out/results.csv --out out/defence.csv
  dicore defend --scores scores.csv --results out/results.csv --curves out/detectors.json
  dicore defend --scores scores.csv --results out/results.csv --detector CLRNet --threshold 0.6
  dicore defend --scores scores.csv --results out/results.csv --mode dd3 --folds 5
  dicore defend --results out/results.csv --simulate-accuracy 89.7 97.9 --mode dd2
"""

from __future__ import annotations

import argparse
import math
import sys

from dicore.errors import UserError

NAME = "defend"
HELP = "attack success behind a deepfake-detector filter (DD1/DD2/DD3), Table 2 style"

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results", required=True, metavar="FILE",
                        help="results.csv or results.parquet")
    parser.add_argument("--scores", metavar="FILE",
                        help="detector scores CSV: item_id,detector,score (P(fake), 0..1)")
    parser.add_argument("--detector", metavar="NAME", help="DD1 with this detector only")
    parser.add_argument("--threshold", type=float, default=0.5,
                        help="an image passes when score < T (default 0.5)")
    parser.add_argument("--mode", choices=("dd1", "dd2", "dd3"), default="dd1",
                        help="filter (default dd1, each detector on its own)")
    parser.add_argument("--folds", type=int, default=5, help="DD3 folds (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="DD3 folds / simulation seed")
    parser.add_argument("--simulate-accuracy", type=float, nargs="+", metavar="A",
                        help="SIMULATED detector accuracies in percent instead of --scores")
    parser.add_argument("--out", default="defence.csv", metavar="FILE",
                        help="output CSV (default defence.csv)")
    parser.add_argument("--curves", metavar="FILE",
                        help="also write each detector's curves (AUC, EER, AP, APCER at "
                        "BPCER, DET) as detectors.json here")


def _score_matrix(scores, detectors, items):
    import numpy as np

    mat = np.empty((len(items), len(detectors)), np.float32)
    for j, det in enumerate(detectors):
        col = scores[det]
        lacking = [it for it in items if it not in col]
        if lacking:
            raise UserError(
                f"detector {det!r} has no score for {len(lacking)} item(s), e.g. "
                f"{', '.join(lacking[:5])}",
                "the scores file needs a row for every item_id of the results file")
        mat[:, j] = [col[it] for it in items]
    return mat


def run(args: argparse.Namespace) -> int:
    import jax
    import numpy as np

    from dicore import tables
    from dicore.core import defence
    from dicore.core.metrics import fake_outcomes
    from dicore.formats.defence_csv import write_defence_csv
    from dicore.formats.results import read_results_file
    from dicore.formats.scores_csv import read_scores

    if (args.scores is None) == (args.simulate_accuracy is None):
        raise UserError("give exactly one of --scores FILE or --simulate-accuracy A ...",
                        "see `dicore defend --help` for the scores file format")
    if not 0.0 < args.threshold <= 1.0:
        raise UserError(f"--threshold {args.threshold} must be in (0, 1]", "scores are P(fake)")
    if args.mode == "dd3" and args.folds < 2:
        raise UserError(f"--folds {args.folds} must be at least 2")
    for a in args.simulate_accuracy or ():
        if not (math.isfinite(a) and 0.0 < a < 100.0):
            raise UserError(f"--simulate-accuracy {a:g} must lie strictly between 0 and 100",
                            "accuracies are percent, e.g. --simulate-accuracy 89.7 97.9")

    obs, vocab = read_results_file(args.results)
    out = fake_outcomes(obs)
    items_all = np.asarray(vocab.items, dtype=object)[np.asarray(obs.item)]
    vendor_all = np.asarray(vocab.vendors, dtype=object)[np.asarray(obs.vendor)]
    dataset_all = np.asarray(vocab.datasets, dtype=object)[np.asarray(obs.dataset)]
    is_fake_all = np.asarray(obs.is_fake, bool)
    ta_all, na_all = np.asarray(out.targeted), np.asarray(out.named)

    if args.scores is not None:
        scores = read_scores(args.scores)
        source = "measured"
    else:
        # One simulated score per image (not per vendor row), so every vendor sees one filter.
        uniq, first = np.unique(items_all.astype(str), return_index=True)
        sim = np.asarray(defence.simulate_detector_scores(
            jax.random.key(args.seed), is_fake_all[first], args.simulate_accuracy))
        scores = {f"sim{a:g}": dict(zip(uniq.tolist(), sim[:, j].tolist(), strict=True))
                  for j, a in enumerate(args.simulate_accuracy)}
        source = "simulated"
    detectors = list(scores)
    if args.detector is not None:
        if args.detector not in scores:
            raise UserError(f"detector {args.detector!r} not in the scores",
                            f"detectors there: {', '.join(detectors)}")
        plans = [(args.detector, "dd1", [args.detector])]
    elif args.mode == "dd1":
        plans = [(d, "dd1", [d]) for d in detectors]
    else:
        plans = [(args.mode.upper(), args.mode, detectors)]

    rows = []
    for label, mode, dets in plans:
        for vendor in [v for v in vocab.vendors if v in set(vendor_all)]:
            m = vendor_all == vendor
            items = items_all[m].astype(str).tolist()
            mat = _score_matrix(scores, dets, items)
            fake = is_fake_all[m]
            if mode == "dd1":
                passed = defence.dd1_pass(mat, threshold=args.threshold)
            elif mode == "dd2":
                passed = defence.dd2_pass(mat, threshold=args.threshold)
            else:
                passed = defence.dd3_pass(mat, fake, jax.random.key(args.seed), folds=args.folds,
                                          threshold=args.threshold)
            rows += tables.defence_table(
                datasets=dataset_all[m].astype(str), is_fake=fake, passed=np.asarray(passed),
                ta={vendor: ta_all[m]}, na={vendor: na_all[m]}, detector=label, source=source)
    write_defence_csv(args.out, rows, vendor_simulated=vocab.simulated)
    _curves(args, scores, detectors, items_all, is_fake_all, dataset_all, source)
    label = " (SIMULATED detector scores)" if source == "simulated" else ""
    if vocab.simulated:
        label += " (SIMULATED vendors)"
    print(f"{len(rows)} rows -> {args.out}{label}")
    print(f"{'dataset':<22} {'detector':<11} {'acc%':>6} {'vendor':<6} {'att':<3} "
          f"{'before%':>8} {'after%':>7} {'realblk%':>8}")
    for r in rows:
        print(f"{r['dataset']:<22} {r['detector']:<11} {_f(r['detector_acc']):>6} "
              f"{r['vendor']:<6} {r['attack']:<3} {_f(r['asr_before']):>8} "
              f"{_f(r['asr_after'], 2):>7} {_f(r['real_blocked']):>8}", file=sys.stdout)
    return 0


def _f(x, digits: int = 1) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def _curves(args, scores, detectors, items_all, is_fake_all, dataset_all, source) -> None:
    """Each detector's curves over each image once (its first results row)."""
    import numpy as np

    from dicore import breakdowns
    from dicore.formats.results import read_extra_columns

    items = items_all.astype(str)
    _, first = np.unique(items, return_index=True)
    first.sort()
    video = None
    try:
        labels = read_extra_columns(args.results, ["source_video"])["source_video"]
        if any(labels):
            video = [labels[i] for i in first]
    except UserError:
        pass  # no source_video column: no video-level AUC
    mat = _score_matrix(scores, detectors, items[first].tolist())
    rows = breakdowns.detector_rows(mat, is_fake_all[first], dataset_all[first].astype(str),
                                    detectors, video=video, threshold=args.threshold,
                                    source=source)
    print(f"\ndetector curves ({'SIMULATED scores' if source == 'simulated' else source}; "
          f"APCER = fakes passed, BPCER = real blocked; percent)")
    print(f"{'detector':<11} {'dataset':<22} {'AUC':>6} {'EER':>6} {'at t':>6} {'AP':>6} "
          f"{'APCER@1':>8} {'APCER@5':>8} {'bal.acc':>7} {'vidAUC':>6}")
    for r in rows:
        print(f"{r['detector']:<11} {r['dataset']:<22} {_f(r['roc_auc'], 2):>6} "
              f"{_f(r['eer'], 2):>6} {_f(r['eer_threshold'], 3):>6} "
              f"{_f(r['average_precision'], 2):>6} {_f(r['apcer_at_bpcer_1'], 2):>8} "
              f"{_f(r['apcer_at_bpcer_5'], 2):>8} {_f(r['balanced_accuracy'], 2):>7} "
              f"{_f(r['video_auc'], 2):>6}")
    if args.curves:
        from dicore.formats.detectors_json import write_detectors_json

        det = breakdowns.det_curves(mat, is_fake_all[first], detectors)
        write_detectors_json(args.curves, rows, [{"dataset": "all", **c} for c in det],
                             simulated=source == "simulated")
        print(f"-> {args.curves}")
