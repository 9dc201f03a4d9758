"""Threshold sweeps and reporting-policy replay from a results file.

Per dataset and vendor: DHC over a beta grid (named fakes with confidence > beta /
named fakes), DHS over a gamma grid (unnamed fakes with similarity > gamma / unnamed
fakes with a similarity), the joint beta x gamma grid (share of all fakes that are
DHC(beta) or DHS(gamma)), and the replay of a stricter reporting policy: TA, NA and
genuine recognition if the vendor reported only names with confidence >= tau, per
dataset and with all datasets pooled, with the two operating points of docs/thresholds.md
(the rule `dicore study` uses): the lowest attack success keeping >= --genuine-target
percent of the genuine recognition the vendor has at its floor, and attack success =
genuine miss rate (interpolated). The output is the sweeps.json format of
`dicore.formats.sweeps_json`, the one `dicore study` writes and `dicore report` reads.

Grids are START:STOP:STEP (STOP included) or a comma list, in percent. A tau below a
vendor's reporting floor (AWS 55, Azure 70, Naver 0.01) is an error: the vendor hides
names there, so the data cannot say what it would report. Without --taus each vendor
gets its floor followed by the integers above it up to 100.

examples:
  dicore sweep --results results.csv --out sweeps.json
  dicore sweep --results results.csv --betas 50:100:0.5 --gammas 0:100:1 --no-joint
  dicore sweep --results results.csv --taus 70:100:1 --attack NA --genuine-target 95
"""

from __future__ import annotations

import argparse
import math
import sys

import numpy as np

from dicore.core.vocab import DEFAULT_GENUINE_KEEP
from dicore.errors import UserError, check_output_file

NAME = "sweep"
HELP = "DHC/DHS threshold sweeps, the joint beta x gamma grid and reporting-policy replay"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results", required=True, metavar="FILE", help="results.csv or results.parquet")
    parser.add_argument("--betas", default="0:100:1", metavar="GRID", help="DHC grid (default 0:100:1)")
    parser.add_argument("--gammas", default="0:100:1", metavar="GRID", help="DHS grid (default 0:100:1)")
    parser.add_argument(
        "--taus", metavar="GRID", help="reporting floors to replay (default per vendor: its floor, then 1..100)"
    )
    parser.add_argument("--attack", choices=("TA", "NA"), default="TA", help="attack success for the trade-off (default TA)")
    parser.add_argument(
        "--genuine-target", type=float, default=DEFAULT_GENUINE_KEEP, metavar="PCT",
        help="share of the genuine recognition at the vendor's floor to keep, percent, >= "
             f"(default {DEFAULT_GENUINE_KEEP:g}; docs/thresholds.md)",
    )
    parser.add_argument("--no-joint", action="store_true", help="leave the beta x gamma grid out of the file")
    parser.add_argument("--out", default="sweeps.json", metavar="FILE", help="output JSON (default sweeps.json)")
    parser.add_argument("--resamples", type=int, default=1000, metavar="N",
                        help="bootstrap resamples for the operating points' intervals (default 1000)")
    from dicore.commands.study import add_protocol_arguments

    add_protocol_arguments(parser)


MAX_GRID_POINTS = 100_001  # 0:100:0.001; a finer sweep is a list of values (a,b,c)


def parse_grid(text: str, option: str):
    """'START:STOP:STEP' -> UniformGrid (STOP included); 'a,b,c' -> sorted float64 array.

    Raises UserError on malformed, unsorted or out-of-0..100 grids.
    """
    from dicore.core.kernel import UniformGrid

    grid: UniformGrid | np.ndarray
    hint = f"{option} takes START:STOP:STEP (e.g. 0:100:1) or a comma list (e.g. 55,70,90), in percent"
    try:
        if ":" in text:
            start, stop, step = (float(x) for x in text.split(":"))
            grid = UniformGrid.from_range(start, stop, step)
            lo, hi = grid.start, grid.stop
            if grid.num > MAX_GRID_POINTS:
                raise UserError(
                    f"{option} {text}: {grid.num:,} thresholds, more than {MAX_GRID_POINTS:,}",
                    f"use a coarser step, e.g. {option} {start:g}:{stop:g}:0.01",
                )
        else:
            grid = np.asarray([float(x) for x in text.split(",")], np.float64)
            lo, hi = float(grid.min()), float(grid.max())
            if np.any(np.diff(grid) <= 0):
                raise UserError(f"{option} {text}: values must be strictly ascending", hint)
    except ValueError as exc:
        raise UserError(f"{option} {text}: {exc}", hint) from exc
    if not (math.isfinite(lo) and math.isfinite(hi) and 0.0 <= lo and hi <= 100.0):
        raise UserError(f"{option} {text} leaves 0..100", hint)
    return grid


def default_taus(floor: float) -> np.ndarray:
    """The vendor's floor, then the integers above it up to 100."""
    return np.concatenate([[floor], np.arange(math.floor(floor) + 1, 101)]).astype(np.float64)


def check_taus(vendors, taus=None) -> dict:
    """{vendor: its replay grid} (default: `default_taus` of its floor); UserError on a tau
    below a vendor's floor (censored), before any work."""
    from dicore import paper
    from dicore.core.kernel import threshold_values
    from dicore.core.tradeoff import check_taus as check

    floors = paper.reporting_floors()
    grids = {}
    for vendor in vendors:
        grid = default_taus(floors[vendor]) if taus is None else np.asarray(threshold_values(taus, np.float64))
        try:
            check(grid, [vendor], floors=floors)
        except ValueError as exc:
            raise UserError(str(exc), f"e.g. --taus {floors[vendor]:g}:100:1, or leave --taus out") from exc
        grids[vendor] = grid
    return grids


def compute(obs, vocab, *, betas, gammas, taus=None, attack="TA", genuine_target=DEFAULT_GENUINE_KEEP,
            joint=True, dev_rows=None, n_resamples=1000) -> dict:
    """The sweeps.json parts `{"sweeps", "joint", "tradeoffs"}` (`dicore.tables` records;
    joint None with joint=False) of a whole `Observations`; raises UserError on censored
    taus. `dicore sweep` itself streams the file (`dicore.streaming.stream_sweeps`, the
    same numbers).

    Trade-offs per (dataset, vendor) and per vendor over all datasets pooled, with the
    operating points of docs/thresholds.md (the one rule `dicore study` uses too).
    """
    from dicore import paper, tables

    n_v = len(vocab.vendors)
    present = sorted(set((np.asarray(obs.dataset) * n_v + np.asarray(obs.vendor)).tolist()))
    grids = check_taus([vocab.vendors[v] for v in sorted({g % n_v for g in present})], taus)
    kw = dict(floors=paper.reporting_floors(), taus=grids, attack=attack, genuine_keep=genuine_target,
              dev_rows=dev_rows, n_resamples=n_resamples)
    return {
        "sweeps": tables.sweep_curves(obs, vocab, betas, gammas),
        "joint": tables.joint_grids(obs, vocab, betas, gammas) if joint else None,
        "tradeoffs": tables.tradeoff_curves(obs, vocab, pooled=False, **kw)
        + tables.tradeoff_curves(obs, vocab, pooled=True, **kw),
    }


def run(args: argparse.Namespace) -> int:
    betas = parse_grid(args.betas, "--betas")
    gammas = parse_grid(args.gammas, "--gammas")
    taus = parse_grid(args.taus, "--taus") if args.taus else None
    if not (math.isfinite(args.genuine_target) and 0.0 <= args.genuine_target <= 100.0):
        raise UserError(f"--genuine-target {args.genuine_target} is outside 0..100", "a percent, e.g. 90")
    check_output_file(args.out, "--out")
    from dicore.commands.study import check_protocol

    check_protocol(args)
    if args.resamples < 1:
        raise UserError(f"--resamples {args.resamples} must be at least 1", "e.g. --resamples 1000")
    from dicore import streaming
    from dicore.commands.study import enable_jax_cache

    enable_jax_cache()  # compiled kernels kept on disk: see docs/study.md
    parts, vocab, n_results, protocol = streaming.stream_sweeps(  # bounded memory
        args.results, betas=betas, gammas=gammas, attack=args.attack,
        genuine_target=args.genuine_target, joint=not args.no_joint, protocol=args.protocol,
        dev_fraction=args.dev_fraction, split_seed=args.split_seed, n_resamples=args.resamples,
        check_taus=lambda vendors: check_taus(vendors, taus))
    from dicore.formats.sweeps_json import write_sweeps_json

    simulated = bool(vocab.simulated)
    try:
        write_sweeps_json(args.out, parts["sweeps"], parts["tradeoffs"], joint=parts["joint"],
                          simulated=simulated, genuine_keep=args.genuine_target, indent=None,
                          protocol=protocol)
    except OSError as exc:
        raise UserError(f"cannot write {args.out}: {exc.strerror}", "check the --out path") from exc
    label = " (SIMULATED vendors)" if simulated else ""
    joint_s = "" if parts["joint"] is None else f", {len(parts['joint'])} joint grids"
    print(f"{len(parts['sweeps'])} sweep curves{joint_s}, {len(parts['tradeoffs'])} trade-offs "
          f"from {n_results} results -> {args.out}{label}", file=sys.stdout)
    for c in parts["tradeoffs"]:
        best, eer = c.operating_points
        best_s = (f"tau {best.tau:g}: {c.attack} {best.attack_success:.1f}%"
                  if best.tau is not None else "none")
        eer_s = f"tau {eer.tau:g}: {eer.attack_success:.1f}%" if eer.tau is not None else "none"
        where = " (chosen on dev, reported on eval)" if best.chosen_on == "dev" else ""
        print(f"  {c.dataset:<12} {c.vendor:<6} {best.name}: {best_s}; equal error: {eer_s}{where}")
    return 0
