"""The runner: ask each vendor's backend about every image, commit each answer.

- recognition of every manifest image, per vendor;
- similarity between each fake and its paired real, where the vendor has it;
- one token bucket per vendor (`dicore.ratelimit`) and `concurrency` worker
  threads per vendor, so a slow vendor never holds up a fast one; every request
  sent to a vendor, retries included, takes a token (the backend's `gate`);
- retries of throttling / server errors (`dicore.backends.retry.RetryPolicy`, the
  only retry layer: the store's `attempts` is the number of requests made);
- every finished call goes to the store from the main thread (the only writer),
  committed as soon as it arrives; a rerun plans only what is not done.

Per-image failures are stored and counted, never raised.
"""

from __future__ import annotations

import itertools
import queue
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dicore.backends import NamedImage
from dicore.backends.base import Backend, BackendError
from dicore.backends.retry import RetryPolicy
from dicore.datasets.manifest import Manifest
from dicore.errors import UserError
from dicore.ratelimit import TokenBucket, vendor_rate
from dicore.store import CallResult, Store


@dataclass(frozen=True)
class Task:
    vendor: str
    item_id: str
    call: str  # "recognize" or "similarity"
    paths: tuple[Path, ...]  # (image,) or (real, fake)


@dataclass
class RunSummary:
    planned: int = 0
    already_done: int = 0
    completed: int = 0
    errors: int = 0
    elapsed_s: float = 0.0
    interrupted: bool = False
    by_vendor: dict[str, Counter] = field(default_factory=dict)  # vendor -> {ok, error}
    error_groups: Counter = field(default_factory=Counter)  # (vendor, call, message) -> count
    error_examples: dict[tuple, str] = field(default_factory=dict)  # group -> first item id


def plan(
    manifest: Manifest,
    store: Store,
    backends: Mapping[str, Backend],
    *,
    retry_errors: bool = False,
) -> tuple[list[Task], int]:
    """The calls still to make, and how many are already done."""
    by_id = manifest.by_id()
    tasks: list[Task] = []
    done_count = 0
    for vendor, backend in backends.items():
        done = store.done(vendor, backend.kind, retry_errors=retry_errors)
        for row in manifest.rows:
            path = manifest.resolve(row)
            if (row.item_id, "recognize") in done:
                done_count += 1
            else:
                tasks.append(Task(vendor, row.item_id, "recognize", (path,)))
            if row.is_fake and row.real_item_id and backend.supports_similarity:
                if (row.item_id, "similarity") in done:
                    done_count += 1
                else:
                    real = manifest.resolve(by_id[row.real_item_id])
                    tasks.append(Task(vendor, row.item_id, "similarity", (real, path)))
    return tasks, done_count


def replay_coverage(records: Sequence[Mapping], backends: Mapping[str, Backend]) -> list[str]:
    """Up front, for replay backends: how many manifest images (store records with their
    `digest`) each cassette has no answer for. A cassette answering none of them is an
    error (every call would fail); a partial one gives a note to print."""
    notes = []
    for vendor, backend in backends.items():
        known = getattr(backend, "answered_digests", None)
        if backend.kind != "replay" or known is None or not records:
            continue
        missing = [r for r in records if r.get("digest") not in known]
        cassette = getattr(backend, "cassette", "the cassette")
        if len(missing) == len(records):
            raise UserError(
                f"cassette {cassette} has no recorded {vendor} answer for any of the "
                f"{len(records)} manifest image(s) (e.g. {missing[0]['path']}): a cassette "
                "replays only the images it was recorded with",
                hint=f"record your images first: `dicore record --vendor {vendor} --images DIR "
                "--out FILE` (live keys or --simulator), or use --backend sim",
            )
        if missing:
            notes.append(
                f"cassette {cassette} has no {vendor} answer for {len(missing)} of "
                f"{len(records)} image(s) (e.g. {missing[0]['path']}): those calls will fail")
    return notes


def execute(backend, task: Task, retry: RetryPolicy,
            before_attempt: Callable[[], object] | None = None) -> CallResult:
    """One call with retries; any failure becomes an error result, never an exception.

    `before_attempt` runs before each attempt (the rate limit of a backend without a
    `gate` of its own)."""
    attempts = 0
    kind = backend.kind

    def once():
        nonlocal attempts
        attempts += 1
        images = [NamedImage(p.read_bytes(), str(p)) for p in task.paths]  # errors name files
        if task.call == "recognize":
            return backend.recognize(images[0])
        return backend.similarity(images[0], images[1])

    base = dict(vendor=task.vendor, backend=kind, item_id=task.item_id, call=task.call)
    try:
        out = retry.call(once, before_attempt=before_attempt)
    except BackendError as exc:
        return CallResult(**base, ok=False, error=f"{type(exc).__name__}: {exc}",
                          retryable=exc.retryable, attempts=attempts)
    except UserError:  # bad credentials and the like: every call would fail, stop the run
        raise
    except OSError as exc:  # the image went missing: worth retrying once it is back
        return CallResult(**base, ok=False, retryable=True, attempts=attempts,
                          error=f"cannot read image file ({exc.strerror or exc}): {exc.filename}")
    except Exception as exc:  # noqa: BLE001 - a per-image failure must not end the run
        return CallResult(**base, ok=False, error=f"{type(exc).__name__}: {exc}",
                          retryable=True, attempts=attempts)
    if task.call == "recognize":
        return CallResult(**base, ok=True, predicted=out.predicted or None,
                          confidence=out.confidence, face_count=out.face_count,
                          simulated=bool(out.simulated), attempts=attempts,
                          vendor_ids=tuple(getattr(out, "vendor_ids", ()) or ()))
    return CallResult(**base, ok=True, similarity=None if out is None else float(out),
                      simulated=kind == "sim", attempts=attempts)


def run_tasks(
    tasks: Sequence[Task],
    backends: Mapping[str, Backend],
    store: Store,
    *,
    rates: Mapping[str, float | None] | None = None,
    concurrency: int = 1,
    retry: RetryPolicy | None = None,
    on_result: Callable[[CallResult], None] | None = None,
) -> RunSummary:
    """Run the tasks; commit each result as it arrives. Ctrl-C keeps what finished."""
    retry = retry or RetryPolicy()
    summary = RunSummary(planned=len(tasks))
    t0 = time.perf_counter()
    results: queue.Queue[CallResult] = queue.Queue()
    stop = threading.Event()
    fatal: list[UserError] = []
    workers: list[threading.Thread] = []
    gates: dict[str, Callable[[], object]] = {}  # the backends' own gates, put back at the end
    for vendor, backend in backends.items():
        todo: queue.SimpleQueue[Task] = queue.SimpleQueue()
        for t in tasks:
            if t.vendor == vendor:
                todo.put(t)
        bucket = TokenBucket(vendor_rate(vendor, backend.kind, rates))
        # Every request takes a token, retries included: a backend that sends requests
        # gates each one itself (an Azure similarity is up to three); else each attempt.
        before_attempt = None
        if hasattr(backend, "gate"):
            gates[vendor] = backend.gate
            backend.gate = bucket.acquire
        else:
            before_attempt = bucket.acquire

        def work(backend=backend, todo=todo, before_attempt=before_attempt):
            while not stop.is_set():
                try:
                    task = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    results.put(execute(backend, task, retry, before_attempt))
                except UserError as exc:
                    fatal.append(exc)
                    stop.set()
                    return

        for i in range(max(1, concurrency)):
            th = threading.Thread(target=work, name=f"dicore-{vendor}-{i}", daemon=True)
            th.start()
            workers.append(th)

    def drain(block: bool) -> None:
        batch: list[CallResult] = []
        try:
            batch.append(results.get(timeout=0.1) if block else results.get_nowait())
            while len(batch) < 512:
                batch.append(results.get_nowait())
        except queue.Empty:
            pass
        if batch:
            store.record(batch)
            for r in batch:
                _count(summary, r)
                if on_result:
                    on_result(r)

    try:
        while any(w.is_alive() for w in workers) or not results.empty():
            drain(block=True)
    except KeyboardInterrupt:
        stop.set()
        summary.interrupted = True
        for w in workers:  # calls in flight finish and are kept
            w.join(timeout=30)
        while not results.empty():
            drain(block=False)
        summary.elapsed_s = time.perf_counter() - t0
        raise
    finally:
        for vendor, gate in gates.items():
            backends[vendor].gate = gate
    summary.elapsed_s = time.perf_counter() - t0
    if fatal:
        raise fatal[0]
    return summary


def _count(summary: RunSummary, r: CallResult) -> None:
    c = summary.by_vendor.setdefault(r.vendor, Counter())
    if r.ok:
        summary.completed += 1
        c["ok"] += 1
    else:
        summary.errors += 1
        c["error"] += 1
        key = (r.vendor, r.call, generic_error(r.error or ""))
        summary.error_groups[key] += 1
        summary.error_examples.setdefault(key, r.item_id)


# How backend errors name an image (dicore.backends.image_label): a path, or a digest.
_IMAGE_LABEL = re.compile(r"image (?:\S.*? \(sha256 [0-9a-f]+\)|sha256:[0-9a-f]+ \(\d+ bytes\))")
_UNREADABLE = re.compile(r"^(cannot read image file \([^)]*\)): .*$")


def generic_error(message: str) -> str:
    """An error message with the image it names taken out, so that one cause failing
    for many images reads as one line with a count."""
    return _UNREADABLE.sub(r"\1", _IMAGE_LABEL.sub("image …", message))


def error_groups(errors: Sequence[Mapping]) -> list[tuple[int, str, str, str, str]]:
    """Failed calls (store.errors() rows) grouped by vendor, call and message without
    the image: [(count, vendor, call, message, first item id)], most frequent first."""
    counts: Counter = Counter()
    first: dict[tuple, str] = {}
    for e in errors:
        key = (e["vendor"], e["call"], generic_error(e.get("error") or ""))
        counts[key] += 1
        first.setdefault(key, e["item_id"])
    return [(n, *key, first[key]) for key, n in counts.most_common()]


def print_error_groups(errors: Sequence[Mapping], console, *, limit: int = 5) -> None:
    """The first failure causes with their counts (used whenever any call failed)."""
    groups = error_groups(errors)
    for n, vendor, call, message, item in groups[:limit]:
        console.print(f"  {n} x {vendor} {call}: {message} (e.g. item {item})",
                      markup=False, highlight=False)
    if len(groups) > limit:
        console.print(f"  ... and {len(groups) - limit} more kind(s) of failure "
                      "(all of them: the calls table of the store, status 'error')")


def run_with_progress(
    tasks: Sequence[Task],
    backends: Mapping[str, Backend],
    store: Store,
    *,
    console=None,
    **options,
) -> RunSummary:
    """`run_tasks` with one rich progress bar per vendor."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    per_vendor = Counter(t.vendor for t in tasks)
    with Progress(
        TextColumn("{task.description:>8}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("[red]{task.fields[errors]} errors"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as progress:
        bars = {
            v: progress.add_task(v, total=per_vendor.get(v, 0), errors=0) for v in backends
        }
        errors: Counter = Counter()

        def on_result(r: CallResult) -> None:
            if not r.ok:
                errors[r.vendor] += 1
            progress.update(bars[r.vendor], advance=1, errors=errors[r.vendor])

        return run_tasks(tasks, backends, store, on_result=on_result, **options)


def result_columns(store: Store, *, vendors=None, backend=None, item_ids=None,
                   names=None) -> dict[str, list]:
    """The store's results-contract columns with identities in canonical form
    (`dicore.names`: vendor ids first, then normalised names; `names` is an
    IdentityMap from `--names FILE`, or None for normalised names only)."""
    from dicore.names import canonical_columns

    cols = store.result_columns(vendors=vendors, backend=backend, item_ids=item_ids)
    ids = store.vendor_ids(vendors=vendors, backend=backend)
    keys = zip(cols["vendor"], cols["item_id"], strict=True)
    row_ids = list(map(ids.get, keys, itertools.repeat(())))  # no Python loop over rows
    return canonical_columns(cols, names, row_ids)
