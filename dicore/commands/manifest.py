"""Build an image manifest (CSV or Parquet) from a dataset folder on disk.

examples:
  dicore manifest celebdf ~/data/Celeb-DF-v2 --out celebdf/manifest.csv --frames 1
  dicore manifest celebdf ~/data/Celeb-DF-v2 --out fceleb/manifest.csv \\
      --dataset FCelebDF --frames 25 --testing-only
  dicore manifest generic ./mydata --out mydata.parquet --method reenactment --crop
  dicore study --manifest celebdf/manifest.csv

Layouts: celebdf, voxceleb-th, fom, blend, generic (see docs/study.md).
"""

from __future__ import annotations

import argparse

from dicore.errors import UserError, check_output_file

NAME = "manifest"
HELP = "build an image manifest from a dataset folder (Celeb-DF, VoxCeleb-TH, FOM, blends, generic)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from dicore.datasets.builders import LAYOUTS

    p.add_argument("layout", choices=sorted(LAYOUTS))
    p.add_argument("root", help="the dataset folder")
    p.add_argument("--out", required=True, help="manifest file to write (.csv or .parquet)")
    p.add_argument("--dataset", help="dataset name in the manifest (default: the layout's)")
    p.add_argument("--frames", type=int, default=1, help="frames sampled per video (default 1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the frame sampling")
    p.add_argument("--crop", action="store_true", help="crop the largest face (recognizer)")
    p.add_argument("--testing-only", action="store_true", help="celebdf: only listed test videos")
    p.add_argument("--target-position", choices=("second", "first"), default="second",
                   help="celebdf: which id of idX_idY_NNNN is the impersonated target")
    p.add_argument("--method", default="replacement", help="generic: method of the fakes")
    p.add_argument("--names", metavar="FILE",
                   help="identity map (CSV identity,name[,aliases,vendor_ids]): write each "
                   "identity's display name as target/reference (e.g. id0 -> Emmanuel Macron)")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import Progress

    from dicore.datasets.builders import build_manifest

    options: dict = {}
    if args.layout == "celebdf":
        options = {"testing_only": args.testing_only, "target_position": args.target_position}
    elif args.layout == "generic":
        options = {"method": args.method}
    if args.frames < 1:
        raise UserError(f"--frames must be at least 1, got {args.frames}")
    check_output_file(args.out, "--out")
    names = None
    if args.names:
        from dicore.formats.names_csv import read_names

        names = read_names(args.names)  # before reading any media
    console = Console(stderr=True)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("reading media", total=None)
        result = build_manifest(
            args.layout, args.root, args.out, dataset=args.dataset,
            frames_per_video=args.frames, seed=args.seed, crop=args.crop,
            on_discovered=lambda n: progress.update(task, total=n),
            on_item=lambda m: progress.advance(task),
            **options,
        )
    if names is not None:
        unmapped = _apply_names(result, names)
        if unmapped:
            console.print(f"{len(unmapped)} identit(y/ies) not in {args.names}, kept as they are: "
                          + ", ".join(unmapped[:10]) + (" ..." if len(unmapped) > 10 else ""))
    console.print(
        f"wrote {result.manifest}: {len(result.rows)} images "
        f"({result.n_fake} fake, {len(result.rows) - result.n_fake} real); "
        f"{len(result.skipped)} skipped"
    )
    outside = _outside_rows(result)
    if outside:
        console.print(
            f"{outside} image path(s) point outside the manifest's folder (the images stay in "
            f"{args.root}): `dicore study` and `dicore run` need --allow-outside-paths for "
            "this manifest, or pass --crop / put --out inside the dataset folder"
        )
    for path, reason in result.skipped[:10]:
        console.print(f"  skipped {path}: {reason}")
    if len(result.skipped) > 10:
        console.print(f"  ... and {len(result.skipped) - 10} more")
    return 0


def _outside_rows(result) -> int:
    from pathlib import Path

    root = Path(result.manifest).parent.resolve()
    return sum(not (root / r.path).resolve().is_relative_to(root) for r in result.rows)


def _apply_names(result, names) -> list[str]:
    """Rewrite the written manifest with display names; returns the identities not mapped."""
    import dataclasses

    from dicore.datasets.manifest import write_manifest

    unmapped: dict[str, None] = {}

    def display(text: str) -> str:
        if not text:
            return text
        ident = names.resolve(text)
        if ident is None:
            unmapped.setdefault(text, None)
            return text
        return ident.name

    result.rows = [dataclasses.replace(r, target=display(r.target), reference=display(r.reference))
                   for r in result.rows]
    write_manifest(result.manifest, result.rows)
    return list(unmapped)
