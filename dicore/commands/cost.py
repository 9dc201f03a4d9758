"""What a study costs on the real APIs, and how long it takes at each vendor's rate.

Prices are the paper's (section 5.2), billed per month with graduated tiers: the first
1M calls at $1.00 per 1,000, further calls at the vendor's next tiers (AWS $0.80 up to
10M, MS $0.80 up to 5M, NAV $0.50 up to 100M, ...). Calls per vendor: one recognition
call per image, plus one similarity call per fake for AWS and Azure (Naver has no
similarity call). `--tier free` puts Azure on its free instance (30,000 calls a month at
0.3 TPS, $0). Rates are the ones `dicore run --backend live` paces at (dicore.ratelimit):
Azure 10 TPS standard (paper); AWS and Naver 5 TPS (assumed; the paper gives none),
override with --tps VENDOR=RATE. Tiers restart every calendar month: a run longer than a
month is billed month by month (--start sets the first day).

examples:
  dicore cost --calls 17454                 # the paper's 17,454 images, no similarity calls
  dicore cost --calls 17454 --fakes 16239   # plus a similarity call per fake
  dicore cost --results out/results.csv --tier free
  dicore cost --calls 2000000 --vendors aws azure --tps aws=5
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from dicore.errors import UserError, check_output_file

NAME = "cost"
HELP = "API cost and run time of a study from the paper's price tiers"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--calls", type=int, metavar="N",
                     help="number of images (one recognition call each, per vendor)")
    src.add_argument("--results", metavar="FILE",
                     help="results.csv/.parquet: count its images and fakes per vendor")
    parser.add_argument("--fakes", type=int, default=0, metavar="M",
                        help="with --calls: fakes among them (a similarity call each; default 0)")
    parser.add_argument("--vendors", nargs="+", default=["aws,azure,naver"], metavar="LIST",
                        help="vendors, comma- or space-separated (default aws,azure,naver)")
    parser.add_argument("--tier", choices=("standard", "free"), default="standard",
                        help="Azure instance (default standard)")
    parser.add_argument("--tps", nargs="+", default=[], metavar="VENDOR=RATE",
                        help="calls per second per vendor, e.g. aws=5")
    parser.add_argument("--start", metavar="YYYY-MM-DD",
                        help="the day the run starts (UTC; default now): tiers restart every "
                        "calendar month, so a long run is billed month by month")
    parser.add_argument("--json", dest="json_out", metavar="FILE", help="also write JSON here")


def _start(text: str | None):
    import datetime as dt

    if not text:
        return dt.datetime.now(dt.UTC)
    try:
        return dt.datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=dt.UTC)
    except ValueError:
        raise UserError(f"--start {text!r} is not a date YYYY-MM-DD", "e.g. --start 2026-01-01") from None


def _parse_tps(items: list[str]) -> dict[str, float]:
    out = {}
    for item in items:
        vendor, _, rate = item.partition("=")
        try:
            value = float(rate)
        except ValueError:
            value = -1.0
        if vendor not in ("aws", "azure", "naver") or not value > 0:
            raise UserError(f"--tps {item!r} is not VENDOR=RATE", "e.g. --tps aws=5 naver=20")
        out[vendor] = value
    return out


def _calls_from_results(path: str) -> dict[str, tuple[int, int]]:
    """Per vendor: images (rows) and similarity calls (fakes, where the vendor has them)."""
    from dicore.core.cost import SIMILARITY_VENDORS

    p = Path(path)
    if not p.is_file():
        raise UserError(f"results file {p} not found", "run `dicore study` first, or use --calls")
    try:
        if p.suffix.lower() == ".parquet":
            import pyarrow.parquet as pq

            cols = pq.read_table(p, columns=["vendor", "is_fake"]).to_pydict()
            pairs = list(zip(cols["vendor"], cols["is_fake"], strict=True))
        else:
            with p.open(newline="", encoding="utf-8-sig") as fh:
                reader = csv.DictReader(fh)
                if not {"vendor", "is_fake"} <= set(reader.fieldnames or []):
                    raise UserError(f"{p}: needs columns vendor and is_fake",
                                    "use a results file of the dicore results contract")
                pairs = [(r["vendor"], r["is_fake"]) for r in reader]
    except (OSError, ValueError, csv.Error) as exc:  # incl. UnicodeDecodeError, pyarrow errors
        raise UserError(f"{p}: cannot read it as a results file ({str(exc).splitlines()[0]})",
                        "use a UTF-8 CSV or Parquet results file (dicore results contract)") from exc
    counts: dict[str, list[int]] = {}
    for vendor, fake in pairs:
        c = counts.setdefault(str(vendor), [0, 0])
        c[0] += 1
        c[1] += str(fake).strip().lower() in ("true", "1", "yes", "t", "y")
    return {v: (n, f if v in SIMILARITY_VENDORS else 0) for v, (n, f) in counts.items()}


def run(args: argparse.Namespace) -> int:
    from dicore import paper
    from dicore.commands.study import parse_vendors
    from dicore.core.cost import format_duration, study_calls, study_cost, total_row
    from dicore.ratelimit import live_rates

    vendors = parse_vendors(",".join(args.vendors))
    tps = _parse_tps(args.tps)
    if args.json_out:
        check_output_file(args.json_out, "--json")
    if args.calls is not None:
        if args.calls < 0 or not 0 <= args.fakes <= args.calls:
            raise UserError(f"need 0 <= --fakes ({args.fakes}) <= --calls ({args.calls})")
        calls = study_calls(args.calls, args.fakes, vendors=vendors)
    else:
        calls = {v: c for v, c in _calls_from_results(args.results).items() if v in vendors}
        if not calls:
            raise UserError(f"{args.results}: no rows for vendors {', '.join(vendors)}")
    rates, sources = live_rates(list(calls), tps)
    if args.tier == "free" and "azure" in rates and "azure" not in tps:
        rates["azure"], sources["azure"] = paper.pricing()["azure_free"]["tps"], "paper"
    rows = study_cost(calls, pricing=paper.pricing(), tier=args.tier, tps=rates,
                      tps_source=sources, start=_start(args.start))
    total = total_row(rows)
    head = (f"{'vendor':<7} {'recognition':>11} {'similarity':>10} {'calls':>10} "
            f"{'USD':>11} {'tier':<8} {'TPS':>6} {'time':>14} {'months':>6}")
    print(head)
    print("-" * len(head))
    for r in rows:
        tps_text = f"{r.tps:g}" + ("*" if r.tps_source == "assumed" else "")
        print(f"{r.vendor:<7} {r.recognition_calls:>11,} {r.similarity_calls:>10,} "
              f"{r.total_calls:>10,} {r.usd:>11,.2f} {r.tier:<8} {tps_text:>6} "
              f"{format_duration(r.seconds):>14} {r.months:>6}")
    print("-" * len(head))
    print(f"{'total':<7} {total['recognition_calls']:>11,} {total['similarity_calls']:>10,} "
          f"{total['total_calls']:>10,} {total['usd']:>11,.2f} {'':<8} {'':>6} "
          f"{format_duration(total['seconds']):>14} {total['months']:>6}")
    print("prices: paper section 5.2, graduated tiers billed per calendar month of the run "
          f"(from {_start(args.start):%Y-%m-%d}); time: vendors in parallel, each at its TPS "
          "(dicore's live rates, as `dicore run` paces; * assumed, not in the paper)")
    if args.json_out:
        try:
            Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json_out).write_text(json.dumps(
                {"rows": [r.as_dict() for r in rows], "total": total}, indent=2) + "\n")
        except OSError as exc:
            raise UserError(f"cannot write {args.json_out}: {exc.strerror}", "check the --json path") from exc
    sys.stdout.flush()
    return 0
