"""Backends: one interface (`base.Backend`), three kinds per vendor.

    make_backend("aws", "sim")                         # in-process simulator, no keys
    make_backend("azure", "live")                      # the vendor's API, keys from the environment
    make_backend("naver", "live", endpoint="http://127.0.0.1:8767")   # `dicore serve naver`
    make_backend("aws", "replay", cassette="cassettes/aws/docs_recognize.yaml")

The live clients are the same code whatever the endpoint: the vendor's, or a
local `dicore serve` (option `endpoint=` or env `DICORE_<VENDOR>_ENDPOINT`).
Errors name the image: wrap bytes in `NamedImage(data, name)` to give it a name,
otherwise the sha256 prefix and size are used.
"""

from __future__ import annotations

from typing import cast

from dicore.backends.base import (
    Backend,
    BackendError,
    BadInputError,
    Recognition,
    ServerError,
    ThrottledError,
    Vendor,
)
from dicore.backends.common import NamedImage, endpoint_override, image_label
from dicore.backends.live import live_client
from dicore.core.vocab import VENDORS
from dicore.errors import UserError

__all__ = [
    "Backend",
    "BackendError",
    "BadInputError",
    "NamedImage",
    "Recognition",
    "ServerError",
    "ThrottledError",
    "endpoint_override",
    "image_label",
    "live_client",
    "make_backend",
]

KINDS = ("sim", "live", "replay")


def make_backend(vendor: str, kind: str, **options) -> Backend:
    """Build a backend. Options: live `endpoint`, `region` (aws); replay `cassette` (path);
    sim `gallery`, `recognizer`, `seed`. Backends send each request once: wrap calls in
    `dicore.backends.retry.RetryPolicy.call` to retry (the runner does)."""
    if vendor not in VENDORS:
        raise UserError(f"unknown vendor {vendor!r}", hint=f"choose one of {', '.join(VENDORS)}")
    vendor = cast(Vendor, vendor)
    if kind == "sim":
        from dicore.backends.sim import SimBackend

        return SimBackend(vendor, **options)
    if kind == "live":
        return live_client(vendor, **options)
    if kind == "replay":
        from dicore.backends.replay import ReplayBackend

        if "cassette" not in options:
            raise UserError("the replay backend needs a cassette", hint="pass cassette=PATH")
        return ReplayBackend(vendor, **options)
    raise UserError(f"unknown backend kind {kind!r}", hint=f"choose one of {', '.join(KINDS)}")
