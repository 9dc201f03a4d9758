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
        help="interval: Wilson score, or cluster bootstrap over target identities (default wilson)",
    )
    parser.add_argument("--level", type=float, default=0.95, help="confidence level (default 0.95)")
    parser.add_argument(
        "--resamples", type=int, default=1000, help="bootstrap resamples (default 1000)"
    )
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    parser.add_argument(
        "--out", default="metrics.json", metavar="FILE", help="output JSON (default metrics.json)"
    )
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
    check_output_file(args.out, "--out")


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

    if args.ci == "wilson" and streaming.should_stream(args.results):  # bounded memory
        rows, vocab, n_results, warnings = streaming.stream_metrics(
            args.results, identities=identities, beta=args.beta, gamma=args.gamma, level=args.level)
    else:
        obs, vocab = read_results_file(args.results, identities=identities)
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
