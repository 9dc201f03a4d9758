"""The paper's numbers, read from the packaged copy in `dicore/data/paper/`.

Everything here is percent as printed in "Measuring Commercial Face Recognition
Web APIs under Deepfake Impersonation Attack" (Tariq, Jeon, Woo). Vendor ids
are dicore's (`aws`, `azure`, `naver`); the paper's labels are AWS, MS, NAV.
Attacks are `TA` (targeted) and `NA` (non-targeted).

>>> asr_before_grid()[("VoxCelebTH", "azure", "TA")]
78.0
"""

from __future__ import annotations

import csv
import functools
import io
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from dicore.core.vocab import PAPER_VENDOR_NAMES

PAPER_TO_VENDOR = {p: v for v, p in PAPER_VENDOR_NAMES.items()}
ATTACK_TO_METRIC = {"targeted": "TA", "nontargeted": "NA"}
DATASETS = ("CelebDF", "FCelebDF", "VoxCelebTH", "CelebFOM", "CelebBlend")
COMBINED = "All Datasets Combined"


def _text(name: str) -> str:
    return resources.files("dicore.data").joinpath("paper", name).read_text(encoding="utf-8")


def _csv(name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(_text(name))))


@dataclass(frozen=True)
class DatasetRow:
    """One row of Table 1 (counts of the five deepfake sets)."""

    dataset: str
    celebrities: int
    videos: int | None
    images_tested: int
    real: int
    fake: int


@dataclass(frozen=True)
class DefenceRow:
    """One row of Table 2. `*_text` keep the printed strings (their digits set the rounding)."""

    dataset: str
    detector: str
    detector_acc: float
    vendor: str
    attack: str  # TA or NA
    asr_before: float
    asr_after: float
    acc_text: str
    before_text: str
    after_text: str


@functools.cache
def table1(*, include_total: bool = False) -> tuple[DatasetRow, ...]:
    """Table 1. The printed Total row (fake 16,239) is 45 more than the column sum; it is
    left out unless `include_total`."""
    out = []
    for r in _csv("table1_datasets.csv"):
        if r["dataset"] == "Total" and not include_total:
            continue
        out.append(
            DatasetRow(
                dataset=r["dataset"],
                celebrities=int(r["celebrities"]),
                videos=int(r["videos"]) if r["videos"] else None,
                images_tested=int(r["images_tested"]),
                real=int(r["real"]),
                fake=int(r["fake"]),
            )
        )
    return tuple(out)


def dataset_sizes() -> dict[str, DatasetRow]:
    """Table 1 keyed by dataset name."""
    return {r.dataset: r for r in table1()}


@functools.cache
def table2() -> tuple[DefenceRow, ...]:
    """Table 2 (108 rows): detector-gated attack success per dataset, detector, vendor, attack."""
    out = []
    for r in _csv("table2_defense.csv"):
        out.append(
            DefenceRow(
                dataset=r["dataset"],
                detector=r["detector"],
                detector_acc=float(r["detector_acc"]),
                vendor=PAPER_TO_VENDOR[r["api"]],
                attack=ATTACK_TO_METRIC[r["attack"]],
                asr_before=float(r["asr_before"]),
                asr_after=float(r["asr_after"]),
                acc_text=r["detector_acc"],
                before_text=r["asr_before"],
                after_text=r["asr_after"],
            )
        )
    return tuple(out)


@functools.cache
def asr_before_grid() -> dict[tuple[str, str, str], float]:
    """The full TA/NA grid of Figure 4 (5 datasets x 3 vendors x 2), from Table 2's
    `asr_before`: {(dataset, vendor, 'TA'|'NA'): percent}."""
    grid: dict[tuple[str, str, str], float] = {}
    for r in table2():
        if r.dataset == COMBINED:
            continue
        key = (r.dataset, r.vendor, r.attack)
        if key in grid and grid[key] != r.asr_before:
            raise ValueError(f"Table 2 disagrees with itself on {key}")
        grid[key] = r.asr_before
    return grid


@functools.cache
def text_figures() -> tuple[dict[str, str], ...]:
    """Every Figure 4 figure stated in the text, with its sentence (rows of
    fig4_and_text_figures.csv, as strings)."""
    return tuple(_csv("fig4_and_text_figures.csv"))


IDENTITY_COLUMNS = ("reference", "target", "similarity")
"""Per-identity columns of Tables 3 and 5: mean confidence of the identity's real images
("Reference" in the tables), of its deepfakes ("Target"), and mean similarity of its
deepfakes to their real image. Naver has no similarity column."""
_PAPER_PREFIX = {"aws": "aws", "azure": "ms", "naver": "nav"}


@dataclass(frozen=True)
class CelebrityRow:
    """One row of Table 3 (CelebDF) or Table 5 (VoxCelebTH), percent as printed.

    `values[(vendor, column)]`, column in IDENTITY_COLUMNS; no (naver, similarity)."""

    dataset: str
    celebrity: str
    values: dict[tuple[str, str], float]


def _identity_values(row: dict[str, str]) -> dict[tuple[str, str], float]:
    out = {}
    for vendor, prefix in _PAPER_PREFIX.items():
        for column in IDENTITY_COLUMNS:
            cell = row.get(f"{prefix}_{column}")
            if cell not in (None, ""):
                out[(vendor, column)] = float(cell)
    return out


@functools.cache
def per_celebrity() -> tuple[CelebrityRow, ...]:
    """Tables 3 and 5, one row per celebrity (CelebDF 58, VoxCelebTH 100). A 0 means the
    API returned no celebrity for that identity; read a row as, per identity, the mean over
    its images that got a value, 0 where none did (OCR repairs: the flags CSV)."""
    return tuple(
        CelebrityRow(r["dataset"], r["celebrity"], _identity_values(r))
        for r in _csv("per_celebrity_celebdf_voxcelebth.csv")
    )


@functools.cache
def table_averages() -> dict[tuple[str, str, str], float]:
    """The printed "Average" rows of Tables 3 and 5: {(dataset, vendor, column): percent}."""
    return {
        (r["dataset"], vendor, column): value
        for r in _csv("table_averages_celebdf_voxcelebth.csv")
        for (vendor, column), value in _identity_values(r).items()
    }


@functools.cache
def _policy_json() -> dict[str, Any]:
    return json.loads(_text("policy_and_pricing.json"))


def reporting_policy() -> dict[str, dict[str, Any]]:
    """Per vendor: `always_reports` and `min_reported_confidence` (percent; approximate
    floors observed in the paper: AWS ~55, MS ~70, NAV reports down to 0.01)."""
    p = _policy_json()["reporting_policy"]
    return {
        "aws": {"always_reports": False,
                "min_reported_confidence": float(p["AWS"]["approx_min_reported_confidence_pct"])},
        "azure": {"always_reports": False,
                  "min_reported_confidence": float(p["MS"]["approx_min_reported_confidence_pct"])},
        "naver": {"always_reports": True,
                  "min_reported_confidence": float(p["NAV"]["min_observed_reported_confidence_pct"])},
    }


def thresholds() -> dict[str, float]:
    """The paper's beta (DHC confidence threshold) and gamma (DHS similarity threshold)."""
    t = _policy_json()["thresholds"]
    return {"beta": float(t["beta_pct"]), "gamma": float(t["gamma_pct"])}


def pricing() -> dict[str, Any]:
    """Price tiers of section 5.2, per vendor id:
    `{"currency", "tiers": {vendor: [(min_tx, max_tx | None, usd_per_1000), ...]},
    "azure_free": {"free_tx_per_month", "tps"}, "azure_standard_tps"}`.
    Each vendor's list starts with the shared "under 1M at $1/1000" tier."""
    p = _policy_json()["pricing"]
    base = p["all_apis_under_1M"]
    first = (int(base["min_tx"]), int(base["max_tx"]), float(base["usd_per_1000"]))

    def tiers(items: list[dict[str, Any]]) -> list[tuple[int, int | None, float]]:
        rest = [
            (int(t["min_tx"]), None if t["max_tx"] is None else int(t["max_tx"]),
             float(t["usd_per_1000"]))
            for t in items
        ]
        return [first, *rest]

    return {
        "currency": p["currency"],
        "tiers": {"aws": tiers(p["AWS"]), "azure": tiers(p["MS"]["tiers"]),
                  "naver": tiers(p["NAV"])},
        "azure_free": {"free_tx_per_month": int(p["MS"]["free_instance"]["free_tx_per_month"]),
                       "tps": float(p["MS"]["free_instance"]["tps"])},
        "azure_standard_tps": float(p["MS"]["standard_instance_tps"]),
    }


def reporting_floors() -> dict[str, float]:
    """Lowest confidence (percent) each vendor reports a name at: {"aws": 55.0,
    "azure": 70.0, "naver": 0.01}; AWS and Azure are the paper's approximate empirical
    floors ("approximately 55% and 70%"). The trade-off core takes these as `floors`."""
    return {v: p["min_reported_confidence"] for v, p in reporting_policy().items()}
