"""The paper's targets for the simulated vendors, and a fast evaluation of all of them.

Three families, all read from the packaged copy of the paper's numbers (`dicore/data/paper/`):
- the 30 TA/NA cells of Table 2 (`asr_before`);
- the 20 Figure 4 figures the text states for DHF, DHC, DHS and SIC
  (`fig4_and_text_figures.csv`; NAV DHS on CelebFOM is left out: Naver has no similarity
  call, and counts such as "902 of 3,200" repeat a percentage already counted);
- the per-celebrity means of Tables 3 (CelebDF) and 5 (VoxCelebTH): per identity, the
  mean confidence of its real images (Reference), of its deepfakes (Target) and the mean
  similarity of its deepfakes to their real image (Similarity), over the images that got
  a value, 0 where none did: 16 (dataset, vendor, column) groups.
and, derived from Table 5 (one real image per VoxCelebTH celebrity, so its Reference column is
per image), the share of real images named with confidence >= 99 per vendor: how genuine
recognition falls with tau (family "genuine", 3 targets).
Tolerances (the issue's): a figure within max(5 pp, 2 binomial SE); "ranging from a to b" as
the min and max over the five datasets, each within 5 pp; an upper bound respected + 2 SE;
per-identity means within 15 pp and the mean over the 16 groups of the 1-Wasserstein
distance between the paper's per-celebrity values and ours at most 8 pp.

`evaluate(results)` computes every simulated figure from per-(seed, dataset, vendor)
recognition results (the calibration engine's or the full cohort's) in NumPy.
Everything it describes is SIMULATED.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

from dicore.core.vocab import DEFAULT_BETA, DEFAULT_GAMMA
from simulators.policies import DATASETS
from simulators.simulate import NO_NAME

VENDOR_OF_API = {"AWS": "aws", "MS": "azure", "NAV": "naver"}
BETA, GAMMA = DEFAULT_BETA, DEFAULT_GAMMA  # the paper's 90 and 80 (Figure 4 captions d, e)
FIGURE_METRICS = ("DHF", "DHC", "DHS", "SIC")
PER_IDENTITY_DATASETS = ("CelebDF", "VoxCelebTH")
COLUMNS = {"aws": ("reference", "target", "similarity"), "azure": ("reference", "target", "similarity"),
           "naver": ("reference", "target")}  # fmt: skip
PREFIX = {"aws": "aws", "azure": "ms", "naver": "nav"}
MEAN_TOLERANCE, W1_TOLERANCE = 15.0, 8.0
GENUINE_TAU = 99.0
GENUINE_DATASET = "VoxCelebTH"  # one real image per celebrity: Table 5's Reference is per image


@lru_cache(maxsize=1)
def genuine_shares() -> dict[str, float]:
    """vendor -> share (percent) of VoxCelebTH's real images that got a value with
    confidence >= 99 (Table 5: one real image per celebrity, so each Reference is one
    image's confidence). How genuine recognition falls from the floor to tau = 99."""
    out = {}
    for v in COLUMNS:
        ref = per_identity()[GENUINE_DATASET, v, "reference"]
        pos = ref[ref > 0]
        out[v] = 100.0 * float(np.mean(pos >= GENUINE_TAU))
    return out


def _csv(name: str) -> list[dict[str, str]]:
    text = resources.files("dicore").joinpath("data", "paper", name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


@dataclasses.dataclass(frozen=True)
class Figure:
    """One stated Figure 4 figure. kind: exact | range_min | range_max | maximum | upper_bound;
    dataset is None for figures over the five datasets."""

    metric: str
    vendor: str
    dataset: str | None
    kind: str
    value: float
    sentence: str

    @property
    def label(self) -> str:
        where = self.dataset or {"range_min": "min over datasets", "range_max": "max over datasets",
                                 "maximum": "max over datasets", "upper_bound": "every dataset"}[self.kind]  # fmt: skip
        return f"{self.metric} {self.vendor} {where}"


def _kind(value_kind: str) -> str:
    for k in ("range_min", "range_max", "upper_bound", "maximum"):
        if value_kind.startswith(k):
            return k
    return "exact"  # exact, rounded, "exact (MS maximum...)"


@lru_cache(maxsize=1)
def figures() -> tuple[Figure, ...]:
    """The 20 figures (see the module docstring for what is left out)."""
    out = []
    for r in _csv("fig4_and_text_figures.csv"):
        if r["metric"] not in FIGURE_METRICS:
            continue
        vendor = VENDOR_OF_API[r["api"]]
        if r["metric"] == "DHS" and vendor == "naver":
            continue  # Naver has no similarity call; the paper's 42.3% cannot be simulated
        dataset = r["dataset"] if r["dataset"] in DATASETS else None
        out.append(
            Figure(
                r["metric"],
                vendor,
                dataset,
                _kind(r["value_kind"]),
                float(r["value"]),
                r["sentence"],
            )
        )
    return tuple(out)


@lru_cache(maxsize=1)
def per_identity() -> dict[tuple[str, str, str], np.ndarray]:
    """(dataset, vendor, column) -> the paper's per-celebrity values (percent, table order)."""
    rows = _csv("per_celebrity_celebdf_voxcelebth.csv")
    out: dict[tuple[str, str, str], np.ndarray] = {}
    for d in PER_IDENTITY_DATASETS:
        sub = [r for r in rows if r["dataset"] == d]
        for v, cols in COLUMNS.items():
            for c in cols:
                out[d, v, c] = np.array([float(r[f"{PREFIX[v]}_{c}"]) for r in sub])
    return out


def wasserstein_1(a: np.ndarray, b: np.ndarray) -> float:
    """1-Wasserstein distance between two empirical distributions on the line."""
    a, b = np.sort(np.asarray(a, float)), np.sort(np.asarray(b, float))
    if len(a) == len(b):
        return float(np.mean(np.abs(a - b)))
    q = np.linspace(0, 1, 2001)[1:-1]
    return float(np.mean(np.abs(np.quantile(a, q) - np.quantile(b, q))))


def tolerance(value: float, n: float) -> float:
    """max(5 pp, 2 binomial SE at the paper's value with our denominator n)."""
    p = min(max(value / 100.0, 0.0), 1.0)
    se = 100.0 * np.sqrt(p * (1 - p) / n) if n > 0 else 0.0
    return max(5.0, 2.0 * se)


# -- the simulated figures ----------------------------------------------------------------


def _group_stats(dr, real, fake, similarity: np.ndarray | None) -> dict[str, Any]:
    """Every metric of one (dataset, vendor) group and its per-identity means."""
    t = dr.fake_target
    real_named = real.index != NO_NAME
    fake_named = fake.index != NO_NAME
    by_target = (fake.index == t) & (real.index[dr.fake_real] == t)
    by_reference = np.zeros_like(by_target)
    if dr.spec.method == "synthesis":
        r = dr.fake_reference  # real image r is the first of identity r (see cohort.draw)
        by_reference = (fake.index == r) & (real.index[r] == r) & ~by_target
    ta = by_target | by_reference
    real_conf = np.where(real_named, real.confidence, 0.0)
    fake_conf = fake.confidence
    dhf = fake_named & (np.nan_to_num(fake_conf, nan=-1.0) > real_conf[dr.fake_real])
    n_fake, n_named = len(t), int(fake_named.sum())
    out: dict[str, Any] = {
        "n": {"TA": n_fake, "NA": n_fake, "DHF": n_fake, "DHC": n_named},
        "TA": 100.0 * ta.mean(),
        "NA": 100.0 * fake_named.mean(),
        "DHF": 100.0 * dhf.mean(),
        "DHC": 100.0 * float(np.mean(fake_conf[fake_named] > BETA)) if n_named else np.nan,
        "FAKECONF": float(np.mean(fake_conf[fake_named])) if n_named else np.nan,
    }
    n_id = dr.spec.n_identities
    # SIC counts the identity a fake impersonates: a blend named as its reference credits
    # the reference (dicore.core.metrics, the same rule)
    hit = np.bincount(t[by_target], minlength=n_id) > 0
    has = np.bincount(t, minlength=n_id) > 0
    if dr.spec.method == "synthesis":
        hit |= np.bincount(dr.fake_reference[by_reference], minlength=n_id) > 0
        has |= np.bincount(dr.fake_reference, minlength=n_id) > 0
    out["SIC"] = 100.0 * hit[has].mean()
    out["n"]["SIC"] = int(has.sum())
    unnamed = ~fake_named
    if similarity is not None and unnamed.any():
        out["DHS"] = 100.0 * float(np.mean(similarity[unnamed] > GAMMA))
        out["n"]["DHS"] = int(unnamed.sum())
    else:
        out["DHS"], out["n"]["DHS"] = np.nan, 0

    def means(ids, values, ok):
        s = np.bincount(ids[ok], weights=values[ok], minlength=n_id)
        c = np.bincount(ids[ok], minlength=n_id)
        return np.where(c > 0, s / np.maximum(c, 1), 0.0)

    ident = {
        "reference": means(dr.real_identity, np.nan_to_num(real.confidence), real_named),
        "target": means(t, np.nan_to_num(fake_conf), fake_named),
    }
    if similarity is not None:
        ident["similarity"] = means(t, similarity, np.isfinite(similarity))
    out["identity"] = ident
    own = real.index == dr.real_identity
    out["genuine"] = (
        int(own.sum()),
        int((own & (np.nan_to_num(real.confidence) >= GENUINE_TAU)).sum()),
    )
    named_conf = real.confidence[real_named]
    out["REAL99"] = (
        100.0 * float(np.mean(named_conf >= GENUINE_TAU)) if real_named.any() else np.nan
    )
    out["n"]["REAL99"] = int(real_named.sum())
    return out


def group_stats(items) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """items: iterable of (seed, dataset, vendor, draws, real SimResult, fake SimResult,
    similarity percent of each fake or None) -> (dataset, vendor) -> per-seed stats."""
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for _s, d, v, dr, real, fake, sim in items:
        out.setdefault((d, v), []).append(_group_stats(dr, real, fake, sim))
    return out


def evaluate(
    stats: dict[tuple[str, str], list[dict[str, Any]]], cells: dict | None = None
) -> dict[str, Any]:
    """Every target against the simulated stats (mean over seeds for rates; per-identity
    figures per seed, then averaged). Returns {"rows": [...], "summary": {...}}: one row per
    target with family, label, simulated, paper, difference, tolerance, met."""
    from simulators.calibration import paper_cells  # the 30 cells (Table 2)

    def mean_of(d, v, m):
        vals = [s[m] for s in stats.get((d, v), []) if np.isfinite(s[m])]
        return float(np.mean(vals)) if vals else np.nan

    def n_of(d, v, m):
        return float(np.mean([s["n"][m] for s in stats[d, v]]))

    rows = []
    for (d, v, m), paper in sorted((cells or paper_cells()).items()):
        if (d, v) not in stats:
            continue
        sim = mean_of(d, v, m)
        tol = tolerance(paper, n_of(d, v, m))
        rows.append({"family": "TA/NA", "label": f"{m} {v} {d}", "simulated": sim, "paper": paper,
                     "difference": sim - paper, "tolerance": tol, "met": abs(sim - paper) <= tol})  # fmt: skip
    for f in figures():
        per = {d: mean_of(d, f.vendor, f.metric) for d in DATASETS if (d, f.vendor) in stats}
        per = {d: x for d, x in per.items() if np.isfinite(x)}
        if not per:
            continue
        if f.kind == "exact":
            if f.dataset not in per:
                continue
            sim, n = per[f.dataset], n_of(f.dataset, f.vendor, f.metric)
            tol = tolerance(f.value, n)
            met = abs(sim - f.value) <= tol
        elif f.kind in ("range_min", "range_max", "maximum"):
            pick = min if f.kind == "range_min" else max
            d = pick(per, key=lambda k: per[k])
            sim = per[d]
            tol = 5.0 if f.kind != "maximum" else tolerance(f.value, n_of(d, f.vendor, f.metric))
            met = abs(sim - f.value) <= tol
        else:  # upper bound on every dataset: the largest must stay under value + 2 SE
            d = max(per, key=lambda k: per[k])
            sim = per[d]
            tol = (
                2.0
                * 100.0
                * np.sqrt(f.value / 100 * (1 - f.value / 100) / n_of(d, f.vendor, f.metric))
            )
            met = sim < f.value + tol
        rows.append({"family": "Figure 4", "label": f.label, "simulated": sim, "paper": f.value,
                     "difference": sim - f.value, "tolerance": tol, "met": bool(met), "kind": f.kind})  # fmt: skip
    for v, paper in genuine_shares().items():
        if (GENUINE_DATASET, v) not in stats:
            continue
        sim = mean_of(GENUINE_DATASET, v, "REAL99")
        tol = tolerance(paper, n_of(GENUINE_DATASET, v, "REAL99"))
        rows.append({"family": "genuine", "label": f"real >= 99 {v} {GENUINE_DATASET}", "simulated": sim,
                     "paper": paper, "difference": sim - paper, "tolerance": tol,
                     "met": bool(abs(sim - paper) <= tol)})  # fmt: skip
    w1s = []
    for (d, v, c), paper in per_identity().items():
        if (d, v) not in stats:
            continue
        ours = [s["identity"][c] for s in stats[d, v]]
        sim = float(np.mean([o.mean() for o in ours]))
        w1 = float(np.mean([wasserstein_1(o, paper) for o in ours]))
        w1s.append(w1)
        rows.append({"family": "per-identity", "label": f"{c} {v} {d}", "simulated": sim,
                     "paper": float(paper.mean()), "difference": sim - float(paper.mean()),
                     "tolerance": MEAN_TOLERANCE, "met": abs(sim - paper.mean()) <= MEAN_TOLERANCE,
                     "w1": w1})  # fmt: skip
    summary: dict[str, Any] = {}
    for fam in ("TA/NA", "Figure 4", "per-identity", "genuine"):
        sel = [r for r in rows if r["family"] == fam]
        summary[fam] = {"met": sum(r["met"] for r in sel), "of": len(sel),
                        "max_abs_error_pp": max((abs(r["difference"]) for r in sel), default=np.nan)}  # fmt: skip
    summary["per-identity"]["mean_w1_pp"] = float(np.mean(w1s)) if w1s else np.nan
    summary["genuine_drop"] = genuine_drop(stats)
    # paper, section 7: MS's named deepfakes average > 87.25% even on its worst dataset
    ms = [mean_of(d, "azure", "FAKECONF") for d in DATASETS if (d, "azure") in stats]
    summary["ms_fake_confidence_min"] = float(np.nanmin(ms)) if np.isfinite(ms).any() else np.nan
    summary["per-identity"]["w1_met"] = bool(w1s) and float(np.mean(w1s)) <= W1_TOLERANCE
    return {"rows": rows, "summary": summary}


def genuine_drop(stats) -> dict[str, dict[str, float]]:
    """vendor -> genuine recognitions (real images named as their own celebrity) at the floor,
    the share of them lost at tau = 99, and that share's binomial SE, pooled over datasets
    and seeds (issue item 4: the loss must be measurable, >= 3 SE)."""
    out: dict[str, dict[str, float]] = {}
    for (_d, v), per_seed in stats.items():
        acc = out.setdefault(v, {"at_floor": 0.0, "at_99": 0.0})
        for st in per_seed:
            acc["at_floor"] += st["genuine"][0]
            acc["at_99"] += st["genuine"][1]
    for acc in out.values():
        n = acc["at_floor"]
        lost = (n - acc["at_99"]) / n if n else 0.0
        acc["lost"] = lost
        p = min(max(lost, 1e-3), 1 - 1e-3)
        acc["se"] = float(np.sqrt(p * (1 - p) / n)) if n else np.inf
    return out


def print_table(ev: dict[str, Any], log=print) -> None:
    for r in ev["rows"]:
        extra = f"  W1 {r['w1']:.1f}" if "w1" in r else ""
        log(f"{r['family']:<12} {r['label']:<40} {r['simulated']:7.1f} {r['paper']:7.1f} "
            f"{r['difference']:+7.1f} tol {r['tolerance']:4.1f} {'ok' if r['met'] else 'MISS'}{extra}")  # fmt: skip
    for fam, s in ev["summary"].items():
        log(f"{fam}: {s}")
