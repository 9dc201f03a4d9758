"""Refit the simulated vendors to the paper and write the parameters.

Fits the synthetic cohort (per dataset: identity level and spread; the pair context; the
fame shift of each identity pool) and the vendors' score models (evidence offset, slope and
noise, distractors, similarity mapping, fame cut: who is known) jointly to the target
families: Table 2's 30 TA/NA cells, the 20 Figure 4 figures for DHF, DHC, DHS and SIC,
the per-celebrity means of Tables 3 and 5 and genuine recognition from Table 5. Then checks the fit with the full cohort
simulation (TA/NA over --seeds seeds; every family on seed 0) and writes parameters,
their meanings, provenance and the fit errors. Everything it describes is SIMULATED.
A paper-scale fit takes a few minutes (it prints its progress and its time).

Examples:
  dicore calibrate                         # refit, print the table, write nothing
  dicore calibrate --out simulators/params/calibrated.json
  dicore calibrate --check-only --seeds 10 # table of the packaged parameters
  dicore calibrate --scale small --fit-seeds 0 1 --seeds 3 --out /tmp/params.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from dicore.errors import UserError

NAME = "calibrate"
HELP = "refit the simulated vendors to the paper (TA/NA, Figure 4, per-celebrity means)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seeds", type=int, default=10, help="seeds for the check (default 10)")
    parser.add_argument(
        "--fit-seeds",
        type=int,
        nargs="+",
        default=[0, 1, 2],
        help="seeds the fit averages over (default 0 1 2)",
    )
    parser.add_argument("--scale", choices=("paper", "small"), default="paper")
    parser.add_argument("--out", help="write the fitted parameters (JSON) here")
    parser.add_argument(
        "--params",
        help="start from this file (default: from scratch) or, with --check-only, check it",
    )
    parser.add_argument("--check-only", action="store_true", help="no fit: table of --params")
    parser.add_argument("--maxfev", type=int, default=2000, help="evaluations per fit round")


def run(args: argparse.Namespace) -> int:
    import time

    from simulators import calibration, targets
    from simulators.policies import load_params

    if args.seeds < 1:
        raise UserError(f"--seeds must be at least 1, got {args.seeds}")
    if args.maxfev < 1:
        raise UserError(
            f"--maxfev must be at least 1, got {args.maxfev}", hint="the default is 2000"
        )
    if args.out and os.path.isdir(args.out):
        raise UserError(f"--out {args.out} is a directory", hint="give a file path ending .json")
    try:
        base = load_params(args.params) if (args.params or args.check_only) else None
    except (OSError, json.JSONDecodeError, KeyError) as exc:
        raise UserError(
            f"cannot read parameters {args.params}: {exc}",
            hint="a calibrated.json written by `dicore calibrate --out`",
        ) from exc

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    params = base
    t0 = time.monotonic()
    seconds = None
    if not args.check_only:
        params = calibration.fit(
            args.scale, tuple(args.fit_seeds), base, maxfev=args.maxfev, log=log
        )
        seconds = time.monotonic() - t0
        log(f"fit took {seconds:.0f} s")
    log("checking: every target family on seed 0 (full cohort simulation)")
    seed0 = targets.evaluate(calibration.full_stats(params, (0,), args.scale))
    targets.print_table(seed0, log=print)
    seeds = tuple(range(args.seeds))
    log(f"checking: TA/NA over seeds 0..{args.seeds - 1}")
    rows = calibration.calibration_table(params, seeds, args.scale)
    print(f"{'dataset':<11} {'vendor':<6} {'metric':<3} {'simulated':>9} {'paper':>6} {'diff':>6}")
    for r in rows:
        print(f"{r['dataset']:<11} {r['vendor']:<6} {r['metric']:<3} "
              f"{r['simulated']:>9.1f} {r['paper']:>6.1f} {r['difference']:>+6.1f}")  # fmt: skip
    summary = calibration.summarize(rows)
    print(f"max |error| {summary['max_abs_error_pp']} pp, mean {summary['mean_abs_error_pp']} pp "
          f"over seeds 0..{args.seeds - 1} ({args.scale} scale; SIMULATED)")  # fmt: skip
    if args.out:
        command = "dicore calibrate " + " ".join(
            [f"--seeds {args.seeds}", f"--scale {args.scale}",
             "--fit-seeds " + " ".join(map(str, args.fit_seeds)), f"--maxfev {args.maxfev}"]
            + ([f"--params {args.params}"] if args.params else [])
            + (["--check-only"] if args.check_only else [])
        )  # fmt: skip
        out = calibration.with_provenance(
            params, rows, command=command, fit_seeds=args.fit_seeds, check_seeds=seeds,
            scale=args.scale, seed0=seed0, seconds=seconds,
        )  # fmt: skip
        try:
            with open(args.out, "w", encoding="utf-8") as fh:
                json.dump(out, fh, indent=1)
                fh.write("\n")
        except OSError as exc:
            raise UserError(f"cannot write {args.out}: {exc}") from exc
        log(f"wrote {args.out}")
    log(f"calibrate took {time.monotonic() - t0:.0f} s")
    return 0
