"""Cassette housekeeping. `dicore cassettes check` lists every cassette with its age (from
its provenance sidecar's `recorded_at`) and its limit, and fails when one is stale.

A cassette's limit is its sidecar's `max_age_days`, else 180 days; `--max-age` overrides it
for all (180d, 26w, 12h, or a number of days). A cassette without a readable `recorded_at`
counts as stale.

exit status: 0 all fresh; 1 at least one stale (or of unknown age); 2 bad input (no
cassette found, a --max-age that is not a duration).

examples:
  dicore cassettes check                       # cassettes/ of the current folder
  dicore cassettes check --max-age 90d cassettes/aws
"""

from __future__ import annotations

import argparse

from dicore.errors import UserError

NAME = "cassettes"
HELP = "check cassette freshness (age from provenance; fails on stale ones)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = sub.add_parser("check", help="list cassettes with their age; exit 1 if any is stale")
    check.add_argument("paths", nargs="*", default=["cassettes"], metavar="PATH",
                       help="cassette files or folders (default: cassettes)")
    check.add_argument("--max-age", metavar="AGE",
                       help="limit for every cassette, e.g. 180d, 26w (default: each "
                            "sidecar's max_age_days, else 180 days)")


def _days(td) -> str:
    return "?" if td is None else f"{td.total_seconds() / 86400:.0f}d"


def run(args: argparse.Namespace) -> int:
    from dicore.backends.freshness import find_cassettes, freshness, parse_duration

    try:
        max_age = None if args.max_age is None else parse_duration(args.max_age)
    except ValueError as exc:
        raise UserError(f"--max-age: {exc}", "e.g. --max-age 180d") from exc
    cassettes = find_cassettes(args.paths)
    if not cassettes:
        raise UserError(f"no cassette (*.yaml) under {', '.join(args.paths)}",
                        "pass the folder that holds the cassettes")
    rows = [freshness(c, max_age=max_age) for c in cassettes]
    print(f"{'cassette':<44} {'source':<14} {'recorded':<26} {'age':>6} {'limit':>6}  status")
    for f in rows:
        recorded = f.recorded_at.isoformat() if f.recorded_at else "?"
        print(f"{str(f.cassette):<44} {f.source:<14} {recorded:<26} {_days(f.age):>6} "
              f"{_days(f.limit):>6}  {f.status}")
    stale = [f for f in rows if f.stale]
    print(f"{len(rows)} cassette(s), {len(stale)} stale")
    return 1 if stale else 0
