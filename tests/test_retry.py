"""Retry policy: backoff with full jitter for throttling/5xx, never for 4xx; one layer.

The client tests run the real clients (boto3, requests) against a loopback HTTP server
that answers a script of responses, with the policy as the only retry layer (the clients
send each request once); sleeps are recorded instead of slept.
"""

from __future__ import annotations

import random

import pytest

from dicore.backends import make_backend
from dicore.backends.base import BadInputError, ServerError, ThrottledError
from dicore.backends.retry import RetryPolicy
from dicore.commands.record import scripted_server

AWS = "application/x-amz-json-1.1"
JSON = "application/json"
IMAGE = b"\xff\xd8\xff\xe0 not really a jpeg, the server does not look"
NAVER_OK = {"info": {"size": {"width": 10, "height": 10}, "faceCount": 1},
            "faces": [{"celebrity": {"value": "Somebody", "confidence": 0.42}}]}


def policy(max_attempts: int = 5) -> tuple[RetryPolicy, list[float]]:
    sleeps: list[float] = []
    return RetryPolicy(max_attempts=max_attempts, sleep=sleeps.append, rng=random.Random(1)), sleeps


class Retried:
    """A live client with the policy around every call, as the runner uses it."""

    def __init__(self, backend, retry: RetryPolicy):
        self.backend, self.retry = backend, retry

    def recognize(self, image):
        return self.retry.call(lambda: self.backend.recognize(image))

    def similarity(self, a, b):
        return self.retry.call(lambda: self.backend.similarity(a, b))


def live(vendor: str, server, retry: RetryPolicy):
    return Retried(make_backend(vendor, "live", endpoint=server.url), retry)


def test_full_jitter_bounds():
    p = RetryPolicy(base_s=0.5, cap_s=4.0, rng=random.Random(0))
    for attempt in range(8):
        ceiling = min(4.0, 0.5 * 2**attempt)
        delays = [p.delay(attempt) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in delays)
        assert max(delays) > 0.8 * ceiling and min(delays) < 0.2 * ceiling  # spread, not fixed
    assert p.delay(0, retry_after=3.0) == 3.0  # Retry-After is a floor
    assert p.delay(0, retry_after=60.0) == 60.0  # also above the backoff cap


def test_policy_retries_only_retryable_errors():
    p, sleeps = policy(4)
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise ThrottledError("slow down")
        return "ok"

    assert p.call(flaky) == "ok" and len(calls) == 3 and len(sleeps) == 2

    calls.clear()

    def bad():
        calls.append(1)
        raise BadInputError("image x.jpg refused")

    with pytest.raises(BadInputError):
        p.call(bad)
    assert len(calls) == 1


def test_naver_retries_429_and_500_then_succeeds():
    script = [(429, JSON, {"error": {"errorCode": "400", "message": "Quota Exceeded"}}, {"Retry-After": "2"}),
              (500, JSON, {"error": {"errorCode": "500", "message": "boom"}}),
              (200, "text/plain;charset=UTF-8", NAVER_OK)]
    p, sleeps = policy()
    with scripted_server(script) as server:
        rec = live("naver", server, p).recognize(IMAGE)
    assert server.requests == ["/vision/v1/celebrity"] * 3
    assert rec.predicted == "Somebody" and rec.confidence == pytest.approx(42.0)
    assert len(sleeps) == 2 and sleeps[0] >= 2.0  # honoured Retry-After


def test_aws_retries_are_ours_not_botocore():
    """ThrottlingException (HTTP 500) and InternalServerError, then success: 3 requests in all.
    botocore's own retries would add more (it retries both)."""
    ok = {"CelebrityFaces": [], "UnrecognizedFaces": []}
    script = [(500, AWS, {"__type": "ThrottlingException", "Message": "Rate exceeded"}),
              (500, AWS, {"__type": "InternalServerError", "Message": "oops"}),
              (200, AWS, ok)]
    p, sleeps = policy()
    with scripted_server(script) as server:
        rec = live("aws", server, p).recognize(IMAGE)
    assert len(server.requests) == 3 and len(sleeps) == 2
    assert rec.predicted is None and rec.face_count == 0


def test_aws_exhausted_retries_raise_the_last_error():
    script = [(500, AWS, {"__type": "ThrottlingException", "Message": "Rate exceeded"})] * 5
    p, _ = policy(3)
    with scripted_server(script) as server, pytest.raises(ThrottledError) as info:
        live("aws", server, p).recognize(IMAGE)
    assert len(server.requests) == 3 and info.value.code == "ThrottlingException"


@pytest.mark.parametrize(
    "vendor,response,code",
    [
        ("aws", (400, AWS, {"__type": "InvalidParameterException", "Message": "Request has invalid parameters"}),
         "InvalidParameterException"),
        ("aws", (400, AWS, {"__type": "ProvisionedThroughputExceededException", "Message": "x"}), None),
        ("azure", (400, JSON, {"error": {"code": "InvalidRequest", "message": "bad",
                                         "innererror": {"code": "InvalidImageFormat", "message": "bad"}}}),
         "InvalidImageFormat"),
        ("naver", (400, JSON, {"error": {"errorCode": "100", "message": "Bad Request Exception"}}), "100"),
    ],
)
def test_4xx_is_not_retried(vendor, response, code):
    p, sleeps = policy(3)
    with scripted_server([response, response, response]) as server:
        backend = live(vendor, server, p)
        if code is None:  # a 400 that is throttling (AWS) is retried
            with pytest.raises(ThrottledError):
                backend.recognize(IMAGE)
            assert len(server.requests) == 3
            return
        with pytest.raises(BadInputError) as info:
            backend.recognize(IMAGE)
    assert len(server.requests) == 1 and sleeps == []
    assert info.value.code == code and info.value.status == 400


def test_azure_500_then_200_for_similarity():
    detect = [{"faceId": "a", "faceRectangle": {"left": 0, "top": 0, "width": 9, "height": 9}}]
    script = [(503, JSON, {"error": {"code": "ServiceUnavailable", "message": "busy"}}),
              (200, JSON, detect),
              (200, JSON, [{"faceId": "b", "faceRectangle": {"left": 0, "top": 0, "width": 9, "height": 9}}]),
              (200, JSON, {"isIdentical": False, "confidence": 0.25})]
    p, sleeps = policy()
    with scripted_server(script) as server:
        assert live("azure", server, p).similarity(IMAGE, IMAGE + b"2") == pytest.approx(25.0)
    assert [r.split("?")[0] for r in server.requests] == [
        "/face/v1.0/detect", "/face/v1.0/detect", "/face/v1.0/detect", "/face/v1.0/verify"]
    assert len(sleeps) == 1


def test_connection_refused_is_retryable():
    with scripted_server([]) as server:
        url = server.url
    p, sleeps = policy(2)  # the server is closed now: nothing listens on that port
    backend = Retried(make_backend("naver", "live", endpoint=url), p)
    with pytest.raises(ServerError):
        backend.recognize(IMAGE)
    assert len(sleeps) == 1


# --- one retry layer, every attempt under the rate limit (issue 10, section 2) --------


def _one_image_manifest(tmp_path, n: int = 1):
    from dicore.datasets.manifest import ManifestRow, read_manifest, write_manifest

    rows = []
    for i in range(n):
        (tmp_path / f"img{i}.jpg").write_bytes(IMAGE + bytes([i]))
        rows.append(ManifestRow(f"img{i}", f"img{i}.jpg", False, "D", "real", f"Person {i}"))
    return read_manifest(write_manifest(tmp_path / "m.csv", rows))


def _run(tmp_path, manifest, backends, **options):
    from dicore.runner import plan, run_tasks
    from dicore.store import Store

    store = Store(tmp_path / "s.sqlite")
    store.put_items([r.as_record() for r in manifest.rows])
    tasks, _ = plan(manifest, store, backends)
    summary = run_tasks(tasks, backends, store, **options)
    return store, summary


@pytest.mark.parametrize("vendor,throttle", [
    ("naver", (429, JSON, {"error": {"errorCode": "429", "message": "Too Many Requests"}})),
    ("aws", (400, AWS, {"__type": "ProvisionedThroughputExceededException", "Message": "slow"})),
    ("azure", (429, JSON, {"error": {"code": "429", "message": "Rate limit is exceeded"}})),
])
def test_throttled_forever_gets_exactly_max_attempts_and_the_store_says_so(tmp_path, vendor, throttle):
    """A stub answering throttling forever: N requests for one call, not N x N (the clients
    retried 5 x the runner's 5 = 25 before), and the store records N attempts."""
    p, sleeps = policy(4)
    manifest = _one_image_manifest(tmp_path)
    with scripted_server([throttle] * 40) as server:
        backends = {vendor: make_backend(vendor, "live", endpoint=server.url)}
        store, summary = _run(tmp_path, manifest, backends, retry=p)
    assert len(server.requests) == 4 and len(sleeps) == 3
    assert summary.errors == 1
    attempts, retryable = store.db.execute(
        "SELECT attempts, retryable FROM calls WHERE call='recognize'").fetchone()
    assert (attempts, retryable) == (4, 1)


def test_every_attempt_takes_a_token(tmp_path):
    """--rate naver=4: a throttled first attempt and its retry are paced like any call
    (retries bypassed the bucket before: 6 requests in 1 s at naver=2)."""
    throttle = (429, JSON, {"error": {"errorCode": "429", "message": "Too Many Requests"}},
                {"Retry-After": "0"})
    ok = (200, JSON, NAVER_OK)
    manifest = _one_image_manifest(tmp_path, 2)
    p = RetryPolicy(max_attempts=5, sleep=lambda s: None)
    with scripted_server([throttle, throttle, ok, throttle, ok]) as server:
        backends = {"naver": make_backend("naver", "live", endpoint=server.url)}
        store, summary = _run(tmp_path, manifest, backends, retry=p, rates={"naver": 4.0},
                              concurrency=2)
    assert summary.completed == 2 and len(server.times) == 5
    gaps = [b - a for a, b in zip(server.times, server.times[1:], strict=False)]
    assert min(gaps) >= 0.25 * 0.8, gaps  # 1/rate apart (timer slack)
    # Which call meets which scripted throttle depends on the threads; the total does not.
    assert sum(r[0] for r in store.db.execute("SELECT attempts FROM calls")) == 5


def test_azure_similarity_takes_a_token_per_request(tmp_path):
    """A similarity is two detects and a verify: three requests, three tokens."""
    from dicore.runner import Task, execute

    detect = [{"faceId": "a", "faceRectangle": {"left": 0, "top": 0, "width": 9, "height": 9}}]
    script = [(200, JSON, detect), (200, JSON, detect), (200, JSON, {"confidence": 0.5})]
    (tmp_path / "a.jpg").write_bytes(IMAGE)
    (tmp_path / "b.jpg").write_bytes(IMAGE + b"b")
    tokens = []
    with scripted_server(script) as server:
        backend = make_backend("azure", "live", endpoint=server.url)
        backend.gate = lambda: tokens.append(1)
        out = execute(backend, Task("azure", "b", "similarity", (tmp_path / "a.jpg", tmp_path / "b.jpg")),
                      RetryPolicy(max_attempts=1))
    assert out.ok and out.similarity == pytest.approx(50.0) and len(tokens) == 3


def test_retry_after_is_a_floor_above_the_cap_and_read_from_aws():
    """Retry-After: 30 on a throttled AWS call waits 30 s (the backoff cap was 20 s)."""
    ok = {"CelebrityFaces": [], "UnrecognizedFaces": []}
    script = [(400, AWS, {"__type": "ThrottlingException", "Message": "slow"}, {"Retry-After": "30"}),
              (200, AWS, ok)]
    p, sleeps = policy()
    with scripted_server(script) as server:
        live("aws", server, p).recognize(IMAGE)
    assert sleeps == [30.0]
    # Beyond max_retry_after_s the call gives up (stored retryable) instead of sleeping.
    p, sleeps = policy()
    p.max_retry_after_s = 10.0
    script = [(429, JSON, {"error": {"errorCode": "429", "message": "x"}}, {"Retry-After": "3600"})]
    with scripted_server(script) as server, pytest.raises(ThrottledError):
        live("naver", server, p).recognize(IMAGE)
    assert sleeps == [] and len(server.requests) == 1


def test_retry_after_http_date():
    import time
    from email.utils import formatdate

    from dicore.backends.retry import parse_retry_after

    assert 50 <= parse_retry_after(formatdate(time.time() + 60, usegmt=True)) <= 61
    assert parse_retry_after("nan") is None and parse_retry_after("soon") is None
    assert parse_retry_after("-3") == 0.0


@pytest.mark.parametrize("profile", ["nonexistent-dicore-profile", ""])
def test_unknown_aws_profile_is_one_clear_line(monkeypatch, tmp_path, profile, capsys):
    from dicore.cli import main
    from dicore.errors import UserError

    monkeypatch.setenv("AWS_PROFILE", profile)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    with pytest.raises(UserError, match="AWS_PROFILE"):
        make_backend("aws", "live")
    manifest = _one_image_manifest(tmp_path)
    code = main(["run", "--manifest", str(manifest.path), "--store", str(tmp_path / "s.sqlite"),
                 "--backend", "live", "--vendors", "aws", "--yes"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert f"AWS_PROFILE={profile!r}: no such profile" in err.splitlines()[0]


def test_live_confirmation_estimates_at_the_runners_rates():
    """The confirmation estimated AWS and Naver at 10 TPS (the runner paces at 5) and
    ignored --rate: now both come from dicore.ratelimit."""
    from rich.console import Console

    from dicore.run_setup import confirm_live
    from dicore.runner import Task

    tasks = [Task("aws", f"i{i}", "recognize", ()) for i in range(600)]
    tasks += [Task("naver", f"i{i}", "recognize", ()) for i in range(600)]
    console = Console(record=True, width=200)
    confirm_live(tasks, {"aws": None, "naver": None}, yes=True, console=console,
                 rates={"naver": 2.0})
    text = console.export_text()
    assert "2.0 min at 5/s" in text  # aws: the runner's default
    assert "5.0 min at 2/s" in text  # naver: --rate naver=2
