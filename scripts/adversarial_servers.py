"""Adversarial pass over the three HTTP simulators: hostile inputs, counted.

For every case it records whether the answer was a clear error in the vendor's own
format (4xx with the simulated header and the vendor's error body), a success, an
HTTP 500, something outside the vendor's format, or no answer at all; and whether the
server printed a traceback or an internal error. Loopback only, bounded.

    python scripts/adversarial_servers.py [--json OUT]
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import socket
import struct
import sys
import zlib
from collections import Counter
from http.client import HTTPResponse
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PHOTO = (ROOT / "simulators" / "photos" / "obama.jpg").read_bytes()


def png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\0" * (1 + (width + 7) // 8)
    z = zlib.compressobj(9)
    body = b"".join(z.compress(row * 500) for _ in range(height // 500)) + z.compress(
        row * (height % 500)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def jpeg_claiming(width: int, height: int) -> bytes:
    data = bytearray(cv2.imencode(".jpg", np.full((8, 8, 3), 90, np.uint8))[1].tobytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def images() -> dict[str, bytes]:
    from PIL import Image

    def pil(fmt: str, size=(120, 120), mode="RGB") -> bytes:
        buf = io.BytesIO()
        Image.new(mode, size, 128).save(buf, fmt)
        return buf.getvalue()

    return {
        "bomb png 20000x20000": png(20000, 20000),
        "bomb jpeg 60000x60000": jpeg_claiming(60000, 60000),
        "png 12000x12000": png(12000, 12000),
        "truncated jpeg": PHOTO[: len(PHOTO) // 3],
        "jpeg header only": PHOTO[:600],
        "random bytes": np.random.default_rng(0).bytes(5000),
        "text": b"hello, this is not an image" * 50,
        "empty": b"",
        "one byte": b"\xff",
        "gif": pil("GIF"),
        "bmp": pil("BMP"),
        "tiff": pil("TIFF"),
        "webp": pil("WEBP"),
        "1x1 png": pil("PNG", (1, 1)),
        "65535x1 png": png(65535, 1),
        "cmyk jpeg": pil("JPEG", mode="CMYK"),
        "16-bit png": pil("PNG", mode="I;16"),
        "photo + garbage": PHOTO + b"\0" * 1000,
    }


def http_case(method: str, path: str, headers: dict, body: bytes) -> bytes:
    head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}",
            "Connection: close"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode("utf-8", "surrogateescape") + body


HUGE = "a" * 70000
PROTOCOL = {
    "HEAD": b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n",
    "OPTIONS": b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
    "TRACE": b"TRACE / HTTP/1.1\r\nHost: x\r\n\r\n",
    "CONNECT": b"CONNECT x:443 HTTP/1.1\r\nHost: x\r\n\r\n",
    "lowercase method": b"post / HTTP/1.1\r\nHost: x\r\n\r\n",
    "garbage line": b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03garbage\r\n\r\n",
    "only CRLF": b"\r\n\r\n\r\n",
    "HTTP/2 preface": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    "HTTP/0.9": b"GET /\r\n\r\n",
    "HTTP/1.2": b"GET / HTTP/1.2\r\nHost: x\r\n\r\n",
    "HTTP/9.9": b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
    "huge header": ("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + HUGE + "\r\n\r\n").encode(),
    "10000 headers": b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(10000)) + b"\r\n",
    "huge URL": ("GET /" + HUGE + " HTTP/1.1\r\nHost: x\r\n\r\n").encode(),
    "non-ASCII target": b"GET /\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",
    "percent garbage": b"GET /%ff%00%zz HTTP/1.1\r\nHost: x\r\n\r\n",
    "NUL in header": b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
    "bare LF": b"GET / HTTP/1.1\nHost: x\n\n",
    "header without colon": b"GET / HTTP/1.1\r\nHost x\r\n\r\n",
    "obs-fold": b"GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  folded\r\n\r\n",
    "bad Content-Length": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    "negative Content-Length": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    "two Content-Lengths": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    "huge Content-Length": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
    "CL and chunked": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "bad chunk size": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n",
    "negative chunk": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n\r\n",
    "unknown TE": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
    "upgrade websocket": b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    "upgrade h2c": b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n",
    "expect 100-continue": b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}",
    "body over 16 MB": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 17000000\r\n\r\n" + b"a" * 17_000_000,
}


def aws_cases(imgs: dict[str, bytes]) -> dict[str, bytes]:
    t = "RekognitionService."
    h = {"Content-Type": "application/x-amz-json-1.1"}

    def op(name, body, extra=None):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return http_case("POST", "/", {**h, "X-Amz-Target": t + name, **(extra or {})}, data)

    b64 = base64.b64encode(PHOTO).decode()
    cases = {
        "deep [": op("RecognizeCelebrities", b"[" * 100_000),
        "deep {": op("RecognizeCelebrities", b'{"a":' * 100_000),
        "deep in Image": op("RecognizeCelebrities", b'{"Image":' + b"[" * 50_000 + b"]" * 50_000 + b"}"),
        "not JSON": op("RecognizeCelebrities", b"{nope"),
        "JSON array": op("RecognizeCelebrities", [1, 2]),
        "JSON string": op("RecognizeCelebrities", "x"),
        "JSON null": op("RecognizeCelebrities", None),
        "invalid UTF-8": op("RecognizeCelebrities", b'{"Image": "\xff\xfe"}'),
        "lone surrogate": op("RecognizeCelebrities", b'{"Image": {"Bytes": "\\ud800"}}'),
        "NaN": op("CompareFaces", b'{"SourceImage":{"Bytes":"' + b64.encode() + b'"},"TargetImage":{"Bytes":"' + b64.encode() + b'"},"SimilarityThreshold":NaN}'),
        "Infinity": op("CompareFaces", b'{"SimilarityThreshold":Infinity}'),
        "1e999": op("CompareFaces", b'{"SimilarityThreshold":1e999}'),
        "huge int": op("CompareFaces", b'{"SimilarityThreshold":' + b"9" * 5000 + b"}"),
        "threshold string": op("CompareFaces", {"SourceImage": {"Bytes": b64}, "TargetImage": {"Bytes": b64}, "SimilarityThreshold": "80"}),
        "threshold bool": op("CompareFaces", {"SourceImage": {"Bytes": b64}, "TargetImage": {"Bytes": b64}, "SimilarityThreshold": True}),
        "threshold 101": op("CompareFaces", {"SourceImage": {"Bytes": b64}, "TargetImage": {"Bytes": b64}, "SimilarityThreshold": 101}),
        "quality list": op("CompareFaces", {"SourceImage": {"Bytes": b64}, "TargetImage": {"Bytes": b64}, "QualityFilter": ["NONE"]}),
        "missing Image": op("RecognizeCelebrities", {}),
        "Image null": op("RecognizeCelebrities", {"Image": None}),
        "Bytes int": op("RecognizeCelebrities", {"Image": {"Bytes": 5}}),
        "Bytes list": op("RecognizeCelebrities", {"Image": {"Bytes": [1, 2]}}),
        "bad base64": op("RecognizeCelebrities", {"Image": {"Bytes": "!!!!"}}),
        "base64 with spaces": op("RecognizeCelebrities", {"Image": {"Bytes": b64[:100] + " " + b64[100:]}}),
        "base64 url-safe": op("RecognizeCelebrities", {"Image": {"Bytes": base64.urlsafe_b64encode(PHOTO).decode()}}),
        "base64 > 5 MB": op("RecognizeCelebrities", {"Image": {"Bytes": "A" * 7_100_000}}),
        "S3Object": op("RecognizeCelebrities", {"Image": {"S3Object": {"Bucket": "b", "Name": "n"}}}),
        "Bytes and S3": op("RecognizeCelebrities", {"Image": {"Bytes": b64, "S3Object": {}}}),
        "unknown member": op("RecognizeCelebrities", {"Image": {"Bytes": b64}, "Extra": 1}),
        "duplicate keys": op("RecognizeCelebrities", b'{"Image":{"Bytes":"AAAA"},"Image":{"Bytes":"' + b64.encode() + b'"}}'),
        "Id unicode": op("GetCelebrityInfo", {"Id": "\u0663\u0663"}),
        "Id empty": op("GetCelebrityInfo", {"Id": ""}),
        "Id huge": op("GetCelebrityInfo", {"Id": "a" * 100000}),
        "Id int": op("GetCelebrityInfo", {"Id": 5}),
        "unknown target": op("DetectFaces", {}),
        "target prefix only": op("", {}),
        "target unicode": http_case("POST", "/", {**h, "X-Amz-Target": t + "Recognize\u00e9"}, b"{}"),
        "no target": http_case("POST", "/", h, b"{}"),
        "GET /": http_case("GET", "/", {}, b""),
        "POST /x": http_case("POST", "/x", {"X-Amz-Target": t + "RecognizeCelebrities"}, b"{}"),
        "chunked JSON": b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: " + (t + "GetCelebrityInfo").encode() + b"\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    }
    for name, img in imgs.items():
        cases[f"image: {name}"] = op("RecognizeCelebrities", {"Image": {"Bytes": base64.b64encode(img).decode()}})
        cases[f"compare target: {name}"] = op("CompareFaces", {"SourceImage": {"Bytes": b64}, "TargetImage": {"Bytes": base64.b64encode(img).decode()}})
    return cases


def azure_cases(imgs: dict[str, bytes]) -> dict[str, bytes]:
    key = {"Ocp-Apim-Subscription-Key": "k"}
    oct_ = {**key, "Content-Type": "application/octet-stream"}
    cv = "/vision/v3.2/models/celebrities/analyze"
    cases = {
        "no key": http_case("POST", cv, {"Content-Type": "application/octet-stream"}, PHOTO),
        "unicode key": http_case("POST", cv, {"Ocp-Apim-Subscription-Key": "\u00e9\u00e9", "Content-Type": "application/octet-stream"}, PHOTO),
        "language unicode": http_case("POST", cv + "?language=%E2%82%AC", oct_, PHOTO),
        "language repeated": http_case("POST", cv + "?language=en&language=xx", oct_, PHOTO),
        "model-version bad": http_case("POST", cv + "?model-version=../../etc", oct_, PHOTO),
        "query garbage": http_case("POST", cv + "?%zz=%ff&&&=", oct_, PHOTO),
        "unknown model": http_case("POST", "/vision/v3.2/models/landmarks/analyze", oct_, PHOTO),
        "model traversal": http_case("POST", "/vision/v3.2/models/..%2F..%2Fx/analyze", oct_, PHOTO),
        "url body": http_case("POST", cv, {**key, "Content-Type": "application/json"}, b'{"url":"http://169.254.169.254/"}'),
        "multipart": http_case("POST", cv, {**key, "Content-Type": "multipart/form-data; boundary=x"}, b"--x--"),
        "no content type": http_case("POST", cv, key, PHOTO),
        "content type garbage": http_case("POST", cv, {**key, "Content-Type": ";;;=;"}, PHOTO),
        "ttl ²": http_case("POST", "/face/v1.0/detect?faceIdTimeToLive=%C2%B2", oct_, PHOTO),
        "ttl arabic digits": http_case("POST", "/face/v1.0/detect?faceIdTimeToLive=%D9%A3%D9%A0%D9%A0", oct_, PHOTO),
        "ttl huge": http_case("POST", "/face/v1.0/detect?faceIdTimeToLive=" + "9" * 500, oct_, PHOTO),
        "ttl negative": http_case("POST", "/face/v1.0/detect?faceIdTimeToLive=-1", oct_, PHOTO),
        "flag unicode": http_case("POST", "/face/v1.0/detect?returnFaceId=%C3%BFes", oct_, PHOTO),
        "attributes": http_case("POST", "/face/v1.0/detect?returnFaceAttributes=age", oct_, PHOTO),
        "bad detection model": http_case("POST", "/face/v1.0/detect?detectionModel=detection_99", oct_, PHOTO),
        "unknown version": http_case("POST", "/face/v9/detect", oct_, PHOTO),
        "verify deep [": http_case("POST", "/face/v1.0/verify", {**key, "Content-Type": "application/json"}, b"[" * 100_000),
        "verify not JSON": http_case("POST", "/face/v1.0/verify", {**key, "Content-Type": "application/json"}, b"{"),
        "verify ints": http_case("POST", "/face/v1.0/verify", key, b'{"faceId1":1,"faceId2":2}'),
        "verify unknown ids": http_case("POST", "/face/v1.0/verify", key, b'{"faceId1":"a","faceId2":"b"}'),
        "verify person": http_case("POST", "/face/v1.0/verify", key, b'{"faceId":"a","personId":"b","personGroupId":"c"}'),
        "verify huge id": http_case("POST", "/face/v1.0/verify", key, json.dumps({"faceId1": "a" * 1_000_000, "faceId2": "b"}).encode()),
        "verify with query": http_case("POST", "/face/v1.0/verify?x=1", key, b"{}"),
        "GET detect": http_case("GET", "/face/v1.0/detect", key, b""),
        "DELETE verify": http_case("DELETE", "/face/v1.0/verify", key, b""),
        "path traversal": http_case("GET", "/../../etc/passwd", key, b""),
    }
    for name, img in imgs.items():
        cases[f"cv image: {name}"] = http_case("POST", cv, oct_, img)
        cases[f"detect image: {name}"] = http_case("POST", "/face/v1.2/detect", oct_, img)
    return cases


def naver_cases(imgs: dict[str, bytes]) -> dict[str, bytes]:
    keys = {"X-NCP-APIGW-API-KEY-ID": "i", "X-NCP-APIGW-API-KEY": "k"}
    path = "/vision/v1/celebrity"

    def mp(parts: list[tuple[str, bytes]], boundary: str = "bnd", extra: str = "") -> bytes:
        body = b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{n}"; filename="a.jpg"\r\n\r\n'.encode(
                "utf-8", "surrogateescape") + data + b"\r\n" for n, data in parts
        ) + f"--{boundary}--\r\n".encode()
        return http_case("POST", path, {**keys, "Content-Type": f"multipart/form-data; boundary={boundary}{extra}"}, body)

    cases = {
        "no keys": http_case("POST", path, {}, b""),
        "empty keys": http_case("POST", path, {"X-NCP-APIGW-API-KEY-ID": "", "X-NCP-APIGW-API-KEY": ""}, b""),
        "not multipart": http_case("POST", path, {**keys, "Content-Type": "image/jpeg"}, PHOTO),
        "no boundary": http_case("POST", path, {**keys, "Content-Type": "multipart/form-data"}, PHOTO),
        "empty boundary": http_case("POST", path, {**keys, "Content-Type": "multipart/form-data; boundary="}, PHOTO),
        "boundary absent in body": http_case("POST", path, {**keys, "Content-Type": "multipart/form-data; boundary=zzz"}, PHOTO),
        "no closing boundary": http_case("POST", path, {**keys, "Content-Type": "multipart/form-data; boundary=b"}, b"--b\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\n" + PHOTO),
        "no header end": http_case("POST", path, {**keys, "Content-Type": "multipart/form-data; boundary=b"}, b"--b\r\nContent-Disposition: form-data; name=\"image\"" + PHOTO),
        "part without name": http_case("POST", path, {**keys, "Content-Type": "multipart/form-data; boundary=b"}, b"--b\r\nX: 1\r\n\r\ndata\r\n--b--\r\n"),
        "unicode field name": mp([("\u00efmage", PHOTO)]),
        "surrogate field name": mp([("im\udcffage", PHOTO)]),
        "two image fields": mp([("image", PHOTO), ("image", b"x")]),
        "extra field": mp([("image", PHOTO), ("other", b"1")]),
        "10000 parts": mp([(f"f{i}", b"x") for i in range(10000)]),
        "quoted boundary": mp([("image", PHOTO)], boundary="b c", extra="").replace(b"boundary=b c", b'boundary="b c"'),
        "boundary 1000 chars": mp([("image", PHOTO)], boundary="x" * 1000),
        "image over 2 MB": mp([("image", PHOTO * 20)]),
        "query string": http_case("POST", path + "?x=1", keys, b""),
        "GET": http_case("GET", path, keys, b""),
        "unknown path": http_case("POST", "/vision/v1/face", keys, b""),
        "legacy path": http_case("POST", "/v1/vision/celebrity", keys, b""),
    }
    for name, img in imgs.items():
        cases[f"image: {name}"] = mp([("image", img)])
    return cases


def classify(vendor: str, raw: bytes | None) -> str:
    if raw is None:
        return "no answer"
    try:
        sock = _Bytes(raw)
        resp = HTTPResponse(sock)  # type: ignore[arg-type]
        resp.begin()
        body = resp.read()
    except Exception:
        return "not HTTP"
    if resp.getheader("X-Dicore-Simulated") != "true":
        return "no simulated header"
    if resp.status == 500:
        return "HTTP 500"
    if resp.status < 300:
        return "ok"
    if resp.status == 100:
        return "ok"
    try:
        obj = json.loads(body) if body else None
    except ValueError:
        return "not the vendor's format"
    if obj is None and resp.will_close is not None and b"HEAD" in raw[:0]:
        return "clear error"
    if vendor == "aws":
        good = isinstance(obj, dict) and set(obj) == {"__type", "Message"}
    elif vendor == "azure":
        good = isinstance(obj, dict) and set(obj) == {"error"} and {"code", "message"} <= set(obj["error"])
    else:
        good = isinstance(obj, dict) and set(obj) == {"error"} and set(obj["error"]) == {"errorCode", "message", "details"}
    return "clear error" if good else "not the vendor's format"


class _Bytes:
    def __init__(self, data: bytes):
        self.data = data

    def makefile(self, *_a, **_k):
        return io.BytesIO(self.data)


def send(url: str, wire: bytes, timeout: float = 15.0) -> bytes | None:
    host, port = url.split("//")[1].rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=timeout) as sock:
            with contextlib.suppress(OSError):
                sock.sendall(wire)
            chunks = []
            while True:
                try:
                    b = sock.recv(1 << 16)
                except (TimeoutError, OSError):
                    break
                if not b:
                    break
                chunks.append(b)
            return b"".join(chunks) or None
    except OSError:
        return None


def main() -> dict:
    from simulators.servers import make_app, serve_in_thread
    from simulators.servers.transport import ServerLimits
    from simulators.vendor import default_vendor

    limits = ServerLimits(request_timeout_s=3.0)  # incomplete requests are cut off sooner

    imgs = images()
    builders = {"aws": aws_cases, "azure": azure_cases, "naver": naver_cases}
    report: dict = {}
    captured = io.StringIO()
    real_stderr = sys.stderr
    sys.stderr = captured  # the servers print internal errors here
    try:
        for vendor, build in builders.items():
            cases = {**{f"protocol: {k}": v for k, v in PROTOCOL.items()}, **build(imgs)}
            counts: Counter[str] = Counter()
            bad: dict[str, str] = {}
            answered: list[str] = []  # hostile but valid: answered 200
            with serve_in_thread(make_app(vendor, default_vendor(vendor)), limits=limits) as server:
                for name, wire in cases.items():
                    if name == "protocol: HEAD":
                        raw = send(server.url, wire, 10)
                        verdict = "clear error" if raw and raw.startswith(b"HTTP/1.1 4") and b"x-dicore-simulated: true" in raw else classify(vendor, raw)
                    else:
                        verdict = classify(vendor, send(server.url, wire))
                    counts[verdict] += 1
                    if verdict not in ("clear error", "ok"):
                        bad[name] = verdict
                    if verdict == "ok":
                        answered.append(name)
            report[vendor] = {"tried": len(cases), **counts, "problems": bad, "answered": answered}
    finally:
        sys.stderr = real_stderr
    log = captured.getvalue()
    report["server_stderr"] = {"tracebacks": log.count("Traceback"),
                               "internal errors": log.count("internal error"),
                               "text": log[-3000:]}
    return report


if __name__ == "__main__":
    out = main()
    text = json.dumps(out, indent=2, ensure_ascii=False)
    if "--json" in sys.argv:
        Path(sys.argv[sys.argv.index("--json") + 1]).write_text(text)
    print(text)
