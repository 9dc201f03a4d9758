"""The one interface the study runner talks to, whatever answers behind it.

Three kinds of backend implement it per vendor: `sim` (in-process simulator),
`live` (the vendor's HTTP API, or `dicore serve` at another endpoint) and
`replay` (vcrpy cassettes). All confidences and similarities are in percent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

Vendor = Literal["aws", "azure", "naver"]
BackendKind = Literal["sim", "live", "replay"]


@dataclass(frozen=True)
class Recognition:
    """What a celebrity-recognition call said about the largest face in one image."""

    predicted: str | None  # the reported celebrity name; None when the vendor named nobody
    confidence: float | None  # percent 0..100; None exactly when predicted is None
    face_count: int = 0  # faces the vendor saw (named or not)
    simulated: bool = False
    raw: dict = field(default_factory=dict, compare=False, repr=False)  # the wire response
    # The vendor's ids of the named celebrity (AWS: `aws:<Id>` and each of its Urls), for
    # matching it to a data set's identity (dicore.names); () when the vendor gives none.
    vendor_ids: tuple[str, ...] = ()


class BackendError(Exception):
    """A call failed. `retryable` is True for throttling and server errors."""

    retryable: bool = False

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None,
                 retry_after: float | None = None):
        super().__init__(message)
        self.code = code
        self.status = status
        self.retry_after = retry_after  # seconds, from the server's Retry-After header


class BadInputError(BackendError):
    """The vendor refused this input (4xx): reported per image, never retried."""


class ThrottledError(BackendError):
    retryable = True


class ServerError(BackendError):
    retryable = True


def no_gate() -> None:
    """The default request gate: no rate limit."""


@runtime_checkable
class Backend(Protocol):
    vendor: Vendor
    kind: BackendKind
    supports_similarity: bool  # Naver has no face-similarity call
    # Called before every request sent to the vendor (retries included, and each of the
    # several requests of one Azure similarity): the runner sets it to the vendor's
    # token bucket, so the rate limit holds per request.
    gate: Callable[[], object]

    def recognize(self, image: bytes) -> Recognition:
        """Celebrity recognition of one encoded image (JPEG/PNG bytes)."""
        ...

    def similarity(self, image_a: bytes, image_b: bytes) -> float | None:
        """Face similarity in percent between the largest faces; None if not reported."""
        ...
