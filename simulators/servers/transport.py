"""The transport shared by the vendor simulators: uvicorn (httptools) and a small ASGI adapter.

A vendor module provides an *app*: ``app.handle(Request) -> Response``, pure
wire-format work (the response layer), and ``app.transport_error(status, message)``,
the vendor's own error answer for a request the transport refused. This module
does the HTTP on a kept server library, uvicorn with the httptools (llhttp)
parser: keep-alive, ``Content-Length`` and chunked request bodies (the msrest
Azure SDK uploads chunked), and ``X-Dicore-Simulated: true`` on every answer.

What it adds to uvicorn, so that *every* answer is in the vendor's shape:

- protocol errors (a garbage request line, an HTTP/2 preface, bad chunk
  framing, headers over ``MAX_HEADER_BYTES``) get ``app.transport_error`` instead
  of uvicorn's plain-text 400, then the connection closes;
- a whole-request deadline: a request must arrive complete (head and body)
  within ``request_timeout_s`` of its first byte, and a new connection must
  start one within that time (a client trickling a byte at a time is cut off
  with a 408, not served for ever);
- a bounded pool: at most ``max_connections`` open connections (the next one is
  answered with the vendor's 503 and closed) and ``workers`` threads running
  the app (model inference blocks; the event loop never does).

The same server answers ``FixedApp`` (one canned response) so the benchmark can
measure the framework's ceiling with identical transport work.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import socket
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.utils import formatdate
from urllib.parse import parse_qsl

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from simulators.servers.common import SIMULATED_HEADER, App, Headers, Request, Response

SERVER_NAME = "dicore-simulator/0.2"
MAX_BODY_BYTES = 16 * 1024 * 1024  # over twice every vendor limit; vendors answer their own errors
MAX_HEADER_BYTES = 64 * 1024  # request line + headers
REQUEST_TIMEOUT_S = 30.0  # a whole request (head and body) must arrive within this
IDLE_TIMEOUT_S = 60.0  # an idle keep-alive connection is closed after this
MAX_CONNECTIONS = 256
WORKERS = 8  # threads running app.handle (inference is serialised by the model lock anyway)
_SIMULATED = (SIMULATED_HEADER.lower().encode(), b"true")
_SERVER = (b"server", SERVER_NAME.encode())


def _head(response: Response, close: bool) -> list[tuple[bytes, bytes]]:
    headers = [
        _SERVER,
        (b"content-type", response.content_type.encode("latin-1")),
        (b"content-length", str(len(response.body)).encode()),
        _SIMULATED,
    ]
    headers += [(k.encode("latin-1"), str(v).encode("latin-1")) for k, v in response.headers.items()]
    if close:
        headers.append((b"connection", b"close"))
    return headers


def safe_handle(app: App, request: Request) -> Response:
    """``app.handle``; a bug in the simulator becomes the vendor's 500, never a traceback."""
    try:
        return app.handle(request)
    except Exception as exc:
        print(f"{app.name} simulator: internal error: {exc!r}", file=sys.stderr)
        return app.transport_error(500, "internal error in the simulator")


def raw_response(app: App, status: int, message: str) -> bytes:
    """A whole HTTP/1.1 answer in the vendor's format, for errors below the ASGI layer."""
    response = app.transport_error(status, message)
    reason = _REASONS.get(status, b"Error")
    lines = [b"HTTP/1.1 %d %s" % (status, reason), b"date: " + formatdate(usegmt=True).encode()]
    lines += [k + b": " + v for k, v in _head(response, close=True)]
    return b"\r\n".join(lines) + b"\r\n\r\n" + response.body


_REASONS = {
    400: b"Bad Request",
    408: b"Request Timeout",
    413: b"Content Too Large",
    431: b"Request Header Fields Too Large",
    500: b"Internal Server Error",
    503: b"Service Unavailable",
    505: b"HTTP Version Not Supported",
}


class AsgiAdapter:
    """ASGI -> ``app.handle`` on a bounded thread pool."""

    def __init__(self, app: App, workers: int = WORKERS, verbose: bool = False):
        self.app = app
        self.verbose = verbose
        self.executor = ThreadPoolExecutor(workers, thread_name_prefix=f"{app.name}-sim")

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        try:
            close, response = False, None
            if scope["http_version"] not in ("1.0", "1.1"):
                close = True
                response = self.app.transport_error(
                    505, f"HTTP/{scope['http_version']} is not supported; send HTTP/1.1"
                )
            chunks, size = [], 0
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                body = message.get("body", b"")
                size += len(body)
                if size > MAX_BODY_BYTES:
                    close = True
                    response = self.app.transport_error(
                        413, f"request body is larger than {MAX_BODY_BYTES} bytes"
                    )
                    break
                chunks.append(body)
                if not message.get("more_body"):
                    break
            if response is None:
                request = Request(
                    method=scope["method"],
                    path=scope["path"],
                    query=dict(
                        parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
                    ),
                    headers=Headers(
                        [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
                    ),
                    body=b"".join(chunks),
                )
                loop = asyncio.get_running_loop()
                response = await loop.run_in_executor(self.executor, safe_handle, self.app, request)
        except Exception as exc:  # a bug in this adapter: still the vendor's 500
            print(f"{self.app.name} simulator: internal error: {exc!r}", file=sys.stderr)
            close, response = True, self.app.transport_error(500, "internal error in the simulator")
        await send(
            {"type": "http.response.start", "status": response.status, "headers": _head(response, close)}
        )
        await send({"type": "http.response.body", "body": response.body})
        if self.verbose:
            print(
                f'{self.app.name}: "{scope["method"]} {scope["path"]}" {response.status} '
                f"{len(response.body)}",
                file=sys.stderr,
                flush=True,
            )


_REQUEST_LINE = re.compile(rb"^[!-~]+ [!-~]+ HTTP/(\d+\.\d+)\r?\n")


class _HeaderTooLarge(Exception):
    pass


class SimulatorProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with vendor-format protocol errors, a header-size limit,
    a whole-request deadline and a connection cap (see the module docstring)."""

    def __init__(self, *args, vendor_app: App, limits: ServerLimits, **kwargs):
        super().__init__(*args, **kwargs)
        self.vendor_app = vendor_app
        self.limits = limits
        self._deadline: asyncio.TimerHandle | None = None
        self._head_bytes = 0
        self._error_status = 400
        self._error_message = "malformed HTTP request"
        self._last_data = b""

    # -- the whole-request deadline ------------------------------------------------

    def _arm_deadline(self) -> None:
        self._disarm_deadline()
        self._deadline = self.loop.call_later(self.limits.request_timeout_s, self._deadline_passed)

    def _disarm_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _deadline_passed(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            if not cycle.more_body:
                return  # the request arrived complete; the app is working on it
            if cycle.response_started:
                self.transport.close()  # answering already: nothing clean left to say
                return
        seconds = self.limits.request_timeout_s
        self._reply_and_close(408, f"the request did not arrive complete within {seconds:g} s")

    def _reply_and_close(self, status: int, message: str) -> None:
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.response_started = self.cycle.response_complete = True
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        with contextlib.suppress(Exception):
            self.transport.write(raw_response(self.vendor_app, status, message))
        self.transport.close()

    # -- uvicorn hooks -------------------------------------------------------------

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        transport_sock = transport.get_extra_info("socket")
        if transport_sock is not None:
            with contextlib.suppress(OSError):
                transport_sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if len(self.connections) > self.limits.max_connections:
            self.app = self._busy  # answered with the vendor's 503, then closed
        self._arm_deadline()  # a connection that never starts a request is closed too

    def connection_lost(self, exc) -> None:
        self._disarm_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._last_data = data
        try:
            super().data_received(data)
        except Exception as exc:  # anything the parser layer did not expect: still answered
            self._reply_and_close(400, f"malformed HTTP request ({type(exc).__name__})")

    def send_400_response(self, msg: str) -> None:
        # uvicorn calls this for every parser error (httptools.HttpParserError).
        if self._error_status == 400:
            m = _REQUEST_LINE.match(self._last_data)
            if m and m.group(1) not in (b"1.0", b"1.1"):  # an HTTP/2 preface, HTTP/3.0, ...
                self._error_status = 505
                self._error_message = f"HTTP/{m.group(1).decode()} is not supported; send HTTP/1.1"
        self._reply_and_close(self._error_status, self._error_message)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        self._arm_deadline()

    def on_url(self, url: bytes) -> None:
        self._count_head(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_head(len(name) + len(value) + 4)
        super().on_header(name, value)

    def _count_head(self, n: int) -> None:
        self._head_bytes += n
        if self._head_bytes > MAX_HEADER_BYTES:
            self._error_status = 431
            self._error_message = f"request line and headers are over {MAX_HEADER_BYTES} bytes"
            raise _HeaderTooLarge(self._error_message)

    def on_message_complete(self) -> None:
        self._disarm_deadline()
        super().on_message_complete()

    def shutdown(self) -> None:
        # uvicorn waits for in-flight answers; a request still arriving is abandoned.
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete and cycle.more_body:
            self.transport.close()
            return
        super().shutdown()

    async def _busy(self, scope, receive, send) -> None:
        response = self.vendor_app.transport_error(
            503, f"the simulator serves at most {self.limits.max_connections} connections"
        )
        await send({"type": "http.response.start", "status": 503, "headers": _head(response, True)})
        await send({"type": "http.response.body", "body": response.body})


@dataclass(frozen=True)
class ServerLimits:
    request_timeout_s: float = REQUEST_TIMEOUT_S
    idle_timeout_s: float = IDLE_TIMEOUT_S
    max_connections: int = MAX_CONNECTIONS
    workers: int = WORKERS


class SimulatorServer:
    """One vendor app on a loopback (or given) address. The socket is bound at once, so
    ``url`` is known and a busy port raises ``OSError`` here; ``serve_forever()`` blocks
    until ``close()`` (from another thread or a signal handler)."""

    def __init__(
        self,
        app: App,
        host: str = "127.0.0.1",
        port: int = 0,
        verbose: bool = False,
        limits: ServerLimits | None = None,
    ):
        self.app = app
        self.limits = limits or ServerLimits()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.socket = socket.socket(family, socket.SOCK_STREAM)
        try:
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.socket.bind((host, port))
            self.socket.listen(128)
        except OSError:
            self.socket.close()
            raise
        self.server_address = self.socket.getsockname()[:2]
        self.adapter = AsgiAdapter(app, self.limits.workers, verbose)
        config = uvicorn.Config(
            self.adapter,
            http=functools.partial(SimulatorProtocol, vendor_app=app, limits=self.limits),  # type: ignore[arg-type]
            loop="asyncio",
            lifespan="off",
            log_level="critical",  # every client-visible error is in the vendor's format
            access_log=False,
            proxy_headers=False,
            server_header=False,
            timeout_keep_alive=int(self.limits.idle_timeout_s),
            timeout_graceful_shutdown=5,
        )
        self._server = uvicorn.Server(config)
        self._closed = threading.Event()

    @property
    def url(self) -> str:
        host, port = str(self.server_address[0]), self.server_address[1]
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    @property
    def started(self) -> bool:
        return self._server.started

    def serve_forever(self) -> None:
        """Serve until ``close()``. Installs no signal handlers (the caller owns them)."""
        try:
            asyncio.run(self._server.serve(sockets=[self.socket]))
        finally:
            self.adapter.executor.shutdown(wait=False, cancel_futures=True)
            self._closed.set()

    def close(self, timeout: float = 10.0) -> None:
        """Stop serving: close the listener, finish answers in flight, close every connection."""
        self._server.should_exit = True
        if self._server.started:
            self._closed.wait(timeout)
        with contextlib.suppress(OSError):
            self.socket.close()


# uvicorn's capture_signals only touches signal handlers on the main thread; serve_forever()
# there would install its own, so serve on a thread and let the caller own the signals.
@contextlib.contextmanager
def serve_in_thread(
    app: App,
    host: str = "127.0.0.1",
    port: int = 0,
    verbose: bool = False,
    limits: ServerLimits | None = None,
) -> Iterator[SimulatorServer]:
    """Run ``app`` on a background thread for the ``with`` block (tests, benchmarks)."""
    server = SimulatorServer(app, host, port, verbose, limits)
    thread = threading.Thread(target=server.serve_forever, name=f"{app.name}-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.005)
    try:
        yield server
    finally:
        server.close()
        thread.join(timeout=10)
