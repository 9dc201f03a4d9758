"""API cost and run time of a study, from the price tiers of paper section 5.2.

Tiers are **graduated** (each band of a month's calls is billed at that band's price:
the first 1M calls at $1.00/1000, the next ones at the vendor's next price, ...), which is
how AWS Rekognition and Azure Face bill. All-units pricing (every call at the price of the
band the total lands in) would make a month of 1,000,001 calls cheaper than one of
1,000,000 ($800 vs $1,000), so it is not used.

Calls of a study, per vendor: one recognition call per image, plus one similarity call per
fake (the fake against its paired real image) where the vendor has a similarity API
(AWS CompareFaces, Azure Face verify; Naver has none in the study). Azure's verify also
needs face ids from detect calls; those are not counted here.

Tiers restart every calendar month, so a run that lasts longer than a month is billed per
month: `month_split` spreads the calls over the calendar months (UTC) of a run that starts
at `start` and sends `tps` calls per second, and each month is billed on its own
(200M AWS calls at 10 TPS take 231 days: eight monthly bills, not one).

Azure's free instance (`tier="free"`) allows 30,000 calls per month at 0.3 TPS for $0; a
larger study needs several months. Vendors are queried in parallel, each at its own rate,
so a run's wall time is the slowest vendor's. Rates come in as `tps` (the edges take them
from `dicore.ratelimit`, the one source of rates, or the user).

`tiered_cost` is pure and `jit`-able; the rest is small Python over it. Prices come in as
`pricing` (the form of `dicore.paper.pricing()`); this module reads no files.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import jax.numpy as jnp
import numpy as np
from jax import Array

SIMILARITY_VENDORS = ("aws", "azure")
VENDORS = ("aws", "azure", "naver")


def _next_month(t: dt.datetime) -> dt.datetime:
    return dt.datetime(t.year + (t.month == 12), t.month % 12 + 1, 1, tzinfo=t.tzinfo)


def month_split(total: int, tps: float, start: dt.datetime) -> list[int]:
    """Calls falling in each calendar month of a run of `total` calls sent evenly at `tps`
    per second from `start` (a month per entry, the first being `start`'s). An unlimited
    rate (inf) puts every call in the first month."""
    if total < 0 or not tps > 0:
        raise ValueError(f"need total >= 0 and tps > 0, got {total}, {tps}")
    out: list[int] = []
    done, t = 0, start
    while True:
        boundary = _next_month(t)
        by_then = total if math.isinf(tps) else min(
            total, math.floor((boundary - start).total_seconds() * tps))
        out.append(by_then - done)
        done, t = by_then, boundary
        if done >= total:
            return out


def tiered_cost(calls: Array, *, lower: Array, upper: Array, usd_per_1000: Array) -> Array:
    """Graduated cost in USD of `calls` (any shape) in one month.

    Tier j covers calls in [lower[j], upper[j]) (upper = inf for the last) at
    usd_per_1000[j] per 1,000 calls. Tiers must be (K,) each.
    """
    lower = jnp.asarray(lower, jnp.result_type(float))  # float64 only when x64 is on
    upper = jnp.asarray(upper, lower.dtype)
    price = jnp.asarray(usd_per_1000, lower.dtype)
    if lower.ndim != 1 or upper.shape != lower.shape or price.shape != lower.shape:
        raise ValueError(
            f"tiers must be (K,) each, got {lower.shape}, {upper.shape}, {price.shape}")
    n = jnp.asarray(calls, lower.dtype)[..., None]
    in_band = jnp.clip(jnp.minimum(n, upper) - lower, 0.0, None)
    return jnp.sum(in_band * price / 1000.0, axis=-1)


def tier_arrays(
    vendor: str, *, pricing: Mapping
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lower, upper, usd_per_1000) of a vendor's standard tiers in `pricing`."""
    tiers = pricing["tiers"][vendor]
    lower = np.array([t[0] for t in tiers], float)
    upper = np.array([math.inf if t[1] is None else t[1] for t in tiers], float)
    price = np.array([t[2] for t in tiers], float)
    return lower, upper, price


def vendor_cost(calls: int, vendor: str, *, pricing: Mapping, tier: str = "standard") -> float:
    """USD for `calls` calls to one vendor in one month (Azure's free tier costs 0)."""
    if tier not in ("standard", "free"):
        raise ValueError(f"tier must be 'standard' or 'free', got {tier!r}")
    if calls < 0:
        raise ValueError(f"calls must be >= 0, got {calls}")
    if tier == "free" and vendor == "azure":
        return 0.0
    lower, upper, price = tier_arrays(vendor, pricing=pricing)
    # Exact in Python floats: cents matter and float32 would round 10^8 calls.
    return float(sum(max(0.0, min(calls, u) - lo) * p / 1000.0
                     for lo, u, p in zip(lower, upper, price, strict=True)))


@dataclass(frozen=True)
class CostRow:
    vendor: str
    recognition_calls: int
    similarity_calls: int
    total_calls: int
    usd: float
    tier: str
    tps: float
    tps_source: str
    seconds: float
    months: int  # calendar months the calls fall in (each billed with its own tiers)
    calls_per_month: tuple[int, ...] = ()

    def as_dict(self) -> dict:
        return asdict(self)


def study_calls(
    n_images: int, n_fakes: int, *, vendors: tuple[str, ...] = ("aws", "azure", "naver"),
    similarity: bool = True,
) -> dict[str, tuple[int, int]]:
    """(recognition, similarity) calls per vendor for a study of `n_images` (fakes included)
    of which `n_fakes` are fakes."""
    if not 0 <= n_fakes <= n_images:
        raise ValueError(f"need 0 <= n_fakes <= n_images, got {n_fakes}, {n_images}")
    return {v: (n_images, n_fakes if similarity and v in SIMILARITY_VENDORS else 0)
            for v in vendors}


def study_cost(
    calls: Mapping[str, tuple[int, int]], *, pricing: Mapping, tps: Mapping[str, float],
    start: dt.datetime, tier: str = "standard", tps_source: Mapping[str, str] | None = None,
) -> list[CostRow]:
    """Cost and duration per vendor. `calls`: {vendor: (recognition, similarity)}; `tps`:
    the rate of every vendor (inf: unlimited); `start`: when the run begins (its calendar
    months are billed one by one).

    `tier="free"` puts Azure on its free instance (30,000 calls a month, $0; pass its rate,
    0.3 TPS, in `tps`) and leaves the other vendors on their standard prices.
    """
    rows = []
    for vendor, (rec, sim) in calls.items():
        if vendor not in VENDORS:
            raise ValueError(f"unknown vendor {vendor!r}")
        if vendor not in tps:
            raise ValueError(f"no rate for {vendor!r} in tps")
        total = int(rec) + int(sim)
        rate = float(tps[vendor])
        free = tier == "free" and vendor == "azure"
        if free:
            per_month = int(pricing["azure_free"]["free_tx_per_month"])
            split = [per_month] * (total // per_month) + ([total % per_month] if total % per_month else [])
            usd = 0.0
        else:
            split = month_split(total, rate, start)
            usd = sum(vendor_cost(n, vendor, pricing=pricing) for n in split)
        rows.append(CostRow(
            vendor=vendor, recognition_calls=int(rec), similarity_calls=int(sim),
            total_calls=total, usd=round(usd, 6), tier="free" if free else "standard",
            tps=rate, tps_source=(tps_source or {}).get(vendor, "given"),
            seconds=0.0 if math.isinf(rate) else total / rate, months=max(1, len(split)),
            calls_per_month=tuple(split),
        ))
    return rows


def total_row(rows: list[CostRow]) -> dict:
    """Sum of calls and USD; wall time is the slowest vendor (vendors run in parallel)."""
    return {
        "vendor": "total",
        "recognition_calls": sum(r.recognition_calls for r in rows),
        "similarity_calls": sum(r.similarity_calls for r in rows),
        "total_calls": sum(r.total_calls for r in rows),
        "usd": round(sum(r.usd for r in rows), 6),
        "seconds": max((r.seconds for r in rows), default=0.0),
        "months": max((r.months for r in rows), default=1),
    }


def format_duration(seconds: float) -> str:
    """'2 h 05 min', '48.0 s', '3 d 04 h'."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes = seconds / 60
    if minutes < 60:
        return f"{minutes:.1f} min"
    hours, mins = divmod(int(round(minutes)), 60)
    if hours < 48:
        return f"{hours} h {mins:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours:02d} h"
