"""Query the APIs for every image of a manifest and keep each answer in a store.

Every completed call is committed to the SQLite store at once: interrupt the
run (Ctrl-C, or even kill -9) and rerun the same command to resume; calls
already stored are skipped. Failed calls are stored with their error and
listed; calls that failed for a retryable reason (throttling, server or
network error) are retried on the next run, refused images only with
--retry-errors. With --results, the store is exported in the results-file
contract (CSV or Parquet by suffix) for `dicore metrics` and `dicore report`.

examples:
  dicore run --manifest data/manifest.csv --store runs/sim.sqlite
  dicore run --manifest data/manifest.csv --store runs/aws.sqlite --backend live \\
      --vendors aws --rate aws=5 --yes --results runs/aws-results.csv
  dicore run --manifest data/manifest.csv --store runs/azure-free.sqlite --backend live \\
      --vendors azure --rate azure=0.3
  dicore metrics --results runs/aws-results.csv --out metrics.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dicore.commands.study import add_common, check_concurrency, parse_vendors

NAME = "run"
HELP = "query the APIs for every image of a manifest into a resumable store"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--manifest", type=Path, required=True, metavar="FILE",
                        help="the images (CSV or Parquet manifest, see docs/study.md)")
    parser.add_argument("--store", type=Path, required=True, metavar="FILE",
                        help="SQLite result store (created if absent, resumed if present)")
    parser.add_argument("--results", type=Path, metavar="FILE",
                        help="also export the results file (.csv or .parquet)")
    add_common(parser)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from dicore.datasets.manifest import read_manifest
    from dicore.errors import UserError, check_output_file
    from dicore.formats.names_csv import read_names
    from dicore.formats.results import drop_unpaired_fakes, write_results_csv, write_results_parquet
    from dicore.names import name_mismatches
    from dicore.ratelimit import parse_rates
    from dicore.runner import result_columns
    from dicore.store import Store
    from dicore.study import StudyConfig, fill_from_manifest

    check_concurrency(args)
    console = Console(stderr=True)
    # before the store: a bad manifest touches nothing
    manifest = read_manifest(args.manifest, allow_outside_paths=args.allow_outside_paths)
    if args.results and args.results.suffix.lower() not in (".csv", ".parquet"):
        raise UserError(f"--results {args.results}: use a .csv or .parquet name")
    check_output_file(args.store, "--store")
    if args.results:
        check_output_file(args.results, "--results")
    cfg = StudyConfig(
        manifest=args.manifest, vendors=parse_vendors(args.vendors), backend=args.backend,
        yes=args.yes, concurrency=args.concurrency, rates=parse_rates(args.rate),
        cassette=args.cassette, retry_errors=args.retry_errors,
        allow_outside_paths=args.allow_outside_paths, names=args.names, gallery=args.gallery,
        faults=args.faults,
    )
    names = read_names(args.names) if args.names else None  # a bad names file stops here
    with Store(args.store) as store:
        held = store.get_meta("study")
        if held is not None and held != {"source": "manifest", "manifest": str(args.manifest.resolve())}:
            desc = ", ".join(f"{k}={v}" for k, v in held.items())
            raise UserError(
                f"{args.store} is the store of a `dicore study` folder ({desc}); "
                f"adding {args.manifest} to it would mix another data set into that study",
                hint="pass another --store file",
            )
        _, summary = fill_from_manifest(store, cfg, console, manifest)
        item_ids = [r.item_id for r in manifest.rows]
        cols = result_columns(store, vendors=cfg.vendors, backend=cfg.backend, item_ids=item_ids,
                              names=names)
        errors = store.errors(cfg.vendors, backend=cfg.backend, item_ids=item_ids)
    out = Console()
    # A live client pointed at `dicore serve` gets simulated answers too (backend "sim").
    label = " (SIMULATED vendors)" if cfg.backend == "sim" or "sim" in cols["backend"] else ""
    out.print(
        f"{summary.completed} call(s) made, {summary.errors} failed, "
        f"{summary.already_done} already stored, in {summary.elapsed_s:.1f} s -> {args.store}{label}"
    )
    for warning in name_mismatches(cols):
        out.print(f"[bold yellow]WARNING[/bold yellow] {warning}", highlight=False)
    if errors:
        from dicore.runner import print_error_groups

        out.print(f"[red]{len(errors)} call(s) in the store have failed[/red], by cause:")
        print_error_groups(errors, out)
    if args.results:
        cols, n_unpaired = drop_unpaired_fakes(cols)
        if n_unpaired:
            out.print(f"{n_unpaired} fake result(s) left out of {args.results}: "
                      "their paired real image failed")
        try:
            args.results.parent.mkdir(parents=True, exist_ok=True)
            if args.results.suffix.lower() == ".csv":
                write_results_csv(args.results, cols)
            else:
                write_results_parquet(args.results, cols)
        except OSError as exc:
            raise UserError(f"cannot write {args.results}: {exc.strerror}",
                            "check the --results path; the calls are kept in the store") from exc
        out.print(f"{len(cols['item_id'])} result rows -> {args.results}")
    return 0
