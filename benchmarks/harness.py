"""The benchmark harness: discovery, timing helpers, machine info, results files, summary.

Protocol (see benchmarks/README.md): a module `benchmarks/bench_<x>.py` defines `NAME` and
`run(quick: bool) -> dict` returning
`{"figures": {...}, "baselines": {...}, "ratios": {...},
  "targets": {name: {"ratio": r, "goal": g, "met": bool}}}`.
`run` may also take a keyword `gpu: bool`; the harness passes it only with `--gpu`.
The harness adds machine info and timing and writes `benchmarks/results/<NAME>.json`.
One failing benchmark is recorded (error + traceback) and the others still run.
"""

from __future__ import annotations

import importlib
import inspect
import json
import math
import os
import platform
import statistics
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS_DIR = HERE / "results"


def target(ratio: float, goal: float, *, better: str = "higher") -> dict:
    """A target entry: met when `ratio >= goal` (better="higher") or `ratio <= goal` ("lower")."""
    if better not in ("higher", "lower"):
        raise ValueError(f"better must be 'higher' or 'lower', got {better!r}")
    ratio = float(ratio)
    met = (ratio >= goal) if better == "higher" else (ratio <= goal)
    return {"ratio": ratio, "goal": float(goal), "met": bool(met and not math.isnan(ratio)), "better": better}


def timeit(fn: Callable[[], Any], *, repeat: int = 5, warmup: int = 1) -> dict:
    """Seconds per call of `fn` (JAX results are waited for): min, median and all runs.

    Report the min: on a shared machine it is the least disturbed run.
    """
    block = _blocker()
    for _ in range(warmup):
        block(fn())
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        block(fn())
        runs.append(time.perf_counter() - t0)
    return {"min": min(runs), "median": statistics.median(runs), "runs": runs}


def _blocker():
    try:
        import jax

        return jax.block_until_ready
    except ImportError:  # pragma: no cover - jax is a base dependency
        return lambda x: x


def machine_info() -> dict:
    """CPU count, platform, load, Python/NumPy/JAX versions, JAX backend and devices."""
    info: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }
    versions = {}
    for mod in ("numpy", "jax", "jaxlib", "scipy", "sklearn"):
        try:
            versions[mod] = importlib.import_module(mod).__version__
        except Exception:  # noqa: BLE001 - optional packages
            versions[mod] = None
    info["versions"] = versions
    try:
        import jax

        info["jax_backend"] = jax.default_backend()
        info["jax_devices"] = [str(d) for d in jax.devices()]
    except Exception as exc:  # noqa: BLE001
        info["jax_backend"] = f"unavailable: {exc}"
    return info


def gpu_available() -> bool:
    """Whether JAX runs on an accelerator here (what the `--gpu` parts need)."""
    try:
        import jax

        return jax.default_backend() != "cpu"
    except Exception:  # noqa: BLE001 - no JAX, no GPU part
        return False


def discover(names: list[str] | None = None) -> list[str]:
    """Module names `benchmarks.bench_*`, sorted; `names` filters by NAME or file stem
    (`kernel` or `bench_kernel`). Raises ValueError naming unknown names."""
    stems = sorted(p.stem for p in HERE.glob("bench_*.py"))
    if not names:
        return [f"benchmarks.{s}" for s in stems]
    wanted = {n.removeprefix("bench_") for n in names}
    picked = [s for s in stems if s.removeprefix("bench_") in wanted]
    unknown = wanted - {s.removeprefix("bench_") for s in picked}
    if unknown:
        raise ValueError(
            f"unknown benchmark(s) {', '.join(sorted(unknown))}; known: "
            + ", ".join(s.removeprefix("bench_") for s in stems)
        )
    return [f"benchmarks.{s}" for s in picked]


def run_one(module_name: str, *, quick: bool, gpu: bool = False) -> dict:
    """Import and run one benchmark; never raises: errors are recorded in the result."""
    started = time.perf_counter()
    result: dict[str, Any] = {"module": module_name, "quick": quick, "gpu": gpu}
    try:
        module = importlib.import_module(module_name)
        result["name"] = getattr(module, "NAME", module_name.rsplit(".", 1)[-1])
        kwargs = {"gpu": True} if gpu and "gpu" in inspect.signature(module.run).parameters else {}
        out = module.run(quick, **kwargs)
        for key in ("figures", "baselines", "ratios", "targets"):
            result[key] = out.get(key, {})
        extra = {k: v for k, v in out.items() if k not in result}
        result.update(extra)
        result["status"] = "ok"
    except Exception as exc:  # noqa: BLE001 - one failing benchmark must not stop the rest
        result.setdefault("name", module_name.rsplit(".", 1)[-1].removeprefix("bench_"))
        result["status"] = "error"
        result["error"] = f"{type(exc).__name__}: {exc}"
        result["traceback"] = traceback.format_exc()
    result["wall_s"] = time.perf_counter() - started
    result["machine"] = machine_info()
    return result


def _has_gpu_part(module_name: str) -> bool:
    try:
        return "gpu" in inspect.signature(importlib.import_module(module_name).run).parameters
    except Exception:  # noqa: BLE001 - a broken module is reported when it runs
        return True


def write_result(result: dict, out_dir: Path = RESULTS_DIR) -> Path:
    """Write `<out_dir>/<name>.json` (NaN written as null) and return the path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{result['name']}.json"
    path.write_text(json.dumps(_clean(result), indent=2) + "\n", encoding="utf-8")
    return path


def _clean(x):
    """JSON-safe copy: NaN/inf -> None, NumPy scalars -> Python, tuples -> lists."""
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    if hasattr(x, "item") and getattr(x, "ndim", 1) == 0:
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def summary(results: list[dict]) -> str:
    """A plain-text table: benchmark, status, each target's ratio vs goal and met."""
    lines = [f"{'benchmark':<14} {'target':<34} {'ratio':>10} {'goal':>10}  met"]
    for r in results:
        if r.get("status") != "ok":
            lines.append(f"{r['name']:<14} ERROR: {r.get('error', '?')[:80]}")
            continue
        targets = r.get("targets") or {}
        if not targets:
            lines.append(f"{r['name']:<14} (no targets)  {r['wall_s']:.1f} s")
        for tname, t in targets.items():
            op = ">=" if t.get("better", "higher") == "higher" else "<="
            lines.append(
                f"{r['name']:<14} {tname:<34} {_fmt(t.get('ratio'))} {op}{_fmt(t.get('goal'), 8)}  "
                f"{'yes' if t.get('met') else 'NO'}"
            )
        skipped = (r.get("figures") or {}).get("gpu_skipped")
        if skipped:
            lines.append(f"{r['name']:<14} GPU part skipped: {skipped}")
    return "\n".join(lines)


def _fmt(x, width: int = 10) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return f"{'n/a':>{width}}"
    return f"{x:>{width}.3g}"


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Run benchmarks/bench_*.py; write benchmarks/results/<name>.json; print a summary.",
    )
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all), e.g. kernel")
    parser.add_argument("--quick", action="store_true", help="small sizes: everything in about a minute")
    parser.add_argument("--gpu", action="store_true", help="also run GPU-only parts (needs JAX with "
                        "CUDA); alone: only the benchmarks that have GPU parts")
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR, help="where results go")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is not met")
    args = parser.parse_args(argv)
    try:
        modules = discover(args.names)
    except ValueError as exc:
        parser.error(str(exc))
    if args.gpu and not args.names:
        # `--gpu` alone: the prepared GPU script (issue 11), the benchmarks with GPU parts
        # (kernel at 10^8, dicore metrics at 10^7, ArcFace GPU vs CPU).
        modules = [m for m in modules if _has_gpu_part(m)]
    if args.gpu and not gpu_available():
        print("--gpu: no GPU available here (the JAX backend is cpu); the GPU parts are "
              "skipped and say so in their results (figures.gpu_skipped)", file=sys.stderr, flush=True)
    results = []
    for name in modules:
        print(f"running {name}{' (quick)' if args.quick else ''} ...", file=sys.stderr, flush=True)
        result = run_one(name, quick=args.quick, gpu=args.gpu)
        path = write_result(result, args.out_dir)
        status = result["status"] if result["status"] == "ok" else f"ERROR {result['error']}"
        print(f"  {status} in {result['wall_s']:.1f} s -> {path}", file=sys.stderr, flush=True)
        results.append(result)
    print(summary(results))
    errored = any(r["status"] != "ok" for r in results)
    unmet = any(not t.get("met") for r in results for t in (r.get("targets") or {}).values())
    return 1 if errored or (args.strict and unmet) else 0
