"""The default `dicore study`, cold and warm, against the cohort simulation alone.

Each step is a fresh `python -m dicore` process:

- baseline: a fresh process that imports the cohort and simulates it (no store, no
  metrics, no report): the floor any study pays;
- cold: `dicore study` into an empty folder with an empty JAX compilation cache
  (nothing stored, nothing compiled): cohort -> store -> results -> metrics ->
  sweeps -> defence -> report. Goal: under 60 s at the paper's scale;
- warm: the same command again, everything stored. Goal: under 15 s;
- recompute: `--recompute`, the analysis redone from the stored calls (JAX cache warm).

The machine is shared: besides wall time, each step's CPU time (user + system of the
child) is reported, which other people's load inflates far less.
Run: `python -m benchmarks.bench_study [--quick]` (quick: `--scale small`).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NAME = "study"
ROOT = Path(__file__).resolve().parents[1]
COLD_GOAL_S = 60.0
WARM_GOAL_S = 15.0


def _timed(args: list[str], env: dict) -> tuple[float, float, str]:
    """(wall s, child CPU s, stdout) of one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=900)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.stdout


def run(quick: bool) -> dict:
    scale = "small" if quick else "paper"
    with tempfile.TemporaryDirectory(prefix="dicore-bench-study-") as tmp:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "120",
               "JAX_COMPILATION_CACHE_DIR": str(Path(tmp) / "jax-cache")}  # empty: truly cold
        out = Path(tmp) / "out"
        base_wall, base_cpu, _ = _timed(
            ["-c", "from simulators.cohort import simulate_cohort_results as s; "
                   f"s(scale={scale!r}, seed=0)"], env)
        study = ["-m", "dicore", "study", "--scale", scale, "--out", str(out)]
        cold_wall, cold_cpu, cold_out = _timed(study, env)
        warm_wall, warm_cpu, warm_out = _timed(study, env)
        re_wall, re_cpu, _ = _timed([*study, "--recompute"], env)
        if "up to date" not in warm_out.replace("\n", " "):
            raise RuntimeError("the warm rerun recomputed its outputs:\n" + warm_out[-2000:])
        rows = sum(1 for _ in open(out / "results.csv")) - 1
        files = sorted(p.name for p in out.iterdir())
    figures = {
        "scale": scale, "result_rows": rows, "files": files,
        "cold_wall_s": round(cold_wall, 2), "cold_cpu_s": round(cold_cpu, 2),
        "warm_wall_s": round(warm_wall, 2), "warm_cpu_s": round(warm_cpu, 2),
        "recompute_wall_s": round(re_wall, 2), "recompute_cpu_s": round(re_cpu, 2),
        "load_average_1min": round(os.getloadavg()[0], 2), "cpus": os.cpu_count(),
    }
    baselines = {"cohort_simulation_wall_s": round(base_wall, 2),
                 "cohort_simulation_cpu_s": round(base_cpu, 2)}
    ratios = {
        "cold_over_cohort_simulation": round(cold_wall / base_wall, 2),
        "warm_over_cohort_simulation": round(warm_wall / base_wall, 2),
        "cold_over_warm": round(cold_wall / warm_wall, 2),
    }
    targets = {
        "cold_under_60s": {"ratio": round(cold_wall / COLD_GOAL_S, 3), "goal": 1.0,
                           "met": cold_wall < COLD_GOAL_S, "better": "lower"},
        "warm_under_15s": {"ratio": round(warm_wall / WARM_GOAL_S, 3), "goal": 1.0,
                           "met": warm_wall < WARM_GOAL_S, "better": "lower"},
    }
    del cold_out
    return {"figures": figures, "baselines": baselines, "ratios": ratios, "targets": targets}


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
