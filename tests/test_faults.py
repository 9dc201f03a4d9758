"""Fault injection: the simulators throttle and fail in each vendor's own wire shape,
reproducibly for a seed, and a live study through them loses nothing."""

from __future__ import annotations

import csv
import os
import random
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
import requests
from botocore.config import Config

from simulators.faults import FaultInjector, FaultSpec
from simulators.servers import SIMULATED_HEADER, make_app, serve_in_thread
from simulators.vendor import default_vendor

PHOTOS = Path(__file__).resolve().parents[1] / "simulators" / "photos"


# -- the spec and the draws ----------------------------------------------------------------


def test_parse_the_documented_example():
    spec = FaultSpec.parse("throttle=0.05,server-error=0.02,latency=50ms:200ms")
    assert spec == FaultSpec(0.05, 0.02, (0.05, 0.2))
    assert FaultSpec.parse(str(spec)) == spec
    assert FaultSpec.parse("latency=1s").latency_s == (1.0, 1.0)
    assert not FaultSpec.parse("").active and not FaultSpec.parse(None).active


@pytest.mark.parametrize(
    "text",
    ["throttle=2", "throttle=-0.1", "throttle=nan", "throttle=x", "server-error=0.6,throttle=0.6",
     "latency=200ms:50ms", "latency=fast", "boom=0.1", "throttle", "throttle=0.1,throttle=0.2",
     "latency=61s"],
)
def test_parse_refuses_bad_specs(text):
    with pytest.raises(ValueError):
        FaultSpec.parse(text)


def test_draws_do_not_depend_on_arrival_order():
    spec = FaultSpec(0.3, 0.2, (0.0, 0.1))
    keys = [f"request-{i}".encode() for i in range(200)] * 3  # each seen three times
    a, b = FaultInjector(spec, seed=7), FaultInjector(spec, seed=7)
    first = {}
    for k in keys:
        first.setdefault(k, []).append(a.draw(k))
    shuffled = keys[:]
    random.Random(1).shuffle(shuffled)
    second = {}
    for k in shuffled:
        second.setdefault(k, []).append(b.draw(k))
    assert first == second
    kinds = [f.kind for fs in first.values() for f in fs]
    assert 0.2 < kinds.count("throttle") / len(kinds) < 0.4  # about the asked-for rates
    assert 0.1 < kinds.count("server_error") / len(kinds) < 0.3
    other = FaultInjector(spec, seed=8)
    assert [other.draw(k).kind for k in keys[:200]] != [f[0].kind for f in first.values()]


# -- each vendor's own wire shape ----------------------------------------------------------


def _aws(url):
    return boto3.client("rekognition", region_name="us-east-1", endpoint_url=url,
                        aws_access_key_id="test", aws_secret_access_key="test",
                        config=Config(retries={"total_max_attempts": 1}))


def test_aws_throttles_with_its_own_exceptions():
    image = (PHOTOS / "obama.jpg").read_bytes()
    app = make_app("aws", default_vendor("aws"), faults="throttle=1", seed=3)
    codes = set()
    with serve_in_thread(app) as server:
        rek = _aws(server.url)
        for i in range(12):
            with pytest.raises(rek.exceptions.ClientError) as info:
                rek.recognize_celebrities(Image={"Bytes": image + bytes(i)})
            err = info.value.response
            codes.add((err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]))
            assert err["ResponseMetadata"]["HTTPHeaders"][SIMULATED_HEADER.lower()] == "true"
    assert codes == {("ThrottlingException", 500), ("ProvisionedThroughputExceededException", 400)}


def test_aws_server_errors_and_latency():
    app = make_app("aws", default_vendor("aws"), faults="server-error=1,latency=20ms:30ms")
    slept = []
    app.sleep = slept.append
    with serve_in_thread(app) as server:
        rek = _aws(server.url)
        with pytest.raises(rek.exceptions.ClientError) as info:
            rek.get_celebrity_info(Id="abc")
    assert info.value.response["Error"]["Code"] == "InternalServerError"
    assert len(slept) == 1 and 0.02 <= slept[0] <= 0.03


def test_azure_throttles_with_429_and_retry_after():
    from azure.ai.vision.face import FaceClient
    from azure.core.credentials import AzureKeyCredential
    from azure.core.exceptions import HttpResponseError

    app = make_app("azure", default_vendor("azure"), faults="throttle=1")
    with serve_in_thread(app) as server:
        face = FaceClient(server.url, AzureKeyCredential("k"), retry_total=0)
        with pytest.raises(HttpResponseError) as info:
            face.detect((PHOTOS / "obama.jpg").read_bytes(), detection_model="detection_03",
                        recognition_model="recognition_04", return_face_id=True)
        assert info.value.status_code == 429
        assert info.value.error.code == "RateLimitExceeded"
        assert info.value.response.headers["Retry-After"] == "1"
        r = requests.post(server.url + "/vision/v3.2/models/celebrities/analyze",
                          data=(PHOTOS / "obama.jpg").read_bytes(), timeout=30,
                          headers={"Ocp-Apim-Subscription-Key": "k",
                                   "Content-Type": "application/octet-stream"})
        assert r.status_code == 429 and r.json()["error"]["code"] == "429"


def test_naver_throttles_with_the_gateways_429():
    app = make_app("naver", default_vendor("naver"), faults="throttle=1")
    with serve_in_thread(app) as server:
        r = requests.post(server.url + "/vision/v1/celebrity", timeout=30,
                          files={"image": (PHOTOS / "obama.jpg").read_bytes()},
                          headers={"X-NCP-APIGW-API-KEY-ID": "id", "X-NCP-APIGW-API-KEY": "k"})
    assert r.status_code == 429 and r.headers[SIMULATED_HEADER] == "true"
    assert r.json()["error"]["errorCode"] == "400"
    assert r.json()["error"]["message"] == "Quota Exceeded"


def test_naver_draws_ignore_the_random_multipart_boundary():
    """requests picks a new boundary per call; the same image must meet the same faults."""
    spec = "throttle=0.5"
    statuses = []
    for _ in range(2):
        app = make_app("naver", default_vendor("naver"), faults=spec, seed=11)
        with serve_in_thread(app) as server:
            statuses.append([
                requests.post(server.url + "/vision/v1/celebrity", timeout=30,
                              files={"image": (PHOTOS / name).read_bytes()},
                              headers={"X-NCP-APIGW-API-KEY-ID": "i", "X-NCP-APIGW-API-KEY": "k"}
                              ).status_code
                for name in sorted(p.name for p in PHOTOS.glob("*.jpg")) * 2
            ])
    assert statuses[0] == statuses[1] and 429 in statuses[0] and 200 in statuses[0]


# -- a live study through faulty simulators --------------------------------------------------


RATE = 20.0  # requests per second per vendor, asked of the runner


class Arrivals:
    """Records when each HTTP request reached the (faulty) app."""

    def __init__(self, app):
        self.app, self.name, self.times = app, app.name, []

    def handle(self, request):
        self.times.append(time.monotonic())
        return self.app.handle(request)

    def transport_error(self, status, message):
        return self.app.transport_error(status, message)


def _live_run(tmp_path: Path, name: str, faults: str | None, seed: int):
    from tests.test_runner import photo_manifest

    manifest = photo_manifest(tmp_path / "data")
    apps = {v: make_app(v, default_vendor(v), faults=faults, seed=seed) for v in
            ("aws", "azure", "naver")}
    timed = {v: Arrivals(a) for v, a in apps.items()}
    store, results = tmp_path / f"{name}.sqlite", tmp_path / f"{name}.csv"
    with (serve_in_thread(timed["aws"]) as aws, serve_in_thread(timed["azure"]) as azure,
          serve_in_thread(timed["naver"]) as naver):
        env = {
            **os.environ,
            "DICORE_AWS_ENDPOINT": aws.url, "DICORE_AZURE_ENDPOINT": azure.url,
            "DICORE_NAVER_ENDPOINT": naver.url,
            "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "not-a-secret",
            "AWS_REGION": "us-east-1", "AZURE_VISION_KEY": "k",
            "NAVER_CLIENT_ID": "i", "NAVER_CLIENT_SECRET": "k",
        }
        done = subprocess.run(
            [sys.executable, "-m", "dicore", "run", "--manifest", str(manifest), "--store",
             str(store), "--backend", "live", "--vendors", "aws,azure,naver", "--results",
             str(results), "--rate", f"aws={RATE:g},azure={RATE:g},naver={RATE:g}", "--yes"],
            env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=240,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    with open(results, newline="") as fh:
        rows = {(r["vendor"], r["item_id"]): r for r in csv.DictReader(fh)}
    with sqlite3.connect(store) as db:
        attempts = db.execute("SELECT COALESCE(SUM(attempts), 0) FROM calls").fetchone()[0]
    injected = sum(sum(a.injector.injected.values()) for a in apps.values()
                   if hasattr(a, "injector"))
    requests_seen = {v: t.times for v, t in timed.items()}
    return rows, attempts, injected, requests_seen


@pytest.fixture(scope="module")
def clean_and_faulty(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("live-study")
    clean = _live_run(tmp / "clean", "clean", None, 5)
    faulty = _live_run(tmp / "faulty", "faulty", "throttle=0.15,server-error=0.1,latency=1ms:5ms", 5)
    return clean, faulty


def test_a_live_study_through_faulty_simulators_loses_nothing(clean_and_faulty):
    (clean, clean_attempts, _, _), (faulty, attempts, injected, seen) = clean_and_faulty
    assert injected > 0, "the seed injected no fault; the test would prove nothing"
    assert faulty.keys() == clean.keys()  # 0 lost calls
    answer = ("ok", "predicted", "confidence", "similarity", "face_count")
    for key, row in clean.items():
        assert {c: row.get(c) for c in answer} == {c: faulty[key].get(c) for c in answer}, key
    # Retries counted truthfully: every injected fault cost one more attempt, and the store
    # says so (one retry layer, from the 'live' branch).
    assert attempts - clean_attempts == injected


def test_retries_never_push_the_rate_over_the_limit(clean_and_faulty):
    """Every HTTP request, first attempt or retry, took a token: k+1 requests span at
    least k / rate seconds at the server (burst 1; 50 ms slack for scheduling)."""
    (_, _, _, _), (_, _, injected, seen) = clean_and_faulty
    assert injected > 0
    for vendor, times in seen.items():
        times = sorted(times)
        assert len(times) > 5, vendor
        for k in (1, 5, len(times) - 1):
            for i in range(len(times) - k):
                assert times[i + k] - times[i] >= k / RATE - 0.05, (vendor, k, i)


def test_the_in_process_backend_fails_the_same_way_reproducibly():
    from dicore.backends import ServerError, ThrottledError, make_backend

    images = [(PHOTOS / p).read_bytes() for p in sorted(x.name for x in PHOTOS.glob("*.jpg"))]

    def outcomes(seed):
        backend = make_backend("aws", "sim", faults="throttle=0.3,server-error=0.2", seed=seed)
        out = []
        for image in images * 3:
            try:
                out.append(backend.recognize(image).predicted)
            except ThrottledError as exc:
                out.append(("throttle", exc.code))
            except ServerError as exc:
                out.append(("error", exc.code))
        return out

    first = outcomes(0)  # seed 0: the process-wide simulated vendor, no new model load
    assert first == outcomes(0)
    assert ("throttle", "ThrottlingException") in first and ("error", "InternalServerError") in first
    assert any(isinstance(o, str) for o in first)


def test_a_sim_run_with_faults_loses_nothing(tmp_path):
    """The in-process backend under the runner: same answers, each fault one more attempt."""
    from dicore.backends import make_backend
    from dicore.backends.retry import RetryPolicy
    from dicore.datasets.manifest import read_manifest
    from dicore.runner import plan, run_tasks
    from dicore.store import Store
    from tests.test_runner import photo_manifest

    manifest = read_manifest(photo_manifest(tmp_path / "data"))
    out = {}
    for name, faults in (("clean", None), ("faulty", "throttle=0.2,server-error=0.1,seed=2")):
        backends = {v: make_backend(v, "sim", faults=faults) for v in ("aws", "naver")}
        with Store(tmp_path / f"{name}.sqlite") as store:
            store.put_items(manifest.item_records(), source=str(manifest.path))
            tasks, _ = plan(manifest, store, backends)
            run_tasks(tasks, backends, store, retry=RetryPolicy(sleep=lambda s: None))
        with sqlite3.connect(tmp_path / f"{name}.sqlite") as db:
            rows = db.execute("SELECT vendor, item_id, call, status, predicted, confidence, "
                              "similarity, attempts FROM calls ORDER BY 1, 2, 3").fetchall()
        injected = sum(sum(b.faults.injected.values()) for b in backends.values() if b.faults)
        out[name] = rows, injected
    (clean, _), (faulty, injected) = out["clean"], out["faulty"]
    assert injected > 0
    assert [r[:7] for r in clean] == [r[:7] for r in faulty]
    assert sum(r[7] for r in faulty) - sum(r[7] for r in clean) == injected


def test_dicore_run_refuses_a_bad_faults_spec(tmp_path):
    from tests.test_runner import photo_manifest

    manifest = photo_manifest(tmp_path / "data")
    done = subprocess.run(
        [sys.executable, "-m", "dicore", "run", "--manifest", str(manifest), "--store",
         str(tmp_path / "s.sqlite"), "--backend", "sim", "--vendors", "aws",
         "--faults", "throttle=2"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "--faults throttle=2" in done.stderr and "Traceback" not in done.stderr
