"""Detector scores CSV (`dicore defend --scores`): `item_id,detector,score`, header required.

One row per image and detector; `score` is the detector's probability that the image is
fake (0..1).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from dicore.errors import UserError

SCORE_COLUMNS = ("item_id", "detector", "score")


def read_scores(path: str | Path) -> dict[str, dict[str, float]]:
    """{detector: {item_id: score}} from a scores CSV; UserError names the row at fault."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"scores file {path} not found",
                        "give a CSV with columns item_id,detector,score")
    out: dict[str, dict[str, float]] = {}
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in SCORE_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise UserError(f"{path}: missing column(s) {', '.join(missing)}",
                                "the scores file needs the header item_id,detector,score")
            for i, row in enumerate(reader, start=2):
                try:
                    score = float(row["score"])
                except (TypeError, ValueError):
                    score = math.nan
                if not 0.0 <= score <= 1.0:
                    raise UserError(f"{path}: line {i}, field score: {row['score']!r} is not in 0..1",
                                    "score is the detector's probability that the image is fake")
                det, item = (row["detector"] or "").strip(), (row["item_id"] or "").strip()
                if not det or not item:
                    raise UserError(f"{path}: line {i}: empty item_id or detector")
                if item in out.setdefault(det, {}):
                    raise UserError(f"{path}: line {i}: second score for item {item!r}, "
                                    f"detector {det!r}")
                out[det][item] = score
    except (UnicodeDecodeError, csv.Error) as exc:
        raise UserError(f"{path}: not a readable UTF-8 CSV file ({exc})",
                        "give a CSV with columns item_id,detector,score") from exc
    if not out:
        raise UserError(f"{path}: no scores", "add rows item_id,detector,score")
    return out
