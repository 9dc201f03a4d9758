"""Fit the cohort and vendor parameters to the paper's 30 TA/NA cells (Table 2, asr_before).

Parameters, none specific to a cell:
- per dataset: `level` (median cosine of a fake to its identity direction) and `spread`;
- AWS and MS: one cosine `threshold` (shared: the 55 vs 70 floors differ only in the
  confidence mapping), a false-name rate on unknown faces each (it sets N distractors), a
  coverage share each (the same for every dataset), and `confidence_k` from the paper's
  confidence facts (MS mean confidence on named fakes > 87.25%; DHC ranges);
- Naver: N distractors and a known count per identity pool (CelebDF and CelebFOM share
  their 58 people, so one count).
The fit uses common random numbers (every vector drawn once, `cohort.draw`; recombined per
parameter vector) and a precomputed table of the distractor maximum's quantile function.
`calibration_table` reruns the full cohort simulation (exact quantiles) over seeds.

Over 400 lines because the fit, its objective and its provenance are one unit: the
parameters file it writes must be reproducible from this module alone.
"""

from __future__ import annotations

import copy
import csv
import datetime as _dt
import io
from importlib import resources
from typing import Any, cast

import numpy as np
from scipy import optimize, special

from dicore.core.vocab import DEFAULT_BETA, DEFAULT_GAMMA
from simulators import cohort
from simulators.policies import DATASETS, EMBEDDING_DIM, build_policies, load_params

VENDOR_OF_API = {"AWS": "aws", "MS": "azure", "NAV": "naver"}
METRIC_OF_ATTACK = {"targeted": "TA", "nontargeted": "NA"}
POOLS = ("CelebDF", "FCelebDF", "VoxCelebTH", "CelebBlend")  # CelebFOM uses CelebDF's pool


def paper_cells() -> dict[tuple[str, str, str], float]:
    """(dataset, vendor, metric) -> the paper's asr_before (percent), from packaged Table 2."""
    text = resources.files("dicore").joinpath("data", "paper", "table2_defense.csv").read_text()
    cells = {}
    for row in csv.DictReader(io.StringIO(text)):
        if row["dataset"] in DATASETS:
            key = (row["dataset"], VENDOR_OF_API[row["api"]], METRIC_OF_ATTACK[row["attack"]])
            cells[key] = float(row["asr_before"])
    return cells


# -- fast engine ---------------------------------------------------------------------------


class _MaxTable:
    """Quantile of the max of N random cosines as a function of its tail probability p
    (1 - u**(1/N)), tabulated on a log grid: np.interp instead of betaincinv per call."""

    def __init__(self, dim: int = EMBEDDING_DIM):
        a = (dim - 1) / 2.0
        self.logp = np.linspace(np.log(1e-14), 0.0, 4000)
        self.value = 1.0 - 2.0 * special.betaincinv(a, a, np.exp(self.logp))

    def __call__(self, logu: np.ndarray, n: float) -> np.ndarray:
        logp = np.log(-np.expm1(logu / n))
        return np.interp(logp, self.logp, self.value)


class Engine:
    """All draws for `seeds` at `scale`, and the TA/NA cells for any parameter dict."""

    def __init__(self, scale: str = "paper", seeds: tuple[int, ...] = (0, 1, 2)):
        self.scale, self.seeds = scale, tuple(seeds)
        self.table = _MaxTable()
        self.draws = {(s, d): cohort.draw(d, scale, s) for s in self.seeds for d in DATASETS}
        self.logu: dict[tuple[int, str, str], tuple[np.ndarray, np.ndarray]] = {}
        self._dmax: dict[tuple[int, str, str, int], np.ndarray] = {}
        for (s, d), dr in self.draws.items():
            n = dr.spec.n_real + dr.spec.n_fake
            for v in ("aws", "azure", "naver"):
                rng = np.random.default_rng(cohort._key(s, "distractors", v, d, scale))
                u = rng.random(n)
                self.logu[s, d, v] = (np.log(u), rng.random(n))  # arg drawn later from N

    def results(self, params: dict[str, Any], vendors=("aws", "azure", "naver")):
        """{(seed, dataset, vendor): (draws, real SimResult, fake SimResult)}."""
        from simulators.simulate import decide

        pols = build_policies(params)
        out = {}
        for (s, d), dr in self.draws.items():
            dp = params["cohort"]["datasets"][d]
            coef = cohort.fake_coefficients(dr, dp["level"], dp["spread"], cohort.pair_context(params))
            fake_cos = np.einsum("kn,kng->ng", coef.astype(np.float32), dr.p)
            nr = dr.spec.n_real
            for v in vendors:
                pol = pols[v]
                logu, ua = self.logu[s, d, v]
                key = (s, d, v, pol.n_distractors)
                if key not in self._dmax:  # N is an integer: revisited often during a fit
                    self._dmax[key] = self.table(logu, pol.n_distractors)
                dmax = self._dmax[key]
                darg = (ua * pol.n_distractors).astype(int)
                known = cohort.known_mask(pol, dr.spec, s)
                real = decide(pol, dr.real_cos, known, dmax[:nr], darg[:nr])
                fake = decide(pol, fake_cos, known, dmax[nr:], darg[nr:])
                out[s, d, v] = (dr, real, fake)
        return out

    def cells(self, params, vendors=("aws", "azure", "naver")) -> dict[tuple[str, str, str], float]:
        acc: dict[tuple[str, str, str], list[float]] = {}
        for (_, d, v), (dr, real, fake) in self.results(params, vendors).items():
            ta, na = cohort.ta_na(dr, real, fake)
            acc.setdefault((d, v, "TA"), []).append(ta)
            acc.setdefault((d, v, "NA"), []).append(na)
        return {k: float(np.mean(x)) for k, x in acc.items()}


# -- parameter vector <-> params dict --------------------------------------------------------


def _pack(params) -> np.ndarray:
    ds = params["cohort"]["datasets"]
    v = params["vendors"]
    return np.array(
        [special.logit(ds[d]["level"] / cohort.CAP) for d in DATASETS]
        + [np.log(ds[d]["spread"]) for d in DATASETS]
        + [v["aws"]["threshold"], special.logit(v["aws"]["false_name_rate"]),
           special.logit(v["azure"]["false_name_rate"])]
    )  # fmt: skip


def _unpack(x: np.ndarray, base) -> dict[str, Any]:
    p = copy.deepcopy(base)
    for i, d in enumerate(DATASETS):
        p["cohort"]["datasets"][d] = {
            "level": float(cohort.CAP * special.expit(x[i])),
            "spread": float(np.exp(x[5 + i])),
        }
    p["vendors"]["aws"]["threshold"] = p["vendors"]["azure"]["threshold"] = float(x[10])
    p["vendors"]["aws"]["false_name_rate"] = float(special.expit(x[11]))
    p["vendors"]["azure"]["false_name_rate"] = float(special.expit(x[12]))
    return p


BOUNDS = [(-6.0, 6.0)] * 5 + [(np.log(0.05), np.log(3.0))] * 5 + [(0.05, 0.45), (-7.0, 3.0), (-7.0, 3.0)]


def _loss(sim: dict, paper: dict) -> float:
    err = np.array([sim[k] - paper[k] for k in sim])
    # squares, plus a push on cells outside 4 pp: the goal is every cell within 5 pp
    return float(np.sum(err**2) + 10.0 * np.sum(np.maximum(np.abs(err) - 4.0, 0.0) ** 2))


def _set_share(p, vendor: str, share: float) -> None:
    p["vendors"][vendor]["coverage"] = {d: float(share) for d in DATASETS}


def fit(
    scale: str = "paper",
    seeds: tuple[int, ...] = (0, 1, 2),
    base: dict[str, Any] | None = None,
    rounds: int = 2,
    maxfev: int = 1500,
    log=print,
) -> dict[str, Any]:
    """Refit every parameter; returns a new params dict (without provenance)."""
    base = copy.deepcopy(load_params() if base is None else base)
    paper = paper_cells()
    eng = Engine(scale, seeds)
    ms_vendors = ("aws", "azure")
    paper_ms = {k: v for k, v in paper.items() if k[1] in ms_vendors}

    def f(x, p0):
        return _loss(eng.cells(_unpack(x, p0), ms_vendors), paper_ms)

    params = base
    best = (f(_pack(params), params), params)
    for r in range(rounds):
        res = optimize.minimize(
            f, np.clip(_pack(params), *np.array(BOUNDS).T), args=(params,), method="Powell",
            bounds=BOUNDS, options={"maxfev": maxfev, "xtol": 1e-3, "ftol": 1e-4},
        )  # fmt: skip
        if res.fun < best[0]:
            best = (float(res.fun), _unpack(res.x, params))
        params = copy.deepcopy(best[1])
        log(f"round {r}: AWS/MS loss {best[0]:.2f} after {res.nfev} evaluations")
        for vendor in ms_vendors:  # coverage: a grid (counts are integers)
            for share in np.arange(0.50, 1.0001, 0.01):
                p = copy.deepcopy(params)
                _set_share(p, vendor, round(float(share), 2))
                loss = _loss(eng.cells(p, ms_vendors), paper_ms)
                if loss < best[0]:
                    best = (loss, p)
            params = copy.deepcopy(best[1])
            log(f"round {r}: {vendor} coverage {params['vendors'][vendor]['coverage']['CelebDF']:.2f} "
                f"(loss {best[0]:.2f})")
    params = fit_naver(eng, params, paper, log)
    params = fit_confidence(eng, params, log)
    params = fit_similarity(eng, params, log)
    return params


def fit_naver(eng: Engine, params, paper, log=print):
    """N distractors (grid) and, per identity pool, the known count that fits Naver's TA."""
    best = None
    for n in np.unique(np.round(np.logspace(1, 5, 33)).astype(int)):
        p = copy.deepcopy(params)
        p["vendors"]["naver"]["n_distractors"] = int(n)
        total, shares = 0.0, {}
        for pool in POOLS:
            dsets = [d for d in DATASETS if cohort.PAPER[d].pool == pool]
            n_id = cohort.PAPER[dsets[0]].n_identities
            errs = []
            for k in range(n_id + 1):
                for d in dsets:
                    p["vendors"]["naver"]["coverage"][d] = k / n_id
                eng_sub = _subset(eng, dsets)
                sim = eng_sub.cells(p, ("naver",))
                errs.append(sum((sim[d, "naver", "TA"] - paper[d, "naver", "TA"]) ** 2 for d in dsets))
                if k >= 3 and errs[-1] > errs[-2] > errs[-3]:
                    break  # TA grows with k: past the minimum
            k = int(np.argmin(errs))
            total += errs[k]
            for d in dsets:
                shares[d] = round(k / n_id, 4)
        if best is None or total < best[0]:
            best = (total, int(n), shares)
    best = cast(tuple[float, int, dict[str, float]], best)  # the N grid is not empty
    params = copy.deepcopy(params)
    params["vendors"]["naver"]["n_distractors"] = best[1]
    params["vendors"]["naver"]["coverage"] = {d: best[2][d] for d in DATASETS}
    log(f"naver: N = {best[1]}, coverage {best[2]} (TA loss {best[0]:.2f})")
    return params


def _subset(eng: Engine, dsets) -> Engine:
    sub = object.__new__(Engine)
    sub.__dict__.update(eng.__dict__)
    sub.draws = {k: v for k, v in eng.draws.items() if k[1] in dsets}
    return sub


# Paper, section 5.4 (Fig. 4d): DHC ranges over datasets; section 7: MS mean confidence on
# fakes it names > 87.25% "even in the worst case".
DHC_RANGE = {"aws": (27.3, 73.4), "azure": (42.0, 86.5)}
MS_MIN_MEAN_CONFIDENCE = 87.25


def confidence_facts(eng: Engine, params) -> dict[str, dict[str, dict[str, float]]]:
    """Per vendor and dataset: DHC (share of targeted successes with confidence > 90) and the
    mean confidence of named fakes, pooled over the engine's seeds."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    acc: dict[tuple[str, str], list] = {}
    for (_, d, v), (dr, _real, fake) in eng.results(params, ("aws", "azure")).items():
        acc.setdefault((v, d), []).append((dr, fake))
    for (v, d), items in acc.items():
        hit = np.concatenate([f.index == dr.fake_target for dr, f in items])
        conf = np.concatenate([f.confidence for _, f in items])
        named = ~np.isnan(conf)
        out.setdefault(v, {})[d] = {
            "dhc": float(100 * np.mean(conf[hit] > DEFAULT_BETA)) if hit.any() else float("nan"),
            "mean_confidence_named": float(np.mean(conf[named])) if named.any() else float("nan"),
        }
    return out


def fit_confidence(eng: Engine, params, log=print):
    """confidence_k per vendor (it never changes TA/NA). MS: the smallest k whose worst-case
    mean confidence on named fakes is above 87.25% (+1 pp margin). AWS: the k whose DHC
    (share of targeted successes above 90%) best matches the paper's range over datasets."""
    params = copy.deepcopy(params)
    grid = np.arange(5.0, 120.01, 1.0)
    for v in ("aws", "azure"):
        best = None
        for k in grid:
            p = copy.deepcopy(params)
            p["vendors"][v]["confidence_k"] = float(k)
            facts = confidence_facts(eng, p)[v]
            if v == "azure":
                worst = min(x["mean_confidence_named"] for x in facts.values())
                if worst >= MS_MIN_MEAN_CONFIDENCE + 1.0:
                    best = (worst, float(k))
                    break
                continue
            dhc = [x["dhc"] for x in facts.values() if np.isfinite(x["dhc"])]
            loss = (min(dhc) - DHC_RANGE[v][0]) ** 2 + (max(dhc) - DHC_RANGE[v][1]) ** 2
            if best is None or loss < best[0]:
                best = (loss, float(k))
        if best is None:
            raise RuntimeError(f"{v}: no confidence slope meets the paper's confidence facts")
        params["vendors"][v]["confidence_k"] = best[1]
        log(f"{v}: confidence_k = {best[1]:.0f} ({'worst mean confidence' if v == 'azure' else 'DHC-range loss'} {best[0]:.1f})")
    return params


# Paper, section 5.4 (Fig. 4e): "the AWS API achieves the highest DHS percentage for all
# datasets, ranging from 30% to 94.4%" and "a high DHS of 52.6% (MS) ... for deepfakes from
# the CelebFOM dataset". These three figures are all the similarity fit sees: per-dataset DHS
# values are a consequence of the model, not paper values.
DHS_GAMMA = DEFAULT_GAMMA
AWS_DHS_RANGE = (30.0, 94.4)
MS_DHS_CELEBFOM = 52.6
# The similarity mapping must keep real photos right: a same-person pair at cosine 0.5 (the
# cohort's lowest, about w600k_mbf's Macron 2014 vs 2025) at >= 80%, a different-person pair
# at cosine 0.15 (about 3.4 sd of the cohort's different-people cosines) below 50%.
SAME_PERSON_COS, OTHER_PERSON_COS = 0.5, 0.15
PAIR_CONTEXT_GRID = np.round(np.arange(0.02, 0.6001, 0.01), 2)
# The three figures barely identify pair_context: the best loss is flat within seed noise over
# a wide range (about 0.1 to 0.35 at paper scale). Among values within this much of the best
# loss the fit takes the one whose centres sit most centrally in their admissible ranges.
DHS_LOSS_TOLERANCE = 10.0


def similarity_b_bounds(k: float) -> tuple[float, float]:
    """Admissible centres of 100 sigmoid(k (cos - b)) for the photo constraints above."""
    return OTHER_PERSON_COS, SAME_PERSON_COS - float(special.logit(0.8)) / k


def unnamed_pair_cosines(eng: Engine, params) -> dict[tuple[str, str], np.ndarray]:
    """(dataset, vendor) -> cosine between each fake the vendor does not name and its paired
    real image, pooled over the engine's seeds (DHS's denominator; AWS and MS)."""
    from simulators.simulate import NO_NAME

    c = cohort.pair_context(params)
    out: dict[tuple[str, str], list[np.ndarray]] = {}
    for (_, d, v), (dr, _real, fake) in eng.results(params, ("aws", "azure")).items():
        dp = params["cohort"]["datasets"][d]
        pair = np.einsum("kn,kn->n", cohort.fake_coefficients(dr, dp["level"], dp["spread"], c), dr.r)
        out.setdefault((d, v), []).append(pair[fake.index == NO_NAME])
    return {k: np.concatenate(x) for k, x in out.items()}


def dhs_of(pair: np.ndarray, k: float, b: float, gamma: float = DHS_GAMMA) -> float:
    """DHS (percent) of unnamed fakes with paired-real cosines `pair` under the mapping (k, b)."""
    return float(100 * np.mean(100 * special.expit(k * (pair - b)) > gamma)) if pair.size else float("nan")


def dhs_facts(eng: Engine, params) -> dict[str, dict[str, float]]:
    """vendor -> dataset -> DHS (percent, gamma 80) with the params' similarity mappings."""
    out: dict[str, dict[str, float]] = {}
    for (d, v), pair in unnamed_pair_cosines(eng, params).items():
        vp = params["vendors"][v]
        out.setdefault(v, {})[d] = dhs_of(pair, vp["similarity_k"], vp["similarity_b"])
    return out


def _best_b(k: float, losses) -> tuple[float, float]:
    lo, hi = similarity_b_bounds(k)
    grid = np.arange(lo, hi + 1e-9, 0.0025)
    vals = [losses(b) for b in grid]
    i = int(np.argmin(vals))
    return float(vals[i]), round(float(grid[i]), 4)


def fit_similarity(eng: Engine, params, log=print):
    """`pair_context` (grid PAIR_CONTEXT_GRID) and the AWS and MS similarity centres
    `similarity_b` (grids within `similarity_b_bounds`; slopes kept) so that AWS DHS over the
    five datasets spans AWS_DHS_RANGE and MS DHS on CelebFOM is MS_DHS_CELEBFOM. Among
    pair_context values within DHS_LOSS_TOLERANCE of the best loss, the one whose centres sit
    most centrally in their admissible ranges (the largest margin for real photos)."""
    params = copy.deepcopy(params)
    ka, km = params["vendors"]["aws"]["similarity_k"], params["vendors"]["azure"]["similarity_k"]
    lo_t, hi_t = AWS_DHS_RANGE

    def at(c: float):
        p = copy.deepcopy(params)
        p["cohort"]["pair_context"] = float(c)
        pairs = unnamed_pair_cosines(eng, p)

        def aws_loss(b):
            vals = [dhs_of(pairs[d, "aws"], ka, b) for d in DATASETS]
            return (min(vals) - lo_t) ** 2 + (max(vals) - hi_t) ** 2

        la, ba = _best_b(ka, aws_loss)
        lm, bm = _best_b(km, lambda b: (dhs_of(pairs["CelebFOM", "azure"], km, b) - MS_DHS_CELEBFOM) ** 2)
        return la + lm, ba, bm

    def off_centre(ba: float, bm: float) -> float:
        out = 0.0
        for k, b in ((ka, ba), (km, bm)):
            lo, hi = similarity_b_bounds(k)
            out = max(out, abs(b - (lo + hi) / 2) / ((hi - lo) / 2))
        return out

    tried = {float(c): at(c) for c in PAIR_CONTEXT_GRID}
    best = min(t[0] for t in tried.values())
    near = [c for c, t in tried.items() if t[0] <= best + DHS_LOSS_TOLERANCE]
    c = min(near, key=lambda c: (off_centre(*tried[c][1:]), tried[c][0]))
    loss, ba, bm = tried[c]
    params["cohort"]["pair_context"] = float(c)
    params["vendors"]["aws"]["similarity_b"] = ba
    params["vendors"]["azure"]["similarity_b"] = bm
    log(f"similarity: pair_context = {c:.2f} (near-best {min(near):.2f}..{max(near):.2f}), AWS "
        f"similarity_b = {ba:.4f}, MS similarity_b = {bm:.4f} (DHS loss {loss:.1f}, best {best:.1f})")
    return params


# -- the report table ------------------------------------------------------------------------


def calibration_table(
    params: dict[str, Any] | None = None, seeds=(0, 1, 2), scale: str = "paper"
) -> list[dict[str, Any]]:
    """Rows (dataset, vendor, metric, simulated, paper, difference): the full cohort
    simulation (`cohort.run_vendor`, exact distractor maxima) averaged over `seeds`."""
    params = load_params() if params is None else params
    pols = build_policies(params)
    paper = paper_cells()
    acc: dict[tuple[str, str, str], list[float]] = {}
    for s in seeds:
        for d in DATASETS:
            dr = cohort.draw(d, scale, s)
            dp = params["cohort"]["datasets"][d]
            coef = cohort.fake_coefficients(dr, dp["level"], dp["spread"], cohort.pair_context(params))
            for v, pol in pols.items():
                ta, na = cohort.ta_na(dr, *cohort.run_vendor(pol, dr, coef, s, scale))
                acc.setdefault((d, v, "TA"), []).append(ta)
                acc.setdefault((d, v, "NA"), []).append(na)
    rows = []
    for d in DATASETS:
        for v in ("aws", "azure", "naver"):
            for m in ("TA", "NA"):
                sim = float(np.mean(acc[d, v, m]))
                rows.append({"dataset": d, "vendor": v, "metric": m, "simulated": round(sim, 2),
                             "paper": paper[d, v, m], "difference": round(sim - paper[d, v, m], 2)})  # fmt: skip
    return rows


def summarize(rows) -> dict[str, float]:
    err = np.abs([r["difference"] for r in rows])
    return {"max_abs_error_pp": round(float(err.max()), 2), "mean_abs_error_pp": round(float(err.mean()), 2)}


def with_provenance(params, rows, *, command: str, fit_seeds, check_seeds, scale: str):
    """Params plus provenance and the per-cell table. A check-only run keeps the fit's own
    provenance (command, seeds) and records itself as `checked_by`."""
    p = copy.deepcopy(params)
    old = p.get("provenance", {})
    prov = {
        "date": _dt.date.today().isoformat(),
        "command": command,
        "fit": {"scale": scale, "seeds": list(fit_seeds), "engine": "calibration.Engine"},
        "check": {"scale": scale, "seeds": list(check_seeds), "engine": "calibration_table"},
        "source": "paper Table 2 asr_before (dicore/data/paper/table2_defense.csv)",
        "simulated": True,
    }
    if "--check-only" in command and "fit" in old:
        prov.update(command=old["command"], fit=old["fit"], fit_date=old.get("fit_date", old["date"]),
                    checked_by=command)  # fmt: skip
    p["provenance"] = prov
    p["fit"] = {**summarize(rows), "cells": rows}
    return p
