"""Per-vendor token buckets (thread-safe) and the rates: the one source of truth.

Defaults follow the paper where it says: Azure's standard instance allows 10
transactions per second, its free instance 0.3. The paper gives no rate for
AWS or Naver; we use 5 TPS (AWS Rekognition's default quota for its image
calls in most regions) as a conservative default. The in-process simulator and
replayed cassettes are unlimited. `vendor_rate` (defaults overridden by
`--rate`) is what the runner paces at and what the live confirmation's time
estimate and `dicore cost` use.

A bucket holds at most one token by default: requests are spaced 1/rate apart,
so no one-second window ever sees more than the rate (a bigger burst would let
a run that waited send `burst` requests at once on top of the steady rate).
"""

from __future__ import annotations

import math
import threading
import time

from dicore.errors import UserError

LIVE_TPS = {"aws": 5.0, "azure": 10.0, "naver": 5.0}
RATE_SOURCE = {"aws": "assumed", "azure": "paper", "naver": "assumed"}  # of LIVE_TPS


def default_rate(vendor: str, backend: str) -> float | None:
    """Transactions per second for (vendor, backend); None means unlimited."""
    return LIVE_TPS.get(vendor, 5.0) if backend == "live" else None


def vendor_rate(vendor: str, backend: str, given=None) -> float | None:
    """The rate a run uses: `--rate` (parsed, `given`) if it names the vendor, else the
    default. None means unlimited."""
    if given and vendor in given:
        return given[vendor]
    return default_rate(vendor, backend)


def live_rates(vendors, given=None) -> tuple[dict[str, float], dict[str, str]]:
    """({vendor: TPS}, {vendor: where the rate comes from}) of a live run: what the runner
    paces at, for estimates (cost, duration). Unlimited is inf."""
    rates, sources = {}, {}
    for v in vendors:
        rate = vendor_rate(v, "live", given)
        rates[v] = math.inf if rate is None else rate
        sources[v] = "given" if given and v in given else RATE_SOURCE.get(v, "assumed")
    return rates, sources


def parse_rates(text: str | None) -> dict[str, float | None]:
    """`aws=5,azure=0.3` -> {"aws": 5.0, "azure": 0.3}; `0` or `none` means unlimited."""
    out: dict[str, float | None] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        vendor, sep, value = part.partition("=")
        try:
            if not sep:
                raise ValueError
            v = value.strip().lower()
            rate = None if v in ("0", "none", "inf", "unlimited") else float(v)
            if rate is not None and not (math.isfinite(rate) and rate > 0):
                raise ValueError
            if vendor.strip() not in LIVE_TPS:
                raise UserError(
                    f"--rate: unknown vendor {vendor.strip()!r} in {part.strip()!r}",
                    hint=f"vendors: {', '.join(LIVE_TPS)}, e.g. --rate azure=0.3,aws=5",
                )
        except ValueError:
            raise UserError(
                f"--rate: cannot read {part.strip()!r}",
                hint="use VENDOR=TPS pairs, e.g. --rate azure=0.3,aws=5",
            ) from None
        out[vendor.strip()] = rate
    return out


class TokenBucket:
    """`rate` tokens per second, at most `burst` saved up; `acquire` blocks for one."""

    def __init__(self, rate: float | None, burst: float = 1.0, clock=time.monotonic):
        self.rate = rate
        self.burst = max(1.0, burst)
        self.tokens = 1.0  # start with one: a slow bucket should not wait before its first call
        self.clock = clock
        self.last = clock()
        self.lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, sleeping until there is one; returns the seconds waited."""
        if self.rate is None:
            return 0.0
        waited = 0.0
        while True:
            with self.lock:
                now = self.clock()
                self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
                self.last = now
                if self.tokens >= 1.0:
                    self.tokens -= 1.0
                    return waited
                wait = (1.0 - self.tokens) / self.rate
            time.sleep(wait)
            waited += wait
