"""How close a study's results are to every published figure it is compared with.

Pure: numbers in, rows out (`evaluate`). It reports; it tunes nothing. The targets are the
paper's, from the packaged copy (`dicore.paper`), in three families:

- **TA/NA**: the 30 cells of Figure 4a/4b (Table 2's `asr_before`, 5 datasets x 3 vendors
  x 2 attacks). Within when |ours - paper| <= max(5 pp, 2 binomial SE).
- **Figure 4**: the 20 DHF, DHC, DHS and SIC figures the text states
  (`fig4_and_text_figures.csv`; NAV DHS on CelebFOM, 42.3%, is excluded: Naver has no
  similarity call and the per-celebrity tables have no Naver similarity). Rules by kind:
  exact and rounded figures of one dataset within max(5 pp, 2 SE); "ranging from a to b"
  as our min and max over the five datasets, each within 5 pp; a stated maximum over the
  datasets ("the highest", "the worst case") as our max, within 5 pp; an upper bound
  ("less than b", for every dataset) held when each dataset's value is below b + 2 SE.
- **per-identity means**: Tables 3 (CelebDF) and 5 (VoxCelebTH). Per identity, Reference =
  mean confidence of its real images, Target = of its deepfakes, Similarity = mean
  similarity of its deepfakes to their real (over the images that got a value, 0 where
  none did; `dicore.core.identity`). The 16 dataset x vendor x column means (ours: mean
  over identities; paper: the printed Average row) within 15 pp; and the per-identity
  distributions close: the mean over the 16 of the 1-Wasserstein distance between the
  paper's per-celebrity values and ours <= 8 pp.

SE = 100 sqrt(p (1 - p) / n) with p the paper's figure and n our metric's denominator.
A figure we have no value for (n = 0, vendor or dataset absent) is not within. Each row
carries the paper's known inconsistencies where they bite (`note`; `dicore.paper_notes`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from dicore import PAPER_VENDOR_NAMES, paper
from dicore.paper_notes import EXCLUDED, INCONSISTENCIES

FAMILIES = ("TA/NA", "Figure 4", "per-identity means")
TA_NA_PP = 5.0
FIGURE_PP = 5.0
IDENTITY_MEAN_PP = 15.0
IDENTITY_W1_PP = 8.0
FIGURE_METRICS = ("DHF", "DHC", "DHS", "SIC")
_ANY = ("ANY", "ALL")


@dataclass(frozen=True)
class FitRow:
    """One published figure against ours. `ours`, `diff` are None when we have no value;
    `within` is None for rows that are information only (the per-distribution W1s)."""

    family: str
    target: str
    ours: float | None
    paper: float | None
    diff: float | None
    tolerance: str
    within: bool | None
    note: str = ""


@dataclass(frozen=True)
class PaperFit:
    rows: tuple[FitRow, ...]
    headlines: tuple[str, ...]
    simulated: bool

    def family(self, name: str) -> tuple[FitRow, ...]:
        return tuple(r for r in self.rows if r.family == name)


def binomial_se(p_percent: float, n: int) -> float:
    """Binomial standard error in pp of a rate p (percent) over n; inf when n = 0."""
    if n <= 0:
        return math.inf
    p = min(max(p_percent / 100.0, 0.0), 1.0)
    return 100.0 * math.sqrt(p * (1.0 - p) / n)


def wasserstein_1(a: Sequence[float], b: Sequence[float]) -> float:
    """1-Wasserstein distance between two empirical distributions (same units as the values):
    the area between their CDFs."""
    xa, xb = np.sort(np.asarray(a, float)), np.sort(np.asarray(b, float))
    if xa.size == 0 or xb.size == 0:
        return math.nan
    grid = np.sort(np.concatenate([xa, xb]))
    cdf_a = np.searchsorted(xa, grid[:-1], side="right") / xa.size
    cdf_b = np.searchsorted(xb, grid[:-1], side="right") / xb.size
    return float(np.sum(np.abs(cdf_a - cdf_b) * np.diff(grid)))


def _label(vendor: str) -> str:
    return PAPER_VENDOR_NAMES[vendor]


def _metric_values(rows: Iterable[Mapping]) -> dict[tuple[str, str, str], tuple[float | None, int]]:
    return {(r["dataset"], r["vendor"], r["metric"]): (r["value"], int(r["n"])) for r in rows}


def _row(family, target, ours, paper_value, tolerance_pp, rule, note="") -> FitRow:
    if ours is None or (isinstance(ours, float) and math.isnan(ours)):
        return FitRow(family, target, None, paper_value, None, rule, False,
                      "; ".join(t for t in ("no value", note) if t))
    diff = ours - paper_value
    return FitRow(family, target, ours, paper_value, diff, rule, abs(diff) <= tolerance_pp, note)


def ta_na_rows(metrics: Mapping) -> list[FitRow]:
    """The 30 TA/NA cells: within max(5 pp, 2 SE)."""
    out = []
    for (dataset, vendor, attack), value in sorted(paper.asr_before_grid().items()):
        ours, n = metrics.get((dataset, vendor, attack), (None, 0))
        tol = max(TA_NA_PP, 2.0 * binomial_se(value, n)) if n else TA_NA_PP
        note = INCONSISTENCIES.get(("TA/NA", dataset, vendor), "")
        out.append(_row("TA/NA", f"{attack} {dataset} {_label(vendor)}", ours, value, tol,
                        f"±{tol:.1f} pp (max(5 pp, 2 SE))", note))
    return out


def _figure_rule(kind: str) -> str:
    kind = kind.lower()
    if kind.startswith("range_min"):
        return "min"
    if kind.startswith(("range_max", "maximum")):
        return "max"
    if kind.startswith("upper_bound"):
        return "upper"
    return "exact"  # exact, rounded, "exact (MS maximum ...)"


@dataclass(frozen=True)
class FigureTarget:
    """One DHF/DHC/DHS/SIC figure of the text. `dataset` None: over the five datasets.
    `rule`: exact (one dataset), min / max (over the datasets; `is_range` for "ranging from
    a to b"), upper (every dataset below `value`), or excluded."""

    metric: str
    vendor: str
    dataset: str | None
    value: float
    rule: str
    kind: str  # as printed in fig4_and_text_figures.csv
    is_range: bool = False
    note: str = ""


def figure_targets() -> tuple[FigureTarget, ...]:
    """The 21 DHF, DHC, DHS and SIC figures of the text (one of them excluded)."""
    out = []
    for fig in paper.text_figures():
        metric = fig["metric"]
        if metric not in FIGURE_METRICS:
            continue
        vendor = paper.PAPER_TO_VENDOR[fig["api"]]
        where = fig["dataset"]
        dataset = None if where.startswith(_ANY) else where
        excluded = EXCLUDED.get((metric, where, vendor))
        rule = "excluded" if excluded else _figure_rule(fig["value_kind"])
        key = where if rule == "exact" else rule
        note = excluded or INCONSISTENCIES.get(("Figure 4", metric, key, vendor), "")
        out.append(FigureTarget(metric, vendor, dataset, float(fig["value"]), rule,
                                fig["value_kind"], fig["value_kind"].startswith("range"), note))
    return tuple(out)


def figure_rows(metrics: Mapping, datasets: Sequence[str] = paper.DATASETS) -> list[FitRow]:
    """The 20 Figure 4 figures (and the excluded one, within None)."""
    out = []
    for t in figure_targets():
        metric, vendor, value = t.metric, t.vendor, t.value
        title = f"{metric} {t.dataset or 'over the datasets'} {_label(vendor)}"
        if t.rule == "excluded":
            out.append(FitRow("Figure 4", f"{title} ({value:g}%)", None, value, None, "excluded",
                              None, t.note))
            continue
        present = [(d, *metrics[(d, vendor, metric)]) for d in datasets
                   if (d, vendor, metric) in metrics and metrics[(d, vendor, metric)][0] is not None]
        if t.rule == "exact":
            ours, n = metrics.get((t.dataset, vendor, metric), (None, 0))
            tol = max(FIGURE_PP, 2.0 * binomial_se(value, n)) if n else FIGURE_PP
            out.append(_row("Figure 4", f"{title} ({t.kind.split(' ')[0]})", ours,
                            value, tol, f"±{tol:.1f} pp (max(5 pp, 2 SE))", t.note))
        elif t.rule in ("min", "max"):
            pick = min if t.rule == "min" else max
            best = pick(present, key=lambda r: r[1]) if present else None
            label = ("range " if t.is_range else "") + t.rule
            where_ours = f"; ours at {best[0]}" if best else ""
            out.append(_row("Figure 4", f"{metric} {label} over the datasets {_label(vendor)}",
                            None if best is None else best[1], value, FIGURE_PP,
                            f"±{FIGURE_PP:.0f} pp ({t.rule} over {len(present)} datasets"
                            f"{where_ours})", t.note))
        else:  # upper bound on every dataset: each below b + 2 SE
            if not present:
                out.append(FitRow("Figure 4", f"{title} (< {value:g}% each)", None, value, None,
                                  "< bound + 2 SE", False, "no value"))
                continue
            held = [v < value + 2.0 * binomial_se(value, n) for _, v, n in present]
            d, v, n = max(present, key=lambda r: r[1])
            out.append(FitRow("Figure 4", f"{metric} every dataset {_label(vendor)} (< {value:g}%)",
                              v, value, v - value,
                              f"< {value:g} + 2 SE each ({sum(held)}/{len(held)} datasets; "
                              f"max at {d}, 2 SE = {2 * binomial_se(value, n):.1f} pp)",
                              all(held), t.note))
    return out


def identity_values(rows: Iterable[Mapping]) -> dict[tuple[str, str, str], list[float]]:
    """`dicore.tables.identity_rows` rows -> {(dataset, vendor, column): per-identity values}
    (columns that are None, e.g. Naver similarity, are left out)."""
    out: dict[tuple[str, str, str], list[float]] = {}
    for r in rows:
        for column in paper.IDENTITY_COLUMNS:
            if r.get(column) is not None:
                out.setdefault((r["dataset"], r["vendor"], column), []).append(float(r[column]))
    return out


def identity_rows(identity: Mapping[tuple[str, str, str], Sequence[float]]) -> list[FitRow]:
    """The 16 per-identity means (within 15 pp) and the mean W1 of their distributions.

    `identity[(dataset, vendor, column)]`: our per-identity values (percent), one per
    identity of the dataset, column in `dicore.paper.IDENTITY_COLUMNS`."""
    table: dict[tuple[str, str, str], list[float]] = {}
    for row in paper.per_celebrity():
        for (vendor, column), v in row.values.items():
            table.setdefault((row.dataset, vendor, column), []).append(v)
    out, distances = [], []
    for (dataset, vendor, column), printed in sorted(paper.table_averages().items()):
        values = identity.get((dataset, vendor, column))
        ours = float(np.mean(values)) if values is not None and len(values) else None
        w1 = (wasserstein_1(values, table[(dataset, vendor, column)])
              if values is not None and ours is not None else math.nan)
        if not math.isnan(w1):
            distances.append(w1)
        note = INCONSISTENCIES.get(("per-identity means", vendor, column, dataset), "")
        w1_text = f"W1 {w1:.1f} pp" if not math.isnan(w1) else "W1 -"
        out.append(_row("per-identity means", f"{dataset} {_label(vendor)} {column} mean", ours,
                        printed, IDENTITY_MEAN_PP, f"±{IDENTITY_MEAN_PP:.0f} pp ({w1_text})", note))
    n_expected = len(paper.table_averages())
    mean_w1 = float(np.mean(distances)) if len(distances) == n_expected else None
    out.append(FitRow(
        "per-identity means", f"mean 1-Wasserstein distance of the {n_expected} per-identity "
        "distributions to Tables 3 and 5", mean_w1, None, mean_w1,
        f"<= {IDENTITY_W1_PP:.0f} pp", mean_w1 is not None and mean_w1 <= IDENTITY_W1_PP,
        "" if mean_w1 is not None else f"only {len(distances)} of {n_expected} distributions"))
    return out


def _count(rows: Sequence[FitRow]) -> tuple[int, int]:
    judged = [r for r in rows if r.within is not None]
    return sum(bool(r.within) for r in judged), len(judged)


def headlines(rows: Sequence[FitRow]) -> tuple[str, ...]:
    """One line per family, counting only what was measured."""
    by = {f: [r for r in rows if r.family == f] for f in FAMILIES}
    k, n = _count(by["TA/NA"])
    lines = [f"TA/NA: {k}/{n} within max(5 pp, 2 SE)"]
    k, n = _count(by["Figure 4"])
    lines.append(f"Figure 4 figures: {k}/{n} (NAV DHS on CelebFOM excluded)")
    means = [r for r in by["per-identity means"] if r.paper is not None]
    k, n = _count(means)
    w1 = [r for r in by["per-identity means"] if r.paper is None]
    w1_text = ("no per-identity distributions" if not w1 or w1[0].ours is None else
               f"mean W1 {w1[0].ours:.1f} pp ({'within' if w1[0].within else 'above'} 8 pp)")
    lines.append(f"per-identity means: {k}/{n} within 15 pp; {w1_text}")
    return tuple(lines)


def evaluate(
    metric_rows: Iterable[Mapping],
    identity: Mapping[tuple[str, str, str], Sequence[float]] | None = None,
    *,
    simulated: bool,
) -> PaperFit:
    """Every published target against a study: `metric_rows` are metrics.json rows
    (dataset, vendor, metric, value, n); `identity` as in `identity_rows` (None: the
    per-identity family is reported as not measured)."""
    metrics = _metric_values(metric_rows)
    rows = ta_na_rows(metrics) + figure_rows(metrics) + identity_rows(identity or {})
    return PaperFit(tuple(rows), headlines(rows), simulated)
