"""The one retry layer for vendor calls: exponential backoff with full jitter.

Only `ThrottledError` and `ServerError` (the `retryable` BackendErrors) are
retried; `BadInputError` (a 4xx about one image) is raised at once.

This is the **only** retry layer. The live clients send each request exactly once
(botocore's own retries are off, `total_max_attempts=1`); the runner wraps every
call in `RetryPolicy.call`, and so counts every attempt the vendor saw. Each HTTP
request, first or retry, takes a token from the vendor's bucket (the clients'
`gate`, set by the runner), so retries never exceed the rate limit.

Full jitter (sleep uniformly in [0, min(cap, base * 2**attempt)]) spreads the
retries of concurrent workers instead of having them hit the vendor in step.
A server's `Retry-After` (kept on the error as `retry_after`) is a floor: we
never retry earlier than the server asked. A Retry-After longer than
`max_retry_after_s` ends the retries (the call is stored as a retryable error
and a rerun tries it again) instead of holding a worker for that long.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from dicore.backends.base import BackendError

T = TypeVar("T")


@dataclass
class RetryPolicy:
    max_attempts: int = 5  # attempts in total, the first included
    base_s: float = 0.5
    cap_s: float = 20.0  # cap of the jittered backoff (not of a server's Retry-After)
    max_retry_after_s: float = 300.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (0-based); never less
        than the server's Retry-After."""
        jitter = self.rng.uniform(0.0, min(self.cap_s, self.base_s * 2**attempt))
        return jitter if retry_after is None else max(jitter, retry_after)

    def call(self, fn: Callable[[], T], *, before_attempt: Callable[[], object] | None = None) -> T:
        """Run `fn`, retrying retryable BackendErrors; re-raise the last one.

        `before_attempt` runs before every attempt (a rate limiter for backends that
        do not gate their own requests)."""
        for attempt in range(self.max_attempts):
            if before_attempt is not None:
                before_attempt()
            try:
                return fn()
            except BackendError as exc:
                retry_after = getattr(exc, "retry_after", None)
                if (not exc.retryable or attempt + 1 >= self.max_attempts
                        or (retry_after is not None and retry_after > self.max_retry_after_s)):
                    raise
                self.sleep(self.delay(attempt, retry_after))
        raise AssertionError("unreachable")  # pragma: no cover


NO_RETRY = RetryPolicy(max_attempts=1)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds else None  # NaN: unreadable
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())
