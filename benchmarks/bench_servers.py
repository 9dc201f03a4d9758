"""Requests per second of the vendor simulators over loopback, against their ceiling.

For each vendor the same HTTP server runs twice: once with the simulator (wire
parsing, SHA-256 of the image, in-memory result cache, JSON answer) and once
answering a fixed response of the same bytes (``FixedApp``: the transport's
ceiling). The image repeats, so after one warm-up request the simulator does
no model work (the server process reports its cache hits and misses).

The servers run in a child process and the client here, so client and server
do not share one GIL. The client is ``http.client`` with one keep-alive
connection per thread, sending what the vendor SDKs send (AWS: JSON 1.1 with a
base64 image; Azure: octet-stream; Naver: multipart).

Targets: simulator >= 0.5 x ceiling, and >= 200 requests/s, per vendor.
Run: ``python -m benchmarks.bench_servers [--quick]``.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

NAME = "servers"
VENDORS = ("aws", "azure", "naver")
PHOTO = Path(__file__).resolve().parents[1] / "simulators" / "photos" / "obama.jpg"
THREADS = 4
RATIO_GOAL = 0.5
RPS_GOAL = 200.0
BOUNDARY = "dicorebenchboundary"


def payload(vendor: str) -> tuple[str, dict[str, str], bytes]:
    """(path, headers, body) of one request, as the vendor's SDK would send it."""
    image = PHOTO.read_bytes()
    if vendor == "aws":
        body = json.dumps({"Image": {"Bytes": base64.b64encode(image).decode()}}).encode()
        headers = {
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "RekognitionService.RecognizeCelebrities",
        }
        return "/", headers, body
    if vendor == "azure":
        headers = {"Content-Type": "application/octet-stream", "Ocp-Apim-Subscription-Key": "bench"}
        return (
            "/vision/v3.2/models/celebrities/analyze?language=en&model-version=latest",
            headers,
            image,
        )
    body = (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="obama.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + image
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    headers = {
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        "X-NCP-APIGW-API-KEY-ID": "bench",
        "X-NCP-APIGW-API-KEY": "bench",
    }
    return "/vision/v1/celebrity", headers, body


# -- the server process ---------------------------------------------------------------


def _serve() -> None:
    """Child process: a simulator and a fixed-response server per vendor."""
    from simulators.servers import make_app
    from simulators.servers.common import FixedApp, Headers, Request
    from simulators.servers.transport import serve_in_thread
    from simulators.vendor import SimulatedVendor

    with contextlib.ExitStack() as stack:
        urls, vendors, apps = {}, {}, {}
        for vendor in VENDORS:
            vendors[vendor] = SimulatedVendor(vendor)
            app = apps[vendor] = make_app(vendor, vendors[vendor])
            path, headers, body = payload(vendor)
            url = urlsplit(path)
            warm = app.handle(
                Request(
                    "POST",
                    url.path,
                    dict(parse_qsl(url.query)),
                    Headers(list(headers.items())),
                    body,
                )
            )
            if warm.status != 200:
                raise SystemExit(f"{vendor}: warm-up answered {warm.status}: {warm.body[:300]!r}")
            sim = stack.enter_context(serve_in_thread(app))
            fixed = stack.enter_context(serve_in_thread(FixedApp(warm)))
            urls[vendor] = {"sim": sim.url, "fixed": fixed.url}
        print(json.dumps(urls), flush=True)
        for (
            line
        ) in sys.stdin:  # "cpu" -> CPU seconds so far; "stats" -> cache counters; EOF -> exit
            if line.strip() == "cpu":
                print(json.dumps(time.process_time()), flush=True)
            elif line.strip() == "stats":
                stats = {
                    v: {
                        "hits": s.cache_hits,
                        "misses": s.cache_misses,
                        "memo_hits": getattr(apps[v], "memo_hits", 0),
                    }
                    for v, s in vendors.items()
                }
                print(json.dumps(stats), flush=True)


# -- the client -------------------------------------------------------------------------


def _load(url: str, vendor: str, seconds: float, threads: int = THREADS) -> tuple[int, float]:
    """(requests completed, seconds) with ``threads`` keep-alive connections."""
    path, headers, body = payload(vendor)
    parts = urlsplit(url)
    counts = [0] * threads
    errors: list[str] = []
    start = threading.Barrier(threads + 1)
    stop = threading.Event()

    def worker(i: int) -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        start.wait()
        try:
            while not stop.is_set():
                conn.request("POST", path, body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                if resp.status != 200 or resp.getheader("X-Dicore-Simulated") != "true":
                    errors.append(f"{resp.status}")
                    return
                counts[i] += 1
        finally:
            conn.close()

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    time.sleep(seconds)
    n0 = sum(counts)
    elapsed = time.perf_counter() - t0
    stop.set()
    for t in pool:
        t.join()
    if errors:
        raise RuntimeError(f"{vendor} at {url}: answered {errors[0]}")
    return n0, elapsed


def _ask(child: subprocess.Popen, what: str):
    child.stdin.write(what + "\n")
    child.stdin.flush()
    return json.loads(child.stdout.readline())


def run(quick: bool) -> dict:
    # Short rounds, alternating simulator and ceiling, best round of each: the machine is
    # shared, and alternation exposes both to the same background load.
    rounds, seconds = (4, 0.4) if quick else (8, 1.5)
    child = subprocess.Popen(
        [sys.executable, "-c", "from benchmarks.bench_servers import _serve; _serve()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    try:
        line = child.stdout.readline()
        if not line:
            raise RuntimeError("the benchmark's server process failed to start (see its stderr)")
        urls = json.loads(line)
        figures, baselines, ratios, targets = {}, {}, {}, {}
        for vendor in VENDORS:
            _load(urls[vendor]["sim"], vendor, 0.2)  # first connections, warm threads
            best = {"sim": 0.0, "fixed": 0.0}
            cpu = {"sim": [0.0, 0], "fixed": [0.0, 0]}  # server CPU seconds, requests
            for _ in range(rounds):
                for kind in ("sim", "fixed"):
                    c0 = _ask(child, "cpu")
                    n, elapsed = _load(urls[vendor][kind], vendor, seconds)
                    cpu[kind][0] += _ask(child, "cpu") - c0
                    cpu[kind][1] += n
                    best[kind] = max(best[kind], n / elapsed)
            sim, fixed = best["sim"], best["fixed"]
            us = {k: 1e6 * c / max(n, 1) for k, (c, n) in cpu.items()}
            figures[f"{vendor}_rps"] = round(sim, 1)
            figures[f"{vendor}_server_cpu_us_per_request"] = round(us["sim"], 1)
            baselines[f"{vendor}_fixed_response_rps"] = round(fixed, 1)
            baselines[f"{vendor}_fixed_response_server_cpu_us_per_request"] = round(us["fixed"], 1)
            ratios[f"{vendor}_sim_over_ceiling"] = round(sim / fixed, 3)
            ratios[f"{vendor}_cpu_ceiling_over_sim"] = round(us["fixed"] / us["sim"], 3)
            targets[f"{vendor}_half_of_ceiling"] = {
                "ratio": round(sim / fixed, 3),
                "goal": RATIO_GOAL,
                "met": sim / fixed >= RATIO_GOAL,
            }
            targets[f"{vendor}_200_rps"] = {
                "ratio": round(sim / RPS_GOAL, 3),
                "goal": 1.0,
                "met": sim >= RPS_GOAL,
            }
        stats = _ask(child, "stats")
        for vendor, s in stats.items():
            # one miss at warm-up, then every request hits (AWS: its answer memo, see aws.py)
            figures[f"{vendor}_cache_misses"] = s["misses"]
            figures[f"{vendor}_cache_hits"] = s["hits"] + s["memo_hits"]
        figures["client_threads"] = THREADS
        figures["rounds"] = rounds
        figures["seconds_per_round"] = seconds
        figures["image_bytes"] = PHOTO.stat().st_size
        return {"figures": figures, "baselines": baselines, "ratios": ratios, "targets": targets}
    finally:
        if child.stdin and not child.stdin.closed:
            child.stdin.close()
        try:
            child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


if __name__ == "__main__":
    result = run(quick="--quick" in sys.argv)
    print(json.dumps(result, indent=2))
