"""The transport shared by the vendor simulators: a threaded HTTP/1.1 server.

A vendor module provides an *app*: ``app.handle(Request) -> Response``, pure
wire-format work (the response layer). This module does the HTTP: keep-alive,
``Content-Length`` and ``Transfer-Encoding: chunked`` request bodies (the
msrest Azure SDK uploads chunked; a server that ignores the framing reads the
chunk sizes as the next request), one write per response, and the
``X-Dicore-Simulated`` header on every response, errors included.

The same server answers ``FixedApp`` (one canned response) so the benchmark can
measure the framework's ceiling with identical transport work.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol
from urllib.parse import parse_qsl, urlsplit

from dicore.core.vocab import SIMULATED_HEADER

MAX_BODY_BYTES = 32 * 1024 * 1024  # far above every vendor limit; vendors answer their own errors
IDLE_TIMEOUT_S = 60.0  # an idle keep-alive connection is closed after this


class Headers:
    """Case-insensitive request headers (the last value wins)."""

    def __init__(self, items: list[tuple[str, str]]):
        self._items = {k.lower(): v for k, v in items}

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._items.get(name.lower(), default)

    def __contains__(self, name: str) -> bool:
        return name.lower() in self._items


@dataclass
class Request:
    method: str
    path: str  # without the query string
    query: dict[str, str]  # the last value of each parameter
    headers: Headers
    body: bytes

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name, default)


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def json_response(
    status: int,
    obj: object,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> Response:
    body = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(status, body, content_type, dict(headers or {}))


class App(Protocol):
    name: str

    def handle(self, request: Request) -> Response: ...

    def transport_error(self, status: int, message: str) -> Response:
        """The vendor-format answer to a request the transport refused (413, 400)."""
        ...


@dataclass
class FixedApp:
    """Answers every request with one canned response: the framework's ceiling."""

    response: Response
    name: str = "fixed"

    def handle(self, request: Request) -> Response:
        return self.response

    def transport_error(self, status: int, message: str) -> Response:
        return json_response(status, {"message": message})


class BodyError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def read_chunked(rfile, limit: int) -> bytes:
    """Decode a ``Transfer-Encoding: chunked`` body (RFC 9112 section 7.1)."""
    parts: list[bytes] = []
    total = 0
    while True:
        line = rfile.readline(1024)
        if not line.endswith(b"\n"):
            raise BodyError(400, "truncated chunk size line")
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise BodyError(400, f"bad chunk size line {line[:40]!r}") from None
        if size < 0:
            raise BodyError(400, "negative chunk size")
        if size == 0:
            break
        total += size
        if total > limit:
            raise BodyError(413, f"request body is larger than {limit} bytes")
        data = rfile.read(size)
        if len(data) != size or rfile.readline(3) not in (b"\r\n", b"\n"):
            raise BodyError(400, "truncated chunk")
        parts.append(data)
    while rfile.readline(8192) not in (b"\r\n", b"\n", b""):  # trailer fields: ignored
        pass
    return b"".join(parts)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    server_version = "dicore-simulator/0.1"
    timeout = IDLE_TIMEOUT_S
    server: SimulatorServer

    def setup(self) -> None:
        super().setup()
        # One write per response already; NODELAY avoids Nagle stalls on the client's ACKs.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_POST(self) -> None:
        self._dispatch()

    do_GET = do_PUT = do_DELETE = do_PATCH = do_POST

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return read_chunked(self.rfile, MAX_BODY_BYTES)
        raw = self.headers.get("Content-Length")
        if raw is None:
            return b""
        try:
            length = int(raw)
        except ValueError:
            raise BodyError(400, f"bad Content-Length {raw!r}") from None
        if length < 0:
            raise BodyError(400, f"bad Content-Length {raw!r}")
        if length > MAX_BODY_BYTES:
            raise BodyError(413, f"request body is larger than {MAX_BODY_BYTES} bytes")
        body = self.rfile.read(length)
        if len(body) != length:
            raise BodyError(400, "request body shorter than Content-Length")
        return body

    def _dispatch(self) -> None:
        app = self.server.app
        try:
            body = self._read_body()
        except BodyError as exc:
            self.close_connection = True  # the rest of the stream cannot be trusted
            self._send(app.transport_error(exc.status, str(exc)))
            return
        url = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=url.path,
            query=dict(parse_qsl(url.query, keep_blank_values=True)),
            headers=Headers(list(self.headers.items())),
            body=body,
        )
        try:
            response = app.handle(request)
        except Exception as exc:  # a bug in the simulator: answer 500 in the vendor's format
            print(f"{app.name} simulator: internal error: {exc!r}", file=sys.stderr)
            response = app.transport_error(500, "internal error in the simulator")
        self._send(response)

    def _send(self, response: Response) -> None:
        status = response.status
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = ""
        head = [
            f"HTTP/1.1 {status} {reason}",
            f"Server: {self.server_version}",
            f"Date: {formatdate(usegmt=True)}",
            f"Content-Type: {response.content_type}",
            f"Content-Length: {len(response.body)}",
            f"{SIMULATED_HEADER}: true",
        ]
        head += [f"{k}: {v}" for k, v in response.headers.items()]
        if self.close_connection:
            head.append("Connection: close")
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + response.body)
        if self.server.verbose:
            self.log_request(status, len(response.body))

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (stdlib name)
        if self.server.verbose:
            super().log_message(format, *args)


class SimulatorServer(ThreadingHTTPServer):
    """A thread per connection; ``close()`` also ends idle keep-alive connections."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, app: App, host: str = "127.0.0.1", port: int = 0, verbose: bool = False):
        self.app = app
        self.verbose = verbose
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        host, port = str(self.server_address[0]), self.server_address[1]
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def process_request(self, request, client_address):  # type: ignore[override]
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):  # type: ignore[override]
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close(self) -> None:
        """Stop serving (if running), close the listener and every open connection."""
        self.server_close()
        with self._open_lock:
            conns = list(self._open)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


@contextlib.contextmanager
def serve_in_thread(
    app: App, host: str = "127.0.0.1", port: int = 0, verbose: bool = False
) -> Iterator[SimulatorServer]:
    """Run ``app`` on a background thread for the ``with`` block (tests, benchmarks)."""
    server = SimulatorServer(app, host, port, verbose)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.close()
