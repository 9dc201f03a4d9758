"""Fault injection: simulated vendors that throttle, fail and lag like real ones.

``FaultSpec.parse("throttle=0.05,server-error=0.02,latency=50ms:200ms")`` reads
the ``--faults`` option of ``dicore serve`` and of the in-process ``sim``
backend. ``FaultInjector(spec, seed).draw(key)`` decides, for one request, whether
to answer with the vendor's throttling error, its server error, or normally, and
how long to wait first.

Reproducible for a seed whatever the order requests arrive in: the draw for a
request depends only on the seed, the request's content (``key``) and how many
times that same content was seen before (a retry of a throttled call is the
second sighting, and gets its own draw). So a study run twice with the same seed
meets the same faults on the same calls, even with concurrent workers.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import Counter
from dataclasses import dataclass

KINDS = ("throttle", "server_error")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s)?\s*$")


def _seconds(text: str) -> float:
    m = _DURATION.match(text)
    if not m:
        raise ValueError(f"cannot read the duration {text!r} (write e.g. 50ms or 0.2s)")
    value = float(m.group(1))
    return value / 1000.0 if m.group(2) in (None, "ms") else value


@dataclass(frozen=True)
class FaultSpec:
    throttle: float = 0.0  # probability of the vendor's throttling error
    server_error: float = 0.0  # probability of the vendor's server error (5xx)
    latency_s: tuple[float, float] = (0.0, 0.0)  # extra delay, uniform in [lo, hi]
    seed: int | None = None  # overrides the injector's seed (``seed=N`` in the text)

    def __post_init__(self) -> None:
        for name in ("throttle", "server_error"):
            p = getattr(self, name)
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name.replace('_', '-')}={p} is not a probability in 0..1")
        if self.throttle + self.server_error > 1.0:
            raise ValueError("throttle + server-error add up to more than 1")
        lo, hi = self.latency_s
        if not 0.0 <= lo <= hi <= 60.0:
            raise ValueError(f"latency {lo:g}s:{hi:g}s must satisfy 0 <= low <= high <= 60 s")

    @property
    def active(self) -> bool:
        return bool(self.throttle or self.server_error or self.latency_s[1])

    @classmethod
    def parse(cls, text: str | None) -> FaultSpec:
        """``throttle=P,server-error=P,latency=LOW:HIGH,seed=N`` (each optional;
        ``latency=50ms`` is a fixed delay). Raises ValueError naming the bad part."""
        if not text or not text.strip():
            return cls()
        values: dict = {}
        seen: set[str] = set()
        for part in text.split(","):
            name, sep, value = part.strip().partition("=")
            name = name.strip().lower().replace("_", "-")
            if not sep or not value.strip():
                raise ValueError(f"cannot read {part.strip()!r}: write NAME=VALUE")
            if name in seen:
                raise ValueError(f"{name} is given twice")
            seen.add(name)
            if name in ("throttle", "server-error"):
                try:
                    p = float(value)
                except ValueError:
                    raise ValueError(f"{name}={value!r} is not a number") from None
                if p != p:  # NaN passes no range check
                    raise ValueError(f"{name}={value!r} is not a number")
                values[name.replace("-", "_")] = p
            elif name == "seed":
                try:
                    values["seed"] = int(value)
                except ValueError:
                    raise ValueError(f"seed={value!r} is not an integer") from None
            elif name == "latency":
                lo, _, hi = value.partition(":")
                values["latency_s"] = (_seconds(lo), _seconds(hi or lo))
            else:
                raise ValueError(
                    f"unknown fault {name!r}: use throttle, server-error, latency, seed"
                )
        return cls(**values)

    def __str__(self) -> str:
        lo, hi = self.latency_s
        seed = "" if self.seed is None else f",seed={self.seed}"
        return (
            f"throttle={self.throttle:g},server-error={self.server_error:g},"
            f"latency={lo * 1000:g}ms:{hi * 1000:g}ms{seed}"
        )


@dataclass(frozen=True)
class Fault:
    kind: str | None  # "throttle", "server_error" or None (answer normally)
    delay_s: float
    variant: float  # uniform 0..1: which of a vendor's throttling errors, for instance


class FaultInjector:
    """Seeded draws per request content (see the module docstring). Thread-safe."""

    def __init__(self, spec: FaultSpec, seed: int = 0):
        self.spec = spec
        self.seed = int(seed if spec.seed is None else spec.seed)
        self._seen: Counter[bytes] = Counter()
        self._lock = threading.Lock()
        self.injected: Counter[str] = Counter()  # kind -> how many were answered

    def draw(self, *parts: bytes | str) -> Fault:
        h = hashlib.blake2b(str(self.seed).encode(), digest_size=16)
        for p in parts:
            h.update(p if isinstance(p, bytes) else p.encode())
            h.update(b"\0")
        key = h.digest()
        with self._lock:
            n = self._seen[key]
            self._seen[key] = n + 1
        u = hashlib.blake2b(key + n.to_bytes(8, "big"), digest_size=24).digest()
        u1, u2, u3 = (int.from_bytes(u[i : i + 8], "big") / 2**64 for i in (0, 8, 16))
        kind = None
        if u1 < self.spec.throttle:
            kind = "throttle"
        elif u1 < self.spec.throttle + self.spec.server_error:
            kind = "server_error"
        lo, hi = self.spec.latency_s
        if kind is not None:
            with self._lock:
                self.injected[kind] += 1
        return Fault(kind, lo + (hi - lo) * u2, u3)
