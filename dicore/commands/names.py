"""Identity maps (names files): draft one from what the vendors answered.

`dicore names suggest` looks, for each identity of the data set (the `target`
of its real images), at the names the vendors gave those real images, and writes
the most frequent one with its counts as a names file for you to review:

    identity,name,aliases,vendor_ids,count,of,by_vendor
    id0,Emmanuel Macron,,aws:3Ir0du6|imdb.com/name/nm...,11,12,aws 4/4; azure 4/4; naver 3/4

Nothing is applied by itself: read the file, fix or delete rows, then pass it
with --names to `dicore metrics`, `dicore run`, `dicore study` or `dicore manifest`.
Only real images vote (a fake is *meant* to be named as someone else).

examples:
  dicore names suggest --store runs/aws.sqlite --out names.csv
  dicore names suggest --results dicore-study/results.csv --out names.csv
  dicore metrics --results dicore-study/results.csv --names names.csv
"""

from __future__ import annotations

import argparse

from dicore.errors import UserError, check_output_file

NAME = "names"
HELP = "identity maps: draft a names file (identity -> vendor name) from stored answers"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="names_command", metavar="SUBCOMMAND", required=True)
    s = sub.add_parser("suggest", help="draft a names file from the vendors' answers to real images",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = s.add_mutually_exclusive_group(required=True)
    src.add_argument("--store", metavar="FILE", help="a result store (dicore run / study)")
    src.add_argument("--results", metavar="FILE", help="a results file (.csv or .parquet)")
    s.add_argument("--out", required=True, metavar="FILE", help="names file to write (CSV)")
    s.add_argument("--vendors", metavar="LIST", help="only these vendors (comma-separated)")
    s.add_argument("--force", action="store_true", help="overwrite an existing --out")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from dicore.formats.names_csv import write_suggestions
    from dicore.names import suggest_names

    out = Path(args.out)
    check_output_file(out, "--out")
    if out.exists() and not args.force:
        raise UserError(f"--out {out} already exists", hint="pass --force to overwrite it")
    vendors = None
    if args.vendors:
        from dicore.commands.study import parse_vendors

        vendors = parse_vendors(args.vendors)
    rows, ids = _rows(args, vendors)
    suggestions = suggest_names(rows, ids)
    if not suggestions:
        raise UserError("no vendor named any real image: nothing to suggest",
                        hint="run the study first; only real images' answers are used")
    write_suggestions(out, suggestions)
    print(f"wrote {out}: {len(suggestions)} identities (review it, then pass --names {out})")
    for s in suggestions[:10]:
        print(f"  {s.identity:<20} -> {s.name!r}  {s.count}/{s.of}  ({s.vendors})")
    if len(suggestions) > 10:
        print(f"  ... and {len(suggestions) - 10} more")
    return 0


def _rows(args, vendors):
    """(results rows, vendor ids by (vendor, item_id)) from a store or a results file."""
    from pathlib import Path

    if args.store:
        from dicore.store import Store

        path = Path(args.store)
        if not path.is_file():
            raise UserError(f"store {path} not found", hint="pass the store of `dicore run`")
        with Store(path) as store:
            cols = store.result_columns(vendors=vendors)
            rows = [dict(zip(cols, r, strict=True)) for r in zip(*cols.values(), strict=True)]
            return rows, store.vendor_ids(vendors=vendors)
    import csv

    path = Path(args.results)
    if not path.is_file():
        raise UserError(f"results file {path} not found", hint="run `dicore study` first")
    try:
        if path.suffix.lower() == ".parquet":
            import pyarrow.parquet as pq

            table = pq.read_table(path).to_pydict()
            n = len(next(iter(table.values()), []))
            rows = [{c: table[c][i] for c in table} for i in range(n)]
        else:
            with path.open(newline="", encoding="utf-8-sig") as fh:
                rows = list(csv.DictReader(fh))
    except (OSError, ValueError, csv.Error) as exc:
        raise UserError(f"{path}: cannot read it as a results file ({str(exc).splitlines()[0]})",
                        hint="a results.csv / results.parquet of dicore") from exc
    need = {"vendor", "item_id", "is_fake", "target", "predicted"}
    if rows and not need <= set(rows[0]):
        raise UserError(f"{path}: needs columns {', '.join(sorted(need))}",
                        hint="a results file of the dicore results contract")
    keep = [r for r in rows if vendors is None or r["vendor"] in vendors]
    for r in keep:
        r["is_fake"] = str(r["is_fake"]).strip().lower() in ("true", "1", "yes", "t", "y")
    return keep, {}
