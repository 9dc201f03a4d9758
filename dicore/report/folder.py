"""Rebuild `ReportInputs` from a study's output folder (what `dicore report --dir` reads).

Files read from the folder:

| file | needed | gives |
|---|---|---|
| `metrics.json` | yes | metric rows, beta, gamma, simulated |
| `results.csv` or `results.parquet` | no | backend per vendor (provenance); per-identity means (fit to the paper); DHC/DHS sweeps when `sweeps.json` is absent |
| `sweeps.json` | no | sweep and trade-off curves (`dicore.formats.sweeps_json`) |
| `defence.csv` | no | defence rows (`dicore defend` output) |
| `calibration.json` | no | calibration provenance (file name, fit error entries) |
| `per_identity.csv`, `groups.json`, `detectors.json` | no | the breakdown sections (per identity, groups, detector curves); score distributions are recomputed from the results file |
| `provenance.json` | no | any further provenance (model, seed, versions, timestamp ...) |

Without `sweeps.json` the DHC-over-beta and DHS-over-gamma curves are recomputed from the
results with the counts-at-thresholds kernel; trade-off curves then are left out (they need
the policy replay, which the study writes into `sweeps.json`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dicore.core.vocab import DEFAULT_BETA, DEFAULT_GAMMA
from dicore.errors import UserError
from dicore.formats import calibration_json, defence_csv, metrics_json, provenance_json, sweeps_json
from dicore.formats.results import read_backends
from dicore.report.model import ReportInputs
from dicore.tables import SWEEP_GRID, SweepCurve, TradeoffCurve


def recompute_sweeps(results_path: Path, grid: np.ndarray = SWEEP_GRID) -> list[SweepCurve]:
    """`dicore.tables.sweep_curves` of a results file."""
    from dicore.formats.results import read_results_file
    from dicore.tables import sweep_curves

    obs, vocab = read_results_file(results_path)
    return sweep_curves(obs, vocab, grid)


def identity_rows_of(results_path: Path) -> list[dict]:
    """`dicore.tables.identity_rows` of a results file (the paper's per-identity means)."""
    from dicore.formats.results import read_results_file
    from dicore.tables import identity_rows

    obs, vocab = read_results_file(results_path)
    return identity_rows(obs, vocab)


def load_breakdowns(folder: Path, results: Path | None, *, recompute: bool = True):
    """The breakdown sections' data from a study folder: per_identity.csv, groups.json,
    detectors.json, and the score distributions recomputed from the results file.
    None when the folder has none of them."""
    from dicore.formats import detectors_json, groups_json, per_identity_csv
    from dicore.stages import Breakdowns

    b = Breakdowns()
    found = False
    if (folder / "per_identity.csv").is_file():
        b.per_identity = per_identity_csv.read_per_identity_csv(folder / "per_identity.csv")
        found = True
    if (folder / "groups.json").is_file():
        g = groups_json.read_groups_json(folder / "groups.json")
        b.groups, b.name_repeats = g["rows"], g.get("name_repeats", [])
        b.group_columns = list(g.get("columns", []))
        found = True
    if (folder / "detectors.json").is_file():
        d = detectors_json.read_detectors_json(folder / "detectors.json")
        b.detectors, b.det = d["rows"], d.get("det", [])
        b.detectors_simulated = bool(d.get("simulated", True))
        found = True
    if recompute and results is not None:
        from dicore.breakdowns import score_distributions
        from dicore.formats.results import read_results_file

        b.distributions = score_distributions(*read_results_file(results))
        found = True
    return b if found else None


def load_inputs(folder: str | Path, *, recompute: bool = True) -> ReportInputs:
    """`ReportInputs` from an output folder (files listed in the module docstring)."""
    from dicore import __version__

    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"folder {folder} not found", "give the --out folder of `dicore study`")
    mpath = folder / "metrics.json"
    metrics = metrics_json.read_metrics_json(mpath)
    results = next((p for p in (folder / "results.csv", folder / "results.parquet")
                    if p.is_file()), None)

    sweeps: list[SweepCurve] = []
    tradeoffs: list[TradeoffCurve] = []
    spath = folder / "sweeps.json"
    if spath.is_file():
        try:
            sweeps, tradeoffs = sweeps_json.sweeps_from_json(sweeps_json.read_sweeps_json(spath))
        except (ValueError, TypeError, AttributeError) as exc:
            raise UserError(f"{spath}: {exc}",
                            "rewrite it with `dicore sweep` or `dicore study` "
                            "(format: dicore/formats/sweeps_json.py)") from exc
    elif recompute and results is not None:
        sweeps = recompute_sweeps(results)

    defence: list[dict] = []
    dpath = folder / "defence.csv"
    if dpath.is_file():
        try:
            defence = defence_csv.read_defence_csv(dpath)
        except (ValueError, UnicodeDecodeError) as exc:
            raise UserError(f"{dpath}: {exc}",
                            "rewrite it with `dicore defend ... --out defence.csv`") from exc

    breakdowns = load_breakdowns(folder, results, recompute=recompute)
    identity: list[dict] = []
    if breakdowns is not None and breakdowns.per_identity:
        identity = breakdowns.per_identity  # identity_rows' columns and TA/NA
    elif recompute and results is not None:
        identity = identity_rows_of(results)

    provenance: dict[str, Any] = {}
    backends = {} if results is None else read_backends(results)
    if backends:
        provenance["backends"] = backends
    cpath = folder / "calibration.json"
    if cpath.is_file():
        provenance["calibration file"] = cpath.name
        provenance.update({f"calibration {k}": v for k, v in
                           calibration_json.read_calibration_errors(cpath).items()})
    ppath = folder / "provenance.json"
    if ppath.is_file():
        provenance.update(provenance_json.read_provenance_json(ppath))
    provenance.setdefault("dicore version", __version__)
    provenance.setdefault("sweeps", "sweeps.json" if spath.is_file() else
                          ("recomputed from results" if sweeps else "none"))
    try:
        return ReportInputs(
            metrics=list(metrics["rows"]),
            beta=float(metrics.get("beta", DEFAULT_BETA)),
            gamma=float(metrics.get("gamma", DEFAULT_GAMMA)),
            sweeps=sweeps, tradeoffs=tradeoffs, defence=defence, provenance=provenance,
            identity=identity, breakdowns=breakdowns,
            # An explicit false stays false; absent -> the report model decides from provenance.
            simulated=metrics.get("simulated"),
        )
    except ValueError as exc:
        raise UserError(f"{mpath}: {exc}", "see docs/ARCHITECTURE.md, metrics.json") from exc
