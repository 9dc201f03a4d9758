"""Retry policy for vendor calls: exponential backoff with full jitter.

Only `ThrottledError` and `ServerError` (the `retryable` BackendErrors) are
retried; `BadInputError` (a 4xx about one image) is raised at once. This is the
only retry layer: the AWS client is built with botocore's retries turned off.

Full jitter (sleep uniformly in [0, min(cap, base * 2**attempt)]) spreads the
retries of concurrent workers instead of having them hit the vendor in step.
A server's `Retry-After` (kept on the error as `retry_after`) is a lower bound.
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
    cap_s: float = 20.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (0-based)."""
        jitter = self.rng.uniform(0.0, min(self.cap_s, self.base_s * 2**attempt))
        if retry_after is not None:
            return min(self.cap_s, max(jitter, retry_after))
        return jitter

    def call(self, fn: Callable[[], T]) -> T:
        """Run `fn`, retrying retryable BackendErrors; re-raise the last one."""
        for attempt in range(self.max_attempts):
            try:
                return fn()
            except BackendError as exc:
                if not exc.retryable or attempt + 1 >= self.max_attempts:
                    raise
                self.sleep(self.delay(attempt, getattr(exc, "retry_after", None)))
        raise AssertionError("unreachable")  # pragma: no cover


NO_RETRY = RetryPolicy(max_attempts=1)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (the delta-seconds form only)."""
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
