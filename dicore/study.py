"""`dicore study`, the main job: data -> store -> results -> metrics -> sweeps,
defence, calibration -> report, in one output folder.

Two sources of data:
- the embedded default: the calibrated synthetic cohort (Table 1 sizes at
  `scale="paper"`) through the three simulated vendors, simulated in one
  vectorised pass and committed to the store dataset by dataset;
- a user's manifest, queried image by image through the runner (sim, live or
  replay backends).

Either way the store (`OUT/store.sqlite`) is the source of truth: a rerun skips
what it holds, and the results files are exported from it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from dicore import VENDORS
from dicore.core.vocab import DEFAULT_BETA, DEFAULT_GAMMA
from dicore.errors import UserError
from dicore.formats.results import RESULT_COLUMNS, VIDEO_COLUMNS
from dicore.outputs_cache import items_digest, outputs_current, params_digest, record_outputs
from dicore.provenance import build_provenance, held_warnings
from dicore.run_setup import confirm_live, make_backends  # noqa: F401 - also used by callers of dicore.study
from dicore.store import Store


@dataclass
class StudyConfig:
    out: Path = Path("dicore-study")
    scale: str = "paper"
    manifest: Path | None = None
    vendors: tuple[str, ...] = VENDORS
    backend: str = "sim"
    beta: float = DEFAULT_BETA
    gamma: float = DEFAULT_GAMMA
    seed: int = 0
    yes: bool = False
    concurrency: int | None = None
    rates: dict[str, float | None] = field(default_factory=dict)
    cassette: Path | None = None  # replay: a file, or a folder of <vendor>.yaml
    retry_errors: bool = False
    allow_outside_paths: bool = False  # manifest images may lie outside its folder
    names: Path | None = None  # --names FILE: the data set's identities (dicore.names)
    gallery: Path | None = None  # sim backend: known people, a folder <name>/*.jpg or .npz
    faults: str | None = None  # sim backend: injected throttling/server errors (simulators.faults)
    report: bool = True
    recompute: bool = False  # rebuild the outputs even when they are up to date
    workers: int | None = None  # sim manifest: run the pipeline on this many Ray workers
    ray_address: str | None = None  # join this Ray cluster instead of a local Ray


@dataclass
class StudyOutcome:
    out: Path
    files: dict[str, Path]
    timings: dict[str, float]
    n_rows: int
    n_errors: int
    simulated: bool
    metrics: list[dict]
    errors: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    up_to_date: bool = False  # outputs were current: nothing was recomputed
    warnings: list[str] = field(default_factory=list)  # e.g. name mismatches (dicore.names)


# ---- stage 1: fill the store ----------------------------------------------------------


def fill_from_cohort(store: Store, cfg: StudyConfig, progress=None) -> list[str]:
    """Simulate the cohort (only the datasets the store lacks) and commit it per dataset."""
    from dicore.paper import DATASETS

    if cfg.scale not in ("paper", "small"):
        raise UserError(f"--scale: unknown scale {cfg.scale!r}", hint="paper or small")
    study_key = {"source": "cohort", "scale": cfg.scale, "seed": cfg.seed}
    _claim_store(store, study_key, cfg)
    digest = params_digest()
    keys = {d: f"cohort:{cfg.scale}:{cfg.seed}:{digest}:{d}" for d in DATASETS}
    todo = [d for d in DATASETS if not store.chunk_done(keys[d])]
    if not todo:
        return []
    import numpy as np

    from simulators.cohort import simulate_cohort_results

    # All vendors always: the cohort's numbers must not depend on --vendors.
    from simulators.cohort_videos import video_columns

    cols = simulate_cohort_results(scale=cfg.scale, seed=cfg.seed, datasets=tuple(todo))
    cols.update(video_columns(cols))

    for d in todo:
        idx = np.flatnonzero(cols["dataset"] == d)
        chunk = {c: cols[c][idx].tolist() for c in (*RESULT_COLUMNS, *VIDEO_COLUMNS)}
        store.put_result_columns(chunk, simulated=True, chunk_key=keys[d])
        if progress:
            progress(d)
    return todo


def _claim_store(store: Store, key: dict, cfg: StudyConfig) -> None:
    """A study folder holds one study: refuse to mix another cohort or manifest into it."""
    held = store.get_meta("study")
    if held is None:
        store.set_meta("study", key)
    elif held != key:
        desc = ", ".join(f"{k}={v}" for k, v in held.items())
        raise UserError(
            f"{store.path} holds another study ({desc}); this run asks for "
            + ", ".join(f"{k}={v}" for k, v in key.items()),
            hint=f"use another --out than {cfg.out}, or delete {store.path} to start over",
        )


def read_study_columns(store: Store, cfg: StudyConfig, item_ids) -> dict:
    """Results columns from the store. A manifest study's identities are matched
    (`dicore.names`: --names FILE, vendor ids, normalised names); the cohort's are the
    simulator's own."""
    if item_ids is None:
        return store.result_columns(vendors=cfg.vendors, backend=cfg.backend)
    from dicore.formats.names_csv import read_names
    from dicore.runner import result_columns

    names = read_names(cfg.names) if cfg.names else None
    return result_columns(store, vendors=cfg.vendors, backend=cfg.backend, item_ids=item_ids,
                          names=names)


def fill_from_manifest(store: Store, cfg: StudyConfig, console, manifest=None):
    """Query every manifest image through the runner; returns (manifest, RunSummary)."""
    from dicore.datasets.manifest import read_manifest
    from dicore.runner import plan, replay_coverage, run_with_progress

    manifest = manifest or read_manifest(  # a manifest study: cfg.manifest is set
        cast(Path, cfg.manifest), allow_outside_paths=cfg.allow_outside_paths)
    backends = make_backends(cfg.vendors, cfg.backend, cfg.cassette, cfg.gallery, cfg.faults)
    records = manifest.item_records()
    for note in replay_coverage(records, backends):  # before the store: a useless replay stops
        console.print(f"[yellow]{note}[/yellow]")
    store.put_items(records, source=str(manifest.path))
    tasks, done = plan(manifest, store, backends, retry_errors=cfg.retry_errors)
    if done:
        console.print(f"resuming: {done} call(s) already in {store.path}, {len(tasks)} to go")
    if tasks and cfg.backend == "live":
        confirm_live(tasks, backends, yes=cfg.yes, console=console, rates=cfg.rates)
    if cfg.workers or cfg.ray_address:
        from dicore.distributed import run_tasks_ray

        if cfg.backend != "sim":
            raise UserError(
                f"--workers runs the simulated pipeline on Ray; --backend {cfg.backend} calls "
                "rate-limited APIs", hint="use --concurrency for live or replayed calls",
            )
        workers = cfg.workers or 2
        console.print(f"running {len(tasks)} call(s) on {workers} Ray worker(s)"
                      + (f" at {cfg.ray_address}" if cfg.ray_address else " (local Ray)"))
        summary = run_tasks_ray(tasks, list(backends), store, workers=workers,
                                address=cfg.ray_address, gallery=cfg.gallery)
        summary.already_done = done
        return manifest, summary
    concurrency = cfg.concurrency or (4 if cfg.backend == "live" else 1)
    summary = run_with_progress(
        tasks, backends, store, console=console, rates=cfg.rates, concurrency=concurrency
    )
    summary.already_done = done
    return manifest, summary


# ---- the whole study --------------------------------------------------------------


class _Stages:
    def __init__(self, console):
        self.console = console
        self.timings: dict[str, float] = {}

    def run(self, name: str, fn, *args, **kwargs):
        t0 = time.perf_counter()
        with self.console.status(f"{name}..."):
            out = fn(*args, **kwargs)
        self.timings[name] = time.perf_counter() - t0
        return out


def run_study(cfg: StudyConfig, console=None) -> StudyOutcome:
    """Run the study into `cfg.out`; every stage's output is written before the next starts."""
    from rich.console import Console

    console = console or Console(stderr=True)
    t_start = time.perf_counter()
    out = Path(cfg.out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} exists and is not a folder",
                        hint="give --out a folder (one study per folder)")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UserError(f"--out {out}: {parent} is a file, not a folder",
                                hint="check the --out path")
            break
    if cfg.manifest is None and cfg.backend != "sim":
        raise UserError(
            f"the synthetic cohort runs only on the simulator, not --backend {cfg.backend}",
            hint="pass --manifest FILE to query live or replayed APIs with your images",
        )
    manifest = None
    if cfg.manifest is None and (cfg.names or cfg.gallery):
        raise UserError("--names and --gallery apply to a --manifest study",
                        hint="the synthetic cohort uses the simulator's own identities")
    if cfg.manifest is not None:  # validate before touching the output folder
        from dicore.datasets.manifest import read_manifest

        manifest = read_manifest(cfg.manifest, allow_outside_paths=cfg.allow_outside_paths)
        if cfg.names:
            from dicore.formats.names_csv import read_names

            read_names(cfg.names)  # a bad names file stops the study before any call
    out.mkdir(parents=True, exist_ok=True)
    stages = _Stages(console)
    files: dict[str, Path] = {}
    notes: list[str] = []
    errors: list[dict] = []
    with Store(out / "store.sqlite") as store:
        files["store"] = store.path
        if cfg.manifest is None:
            done = stages.run("simulating the cohort", fill_from_cohort, store, cfg)
            notes.append(
                f"cohort scale={cfg.scale} seed={cfg.seed}: "
                + (f"simulated {', '.join(done)}" if done else "all datasets already stored")
            )
            item_ids = None
        else:
            _claim_store(store, {"source": "manifest", "manifest": str(Path(cfg.manifest).resolve())}, cfg)
            t0 = time.perf_counter()
            manifest, summary = fill_from_manifest(store, cfg, console, manifest)
            stages.timings["querying the APIs"] = time.perf_counter() - t0
            notes.append(
                f"{summary.completed} call(s) made, {summary.errors} failed, "
                f"{summary.already_done} already stored"
            )
            item_ids = [r.item_id for r in manifest.rows]
        items = items_digest(item_ids)
        held = outputs_current(store, cfg, out, items)
        if held is not None:
            return _from_held(held, cfg, out, store, stages, t_start, notes, item_ids)
        cols = stages.run("reading the store", read_study_columns, store, cfg, item_ids)
        errors = store.errors(cfg.vendors, backend=cfg.backend, item_ids=item_ids)
    from dicore import stages as analysis
    from dicore.formats import (
        calibration_json,
        defence_csv,
        metrics_json,
        provenance_json,
        results,
        sweeps_json,
    )
    from dicore.tables import metrics_table

    cols, n_unpaired = results.drop_unpaired_fakes(cols)
    if n_unpaired:
        notes.append(f"{n_unpaired} fake result(s) left out: their paired real image failed")
    n_rows = len(cols["item_id"])
    if not n_rows:
        from dicore.runner import print_error_groups

        if errors:
            console.print(f"[red]all {len(errors)} call(s) failed[/red], by cause:")
            print_error_groups(errors, console)
        raise UserError(
            f"no successful recognition in {out / 'store.sqlite'} to analyse "
            f"({len(errors)} failed call(s))",
            hint="see the failures listed above; fix them and rerun (completed calls are kept)",
        )
    # A live client pointed at `dicore serve` gets simulated answers: label them so.
    simulated = cfg.backend == "sim" or "sim" in cols["backend"]
    extra = analysis.manifest_columns(cols, manifest)
    csv_path, pq_path = stages.run("writing results", results.write_results, out, cols,
                                   extra=list(extra))
    files.update(results_csv=csv_path, results_parquet=pq_path)

    obs, vocab = stages.run("reading results", results.read_columns, cols, source=str(csv_path))
    metrics = stages.run(
        "computing metrics", metrics_table, obs, vocab, beta=cfg.beta, gamma=cfg.gamma
    )
    breakdowns = stages.run(
        "breakdowns", analysis.compute_breakdowns, obs, vocab, {**cols, **extra}, beta=cfg.beta,
        gamma=cfg.gamma, group_columns=(*analysis.DEFAULT_GROUP_COLUMNS, *extra), seed=cfg.seed)
    files.update(analysis.write_breakdowns(out, breakdowns, beta=cfg.beta, gamma=cfg.gamma,
                                           simulated=simulated))
    metrics_json.write_metrics_json(  # the metrics, then the breakdowns' extra rows
        out / "metrics.json", metrics + breakdowns.landing + breakdowns.video_metrics,
        beta=cfg.beta, gamma=cfg.gamma, simulated=simulated)
    files["metrics"] = out / "metrics.json"

    sweeps, tradeoffs = stages.run("sweeping thresholds", analysis.compute_sweeps, obs, vocab)
    files["sweeps"] = sweeps_json.write_sweeps_json(
        out / "sweeps.json", sweeps, tradeoffs, simulated=simulated,
        genuine_keep=analysis.GENUINE_KEEP,
    )

    defence = stages.run("defence table", analysis.compute_defence, metrics)
    files["defence"] = defence_csv.write_defence_csv(
        out / "defence.csv", defence, vendor_simulated=simulated
    )
    # The simulated-vs-paper table is about the calibrated cohort; a manifest study that
    # merely has a data set named like the paper's is not a calibration.
    calibration = analysis.calibration_rows(metrics) if cfg.manifest is None else []
    if calibration:
        files["calibration"] = calibration_json.write_calibration_json(
            out / "calibration.json", calibration, simulated=simulated,
            params_sha256=params_digest() if cfg.manifest is None else None,
        )
    from dicore.names import name_mismatches

    warnings = name_mismatches(cols) if item_ids is not None else []
    provenance = build_provenance(cfg, simulated, cols, calibration)
    if cfg.names:
        provenance["names"] = str(cfg.names)
    if warnings:
        provenance["warnings"] = warnings
    files["provenance"] = provenance_json.write_provenance_json(out / "provenance.json", provenance)
    if cfg.report:
        from dicore.report import write_report
        from dicore.report.model import ReportInputs
        inputs = ReportInputs(
            metrics=metrics + breakdowns.landing + breakdowns.video_metrics,
            beta=cfg.beta, gamma=cfg.gamma, sweeps=sweeps,
            tradeoffs=tradeoffs, defence=defence, provenance=provenance, simulated=simulated,
            # per_identity.csv rows: `dicore.tables.identity_rows` plus TA/NA columns
            identity=breakdowns.per_identity, breakdowns=breakdowns,
        )
        written = stages.run("writing the report", write_report, out, inputs)
        files.update({f"report:{k}": Path(p) for k, p in written.items()})
        files["report_md"] = out / "report.md"
        files["report_html"] = out / "report.html"
    with Store(out / "store.sqlite") as store:
        record_outputs(store, cfg, out, files, items, {"n_rows": n_rows, "n_errors": len(errors)})
    stages.timings["total"] = time.perf_counter() - t_start
    return StudyOutcome(
        out=out, files=files, timings=stages.timings, n_rows=n_rows,
        n_errors=len(errors), simulated=simulated, metrics=metrics, errors=errors, notes=notes,
        warnings=warnings,
    )


def _from_held(held, cfg, out, store, stages, t_start, notes, item_ids) -> StudyOutcome:
    from dicore.formats.metrics_json import read_metrics_json

    held_metrics = read_metrics_json(out / "metrics.json")
    metrics = held_metrics["rows"]
    notes.append("outputs were up to date with the store: nothing recomputed "
                 "(--recompute rebuilds them)")
    files = {"store": store.path, **{n: out / n for n in held["files"]}}
    stages.timings["total"] = time.perf_counter() - t_start
    return StudyOutcome(
        out=out, files=files, timings=stages.timings, n_rows=held.get("n_rows", 0),
        n_errors=held.get("n_errors", 0), simulated=bool(held_metrics["simulated"]), metrics=metrics,
        errors=store.errors(cfg.vendors, backend=cfg.backend, item_ids=item_ids), notes=notes,
        up_to_date=True, warnings=held_warnings(out),
    )
