"""Cassette freshness: how old each cassette is, from its provenance sidecar's
`recorded_at`, against its limit (vcr/vcr #6, #734: recordings go stale as APIs change).

A cassette's limit is its sidecar's `max_age_days` when set, else `DEFAULT_MAX_AGE_DAYS`;
`dicore cassettes check --max-age` overrides both. A cassette without a readable
`recorded_at` is reported as `unknown` and counts as stale (its age cannot be vouched for).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dicore.backends.cassettes import provenance_path, read_provenance

DEFAULT_MAX_AGE_DAYS = 180
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([dwh]?)\s*$", re.I)


def parse_duration(text: str) -> timedelta:
    """'180d', '26w', '12h' or a plain number of days; ValueError otherwise."""
    m = _DURATION.match(str(text))
    if not m:
        raise ValueError(f"{text!r} is not a duration (e.g. 180d, 26w, 12h)")
    value, unit = float(m.group(1)), (m.group(2) or "d").lower()
    return {"d": timedelta(days=value), "w": timedelta(weeks=value),
            "h": timedelta(hours=value)}[unit]


@dataclass(frozen=True)
class Freshness:
    cassette: Path
    source: str
    recorded_at: datetime | None
    age: timedelta | None
    limit: timedelta

    @property
    def stale(self) -> bool:
        return self.age is None or self.age > self.limit

    @property
    def status(self) -> str:
        return "unknown" if self.age is None else "STALE" if self.stale else "ok"


def _parse_time(value) -> datetime | None:
    try:
        t = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def freshness(cassette: str | Path, *, now: datetime | None = None,
              max_age: timedelta | None = None) -> Freshness:
    """The age of one cassette (a `.yaml` with a provenance sidecar) at `now` (default:
    the current UTC time) against `max_age` or its own limit."""
    cassette = Path(cassette)
    now = now or datetime.now(UTC)
    try:
        prov = read_provenance(cassette)
    except (FileNotFoundError, ValueError):
        prov = {}
    recorded = _parse_time(prov.get("recorded_at")) if prov.get("recorded_at") else None
    limit = max_age or timedelta(days=float(prov.get("max_age_days", DEFAULT_MAX_AGE_DAYS)))
    age = None if recorded is None else now - recorded
    return Freshness(cassette, str(prov.get("source", "no provenance")), recorded, age, limit)


def find_cassettes(paths) -> list[Path]:
    """Cassette files (`*.yaml` with or without a sidecar) under the given files/folders."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found += sorted(x for x in p.rglob("*.y*ml") if x.suffix in (".yaml", ".yml"))
        elif p.is_file():
            found.append(p)
    return [p for p in found if not provenance_path(p) == p]
