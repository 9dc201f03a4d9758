"""Run the whole study into one folder: results, metrics, sweeps, defence and a report.

With no arguments: the calibrated synthetic cohort at the paper's scale (Table 1:
17,454 images in five deepfake sets) against the three SIMULATED vendors (aws,
azure, naver), written to ./dicore-study/. With --manifest: your own images,
queried through the simulator (default), the live APIs or recorded cassettes.

The folder's store.sqlite keeps every completed call: rerunning skips what is
done (an interrupted live run resumes where it stopped).

Outputs: results.csv, results.parquet, metrics.json, sweeps.json, defence.csv,
calibration.json, provenance.json, report.md, report.html (+ PNGs), store.sqlite.

examples:
  dicore study                                  # the default study (under a minute)
  dicore study --scale small --out /tmp/quick   # a small cohort, a few seconds
  dicore study --beta 95 --gamma 85 --vendors aws,azure
  dicore study --manifest data/manifest.csv     # your images, simulated vendors
  dicore study --manifest data/manifest.csv --backend live --vendors aws --yes
  dicore study --manifest data/manifest.csv --backend replay \\
      --cassette 'cassettes/{vendor}/simulator_photos.yaml'
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from dicore.core.vocab import DEFAULT_BETA, DEFAULT_GAMMA

NAME = "study"
HELP = "run the whole study (default: the simulated cohort at the paper's scale) into a report folder"


def add_common(parser: argparse.ArgumentParser) -> None:
    """Options shared by `dicore study` and `dicore run`."""
    parser.add_argument("--vendors", default="aws,azure,naver", metavar="LIST",
                        help="comma-separated vendors (default aws,azure,naver)")
    parser.add_argument("--backend", choices=("sim", "live", "replay"), default="sim",
                        help="sim: offline simulator (default); live: vendor APIs "
                        "(keys from the environment); replay: vcrpy cassettes")
    parser.add_argument("--cassette", type=Path, metavar="PATH",
                        help="replay: a cassette file, a folder of <vendor>.yaml, or a path with "
                        "{vendor} in it, e.g. cassettes/{vendor}/simulator_photos.yaml")
    parser.add_argument("--concurrency", type=int, metavar="N",
                        help="calls in flight per vendor (default 1; live 4)")
    parser.add_argument("--rate", metavar="V=TPS,...",
                        help="calls per second per vendor, e.g. azure=0.3 for Azure's free "
                        "tier (defaults: live aws 5, azure 10, naver 5; sim unlimited)")
    parser.add_argument("--retry-errors", action="store_true",
                        help="also retry calls the vendor refused on an earlier run")
    parser.add_argument("--yes", "-y", action="store_true",
                        help="do not ask before calling (billed) live APIs")
    parser.add_argument("--allow-outside-paths", action="store_true",
                        help="accept manifest image paths outside the manifest's folder "
                        "(.., absolute paths, symlinks; refused by default: with --backend "
                        "live they would be uploaded)")
    parser.add_argument("--names", type=Path, metavar="FILE",
                        help="identity map (CSV identity,name[,aliases,vendor_ids]): match the "
                        "vendors' names and ids to the manifest's targets (docs/study.md); "
                        "draft one with `dicore names suggest`")
    parser.add_argument("--gallery", type=Path, metavar="DIR",
                        help="--backend sim: the people the simulated vendors know, a folder "
                        "<name>/*.jpg or a saved .npz (default: the repository photos)")
    parser.add_argument("--faults", metavar="SPEC",
                        help="--backend sim: fail like the vendor, reproducibly: "
                        "throttle=P,server-error=P,latency=LOW:HIGH,seed=N (docs/servers.md)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("dicore-study"), metavar="DIR",
                        help="output folder (default ./dicore-study)")
    parser.add_argument("--scale", choices=("paper", "small"), default="paper",
                        help="cohort size: paper (Table 1) or small (a quick run)")
    parser.add_argument("--manifest", type=Path, metavar="FILE",
                        help="your images (CSV or Parquet manifest) instead of the cohort")
    parser.add_argument("--beta", type=float, default=DEFAULT_BETA,
                        help=f"DHC confidence threshold, percent (default {DEFAULT_BETA:g})")
    parser.add_argument("--gamma", type=float, default=DEFAULT_GAMMA,
                        help=f"DHS similarity threshold, percent (default {DEFAULT_GAMMA:g})")
    parser.add_argument("--seed", type=int, default=0, help="cohort seed (default 0)")
    parser.add_argument("--recompute", action="store_true",
                        help="rebuild metrics, sweeps and report even if they are up to date")
    parser.add_argument("--no-report", action="store_true",
                        help="skip report.md/html (results, metrics, sweeps only)")
    parser.add_argument("--workers", type=int, metavar="N",
                        help="with --manifest and --backend sim: run the image pipeline on N "
                        "Ray workers (a local Ray unless --ray-address; needs dicore[ray])")
    parser.add_argument("--ray-address", metavar="ADDR",
                        help="join this Ray cluster (`ray start --head` prints it), e.g. "
                        "10.0.0.5:6379")
    add_common(parser)


def check_thresholds(args) -> None:
    from dicore.errors import UserError

    for name in ("beta", "gamma"):
        v = getattr(args, name)
        if not (math.isfinite(v) and 0.0 <= v <= 100.0):
            raise UserError(f"--{name} {v} is outside 0..100", hint="thresholds are percent")


def check_concurrency(args) -> None:
    from dicore.errors import UserError

    if args.concurrency is not None and not 1 <= args.concurrency <= 64:
        raise UserError(f"--concurrency {args.concurrency} must be 1..64")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from dicore.ratelimit import parse_rates
    from dicore.study import StudyConfig, run_study

    check_thresholds(args)
    check_concurrency(args)
    if (args.workers or args.ray_address) and args.manifest is None:
        from dicore.errors import UserError

        raise UserError("--workers / --ray-address need --manifest (your images)",
                        hint="the default cohort is simulated in one process in seconds")
    if args.workers is not None and not 1 <= args.workers <= 1024:
        from dicore.errors import UserError

        raise UserError(f"--workers {args.workers} must be 1..1024")
    if (args.workers or args.ray_address) and args.backend != "sim":
        from dicore.errors import UserError

        raise UserError(
            f"--workers runs the simulated pipeline on Ray; --backend {args.backend} calls "
            "rate-limited APIs", hint="use --concurrency for live or replayed calls",
        )
    cfg = StudyConfig(
        out=args.out, scale=args.scale, manifest=args.manifest,
        vendors=parse_vendors(args.vendors), backend=args.backend, beta=args.beta,
        gamma=args.gamma, seed=args.seed, yes=args.yes, concurrency=args.concurrency,
        rates=parse_rates(args.rate), cassette=args.cassette, retry_errors=args.retry_errors,
        allow_outside_paths=args.allow_outside_paths, names=args.names, gallery=args.gallery,
        faults=args.faults,
        report=not args.no_report, recompute=args.recompute,
        workers=args.workers, ray_address=args.ray_address,
    )
    console = Console(stderr=True)
    enable_jax_cache()
    outcome = run_study(cfg, console)
    print_summary(outcome, Console())
    return 0


def parse_vendors(text: str | None) -> tuple[str, ...]:
    """--vendors: comma-separated vendor ids (all when empty); UserError names unknown ones."""
    from dicore import VENDORS
    from dicore.errors import UserError

    if not text:
        return VENDORS
    out = tuple(dict.fromkeys(v.strip().lower() for v in text.split(",") if v.strip()))
    bad = [v for v in out if v not in VENDORS]
    if bad or not out:
        raise UserError(
            f"--vendors: unknown vendor(s) {', '.join(bad) or '(none)'}",
            hint=f"choose from {', '.join(VENDORS)}, comma-separated",
        )
    return out


def enable_jax_cache() -> None:
    """Keep JAX's compiled kernels on disk (~/.cache/dicore/jax) so that later runs skip
    compilation; JAX_COMPILATION_CACHE_DIR overrides the folder, DICORE_JAX_CACHE=0 turns
    it off."""
    import os
    from pathlib import Path

    if os.environ.get("DICORE_JAX_CACHE", "1") == "0":
        return
    folder = os.environ.get("JAX_COMPILATION_CACHE_DIR") or str(
        Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "dicore" / "jax"
    )
    try:
        import jax

        jax.config.update("jax_compilation_cache_dir", folder)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    except Exception:  # noqa: BLE001 - a cache is an optimisation, never a failure
        pass


def print_summary(outcome, console) -> None:
    """The metrics table, notes, failed calls, stage timings and files of a `StudyOutcome`."""
    from rich.table import Table

    from dicore import VENDORS

    by = {(r["dataset"], r["vendor"], r["metric"]): r for r in outcome.metrics}
    datasets = list(dict.fromkeys(r["dataset"] for r in outcome.metrics))
    vendors = [v for v in VENDORS if any(k[1] == v for k in by)]
    title = "attack success, percent"
    if outcome.simulated:
        title += " - SIMULATED vendors"
    table = Table(title=title)
    table.add_column("dataset")
    table.add_column("vendor")
    for m in ("TA", "NA", "DHC", "DHS", "SIC"):
        table.add_column(m, justify="right")
    for d in datasets:
        for v in vendors:
            cells = []
            for m in ("TA", "NA", "DHC", "DHS", "SIC"):
                r = by.get((d, v, m))
                cells.append("-" if r is None or r["value"] is None else f"{r['value']:.1f}")
            table.add_row(d, v, *cells)
    console.print(table)
    for note in outcome.notes:
        console.print(f"[dim]{note}[/dim]")
    for warning in outcome.warnings:
        console.print(f"[bold yellow]WARNING[/bold yellow] {warning}", highlight=False)
    if outcome.errors:
        from dicore.runner import print_error_groups

        console.print(f"[red]{len(outcome.errors)} call(s) failed[/red] (left out of the results), "
                      "by cause:")
        print_error_groups(outcome.errors, console)
    t = outcome.timings
    stages = ", ".join(f"{k} {v:.1f}s" for k, v in t.items() if k != "total")
    console.print(f"[dim]{stages}[/dim]")
    console.print(
        f"{outcome.n_rows} result rows in {t.get('total', 0):.1f} s -> "
        f"[bold]{outcome.out}[/bold]: "
        + ", ".join(dict.fromkeys(p.name for k, p in outcome.files.items() if k != "store"))
    )
