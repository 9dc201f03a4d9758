"""The simulators' transport under hostile input: every answer in the vendor's shape.

Regression tests for issue 10 (servers): protocol errors came from the standard
library's server as HTML without a status line or the simulated header; the idle
timeout was per read (a byte every 25 s held a thread for ever); every connection
got a thread; deep JSON and a Unicode faceIdTimeToLive answered 500; `dicore serve`
ignored SIGINT when started in the background and died silently on SIGTERM, and
printed the --key it was given.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from simulators.servers import SIMULATED_HEADER, make_app, serve_in_thread
from simulators.servers.transport import MAX_HEADER_BYTES, WORKERS, ServerLimits
from simulators.vendor import default_vendor

ROOT = Path(__file__).resolve().parents[1]
VENDORS = ("aws", "azure", "naver")
AZURE_KEY = {"Ocp-Apim-Subscription-Key": "k"}
NAVER_KEYS = {"X-NCP-APIGW-API-KEY-ID": "id", "X-NCP-APIGW-API-KEY": "k"}


@pytest.fixture(scope="module")
def servers():
    limits = ServerLimits(request_timeout_s=1.0)
    with (
        serve_in_thread(make_app("aws", default_vendor("aws")), limits=limits) as aws,
        serve_in_thread(make_app("azure", default_vendor("azure")), limits=limits) as azure,
        serve_in_thread(make_app("naver", default_vendor("naver")), limits=limits) as naver,
    ):
        yield {"aws": aws, "azure": azure, "naver": naver}


def address(server) -> tuple[str, int]:
    url = urlsplit(server.url)
    return url.hostname, url.port


def exchange(server, wire: bytes, method: str = "POST") -> http.client.HTTPResponse:
    """Send raw bytes; parse the answer as HTTP (fails if there is no status line)."""
    sock = socket.create_connection(address(server), timeout=10)
    sock.sendall(wire)
    resp = http.client.HTTPResponse(sock, method=method)
    resp.begin()
    resp.body = resp.read()  # type: ignore[attr-defined]
    sock.close()
    return resp


def assert_vendor_error(vendor: str, status: int, headers, body: bytes, head: bool = False) -> dict:
    """An error answer in the vendor's own shape, marked simulated, never a 500."""
    assert status >= 400 and status != 500, status
    assert headers.get(SIMULATED_HEADER) == "true"
    if head:
        return {}
    obj = json.loads(body)
    if vendor == "aws":
        assert set(obj) == {"__type", "Message"} and obj["Message"], obj
        assert "json" in headers.get("Content-Type", "")
    elif vendor == "azure":
        assert set(obj) == {"error"} and {"code", "message"} <= set(obj["error"]), obj
    else:
        assert set(obj) == {"error"}, obj
        assert set(obj["error"]) == {"errorCode", "message", "details"}, obj
    return obj


HUGE = b"X-Big: " + b"a" * (MAX_HEADER_BYTES + 10) + b"\r\n"
PROTOCOL_CASES = {
    "HEAD": b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n",
    "OPTIONS": b"OPTIONS / HTTP/1.1\r\nHost: x\r\n\r\n",
    "unknown path": b"GET /no/such/thing HTTP/1.1\r\nHost: x\r\n\r\n",
    "huge header": b"GET / HTTP/1.1\r\nHost: x\r\n" + HUGE + b"\r\n",
    "garbage request line": b"\x16\x03\x01\x02\x00garbage\r\n\r\n",
    "HTTP/2 preface": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    "HTTP/0.9": b"GET /\r\n\r\n",
    "non-ASCII target": b"GET /\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",
    "bad Content-Length": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    "Content-Length and chunked": (
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"0\r\n\r\n"
    ),
    "bad chunk size": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
}


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("case", sorted(PROTOCOL_CASES))
def test_protocol_errors_are_in_the_vendors_shape(servers, vendor, case):
    method = "HEAD" if case == "HEAD" else "POST"
    resp = exchange(servers[vendor], PROTOCOL_CASES[case], method)
    assert_vendor_error(vendor, resp.status, resp.headers, resp.body, head=case == "HEAD")
    if case in ("huge header",):
        assert resp.status == 431
    if case in ("HTTP/2 preface",):
        assert resp.status == 505


def test_requests_after_an_error_still_work_on_new_connections(servers):
    exchange(servers["aws"], PROTOCOL_CASES["garbage request line"])
    r = requests.post(servers["aws"].url + "/", data=b"{}", timeout=10,
                      headers={"X-Amz-Target": "RekognitionService.GetCelebrityInfo"})
    assert r.status_code == 400 and r.json()["__type"] == "InvalidParameterException"


# -- the whole-request deadline and the bounded pool ------------------------------------------


def test_a_trickling_request_is_cut_off_by_the_whole_request_deadline(servers):
    """One byte every 0.3 s: each read succeeds, but the request must be complete within 1 s."""
    sock = socket.create_connection(address(servers["naver"]), timeout=10)
    sock.sendall(b"POST /vision/v1/celebrity HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n")
    sent = 0
    t0 = time.monotonic()
    while sent < 40 and not select.select([sock], [], [], 0.3)[0]:
        with_body = b"\r\n" if sent == 0 else b"x"
        sock.sendall(with_body)
        sent += 1
    assert sent < 40, "the server waited for the whole trickle"
    resp = http.client.HTTPResponse(sock)
    resp.begin()
    assert resp.status == 408
    assert_vendor_error("naver", resp.status, resp.headers, resp.read())
    assert time.monotonic() - t0 < 8
    sock.close()


def test_a_silent_connection_is_closed(servers):
    sock = socket.create_connection(address(servers["azure"]), timeout=10)
    assert select.select([sock], [], [], 8)[0], "the server kept a silent connection open"
    resp = http.client.HTTPResponse(sock)
    resp.begin()
    assert_vendor_error("azure", resp.status, resp.headers, resp.read())
    sock.close()


def test_connections_do_not_get_a_thread_each(servers):
    before = threading.active_count()
    socks = [socket.create_connection(address(servers["aws"]), timeout=10) for _ in range(40)]
    try:
        time.sleep(0.2)
        assert threading.active_count() - before <= WORKERS
    finally:
        for s in socks:
            s.close()


def test_connections_beyond_the_pool_get_the_vendors_503():
    limits = ServerLimits(max_connections=2)
    with serve_in_thread(make_app("azure", default_vendor("azure")), limits=limits) as server:
        held = [socket.create_connection(address(server), timeout=10) for _ in range(2)]
        time.sleep(0.1)
        r = requests.post(server.url + "/face/v1.0/verify", data=b"{}", headers=AZURE_KEY,
                          timeout=10)
        assert r.status_code == 503
        assert_vendor_error("azure", r.status_code, r.headers, r.content)
        for s in held:
            s.close()
        time.sleep(0.2)
        r = requests.post(server.url + "/face/v1.0/verify", data=b"{}", headers=AZURE_KEY,
                          timeout=10)
        assert r.status_code == 400 and r.json()["error"]["code"] == "BadArgument"


# -- request validation ---------------------------------------------------------------------


def test_deeply_nested_json_is_a_400(servers):
    deep = b"[" * 100_000
    r = requests.post(servers["aws"].url + "/", data=deep, timeout=30, headers={
        "X-Amz-Target": "RekognitionService.RecognizeCelebrities",
        "Content-Type": "application/x-amz-json-1.1"})
    assert r.status_code == 400
    assert assert_vendor_error("aws", r.status_code, r.headers, r.content)["__type"] == (
        "SerializationException")
    r = requests.post(servers["azure"].url + "/face/v1.0/verify", data=deep, timeout=30,
                      headers={**AZURE_KEY, "Content-Type": "application/json"})
    assert r.status_code == 400
    assert assert_vendor_error("azure", r.status_code, r.headers, r.content)["error"]["code"] == (
        "BadArgument")


@pytest.mark.parametrize("ttl", ["²", "٣٠٠", "1e3", "-60", " 60", "99999999999999999999"])
def test_face_id_ttl_must_be_ascii_digits_in_range(servers, ttl):
    r = requests.post(
        servers["azure"].url + "/face/v1.0/detect", params={"faceIdTimeToLive": ttl},
        data=(ROOT / "simulators" / "photos" / "obama.jpg").read_bytes(), timeout=30,
        headers={**AZURE_KEY, "Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 400
    assert assert_vendor_error("azure", r.status_code, r.headers, r.content)["error"]["code"] == (
        "BadArgument")


# -- dicore serve: signals and the banner ----------------------------------------------------

RUN_SERVE = (
    "import argparse, sys; from dicore.commands import serve; "
    "p = argparse.ArgumentParser(); serve.add_arguments(p); sys.exit(serve.run(p.parse_args()))"
)


def _ignore_sigint() -> None:  # what a non-interactive shell does to a background job
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_dicore_serve_stops_on_signals_and_says_so(sig):
    secret = "Kx9-not-printed-7Q"
    proc = subprocess.Popen(
        [sys.executable, "-c", RUN_SERVE, "naver", "--port", "0", "--key", secret],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"}, preexec_fn=_ignore_sigint,
    )
    try:
        seen = []
        for line in proc.stdout:
            seen.append(line)
            if line.startswith("Ctrl-C or SIGTERM to stop"):
                break
        url = next(re.search(r"on (http://\S+)", s).group(1) for s in seen if " on http" in s)
        r = requests.post(url + "/vision/v1/celebrity", files={"image": b"x"}, timeout=30,
                          headers={"X-NCP-APIGW-API-KEY-ID": "id", "X-NCP-APIGW-API-KEY": secret})
        assert r.status_code == 400
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    out = "".join(seen) + out
    assert proc.returncode == 0, err
    name = signal.Signals(sig).name
    assert f"received {name}" in out and "stopped the simulated naver API" in out
    assert secret not in out + err
    assert "Traceback" not in err
