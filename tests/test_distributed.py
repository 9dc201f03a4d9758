"""The simulated pipeline on a local 2-CPU Ray (issue 11): the same stored answers as the
single-process runner, and a worker killed with SIGKILL mid-run loses no completed call.

One Ray instance for the module (starting Ray takes seconds)."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("onnxruntime")

from dicore.datasets.manifest import ManifestRow, read_manifest, write_manifest  # noqa: E402
from dicore.runner import plan, run_tasks  # noqa: E402
from dicore.store import Store  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_runner import PHOTOS, photo_manifest  # noqa: E402

VENDORS = ("aws", "azure", "naver")


@pytest.fixture(scope="module")
def local_ray():
    from dicore.distributed import start_ray

    start_ray(2)
    yield ray
    ray.shutdown()


def calls(store: Store) -> dict:
    rows = store.db.execute(
        "SELECT vendor, backend, item_id, call, status, predicted, confidence, similarity, "
        "face_count, error FROM calls"
    ).fetchall()
    return {r[:4]: r[4:] for r in rows}


def fill(manifest, store, backends):
    store.put_items([r.as_record() for r in manifest.rows])
    return plan(manifest, store, backends)


def test_ray_run_stores_the_same_answers_as_the_single_process_run(tmp_path, local_ray):
    from dicore.distributed import run_tasks_ray
    from dicore.study import make_backends

    manifest = read_manifest(photo_manifest(tmp_path / "data"))
    backends = make_backends(VENDORS, "sim")
    with Store(tmp_path / "one.sqlite") as one, Store(tmp_path / "ray.sqlite") as many:
        tasks, _ = fill(manifest, one, backends)
        run_tasks(tasks, backends, one)
        tasks, _ = fill(manifest, many, backends)
        summary = run_tasks_ray(tasks, VENDORS, many, workers=2)
        assert summary.completed + summary.errors == len(tasks) == 7 * 3 + 2 * 2
        assert calls(many) == calls(one)
        assert many.result_columns() == one.result_columns()
        # Nothing is left to do: a rerun plans no call.
        assert plan(manifest, many, backends)[0] == []


def many_photos(folder: Path, copies: int) -> Path:
    """`copies` distinct files per photo (a comment appended: other bytes, same pixels)."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for p in sorted(PHOTOS.glob("*.jpg"))[:4]:
        for i in range(copies):
            name = f"{p.stem}-{i}.jpg"
            (folder / name).write_bytes(p.read_bytes() + f"copy {i}".encode())
            rows.append(ManifestRow(name, name, False, "Photos", "real", p.stem))
    return write_manifest(folder / "manifest.csv", rows)


def test_killed_worker_loses_no_completed_call(tmp_path, local_ray):
    from dicore.distributed import run_tasks_ray
    from dicore.study import make_backends

    manifest = read_manifest(many_photos(tmp_path / "data", copies=6))
    backends = make_backends(VENDORS, "sim")
    store_path = tmp_path / "s.sqlite"
    pids: list[int] = []
    seen_before_kill: dict = {}
    killed = threading.Event()

    def kill_one_worker_mid_run():
        deadline = time.time() + 120
        with Store(store_path) as watcher:
            while time.time() < deadline:
                done = calls(watcher)
                if pids and len(done) >= 12:  # a batch or more committed, more to come
                    seen_before_kill.update(done)
                    os.kill(pids[0], signal.SIGKILL)
                    killed.set()
                    return
                time.sleep(0.05)

    with Store(store_path) as store:
        tasks, _ = fill(manifest, store, backends)
        killer = threading.Thread(target=kill_one_worker_mid_run, daemon=True)
        killer.start()
        summary = run_tasks_ray(tasks, VENDORS, store, workers=2, on_workers=pids.extend)
        killer.join(5)
        assert killed.is_set(), "the run ended before a worker could be killed"
        after = calls(store)
        # Every call committed before the kill is still there, unchanged; the run went
        # on and completed every call exactly once (one row per key in the store).
        assert {k: after[k] for k in seen_before_kill} == seen_before_kill
        assert len(after) == len(tasks) == 24 * 3 and summary.errors == 0
        assert plan(manifest, store, backends)[0] == []
    shutil.rmtree(tmp_path / "data")


def test_workers_options_fail_clearly(tmp_path, capsys):
    from dicore.cli import main

    assert main(["study", "--workers", "2", "--out", str(tmp_path / "o")]) == 2
    assert "need --manifest" in capsys.readouterr().err
    manifest = photo_manifest(tmp_path / "data")
    args = ["study", "--manifest", str(manifest), "--out", str(tmp_path / "o")]
    assert main([*args, "--workers", "0"]) == 2
    assert "must be 1..1024" in capsys.readouterr().err
    assert main([*args, "--workers", "2", "--backend", "replay", "--cassette", "x.yaml"]) == 2
    assert "simulated pipeline on Ray" in capsys.readouterr().err
