"""Rebuild `ReportInputs` from a study's output folder (what `dicore report --dir` reads).

Files read from the folder:

| file | needed | gives |
|---|---|---|
| `metrics.json` | yes | metric rows, beta, gamma, simulated |
| `results.csv` or `results.parquet` | no | backend per vendor (provenance); DHC/DHS sweeps when `sweeps.json` is absent |
| `sweeps.json` | no | sweep and trade-off curves (format in `dicore.report.model`) |
| `defence.csv` | no | defence rows (`dicore defend` output) |
| `calibration.json` | no | calibration provenance (file name, fit error entries) |
| `provenance.json` | no | any further provenance (model, seed, versions, timestamp ...) |

Without `sweeps.json` the DHC-over-beta and DHS-over-gamma curves are recomputed from the
results with the counts-at-thresholds kernel; trade-off curves then are left out (they need
the policy replay, which the study writes into `sweeps.json`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from dicore.errors import UserError
from dicore.report.model import ReportInputs, SweepCurve, TradeoffCurve, sweeps_from_json

SWEEP_GRID = np.linspace(0.0, 100.0, 101)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})",
                        "rewrite it with the command that made it") from exc


def _error_entries(data: Any, prefix: str = "", depth: int = 0) -> dict[str, Any]:
    """Entries whose key mentions 'error' (fit error), two levels deep at most."""
    out: dict[str, Any] = {}
    if not isinstance(data, dict) or depth > 2:
        return out
    for k, v in data.items():
        key = f"{prefix}{k}"
        if "error" in str(k).lower() and not isinstance(v, dict | list):
            out[key] = v
        elif isinstance(v, dict):
            out.update(_error_entries(v, key + ".", depth + 1))
    return out


def sweep_curves(obs, vocab, grid: np.ndarray = SWEEP_GRID) -> list[SweepCurve]:
    """DHC over beta and DHS over gamma per (dataset, vendor), by `dicore.sweeps` (strict `>`;
    DHC over named fakes, DHS over unnamed fakes that have a similarity). Groups with no such
    fakes (Naver has no similarity) get no curve."""
    from dicore import sweeps

    thresholds = np.asarray(grid, np.float32)
    n_d, n_v = len(vocab.datasets), len(vocab.vendors)
    curves = []
    for metric, fn in (("DHC", sweeps.dhc_sweep_jit), ("DHS", sweeps.dhs_sweep_jit)):
        counts = fn(obs, thresholds, n_datasets=n_d, n_vendors=n_v)
        num = np.asarray(counts.numerator, np.float64)
        den = np.asarray(counts.denominator)
        for g in range(n_d * n_v):
            if den[g, 0] == 0:
                continue
            d, v = divmod(g, n_v)
            curves.append(SweepCurve(vocab.datasets[d], vocab.vendors[v], metric,
                                     [float(t) for t in grid],
                                     (100.0 * num[g] / den[g]).tolist()))
    return curves


def recompute_sweeps(results_path: Path, grid: np.ndarray = SWEEP_GRID) -> list[SweepCurve]:
    """`sweep_curves` of a results file."""
    from dicore.observations import Observations

    obs, vocab = Observations.from_results_file(results_path)
    return sweep_curves(obs, vocab, grid)


def _backends(folder: Path, results: Path | None) -> dict[str, str]:
    if results is None:
        return {}
    if results.suffix == ".parquet":
        import pyarrow.parquet as pq

        cols = pq.read_table(results, columns=["vendor", "backend"]).to_pydict()
        pairs = list(zip(cols["vendor"], cols["backend"], strict=True))
    else:
        import csv

        with results.open(newline="", encoding="utf-8-sig") as fh:
            pairs = [(r.get("vendor"), r.get("backend")) for r in csv.DictReader(fh)]
    seen: dict[str, set[str]] = {}
    for vendor, backend in pairs:
        seen.setdefault(str(vendor), set()).add(str(backend))
    return {v: "+".join(sorted(b)) for v, b in seen.items()}


def load_inputs(folder: str | Path, *, recompute: bool = True) -> ReportInputs:
    """`ReportInputs` from an output folder (files listed in the module docstring)."""
    from dicore import __version__

    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"folder {folder} not found", "give the --out folder of `dicore study`")
    mpath = folder / "metrics.json"
    if not mpath.is_file():
        raise UserError(f"{mpath} not found",
                        "run `dicore metrics --results results.csv --out metrics.json` first")
    metrics = _read_json(mpath)
    if not isinstance(metrics, dict) or "rows" not in metrics:
        raise UserError(f"{mpath}: expected an object with 'rows'", "see docs/ARCHITECTURE.md")
    results = next((p for p in (folder / "results.csv", folder / "results.parquet")
                    if p.is_file()), None)

    sweeps: list[SweepCurve] = []
    tradeoffs: list[TradeoffCurve] = []
    spath = folder / "sweeps.json"
    sweeps_note = None
    if spath.is_file():
        sdata = _read_json(spath)
        if isinstance(sdata, dict) and "groups" in sdata and not {"sweeps", "tradeoffs"} & set(sdata):
            # `dicore sweep` output (groups/replay), not the report's curves: recompute instead
            sweeps_note = "recomputed from results (sweeps.json is `dicore sweep` output)"
            if recompute and results is not None:
                sweeps = recompute_sweeps(results)
        else:
            try:
                sweeps, tradeoffs = sweeps_from_json(sdata)
            except (ValueError, TypeError, AttributeError) as exc:
                raise UserError(f"{spath}: {exc}", "see dicore/report/model.py for the format") from exc
    elif recompute and results is not None:
        sweeps = recompute_sweeps(results)

    defence: list[dict] = []
    dpath = folder / "defence.csv"
    if dpath.is_file():
        from dicore.commands.defend import read_defence_csv

        try:
            defence = read_defence_csv(dpath)
        except (ValueError, UnicodeDecodeError) as exc:
            raise UserError(f"{dpath}: {exc}",
                            "rewrite it with `dicore defend ... --out defence.csv`") from exc

    provenance: dict[str, Any] = {}
    backends = _backends(folder, results)
    if backends:
        provenance["backends"] = backends
    cpath = folder / "calibration.json"
    if cpath.is_file():
        provenance["calibration file"] = cpath.name
        provenance.update({f"calibration {k}": v for k, v in
                           _error_entries(_read_json(cpath)).items()})
    ppath = folder / "provenance.json"
    if ppath.is_file():
        extra = _read_json(ppath)
        if isinstance(extra, dict):
            provenance.update(extra)
    provenance.setdefault("dicore version", __version__)
    provenance.setdefault("sweeps", sweeps_note or ("sweeps.json" if spath.is_file() else
                          ("recomputed from results" if sweeps else "none")))
    try:
        return ReportInputs(
            metrics=list(metrics["rows"]),
            beta=float(metrics.get("beta", 90.0)),
            gamma=float(metrics.get("gamma", 80.0)),
            sweeps=sweeps, tradeoffs=tradeoffs, defence=defence, provenance=provenance,
            # An explicit false stays false; absent -> the report model decides from provenance.
            simulated=metrics.get("simulated"),
        )
    except ValueError as exc:
        raise UserError(f"{mpath}: {exc}", "see docs/ARCHITECTURE.md, metrics.json") from exc
