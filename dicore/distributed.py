"""The simulated image pipeline on Ray: many workers, one crash-safe store.

`dicore study --manifest M --backend sim --workers N` plans the calls as the runner
does (`dicore.runner.plan`: only what the store does not hold yet), then hands them in
small batches to N Ray actors. Each actor loads the models once (one recognizer shared
by the three simulated vendors), detects the faces of a batch's images one by one,
embeds all of them in one batched ArcFace pass, and answers every call of the batch
with the same code the single-process runner uses (`dicore.runner.execute` on a
`SimBackend`), so the answers are the same.

Exactly once: only the driver writes the store, one transaction per finished batch,
keyed by (vendor, backend, item, call). A worker killed mid-batch loses only that
batch's unfinished work: Ray restarts the actor and the batch runs again (its calls were
not committed); a killed driver loses nothing committed, and the rerun plans only what
is missing. Images are read by the workers from their paths, so on a cluster every
node needs the same paths (a shared file system) and dicore installed.

Ray is optional (`pip install 'dicore[ray]'`); without it nothing here is imported.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from dicore.errors import UserError
from dicore.runner import RunSummary, Task, _count
from dicore.store import CallResult, Store

# Calls per batch: small enough that a killed worker loses little, large enough to batch
# ArcFace over a few images.
BATCH_CALLS = 12


def require_ray():
    """The `ray` module, or a UserError saying how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise UserError(
            "--workers / --ray-address run the pipeline on Ray, which is not installed",
            hint="pip install 'dicore[ray]' (or drop --workers for the single-process run)",
        ) from exc
    return ray


def start_ray(workers: int, address: str | None = None):
    """Join the cluster at `address`, or start a local Ray with `workers` CPUs."""
    ray = require_ray()
    if ray.is_initialized():
        return ray
    # Workers import dicore and simulators from the same place as the driver.
    root = str(Path(__file__).resolve().parents[1])
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
    runtime_env = {"env_vars": {"PYTHONPATH": path}}
    try:
        if address:
            ray.init(address=address, runtime_env=runtime_env, log_to_driver=False)
        else:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False,
                     runtime_env=runtime_env)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise UserError(
            f"cannot start or join Ray{f' at {address}' if address else ''}: {exc}",
            hint="start a cluster with `ray start --head` and pass its address, "
            "or drop --ray-address for a local Ray",
        ) from exc
    return ray


class PipelineWorker:
    """One Ray actor: the simulated vendors with their models loaded once."""

    def __init__(self, vendors: Sequence[str], gallery: Path | None = None):
        from dicore.backends.retry import RetryPolicy
        from dicore.run_setup import make_backends

        # The same backends as the single-process run builds (and the same gallery).
        self.backends = make_backends(vendors, "sim", None, gallery)
        self.retry = RetryPolicy()

    def pid(self) -> int:
        return os.getpid()

    def run(self, tasks: Sequence[Task]) -> list[CallResult]:
        from dicore.runner import execute
        from simulators.vendor import detect_shared_many

        # One batched ArcFace pass over every image of the batch; the calls then find
        # their faces in the shared detections (unreadable files are left to `execute`).
        datas = []
        for path in {p for t in tasks for p in t.paths}:
            try:
                datas.append(path.read_bytes())
            except OSError:
                pass
        recognizer = next(iter(self.backends.values())).sim.recognizer
        detect_shared_many(recognizer, datas)
        return [execute(self.backends[t.vendor], t, self.retry) for t in tasks]


def batches(tasks: Sequence[Task], size: int = BATCH_CALLS) -> list[list[Task]]:
    """Tasks grouped so that the calls about one image share a batch (one detection)."""
    by_image: dict[tuple, list[Task]] = {}
    for t in tasks:
        by_image.setdefault(t.paths[-1:], []).append(t)
    out: list[list[Task]] = [[]]
    for group in by_image.values():
        if out[-1] and len(out[-1]) + len(group) > size:
            out.append([])
        out[-1].extend(group)
    return [b for b in out if b]


def run_tasks_ray(
    tasks: Sequence[Task],
    vendors: Sequence[str],
    store: Store,
    *,
    workers: int,
    address: str | None = None,
    gallery: Path | None = None,
    on_result: Callable[[CallResult], None] | None = None,
    on_workers: Callable[[list[int]], None] | None = None,
) -> RunSummary:
    """Run the tasks on `workers` Ray actors; commit each finished batch at once.

    `on_workers` gets the actors' process ids once they are up (tests kill one).
    """
    if workers < 1:
        raise UserError(f"--workers {workers} must be at least 1")
    ray = start_ray(workers, address)
    summary = RunSummary(planned=len(tasks))
    t0 = time.perf_counter()
    if not tasks:
        return summary
    # A killed actor is restarted and its batch retried (its calls were never committed).
    actor = ray.remote(num_cpus=1, max_restarts=-1, max_task_retries=-1)(PipelineWorker)
    pool = [actor.remote(tuple(vendors), gallery) for _ in range(workers)]
    try:
        if on_workers:
            on_workers(ray.get([a.pid.remote() for a in pool]))
        todo = batches(tasks)
        running: dict = {}
        idle = list(pool)
        while todo or running:
            while todo and idle:
                a = idle.pop()
                running[a.run.remote(todo.pop(0))] = a
            ready, _ = ray.wait(list(running), num_returns=1)
            for ref in ready:
                idle.append(running.pop(ref))
                results = ray.get(ref)
                store.record(results)
                for r in results:
                    _count(summary, r)
                    if on_result:
                        on_result(r)
    finally:
        for a in pool:
            ray.kill(a)
    summary.elapsed_s = time.perf_counter() - t0
    return summary
