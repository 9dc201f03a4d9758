"""The runner against the in-process simulated vendors, and the token bucket."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from dicore.datasets.manifest import ManifestRow, read_manifest, write_manifest
from dicore.errors import UserError
from dicore.ratelimit import TokenBucket, default_rate, parse_rates
from dicore.store import Store

PHOTOS = Path(__file__).resolve().parents[1] / "simulators" / "photos"


def test_token_bucket_paces_calls():
    bucket = TokenBucket(20.0, burst=1)
    t0 = time.monotonic()
    for _ in range(9):
        bucket.acquire()
    elapsed = time.monotonic() - t0
    assert 0.35 <= elapsed < 2.0  # 8 waits of 50 ms after the first free token
    unlimited = TokenBucket(None)
    t0 = time.monotonic()
    for _ in range(1000):
        unlimited.acquire()
    assert time.monotonic() - t0 < 0.5


def test_rates():
    assert default_rate("azure", "live") == 10.0 and default_rate("azure", "sim") is None
    assert parse_rates("azure=0.3, aws=5,naver=none") == {"azure": 0.3, "aws": 5.0, "naver": None}
    for bad in ("azure", "azure=-1", "aws=fast"):
        with pytest.raises(UserError, match="--rate"):
            parse_rates(bad)


def photo_manifest(folder: Path) -> Path:
    """Four real photos, two later photos of the same people as 'fakes', one broken file."""
    folder.mkdir(parents=True, exist_ok=True)
    for p in PHOTOS.glob("*.jpg"):
        shutil.copy(p, folder / p.name)
    (folder / "broken.jpg").write_bytes(b"not an image at all")
    rows = [
        ManifestRow("obama", "obama.jpg", False, "Photos", "real", "Barack Obama"),
        ManifestRow("sunak", "sunak.jpg", False, "Photos", "real", "Rishi Sunak"),
        ManifestRow("ardern", "ardern_2018.jpg", False, "Photos", "real", "Jacinda Ardern"),
        ManifestRow("macron", "macron_2014.jpg", False, "Photos", "real", "Emmanuel Macron"),
        ManifestRow("ardern-fake", "ardern_2022.jpg", True, "Photos", "replacement",
                    "Jacinda Ardern", "x", "ardern"),
        ManifestRow("macron-fake", "macron_2025.jpg", True, "Photos", "reenactment",
                    "Emmanuel Macron", "y", "macron"),
        ManifestRow("broken", "broken.jpg", False, "Photos", "real", "Nobody"),
    ]
    return write_manifest(folder / "manifest.csv", rows)


def test_run_stores_every_call_and_resumes(tmp_path):
    pytest.importorskip("onnxruntime")
    from dicore.runner import plan, run_tasks
    from dicore.study import make_backends

    manifest = read_manifest(photo_manifest(tmp_path / "data"))
    backends = make_backends(("aws", "azure", "naver"), "sim")
    with Store(tmp_path / "s.sqlite") as store:
        store.put_items([r.as_record() for r in manifest.rows])
        tasks, done = plan(manifest, store, backends)
        # 7 recognitions per vendor; similarity for 2 fakes on aws and azure (Naver has none).
        assert (len(tasks), done) == (7 * 3 + 2 * 2, 0)
        summary = run_tasks(tasks, backends, store, concurrency=2)
        assert summary.completed + summary.errors == len(tasks)
        errors = store.errors()
        assert {(e["vendor"], e["item_id"]) for e in errors} == {
            (v, "broken") for v in ("aws", "azure", "naver")}
        assert all(e["retryable"] == 0 and "BadInputError" in e["error"] for e in errors)
        cols = store.result_columns()
        rows = [dict(zip(cols, r, strict=False)) for r in zip(*cols.values(), strict=False)]
        assert len(rows) == 6 * 3  # the broken image is left out, for every vendor
        named = {(r["vendor"], r["item_id"]): r["predicted"] for r in rows}
        assert named[("aws", "obama")] == named[("naver", "obama")] == "Barack Obama"
        sims = {(r["vendor"], r["item_id"]): r["similarity"] for r in rows if r["is_fake"]}
        assert sims[("aws", "ardern-fake")] > 50 and sims[("naver", "ardern-fake")] is None
        # Rerun: nothing left; refused images are retried only when asked.
        assert plan(manifest, store, backends) == ([], len(tasks))
        again, _ = plan(manifest, store, backends, retry_errors=True)
        assert sorted(t.item_id for t in again) == ["broken"] * 3


def test_missing_image_mid_run_is_a_retryable_error(tmp_path):
    pytest.importorskip("onnxruntime")
    from dicore.runner import plan, run_tasks
    from dicore.study import make_backends

    manifest = read_manifest(photo_manifest(tmp_path / "data"))
    backends = make_backends(("aws",), "sim")
    (tmp_path / "data" / "sunak.jpg").unlink()  # vanishes after validation
    with Store(tmp_path / "s.sqlite") as store:
        store.put_items([r.as_record() for r in manifest.rows])
        tasks, _ = plan(manifest, store, backends)
        run_tasks(tasks, backends, store)
        err = {e["item_id"]: e for e in store.errors()}
        assert err["sunak"]["retryable"] == 1 and "cannot read image" in err["sunak"]["error"]
        shutil.copy(PHOTOS / "sunak.jpg", tmp_path / "data" / "sunak.jpg")
        tasks, _ = plan(manifest, store, backends)
        assert [t.item_id for t in tasks] == ["sunak"]
        run_tasks(tasks, backends, store)
        assert "sunak" in store.result_columns()["item_id"]


def test_when_every_call_fails_the_causes_are_printed_grouped(tmp_path, monkeypatch, capsys):
    """The summary said "see the errors above" and printed none. Now the failures, grouped by
    message (the image taken out) with counts, are printed whenever a call failed."""
    from dicore.cli import main
    from dicore.commands.record import scripted_server

    folder = tmp_path / "data"
    folder.mkdir()
    rows = []
    for i in range(3):
        shutil.copy(PHOTOS / "obama.jpg", folder / f"{i}.jpg")
        with open(folder / f"{i}.jpg", "ab") as fh:
            fh.write(bytes([i]))
        rows.append(ManifestRow(f"r{i}", f"{i}.jpg", False, "D", "real", f"P{i}"))
    manifest = write_manifest(folder / "m.csv", rows)
    refused = (400, "application/json", {"error": {"errorCode": "ER02", "message": "bad image"}})
    with scripted_server([refused] * 3) as server:
        monkeypatch.setenv("DICORE_NAVER_ENDPOINT", server.url)
        code = main(["study", "--manifest", str(manifest), "--backend", "live", "--vendors",
                     "naver", "--yes", "--out", str(tmp_path / "out")])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2 and "no successful recognition" in err
    assert "all 3 call(s) failed" in err
    assert "3 x naver recognize: BadInputError: naver refused image …: HTTP 400 ER02: bad image" in err
