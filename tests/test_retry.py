"""Retry policy: backoff with full jitter for throttling/5xx, never for 4xx.

The client tests run the real clients (boto3, requests) against a loopback HTTP server
that answers a script of responses; sleeps are recorded instead of slept.
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


def live(vendor: str, server, retry: RetryPolicy):
    return make_backend(vendor, "live", endpoint=server.url, retry=retry)


def test_full_jitter_bounds():
    p = RetryPolicy(base_s=0.5, cap_s=4.0, rng=random.Random(0))
    for attempt in range(8):
        ceiling = min(4.0, 0.5 * 2**attempt)
        delays = [p.delay(attempt) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in delays)
        assert max(delays) > 0.8 * ceiling and min(delays) < 0.2 * ceiling  # spread, not fixed
    assert p.delay(0, retry_after=3.0) == 3.0  # Retry-After is a floor
    assert p.delay(0, retry_after=60.0) == 4.0  # but the cap still holds


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
    backend = make_backend("naver", "live", endpoint=url, retry=p)
    with pytest.raises(ServerError):
        backend.recognize(IMAGE)
    assert len(sleeps) == 1
