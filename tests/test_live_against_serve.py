"""`dicore run --backend live` end to end against a real HTTP simulator.

The live client is pointed at `dicore serve`'s server by endpoint only, as a user
would test their set-up before spending money; the confirmation before billed
calls is exercised with a non-terminal stdin.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import pytest

from tests.test_runner import photo_manifest

pytest.importorskip("onnxruntime")
pytest.importorskip("boto3")


@pytest.fixture(scope="module")
def aws_server():
    from simulators.servers import make_app
    from simulators.servers.transport import serve_in_thread

    with serve_in_thread(make_app("aws")) as server:
        yield server


def run_cli(args, env, stdin=subprocess.DEVNULL):
    return subprocess.run(
        [sys.executable, "-m", "dicore", *args], env=env, stdin=stdin,
        capture_output=True, text=True, timeout=240,
    )


def test_live_run_against_the_aws_simulator(tmp_path, aws_server):
    manifest = photo_manifest(tmp_path / "data")
    store, results = tmp_path / "aws.sqlite", tmp_path / "results.csv"
    env = {
        **os.environ,
        "DICORE_AWS_ENDPOINT": aws_server.url,
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "not-a-secret",
        "AWS_REGION": "us-east-1",
    }
    common = ["run", "--manifest", str(manifest), "--store", str(store),
              "--backend", "live", "--vendors", "aws", "--results", str(results)]

    # Billed calls need a yes; without a terminal to ask on, the run refuses and sends nothing.
    refused = run_cli(common, env)
    assert refused.returncode == 2, refused.stderr
    assert "--yes" in refused.stderr and "Traceback" not in refused.stderr
    assert not results.exists()

    done = run_cli([*common, "--yes"], env)
    assert done.returncode == 0, done.stderr
    with open(results, newline="") as fh:
        rows = {r["item_id"]: r for r in csv.DictReader(fh)}
    # The broken image is reported per image and left out; every other image is answered.
    assert set(rows) == {"obama", "sunak", "ardern", "macron", "ardern-fake", "macron-fake"}
    # The live client reached a simulator: its answers are labelled simulated, not live.
    assert {r["backend"] for r in rows.values()} == {"sim"}
    assert rows["obama"]["predicted"] == "Barack Obama"
    assert float(rows["obama"]["confidence"]) >= 55.0
    # CompareFaces similarity between each fake and its paired real.
    assert float(rows["ardern-fake"]["similarity"]) > 50.0
    assert rows["obama"]["similarity"] == ""

    # A rerun finds every call stored and sends nothing new.
    again = run_cli([*common, "--yes"], env)
    assert again.returncode == 0, again.stderr
    assert "0 call(s) made" in again.stdout.replace("\n", " ")
    with open(results, newline="") as fh:
        assert {r["item_id"]: r for r in csv.DictReader(fh)} == rows

    metrics = run_cli(["metrics", "--results", str(results), "--out", str(tmp_path / "m.json")], env)
    assert metrics.returncode == 0, metrics.stderr
    assert json.loads((tmp_path / "m.json").read_text())["simulated"] is True


def test_live_study_against_serve_says_live_client_simulated_server(tmp_path, aws_server,
                                                                    monkeypatch):
    """results.csv said `sim` and provenance.json `live` for the same run; and a manifest
    study with a data set merely named CelebDF got a calibration.json. Now provenance's
    backends equal results.csv's, it says how ("live client, simulated server"), and
    calibration.json belongs to the cohort only."""
    import shutil

    from dicore.cli import main
    from dicore.datasets.manifest import ManifestRow, write_manifest
    from tests.test_runner import PHOTOS

    folder = tmp_path / "data"
    folder.mkdir()
    for name in ("obama.jpg", "ardern_2018.jpg", "ardern_2022.jpg"):
        shutil.copy(PHOTOS / name, folder / name)
    manifest = write_manifest(folder / "m.csv", [
        ManifestRow("obama", "obama.jpg", False, "CelebDF", "real", "Barack Obama"),
        ManifestRow("ardern", "ardern_2018.jpg", False, "CelebDF", "real", "Jacinda Ardern"),
        ManifestRow("fake", "ardern_2022.jpg", True, "CelebDF", "replacement", "Jacinda Ardern",
                    "Barack Obama", "ardern"),
    ])
    monkeypatch.setenv("DICORE_AWS_ENDPOINT", aws_server.url)
    out = tmp_path / "study"
    assert main(["study", "--manifest", str(manifest), "--backend", "live", "--vendors", "aws",
                 "--yes", "--out", str(out), "--no-report"]) == 0
    with open(out / "results.csv", newline="") as fh:
        backends = {r["backend"] for r in csv.DictReader(fh)}
    prov = json.loads((out / "provenance.json").read_text())
    assert backends == {"sim"} and prov["backends"] == {"aws": "sim"}
    assert prov["client"] == "live" and prov["simulated"] is True
    assert prov["answered_by"] == {"aws": "live client, simulated server (dicore serve)"}
    assert not (out / "calibration.json").exists()
