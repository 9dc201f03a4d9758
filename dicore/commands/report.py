"""Rebuild report.md, a self-contained report.html and the PNG figures from an output folder.

Reads from --dir: metrics.json (required); results.csv or results.parquet (backend per
vendor; DHC/DHS sweeps when sweeps.json is absent); and, when present, sweeps.json
(sweep and trade-off curves), defence.csv (`dicore defend` output), calibration.json and
provenance.json. Writes report.md, report.html, figure4.png, sweeps.png and tradeoff.png
(when there are curves) into --out (default: the same folder). Every page and figure says
SIMULATED when any number comes from a simulated vendor.

examples:
  dicore report --dir out
  dicore report --dir out --out out/report-copy
"""

from __future__ import annotations

import argparse
import time

NAME = "report"
HELP = "rebuild report.md / report.html / PNGs from an output folder"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", required=True, metavar="DIR",
                        help="output folder with metrics.json (and results.csv, ...)")
    parser.add_argument("--out", metavar="DIR", help="where to write (default: --dir)")
    parser.add_argument("--no-recompute", action="store_true",
                        help="do not recompute sweeps from results when sweeps.json is absent")


def run(args: argparse.Namespace) -> int:
    from dicore.errors import UserError
    from dicore.report import write_report
    from dicore.report.folder import load_inputs

    start = time.perf_counter()
    inputs = load_inputs(args.dir, recompute=not args.no_recompute)
    try:
        written = write_report(args.out or args.dir, inputs)
    except OSError as exc:
        raise UserError(f"cannot write the report: {exc}", "check the --out folder") from exc
    label = " (SIMULATED vendors)" if inputs.simulated else ""
    print(f"report{label}: {', '.join(str(p) for p in written.values())} "
          f"in {time.perf_counter() - start:.1f} s")
    return 0
