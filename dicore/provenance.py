"""What goes into a study's `provenance.json` (written by `dicore.formats.provenance_json`):
where every number came from.

`backends` is, per vendor, what results.csv's `backend` column says (who answered: `sim`
for any dicore simulator, in-process, over HTTP or replayed); `client` is the --backend
the study ran with, and `answered_by` says in words how when the two differ ("live
client, simulated server (dicore serve)"). Cohort studies also name the calibration file,
its hash, the parameters' fit error and this run's error against the paper.
"""

from __future__ import annotations

import time
from pathlib import Path

from dicore.core.vocab import SIMULATED_LABEL
from dicore.outputs_cache import params_digest


def held_warnings(out: Path) -> list[str]:
    import json

    try:
        return list(json.loads((out / "provenance.json").read_text()).get("warnings") or [])
    except (OSError, ValueError, AttributeError):
        return []


def _answered_by(cfg, cols) -> tuple[dict[str, str], dict[str, str]]:
    """Per vendor: the `backend` results.csv shows (who answered: `sim` for any dicore
    simulator, in-process or over HTTP), and in words how, when that is not cfg.backend."""
    seen: dict[str, set] = {}
    for v, b in zip(cols["vendor"], cols["backend"], strict=True):
        seen.setdefault(v, set()).add(b)
    backends, how = {}, {}
    for v in cfg.vendors:
        values = sorted(seen.get(v, {cfg.backend}))
        backends[v] = values[0] if len(values) == 1 else ",".join(values)
        if cfg.backend == "live" and "sim" in values:
            how[v] = "live client, simulated server (dicore serve)"
        elif cfg.backend == "replay" and "sim" in values:
            how[v] = "replay of a simulator recording"
    return backends, how


def _params_fit() -> dict | None:
    """The fit error recorded with the calibrated simulator parameters."""
    import json
    from importlib import resources

    try:
        data = json.loads(resources.files("simulators").joinpath("params", "calibrated.json").read_text())
    except (FileNotFoundError, ModuleNotFoundError, ValueError):
        return None
    fit = data.get("fit") if isinstance(data, dict) else None
    return dict(fit) if isinstance(fit, dict) else None


def build_provenance(cfg, simulated: bool, cols=None, calibration=()) -> dict:
    import platform

    from dicore import __version__

    backends, how = _answered_by(cfg, cols) if cols is not None else (
        {v: cfg.backend for v in cfg.vendors}, {})
    prov = {
        "backends": backends,  # = results.csv's backend column
        "client": cfg.backend,  # the --backend the study ran with
        "simulated": simulated,
        "source": "synthetic cohort" if cfg.manifest is None else f"manifest {cfg.manifest}",
        "seed": cfg.seed,
        "dicore": __version__,
        "python": platform.python_version(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if how:
        prov["answered_by"] = how
    if cfg.manifest is None:
        prov.update(scale=cfg.scale, calibration="simulators/params/calibrated.json",
                    calibration_sha256=params_digest(), label=SIMULATED_LABEL)
        fit = _params_fit()
        if fit:  # the parameters' fit to the paper (mean over seeds at paper scale)
            prov["calibration_fit_error_pp"] = fit
        diffs = [abs(r["difference"]) for r in calibration if r.get("difference") is not None]
        if diffs:  # this run's cells against the paper (calibration.json)
            prov["calibration_error_pp"] = {"max_abs_error_pp": round(max(diffs), 3),
                                            "mean_abs_error_pp": round(sum(diffs) / len(diffs), 3)}
    elif simulated:
        prov.update(model="ArcFace w600k_mbf + SCRFD (insightface), simulated vendor policies",
                    label=SIMULATED_LABEL)
    return prov


