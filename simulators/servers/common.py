"""What the vendor simulators share: requests, responses, the app protocol.

A vendor module provides an *app*: ``app.handle(Request) -> Response``, pure
wire-format work (the response layer), and ``app.transport_error(status, message)``,
the vendor's own error answer for a request the transport refused.
``simulators.servers.transport`` serves apps over HTTP. ``FixedApp`` answers one
canned response (the benchmark's ceiling); ``FaultyApp`` injects the vendor's own
throttling and server errors (``--faults``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Protocol

from dicore.core.vocab import SIMULATED_HEADER


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
        """The vendor-format answer to a request the transport refused (400, 408, 413, 431,
        503, 505) or that crashed the simulator (500)."""
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


class FaultyApp:
    """Wraps a vendor app with injected faults (``simulators.faults``): the vendor's own
    throttling and server errors (``app.fault_response``), and extra latency."""

    def __init__(self, app, injector, sleep=time.sleep):
        self.app = app
        self.name = app.name
        self.injector = injector
        self.sleep = sleep

    def handle(self, request: Request) -> Response:
        key = getattr(self.app, "fault_key", lambda r: r.body)(request)
        target = request.header("X-Amz-Target") or ""
        fault = self.injector.draw(request.method, request.path, target, key)
        if fault.delay_s:
            self.sleep(fault.delay_s)
        if fault.kind is not None:
            return self.app.fault_response(fault.kind, fault.variant, request)
        return self.app.handle(request)

    def transport_error(self, status: int, message: str) -> Response:
        return self.app.transport_error(status, message)


__all__ = [
    "SIMULATED_HEADER",
    "App",
    "FaultyApp",
    "FixedApp",
    "Headers",
    "Request",
    "Response",
    "json_response",
]
