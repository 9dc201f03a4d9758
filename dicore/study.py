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

import hashlib
import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from dicore import VENDORS
from dicore.errors import UserError
from dicore.fileio import write_atomic, write_json, write_metrics_json
from dicore.store import RESULT_COLUMNS, Store

SIMULATED_NOTE = "SIMULATED (dicore offline simulator; not the real vendor API)"


@dataclass
class StudyConfig:
    out: Path = Path("dicore-study")
    scale: str = "paper"
    manifest: Path | None = None
    vendors: tuple[str, ...] = VENDORS
    backend: str = "sim"
    beta: float = 90.0
    gamma: float = 80.0
    seed: int = 0
    yes: bool = False
    concurrency: int | None = None
    rates: dict[str, float | None] = field(default_factory=dict)
    cassette: Path | None = None  # replay: a file, or a folder of <vendor>.yaml
    retry_errors: bool = False
    allow_outside_paths: bool = False  # manifest images may lie outside its folder
    report: bool = True
    recompute: bool = False  # rebuild the outputs even when they are up to date


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


def enable_jax_cache() -> None:
    """Keep JAX's compiled kernels on disk (~/.cache/dicore/jax) so that later runs skip
    compilation; JAX_COMPILATION_CACHE_DIR overrides the folder, DICORE_JAX_CACHE=0 turns
    it off."""
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


# ---- helpers ----------------------------------------------------------------------


def parse_vendors(text: str | None) -> tuple[str, ...]:
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


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "" if v != v else repr(v)  # repr round-trips exactly
    return str(v)


_NULLABLE_TEXT = ("predicted", "real_item_id", "reference")


def _arrow_table(cols: Mapping[str, Sequence]):
    import pyarrow as pa

    types = {"is_fake": pa.bool_(), "confidence": pa.float64(), "similarity": pa.float64()}
    data = {}
    for c in RESULT_COLUMNS:
        values = cols[c]
        if c in _NULLABLE_TEXT:
            values = [v or None for v in values]  # empty = null (an empty CSV cell)
        elif c in ("confidence", "similarity"):
            values = [None if v is None or v != v else float(v) for v in values]
        data[c] = values
    schema = pa.schema([(c, types.get(c, pa.string())) for c in RESULT_COLUMNS])
    return pa.table(data, schema=schema)


def write_results_csv(path: Path, cols: Mapping[str, Sequence], table=None) -> Path:
    """The results contract as CSV: empty cells for absent values, floats written
    shortest-exact (they read back to the same double), atomically."""
    import pyarrow.csv as pa_csv

    table = table if table is not None else _arrow_table(cols)

    def write(tmp: Path) -> None:
        import pyarrow as pa

        # Unquoted cells; pyarrow refuses that when a value holds a comma, quote or
        # newline, and then every string is quoted (still standard CSV).
        for quoting in ("none", "needed"):
            try:
                with open(tmp, "wb") as fh:
                    fh.write((",".join(RESULT_COLUMNS) + "\n").encode())
                    pa_csv.write_csv(
                        table, fh,
                        pa_csv.WriteOptions(include_header=False, quoting_style=quoting),
                    )
                return
            except pa.ArrowInvalid:
                continue

    return write_atomic(path, write)


def drop_unpaired_fakes(cols: Mapping[str, Sequence]) -> tuple[dict[str, list], int]:
    """Leave out the fakes whose paired real image has no result for that vendor (its call
    failed): without X_T none of the fake's metrics is defined. Returns (columns, number left out)."""
    reals = {
        (v, d, i)
        for v, d, i, f in zip(cols["vendor"], cols["dataset"], cols["item_id"], cols["is_fake"], strict=True)
        if not f
    }
    keep = [
        not f or (v, d, r) in reals
        for v, d, r, f in zip(cols["vendor"], cols["dataset"], cols["real_item_id"], cols["is_fake"], strict=True)
    ]
    if all(keep):
        return {c: list(v) for c, v in cols.items()}, 0
    return {c: [x for x, k in zip(v, keep, strict=True) if k] for c, v in cols.items()}, keep.count(False)


def write_results_parquet(path: Path, cols: Mapping[str, Sequence], table=None) -> Path:
    """The results contract as Parquet (nulls for absent values), atomically."""
    import pyarrow.parquet as pq

    table = table if table is not None else _arrow_table(cols)
    return write_atomic(path, lambda tmp: pq.write_table(table, tmp))


def write_results(out: Path, cols: Mapping[str, Sequence]) -> tuple[Path, Path]:
    """OUT/results.csv and OUT/results.parquet from results-contract columns."""
    out.mkdir(parents=True, exist_ok=True)
    table = _arrow_table(cols)
    return (
        write_results_csv(out / "results.csv", cols, table),
        write_results_parquet(out / "results.parquet", cols, table),
    )


def _params_digest() -> str:
    from importlib import resources

    try:
        data = resources.files("simulators").joinpath("params", "calibrated.json").read_bytes()
    except (FileNotFoundError, ModuleNotFoundError):
        return "none"
    return hashlib.sha256(data).hexdigest()[:12]


# ---- stage 1: fill the store ----------------------------------------------------------


def fill_from_cohort(store: Store, cfg: StudyConfig, progress=None) -> list[str]:
    """Simulate the cohort (only the datasets the store lacks) and commit it per dataset."""
    from dicore.paper import DATASETS

    if cfg.scale not in ("paper", "small"):
        raise UserError(f"--scale: unknown scale {cfg.scale!r}", hint="paper or small")
    study_key = {"source": "cohort", "scale": cfg.scale, "seed": cfg.seed}
    _claim_store(store, study_key, cfg)
    digest = _params_digest()
    keys = {d: f"cohort:{cfg.scale}:{cfg.seed}:{digest}:{d}" for d in DATASETS}
    todo = [d for d in DATASETS if not store.chunk_done(keys[d])]
    if not todo:
        return []
    import numpy as np

    from simulators.cohort import simulate_cohort_results

    # All vendors always: the cohort's numbers must not depend on --vendors.
    cols = simulate_cohort_results(scale=cfg.scale, seed=cfg.seed, datasets=tuple(todo))

    for d in todo:
        idx = np.flatnonzero(cols["dataset"] == d)
        chunk = {c: cols[c][idx].tolist() for c in RESULT_COLUMNS}
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


def make_backends(vendors: Sequence[str], kind: str, cassette: Path | None = None) -> dict:
    from dicore.backends import make_backend

    backends = {}
    for v in vendors:
        options = {}
        if kind == "replay":
            if cassette is None:
                raise UserError(
                    "--backend replay needs --cassette FILE_OR_DIR",
                    hint="a file, a folder of <vendor>.yaml, or a path with {vendor} in it",
                )
            if "{vendor}" in str(cassette):
                options["cassette"] = Path(str(cassette).replace("{vendor}", v))
            elif cassette.is_dir():
                options["cassette"] = cassette / f"{v}.yaml"
            else:
                options["cassette"] = cassette
        backends[v] = make_backend(v, kind, **options)
    return backends


def confirm_live(tasks, backends, *, yes: bool, console) -> None:
    """Show call counts, cost and duration of a live run; ask unless --yes."""
    from collections import Counter

    from rich.table import Table

    counts = Counter((t.vendor, t.call) for t in tasks)
    calls = {v: (counts[(v, "recognize")], counts[(v, "similarity")]) for v in backends}
    table = Table(title="live API calls about to be made")
    for c in ("vendor", "recognition", "similarity", "USD (est.)", "time at rate limit"):
        table.add_column(c, justify="right" if c != "vendor" else "left")
    try:
        from dicore.cost import format_duration, study_cost, total_row

        rows = study_cost(calls)
        for r in rows:
            table.add_row(r.vendor, str(r.recognition_calls), str(r.similarity_calls),
                          f"{r.usd:,.2f}", format_duration(r.seconds))
        tot = total_row(rows)
        table.add_row("total", str(tot["recognition_calls"]), str(tot["similarity_calls"]),
                      f"{tot['usd']:,.2f}", format_duration(tot["seconds"]))
    except ImportError:  # cost module absent: counts only
        for v, (rec, sim) in calls.items():
            table.add_row(v, str(rec), str(sim), "?", "?")
    console.print(table)
    if yes:
        return
    if not sys.stdin.isatty():
        raise UserError(
            "a live run needs confirmation and stdin is not a terminal",
            hint="pass --yes to accept the calls and cost shown above",
        )
    from rich.prompt import Confirm

    if not Confirm.ask("Make these calls (they are billed by the vendors)?", console=console):
        raise UserError("cancelled; nothing was sent", hint="pass --yes to skip this question")


def fill_from_manifest(store: Store, cfg: StudyConfig, console, manifest=None):
    """Query every manifest image through the runner; returns (manifest, RunSummary)."""
    from dicore.datasets.manifest import read_manifest
    from dicore.runner import plan, replay_coverage, run_with_progress

    manifest = manifest or read_manifest(  # a manifest study: cfg.manifest is set
        cast(Path, cfg.manifest), allow_outside_paths=cfg.allow_outside_paths)
    backends = make_backends(cfg.vendors, cfg.backend, cfg.cassette)
    records = manifest.item_records()
    for note in replay_coverage(records, backends):  # before the store: a useless replay stops
        console.print(f"[yellow]{note}[/yellow]")
    store.put_items(records, source=str(manifest.path))
    tasks, done = plan(manifest, store, backends, retry_errors=cfg.retry_errors)
    if done:
        console.print(f"resuming: {done} call(s) already in {store.path}, {len(tasks)} to go")
    if tasks and cfg.backend == "live":
        confirm_live(tasks, backends, yes=cfg.yes, console=console)
    concurrency = cfg.concurrency or (4 if cfg.backend == "live" else 1)
    summary = run_with_progress(
        tasks, backends, store, console=console, rates=cfg.rates, concurrency=concurrency
    )
    summary.already_done = done
    return manifest, summary


# ---- stages 3..7: analysis of the results -----------------------------------------


def _loaded(cols: dict[str, Sequence], source: str):
    from dicore.observations import Observations

    return Observations.from_columns(cols, source=source)


TRADEOFF_POINTS = 101  # taus per vendor, from its reporting floor to 100 (one compile)
# Operating point: lowest TA keeping this share of the genuine recognition the vendor has at
# its floor (relative, since a vendor that does not know a person never names their real image).
GENUINE_KEEP = 0.9


def compute_sweeps(obs, vocab, cfg: StudyConfig):
    """(sweep curves, trade-off curves) in the report model's form.

    Sweeps: DHC over beta and DHS over gamma per (dataset, vendor), grid 0..100 step 1.
    Trade-offs: per vendor over all datasets, TA and genuine recognition if the vendor
    reported names only at confidence >= tau, for tau from the vendor's floor to 100
    (below the floor the data are censored), with two operating points.
    """
    from dicore.report.folder import sweep_curves

    return sweep_curves(obs, vocab), compute_tradeoffs(obs, vocab)


def compute_tradeoffs(obs, vocab, *, attack: str = "TA", genuine_keep: float = GENUINE_KEEP):
    """Per-vendor trade-off curves (all datasets pooled) with their operating points:
    the tau with the lowest attack success that keeps genuine recognition >= `genuine_keep`
    x its value at the vendor's floor, and the tau where attack success = genuine miss rate."""
    import dataclasses

    import jax.numpy as jnp
    import numpy as np

    from dicore import replay
    from dicore.report.model import OperatingPoint, TradeoffCurve

    n_v = len(vocab.vendors)
    pooled = dataclasses.replace(obs, dataset=jnp.zeros_like(obs.dataset))
    floors = replay.load_floors()

    def value(a, g):
        x = float(np.asarray(a)[g])
        return None if np.isnan(x) else x

    present = set(np.unique(np.asarray(obs.vendor)).tolist())
    curves = []
    for v, vendor in enumerate(vocab.vendors):
        if vendor not in floors or v not in present:
            continue
        # Starts at the vendor's floor: below it the vendor's data are censored.
        taus = np.linspace(floors[vendor], 100.0, TRADEOFF_POINTS, dtype=np.float32)
        counts = replay.replay_counts_jit(pooled, taus, n_datasets=1, n_vendors=n_v)
        curve = replay.trade_off(counts, taus, attack=attack)
        if float(np.asarray(counts.genuine.denominator)[v, 0]) == 0:
            continue  # no real images for this vendor: no genuine rate to trade against
        target = genuine_keep * float(np.asarray(curve.genuine)[v, 0])
        best = replay.min_attack_point_jit(taus, curve.attack, curve.genuine, target=target)
        eer = replay.equal_error_point_jit(taus, curve.attack, curve.genuine)
        points = [
            OperatingPoint(f"lowest {attack}, genuine >= {target:.1f}% ({genuine_keep:.0%} of floor)",
                           value(best.tau, v), value(best.attack, v), value(best.genuine, v)),
            OperatingPoint(f"{attack} = genuine miss rate",
                           value(eer.tau, v), value(eer.attack, v), value(eer.genuine, v)),
        ]
        attack_row, genuine_row = np.asarray(curve.attack)[v], np.asarray(curve.genuine)[v]
        curves.append(TradeoffCurve(
            vendor=vendor, tau=taus.astype(float).tolist(),
            attack_success=[None if np.isnan(x) else float(x) for x in attack_row],
            genuine_recognition=[None if np.isnan(x) else float(x) for x in genuine_row],
            operating_points=points, attack=attack,
        ))
    return curves


def compute_defence(metrics: list[dict]) -> list[dict]:
    """Table 2 style rows: the paper's detectors (by accuracy) in front of these TA/NA rates."""
    from dicore import paper
    from dicore.defence import analytic_defence_table

    before = {
        (r["dataset"], r["vendor"], r["metric"]): r["value"]
        for r in metrics
        if r["metric"] in ("TA", "NA") and r["value"] is not None
    }
    detectors: dict[str, dict[str, float]] = {}
    for r in paper.table2():
        if r.dataset != paper.COMBINED:
            detectors.setdefault(r.dataset, {})[r.detector] = r.detector_acc
    dets = {d: sorted(v.items()) for d, v in detectors.items() if any(k[0] == d for k in before)}
    return analytic_defence_table(before, dets)


def calibration_rows(metrics: list[dict]) -> list[dict]:
    """Every TA/NA cell next to the paper's value (the simulated-vs-paper table)."""
    from dataclasses import asdict

    from dicore.report.model import comparison_rows

    return [asdict(r) for r in comparison_rows(metrics)]


# ---- output cache: a rerun over an unchanged store rewrites nothing ---------------


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _items_digest(item_ids: Sequence[str] | None) -> str | None:
    """Which items a study covers (None: all the store holds, the cohort); a manifest that
    lost rows leaves the store unchanged, so its outputs must still count as stale."""
    if item_ids is None:
        return None
    return hashlib.sha256("\n".join(sorted(item_ids)).encode()).hexdigest()


def _outputs_key(store: Store, cfg: StudyConfig, items: str | None) -> dict:
    from dicore import __version__

    return {
        "store": store.state(), "beta": cfg.beta, "gamma": cfg.gamma,
        "vendors": list(cfg.vendors), "backend": cfg.backend, "report": cfg.report,
        "dicore": __version__, "params": _params_digest(), "items": items,
    }


def _outputs_current(store: Store, cfg: StudyConfig, out: Path, items: str | None) -> dict | None:
    """The recorded outputs if they were made from this store state and config and no
    file has changed since; else None."""
    held = store.get_meta("outputs")
    if cfg.recompute or not held or held.get("key") != _outputs_key(store, cfg, items):
        return None
    for name, digest in held["files"].items():
        path = out / name
        if not path.is_file() or _sha256(path) != digest:
            return None
    return held


def _record_outputs(store: Store, cfg: StudyConfig, out: Path, files: dict[str, Path],
                    items: str | None, extra: dict) -> None:
    names = sorted({p.name for k, p in files.items() if k != "store"})
    store.set_meta("outputs", {
        "key": _outputs_key(store, cfg, items),
        "files": {n: _sha256(out / n) for n in names},
        **extra,
    })


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
    if cfg.manifest is not None:  # validate before touching the output folder
        from dicore.datasets.manifest import read_manifest

        manifest = read_manifest(cfg.manifest, allow_outside_paths=cfg.allow_outside_paths)
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
        items = _items_digest(item_ids)
        held = _outputs_current(store, cfg, out, items)
        if held is not None:
            return _from_held(held, cfg, out, store, stages, t_start, notes, item_ids)
        cols = stages.run(
            "reading the store", store.result_columns, vendors=cfg.vendors,
            backend=cfg.backend, item_ids=item_ids,
        )
        errors = store.errors(cfg.vendors, backend=cfg.backend, item_ids=item_ids)
    cols, n_unpaired = drop_unpaired_fakes(cols)
    if n_unpaired:
        notes.append(f"{n_unpaired} fake result(s) left out: their paired real image failed")
    n_rows = len(cols["item_id"])
    if not n_rows:
        raise UserError(
            f"no successful recognition in {out / 'store.sqlite'} to analyse "
            f"({len(errors)} failed call(s))",
            hint="see the errors above; fix them and rerun (completed calls are kept)",
        )
    # A live client pointed at `dicore serve` gets simulated answers: label them so.
    simulated = cfg.backend == "sim" or "sim" in cols["backend"]
    csv_path, pq_path = stages.run("writing results", write_results, out, cols)
    files.update(results_csv=csv_path, results_parquet=pq_path)

    from dicore.metrics import metrics_table

    obs, vocab = stages.run("reading results", _loaded, cols, str(csv_path))
    metrics = stages.run(
        "computing metrics", metrics_table, obs, vocab, beta=cfg.beta, gamma=cfg.gamma
    )
    write_metrics_json(out / "metrics.json", metrics, beta=cfg.beta, gamma=cfg.gamma,
                       simulated=simulated)
    files["metrics"] = out / "metrics.json"

    sweeps, tradeoffs = stages.run("sweeping thresholds", compute_sweeps, obs, vocab, cfg)
    from dicore.report.model import sweeps_to_json

    payload = sweeps_to_json(sweeps, tradeoffs)
    payload["simulated"] = simulated
    files["sweeps"] = write_json(out / "sweeps.json", payload)

    from dicore.commands.defend import write_defence_csv

    defence = stages.run("defence table", compute_defence, metrics)
    files["defence"] = write_defence_csv(out / "defence.csv", defence, vendor_simulated=simulated)
    calibration = calibration_rows(metrics)
    if calibration:
        diffs = [abs(r["difference"]) for r in calibration if r["difference"] is not None]
        files["calibration"] = write_json(
            out / "calibration.json",
            {
                "simulated": simulated,
                "what": "dicore's TA/NA next to the paper's (Table 2 asr_before), percent",
                "params_sha256": _params_digest() if cfg.manifest is None else None,
                "max_abs_error_pp": round(max(diffs), 3) if diffs else None,
                "mean_abs_error_pp": round(sum(diffs) / len(diffs), 3) if diffs else None,
                "rows": calibration,
            },
        )
    provenance = _provenance(cfg, simulated)
    files["provenance"] = write_json(out / "provenance.json", provenance)
    if cfg.report:
        from dicore.report import write_report
        from dicore.report.model import ReportInputs

        inputs = ReportInputs(
            metrics=metrics, beta=cfg.beta, gamma=cfg.gamma, sweeps=sweeps,
            tradeoffs=tradeoffs, defence=defence, provenance=provenance, simulated=simulated,
        )
        written = stages.run("writing the report", write_report, out, inputs)
        files.update({f"report:{k}": Path(p) for k, p in written.items()})
        files["report_md"] = out / "report.md"
        files["report_html"] = out / "report.html"
    with Store(out / "store.sqlite") as store:
        _record_outputs(store, cfg, out, files, items, {"n_rows": n_rows, "n_errors": len(errors)})
    stages.timings["total"] = time.perf_counter() - t_start
    return StudyOutcome(
        out=out, files=files, timings=stages.timings, n_rows=n_rows,
        n_errors=len(errors), simulated=simulated, metrics=metrics, errors=errors, notes=notes,
    )


def _from_held(held, cfg, out, store, stages, t_start, notes, item_ids) -> StudyOutcome:
    held_metrics = json.loads((out / "metrics.json").read_text())
    metrics = held_metrics["rows"]
    notes.append("outputs were up to date with the store: nothing recomputed "
                 "(--recompute rebuilds them)")
    files = {"store": store.path, **{n: out / n for n in held["files"]}}
    stages.timings["total"] = time.perf_counter() - t_start
    return StudyOutcome(
        out=out, files=files, timings=stages.timings, n_rows=held.get("n_rows", 0),
        n_errors=held.get("n_errors", 0), simulated=bool(held_metrics["simulated"]), metrics=metrics,
        errors=store.errors(cfg.vendors, backend=cfg.backend, item_ids=item_ids), notes=notes,
        up_to_date=True,
    )


def _provenance(cfg: StudyConfig, simulated: bool) -> dict:
    import platform

    from dicore import __version__

    prov = {
        "backends": {v: cfg.backend for v in cfg.vendors},
        "simulated": simulated,
        "source": "synthetic cohort" if cfg.manifest is None else f"manifest {cfg.manifest}",
        "seed": cfg.seed,
        "dicore": __version__,
        "python": platform.python_version(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if cfg.manifest is None:
        prov.update(scale=cfg.scale, calibration="simulators/params/calibrated.json",
                    calibration_sha256=_params_digest(), label=SIMULATED_NOTE)
    elif simulated:
        prov.update(model="ArcFace w600k_mbf + SCRFD (insightface), simulated vendor policies",
                    label=SIMULATED_NOTE)
    return prov


# ---- the summary printed at the end ------------------------------------------------


def print_summary(outcome: StudyOutcome, console) -> None:
    from rich.table import Table

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
    if outcome.errors:
        console.print(f"[red]{len(outcome.errors)} call(s) failed[/red] (left out of the results):")
        for e in outcome.errors[:5]:
            console.print(f"  {e['vendor']} {e['call']} {e['item_id']}: {e['error']}")
    t = outcome.timings
    stages = ", ".join(f"{k} {v:.1f}s" for k, v in t.items() if k != "total")
    console.print(f"[dim]{stages}[/dim]")
    console.print(
        f"{outcome.n_rows} result rows in {t.get('total', 0):.1f} s -> "
        f"[bold]{outcome.out}[/bold]: "
        + ", ".join(dict.fromkeys(p.name for k, p in outcome.files.items() if k != "store"))
    )
