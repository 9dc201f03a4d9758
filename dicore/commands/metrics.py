"""Compute TA, NA, DHF, DHC, DHS and SIC per dataset and vendor from a results file.

Reads results.csv (or results.parquet) in the results-file contract, validates
every row (all problems are listed at once, by row and field), and writes
metrics.json: {"beta", "gamma", "simulated", "rows": [{"dataset", "vendor",
"metric", "value", "ci_low", "ci_high", "n"}]}, values in percent, null when
n = 0. Thresholds are strict: DHC counts confidence > beta, DHS similarity > gamma.

examples:
  dicore metrics --results results.csv --out metrics.json
  dicore metrics --results results.parquet --beta 95 --gamma 85 --out metrics.json
  dicore metrics --results results.csv --ci bootstrap --resamples 2000 --seed 7
  dicore metrics --results results.csv --names names.csv   # map ids (id0) to vendor names
  dicore metrics --results results.csv --by video --per-video per_video.csv --out videos.json
  dicore metrics --results results.csv --group-by gender --out groups.json

--by video (needs the results' `source_video` column): a video counts as attacked when any
of its fakes' frames succeeds (rule `any`) or strictly more than half do (`majority`);
metrics.json rows TA_VIDEO_ANY, TA_VIDEO_MAJORITY, NA_VIDEO_ANY, NA_VIDEO_MAJORITY per
dataset and vendor (n = videos, Wilson intervals, `frames` = fake frames); --per-video FILE
also writes per_video.csv (frames, successes, mean confidence per video).
--group-by COLUMN (any column of the results file, e.g. a manifest column the study
carried over, or `method`): every metric per (group, vendor), datasets pooled, with
intervals, and how often predicted names repeat per group, as groups.json.

Names match by the rule of docs/study.md ("Identities"): vendor ids, then names
normalised (case, whitespace, underscores, diacritics) and aliases of --names FILE.
"""

from __future__ import annotations

import argparse
import math
import sys

from dicore.core.vocab import DEFAULT_BETA, DEFAULT_GAMMA

NAME = "metrics"
HELP = "compute the study's metrics (with confidence intervals) from a results file"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--results", required=True, metavar="FILE", help="results.csv or results.parquet"
    )
    parser.add_argument(
        "--beta",
        type=float,
        default=DEFAULT_BETA,
        help=f"DHC confidence threshold, percent, strict > (default {DEFAULT_BETA:g})",
    )
    parser.add_argument(
        "--gamma",
        type=float,
        default=DEFAULT_GAMMA,
        help=f"DHS similarity threshold, percent, strict > (default {DEFAULT_GAMMA:g})",
    )
    parser.add_argument(
        "--ci",
        choices=("wilson", "bootstrap"),
        default="wilson",
        help="interval: Wilson score, or cluster bootstrap over target identities (default "
        "wilson). Wilson streams the file in bounded memory; bootstrap, --by video and "
        "--group-by read the whole file into memory (docs/metrics.md, 'Memory model')",
    )
    parser.add_argument("--level", type=float, default=0.95, help="confidence level (default 0.95)")
    parser.add_argument(
        "--resamples", type=int, default=1000, help="bootstrap resamples (default 1000)"
    )
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    parser.add_argument(
        "--out", default=None, metavar="FILE",
        help="output JSON (default metrics.json; groups.json with --group-by)"
    )
    parser.add_argument("--by", choices=("dataset", "video"), default="dataset",
                        help="dataset (default) or video: video-level metrics from the "
                        "results' source_video column")
    parser.add_argument("--per-video", metavar="FILE",
                        help="with --by video: also write per_video.csv here")
    parser.add_argument("--group-by", metavar="COLUMN",
                        help="every metric per value of this results column (groups.json)")
    parser.add_argument(
        "--names", metavar="FILE",
        help="identity map (CSV identity,name[,aliases,vendor_ids]) matching the results' "
        "targets to the vendors' names; without it names still match after normalisation "
        "(case, whitespace, underscores, diacritics); see docs/study.md",
    )


def _check_options(args: argparse.Namespace) -> None:
    from dicore.errors import UserError, check_output_file

    for name in ("beta", "gamma"):
        value = getattr(args, name)
        if not (math.isfinite(value) and 0.0 <= value <= 100.0):
            raise UserError(f"--{name} {value} is outside 0..100", "thresholds are percent")
    if not 0.0 < args.level < 1.0:
        raise UserError(
            f"--level {args.level} must lie strictly between 0 and 1", "e.g. --level 0.95"
        )
    if args.resamples < 1:
        raise UserError(f"--resamples {args.resamples} must be at least 1", "e.g. --resamples 1000")
    if args.out is None:
        args.out = "groups.json" if args.group_by else "metrics.json"
    check_output_file(args.out, "--out")
    if args.group_by and args.by == "video":
        raise UserError("--group-by and --by video are separate views", "run them one by one")
    if args.per_video and args.by != "video":
        raise UserError("--per-video needs --by video", "add --by video")


def run(args: argparse.Namespace) -> int:
    from dicore.formats.metrics_json import write_metrics_json
    from dicore.formats.names_csv import read_names
    from dicore.formats.results import read_results_file
    from dicore.names import canonical_columns, name_mismatches_coded
    from dicore.tables import metrics_table

    _check_options(args)
    names = read_names(args.names) if args.names else None

    def identities(cols):  # targets and names in canonical form (dicore.names)
        return canonical_columns(cols, names)

    from dicore import streaming
    from dicore.commands.study import enable_jax_cache

    enable_jax_cache()  # compiled kernels kept on disk: see docs/study.md
    breakdown = args.by == "video" or args.group_by
    if args.ci == "wilson" and not breakdown:
        rows, vocab, n_results, warnings = streaming.stream_metrics(  # bounded memory
            args.results, identities=identities, beta=args.beta, gamma=args.gamma, level=args.level)
    else:  # the bootstrap and the breakdowns read the whole file
        obs, vocab = read_results_file(args.results, identities=identities)
        if breakdown:
            return _breakdown(args, obs, vocab)
        rows = metrics_table(
            obs,
            vocab,
            beta=args.beta,
            gamma=args.gamma,
            ci=args.ci,
            level=args.level,
            n_resamples=args.resamples,
            seed=args.seed,
        )
        n_results, warnings = obs.n, name_mismatches_coded(obs, vocab)
    try:
        write_metrics_json(
            args.out, rows, beta=args.beta, gamma=args.gamma, simulated=vocab.simulated
        )
    except OSError as exc:
        from dicore.errors import UserError

        raise UserError(f"cannot write {args.out}: {exc.strerror}", "check the --out path") from exc
    for warning in warnings:
        print(f"WARNING {warning}", file=sys.stderr)
    label = " (SIMULATED vendors)" if vocab.simulated else ""
    print(f"{len(rows)} metric rows from {n_results} results -> {args.out}{label}", file=sys.stdout)
    for row in rows:
        value = "n/a" if row["value"] is None else f"{row['value']:6.1f}"
        ci = "" if row["ci_low"] is None else f"  [{row['ci_low']:.1f}, {row['ci_high']:.1f}]"
        print(
            f"  {row['dataset']:<12} {row['vendor']:<6} {row['metric']:<4} {value}{ci}  n={row['n']}"
        )
    return 0


def _breakdown(args: argparse.Namespace, obs, vocab) -> int:
    """--by video and --group-by COLUMN."""
    from dicore import breakdowns
    from dicore.errors import UserError
    from dicore.formats.results import read_extra_columns

    column = args.group_by or "source_video"
    labels = read_extra_columns(args.results, [column])[column]
    label = " (SIMULATED vendors)" if vocab.simulated else ""
    if args.by == "video":
        if not any(labels):
            raise UserError(f"{args.results}: source_video is empty on every row",
                            "the manifest's source_video column travels into the results")
        per_video, rows = breakdowns.video_tables(obs, vocab, labels, level=args.level)
        from dicore.formats.atomic import write_json

        write_json(args.out, {"beta": args.beta, "gamma": args.gamma, "by": "video",
                              "simulated": vocab.simulated, "rows": rows})
        if args.per_video:
            from dicore.formats.per_video_csv import write_per_video_csv

            write_per_video_csv(args.per_video, per_video)
        print(f"{len(rows)} video-level rows from {len(per_video)} (dataset, vendor, video) "
              f"cells -> {args.out}{label}")
        for r in rows:
            print(f"  {r['dataset']:<12} {r['vendor']:<6} {r['metric']:<18} "
                  f"{_value(r)}  videos={r['n']} frames={r['frames']}")
        return 0
    from dicore.formats.groups_json import write_groups_json

    rows = breakdowns.group_metric_rows(
        obs, vocab, labels, column, beta=args.beta, gamma=args.gamma, ci=args.ci,
        level=args.level, n_resamples=args.resamples, seed=args.seed)
    repeats = breakdowns.name_repeat_rows(obs, vocab, labels, column)
    write_groups_json(args.out, rows, repeats, columns=[column], beta=args.beta,
                      gamma=args.gamma, simulated=vocab.simulated)
    print(f"{len(rows)} rows for {len({r['group'] for r in rows})} group(s) of {column} "
          f"-> {args.out}{label}")
    for r in rows:
        print(f"  {r['group']:<16} {r['vendor']:<6} {r['metric']:<4} {_value(r)}  n={r['n']}")
    return 0


def _value(r: dict) -> str:
    if r["value"] is None:
        return "   n/a"
    return f"{r['value']:6.1f}  [{r['ci_low']:.1f}, {r['ci_high']:.1f}]"
