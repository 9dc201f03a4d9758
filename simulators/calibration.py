"""Fit the cohort and the vendors' score models jointly to the paper (`simulators.targets`).

Targets: Table 2's 30 TA/NA cells, the 20 Figure 4 figures for DHF, DHC, DHS and SIC, the
per-celebrity means of Tables 3 and 5 (and their distributions, W1), genuine recognition
from Table 5, and the constraint that genuine recognition falls measurably from the floor to
tau = 99. Parameters (`CONTINUOUS`, `FAME`; 29, none specific to a cell, a dataset x vendor
pair or an identity):
- cohort: per dataset `level`, a spread for face swaps and one for reenactments and blends,
  the pair context; the fame shift of each identity pool but CelebDF's (the reference, 0;
  CelebFOM holds CelebDF's people);
- per vendor: evidence offset and slope (and noise: AWS, MS, Naver each), distractors (AWS,
  MS), similarity centre and slope (AWS, MS), and the fame cut: a vendor knows the
  round(Phi(shift - cut) n) most famous celebrities of a pool (`cohort.known_mask`).
The engine uses common random numbers (every vector and noise draw made once, `cohort.draw`,
`cohort.score_noise`; recombined per parameter vector) and a precomputed table of the
distractor maximum's quantile function. `full_stats` and `calibration_table` rerun the full
cohort simulation (exact quantiles) over seeds.

Over 400 lines because the fit, its objective and its provenance are one unit: the
parameters file it writes must be reproducible from this module alone.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import datetime as _dt
import io
import time as _time
from importlib import resources
from typing import Any

import numpy as np
from scipy import optimize, special

from simulators import cohort, targets
from simulators.policies import (
    AWS_FLOOR,
    AZURE_FLOOR,
    DATASETS,
    EMBEDDING_DIM,
    build_policies,
    load_params,
)
from simulators.wire import reported

VENDOR_OF_API = {"AWS": "aws", "MS": "azure", "NAV": "naver"}
METRIC_OF_ATTACK = {"targeted": "TA", "nontargeted": "NA"}
POOLS = ("CelebDF", "FCelebDF", "VoxCelebTH", "CelebBlend")  # CelebFOM uses CelebDF's pool
NAVER_DISTRACTORS = 100  # fixed: the targets do not identify it (see FIXED)


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
        self._stats: dict[tuple, dict[str, Any]] = {}
        for (s, d), dr in self.draws.items():
            n = dr.spec.n_real + dr.spec.n_fake
            for v in ("aws", "azure", "naver"):
                rng = np.random.default_rng(cohort._key(s, "distractors", v, d, scale))
                u = rng.random(n)
                self.logu[s, d, v] = (np.log(u), rng.random(n))  # arg drawn later from N

    def results(self, params: dict[str, Any], vendors=("aws", "azure", "naver")):
        """{(seed, dataset, vendor): (draws, real SimResult, fake SimResult, similarity)}:
        similarity (percent, per fake, its paired real) is None for Naver."""
        pols = build_policies(params)
        out = {}
        for (s, d), dr in self.draws.items():
            fake_cos, pair = self._fakes(dr, params)
            for v in vendors:
                out[s, d, v] = (dr, *self._one(pols[v], s, d, dr, fake_cos, pair))
        return out

    def _fakes(self, dr, params):
        coef = cohort.dataset_coefficients(dr, params)
        fake_cos = np.einsum("kn,kng->ng", coef.astype(np.float32), dr.p)
        return fake_cos, np.einsum("kn,kn->n", coef, dr.r)

    def _one(self, pol, s, d, dr, fake_cos, pair):
        from simulators.simulate import decide

        v, nr = pol.vendor, dr.spec.n_real
        logu, ua = self.logu[s, d, v]
        key = (s, d, v, pol.n_distractors)
        if key not in self._dmax:  # N is an integer: revisited often during a fit
            self._dmax[key] = self.table(logu, pol.n_distractors)
        dmax = self._dmax[key]
        darg = (ua * pol.n_distractors).astype(int)
        known = cohort.known_mask(pol, dr.spec, s)
        zr, zf = cohort.score_noise(v, d, self.scale, s).split(dr)
        real = decide(pol, dr.real_cos, known, dmax[:nr], darg[:nr], **zr)
        fake = decide(pol, fake_cos, known, dmax[nr:], darg[nr:], **zf)
        sim = pol.similarity_percent(pair) if pol.has_similarity else None
        return real, fake, sim

    def stats(self, params, vendors=("aws", "azure", "naver")):
        """targets.group_stats of the results: (dataset, vendor) -> per-seed stats. A group's
        stats depend only on its dataset's cohort numbers and its vendor's policy: they are
        memoised on those, so a fit step that moves one of them recomputes only its groups."""
        pols = build_policies(params)
        c = cohort.pair_context(params)
        if len(self._stats) > 20000:
            self._stats.clear()
        out: dict[tuple[str, str], list[dict[str, Any]]] = {}
        bare = {v: dataclasses.replace(pols[v], pool_fame=()) for v in vendors}
        for (s, d), dr in self.draws.items():
            dp = params["cohort"]["datasets"][d]
            sp = dr.spec
            fakes = None
            for v in vendors:
                known = pols[v].n_known(sp.pool, sp.n_identities)  # the fame model's effect
                key = (s, d, dp["level"], dp["spread"], c, bare[v], known)
                st = self._stats.get(key)
                if st is None:
                    if fakes is None:
                        fakes = self._fakes(dr, params)
                    real, fake, sim = self._one(pols[v], s, d, dr, *fakes)
                    st = targets.group_stats([(s, d, v, dr, real, fake, sim)])[d, v][0]
                    self._stats[key] = st
                out.setdefault((d, v), []).append(st)
        return out

    def cells(self, params, vendors=("aws", "azure", "naver")) -> dict[tuple[str, str, str], float]:
        acc: dict[tuple[str, str, str], list[float]] = {}
        for (_, d, v), (dr, real, fake, _sim) in self.results(params, vendors).items():
            ta, na = cohort.ta_na(dr, real, fake)
            acc.setdefault((d, v, "TA"), []).append(ta)
            acc.setdefault((d, v, "NA"), []).append(na)
        return {k: float(np.mean(x)) for k, x in acc.items()}


# -- the fitted parameters ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Param:
    """One fitted parameter: where it lives in calibrated.json (one or more paths: a tied
    parameter is written to each), how the optimiser sees it, and what it means."""

    name: str
    paths: tuple[tuple[str, ...], ...]
    transform: str  # id | log | logit | logit_cap (level / CAP)
    bounds: tuple[float, float]  # in the optimiser's coordinates
    meaning: str

    def get(self, params) -> float:
        x = params
        for k in self.paths[0]:
            x = x[k]
        return float(x)

    def set(self, params, value: float) -> None:
        for path in self.paths:
            x = params
            for k in path[:-1]:
                x = x.setdefault(k, {})
            x[path[-1]] = float(value)

    def to_opt(self, value: float) -> float:
        t = self.transform
        if t == "log":
            return float(np.log(value))
        if t == "logit":
            return float(special.logit(value))
        if t == "logit_cap":
            return float(special.logit(value / cohort.CAP))
        return float(value)

    def from_opt(self, y: float) -> float:
        t = self.transform
        if t == "log":
            return float(np.exp(y))
        if t == "logit":
            return float(special.expit(y))
        if t == "logit_cap":
            return float(cohort.CAP * special.expit(y))
        return float(y)


def _ds(d: str, key: str) -> tuple[str, ...]:
    return ("cohort", "datasets", d, key)


CONTINUOUS: tuple[Param, ...] = (
    *(
        Param(
            f"{d} level",
            (_ds(d, "level"),),
            "logit_cap",
            (-6.0, 6.0),
            f"median cosine of a {d} fake to its identity direction",
        )
        for d in DATASETS
    ),  # fmt: skip
    Param(
        "face-swap spread",
        (_ds("CelebDF", "spread"), _ds("FCelebDF", "spread")),
        "log",
        (np.log(0.05), np.log(3.0)),
        "logit-scale spread of the fake-to-identity cosine, face swaps (CelebDF, FCelebDF)",
    ),
    Param(
        "reenactment/blend spread",
        tuple(_ds(d, "spread") for d in ("VoxCelebTH", "CelebFOM", "CelebBlend")),
        "log",
        (np.log(0.05), np.log(3.0)),
        "logit-scale spread of the fake-to-identity cosine, reenactments and blends "
        "(VoxCelebTH, CelebFOM, CelebBlend)",
    ),
    Param(
        "pair context",
        (("cohort", "pair_context"),),
        "logit",
        (-5.0, 2.0),
        "share of a fake's non-identity appearance shared with its paired real image",
    ),
    Param(
        "AWS evidence at cosine 0",
        (("vendors", "aws", "confidence_a"),),
        "id",
        (-12.0, 4.0),
        "logit of AWS's confidence for a median image at top-1 cosine 0",
    ),
    Param(
        "AWS evidence slope",
        (("vendors", "aws", "confidence_k"),),
        "log",
        (np.log(1.0), np.log(60.0)),
        "AWS's evidence (logit) per unit of top-1 cosine",
    ),
    Param(
        "MS evidence at cosine 0",
        (("vendors", "azure", "confidence_a"),),
        "id",
        (-12.0, 4.0),
        "logit of Azure's confidence for a median image at top-1 cosine 0",
    ),
    Param(
        "MS evidence slope",
        (("vendors", "azure", "confidence_k"),),
        "log",
        (np.log(1.0), np.log(60.0)),
        "Azure's evidence (logit) per unit of top-1 cosine",
    ),
    Param(
        "AWS evidence noise",
        (("vendors", "aws", "noise"),),
        "log",
        (np.log(0.05), np.log(8.0)),
        "sd (logit) of AWS's evidence across images and celebrities",
    ),
    Param(
        "MS evidence noise",
        (("vendors", "azure", "noise"),),
        "log",
        (np.log(0.05), np.log(8.0)),
        "sd (logit) of Azure's evidence across images and celebrities",
    ),
    Param(
        "AWS distractors",
        (("vendors", "aws", "n_distractors"),),
        "log",
        (0.0, np.log(1e7)),
        "celebrities in AWS's gallery outside the datasets (with the score model they set "
        "the share of unknown faces AWS names, its false-name rate)",
    ),
    Param(
        "MS distractors",
        (("vendors", "azure", "n_distractors"),),
        "log",
        (0.0, np.log(1e7)),
        "celebrities in Azure's gallery outside the datasets (they set Azure's false-name rate)",
    ),
    Param(
        "NAV evidence at cosine 0",
        (("vendors", "naver", "confidence_a"),),
        "id",
        (-12.0, 4.0),
        "logit of Naver's confidence for a median image at top-1 cosine 0",
    ),
    Param(
        "NAV evidence slope",
        (("vendors", "naver", "confidence_k"),),
        "log",
        (np.log(0.5), np.log(60.0)),
        "Naver's evidence (logit) per unit of top-1 cosine",
    ),
    Param(
        "NAV evidence noise",
        (("vendors", "naver", "noise"),),
        "log",
        (np.log(0.05), np.log(8.0)),
        "sd (logit) of Naver's evidence across images and celebrities",
    ),
    Param(
        "AWS similarity centre",
        (("vendors", "aws", "similarity_b"),),
        "id",
        (0.0, 0.6),
        "cosine at which AWS CompareFaces similarity is 50%",
    ),
    Param(
        "MS similarity centre",
        (("vendors", "azure", "similarity_b"),),
        "id",
        (0.0, 0.6),
        "cosine at which Azure verify confidence is 50%",
    ),
    Param(
        "AWS similarity slope",
        (("vendors", "aws", "similarity_k"),),
        "log",
        (np.log(1.0), np.log(40.0)),
        "slope of AWS similarity = 100 sigmoid(k (cos - centre))",
    ),
    Param(
        "MS similarity slope",
        (("vendors", "azure", "similarity_k"),),
        "log",
        (np.log(1.0), np.log(40.0)),
        "slope of Azure's verify confidence = 100 sigmoid(k (cos - centre))",
    ),
)
POOL_SIZE = {pool: cohort.PAPER[pool].n_identities for pool in POOLS}  # CelebDF's: also CelebFOM's
FAME_REFERENCE_POOL = "CelebDF"  # its fame shift is 0: the other pools' are relative to it
FAME: tuple[Param, ...] = (
    Param(
        "AWS fame cut",
        (("vendors", "aws", "fame_cut"),),
        "id",
        (-4.0, 4.0),
        "how deep AWS's celebrity gallery goes: it knows a celebrity whose fame (standard "
        "normal, plus its pool's shift) clears this cut",
    ),
    Param(
        "MS fame cut",
        (("vendors", "azure", "fame_cut"),),
        "id",
        (-4.0, 4.0),
        "how deep Azure's celebrity gallery goes (same fame scale)",
    ),
    Param(
        "NAV fame cut",
        (("vendors", "naver", "fame_cut"),),
        "id",
        (-4.0, 4.0),
        "how deep Naver's celebrity gallery goes (a Korean service: high, it knows few of "
        "these celebrities)",
    ),
    *(
        Param(
            f"{pool} fame",
            (("cohort", "fame", pool),),
            "id",
            (-4.0, 4.0),
            f"how famous {pool}'s celebrities are, relative to CelebDF's (0; CelebDF's are "
            "Western stars)",
        )
        for pool in POOLS
        if pool != FAME_REFERENCE_POOL
    ),
)
FAME_KIND = "stepwise"  # a threshold on the fame scale: the loss moves when a known count does


def start_params() -> dict[str, Any]:
    """Where `dicore calibrate` starts from scratch: round values (two significant digits)
    near DESIGN.md's prototype and earlier fits; the fit moves every one of them."""
    levels = {
        "CelebDF": 0.13,
        "FCelebDF": 0.081,
        "VoxCelebTH": 0.58,
        "CelebFOM": 0.36,
        "CelebBlend": 0.095,
    }
    spreads = {
        "CelebDF": 0.85,
        "FCelebDF": 0.85,
        "VoxCelebTH": 1.4,
        "CelebFOM": 1.4,
        "CelebBlend": 1.4,
    }

    def vendor(a: float, k: float, noise: float, n: float, cut: float, **extra) -> dict[str, Any]:
        return {"confidence_a": a, "confidence_k": k, "noise": noise, "n_distractors": n,
                "fame_cut": cut, **extra}  # fmt: skip

    return {
        "schema": 2,
        "cohort": {
            "datasets": {d: {"level": levels[d], "spread": spreads[d]} for d in DATASETS},
            "pair_context": 0.12,
            "fame": {"CelebDF": 0.0, "FCelebDF": 1.4, "VoxCelebTH": 0.45, "CelebBlend": 1.2},
        },
        "scores": {"identity_share": 0.0},
        "vendors": {
            "aws": vendor(-2.8, 12.5, 2.2, 18000, -0.85, similarity_k=23.0, similarity_b=0.24),
            "azure": vendor(-4.2, 17.0, 2.2, 8, -1.55, similarity_k=26.0, similarity_b=0.30),
            "naver": vendor(-2.1, 7.8, 2.2, NAVER_DISTRACTORS, 2.5, lean_share=0.9),
        },
    }


def _pack(params) -> np.ndarray:
    return np.array([p.to_opt(p.get(params)) for p in CONTINUOUS])


def _unpack(x: np.ndarray, base) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for p, y in zip(CONTINUOUS, x, strict=True):
        p.set(out, p.from_opt(float(y)))
    return out


BOUNDS = [p.bounds for p in CONTINUOUS]

# Similarity must keep real photos right (w600k_mbf): a same-person pair at cosine 0.5 (the
# cohort's lowest, about Macron 2014 vs 2025) at >= 80% for AWS (CompareFaces' default match
# threshold) and >= 50% for Azure (verify's isIdentical); a different-person pair at cosine
# 0.15 (about 3.4 sd of different people's cosines) below 50%.
SAME_PERSON_COS, OTHER_PERSON_COS = 0.5, 0.15
SAME_PERSON_SIMILARITY = {"aws": 80.0, "azure": 50.0}


def similarity_b_bounds(k: float, vendor: str = "aws") -> tuple[float, float]:
    """Admissible centres of 100 sigmoid(k (cos - b)) for the photo constraints above."""
    return OTHER_PERSON_COS, SAME_PERSON_COS - float(
        special.logit(SAME_PERSON_SIMILARITY[vendor] / 100.0)
    ) / k


# Recognition must keep real photos right too (issue item 5: the same person named with high
# confidence, different people not): a median real image of a known celebrity (cosine 0.74 to
# its identity, the cohort's lowest; real photos to their gallery template are 0.87..1.0)
# at >= 90%, and a different person (cosine 0.15) under the floor (Naver: under 50%).
PHOTO_COS, PHOTO_CONFIDENCE = cohort.REAL_COS[0], 90.0
OTHER_PERSON_CONFIDENCE = {"aws": AWS_FLOOR, "azure": AZURE_FLOOR, "naver": 50.0}
# Paper, section 7: "whenever the MS API predicts the deepfake as a celebrity, it predicts with
# high confidence on all attack datasets (i.e., greater than 87.25% on average, even in the
# worst case)" (dicore/data/paper/policy_and_pricing.json).
MS_FAKE_CONFIDENCE_MIN = 87.25


def constraint_violations(ev: dict[str, Any], params) -> dict[str, float]:
    """How far the facts the fit must keep are broken (0 where they hold), in logit units
    (photos), percent (MS fakes) or cosine (similarity centres)."""
    out: dict[str, float] = {}
    pols = build_policies(params)
    for v, pol in pols.items():
        lo = float(special.logit(PHOTO_CONFIDENCE / 100.0))
        hi = float(special.logit(OTHER_PERSON_CONFIDENCE[v] / 100.0))
        out[f"photo {v}"] = max(lo - float(pol.evidence(PHOTO_COS)), 0.0) + max(
            float(pol.evidence(OTHER_PERSON_COS)) - hi, 0.0
        )
    worst = ev["summary"].get("ms_fake_confidence_min", np.nan)
    out["MS fake confidence"] = max(MS_FAKE_CONFIDENCE_MIN - worst, 0.0) if np.isfinite(worst) else 0.0
    for v in ("aws", "azure"):
        vp = params["vendors"][v]
        lo, hi = similarity_b_bounds(vp["similarity_k"], v)
        out[f"similarity {v}"] = max(lo - vp["similarity_b"], 0.0) + max(vp["similarity_b"] - hi, 0.0)
    return out


def _robust(r: np.ndarray) -> np.ndarray:
    """r^2 plus a push beyond 0.8 tolerance, growing linearly past 2.8 (a target the model
    cannot reach must not drag every other one)."""
    a = np.abs(r)
    over = np.maximum(a - 0.8, 0.0)
    push = np.where(over < 2.0, over**2, 4.0 * over - 4.0)
    return np.minimum(a, 3.0) ** 2 + 6.0 * np.maximum(a - 3.0, 0.0) + 10.0 * push


FAMILY_WEIGHT = {"TA/NA": 10.0, "Figure 4": 1.0, "per-identity": 0.5, "genuine": 4.0}


def objective(ev: dict[str, Any], params=None) -> float:
    """The fit's loss: each target's error in units of its tolerance (robust), weighted by
    family; the per-identity W1 distances count as residuals of W1 / 8 pp; penalties keep
    genuine recognition falling measurably from the floor to tau 99 (issue item 4), real
    photos right (recognition and similarity) and MS's named fakes above 87.25% on average
    on every dataset (`constraint_violations`)."""
    loss = 0.0
    for r in ev["rows"]:
        x = r["difference"] / r["tolerance"]
        if r.get("kind") == "upper_bound":
            x = max(r["difference"], 0.0) / max(r["tolerance"], 1.0)
        loss += FAMILY_WEIGHT[r["family"]] * float(_robust(np.array([x]))[0])
        if "w1" in r:
            loss += FAMILY_WEIGHT[r["family"]] * float(
                _robust(np.array([r["w1"] / targets.W1_TOLERANCE]))[0]
            )
    for g in ev["summary"].get("genuine_drop", {}).values():  # issue item 4, a constraint
        if np.isfinite(g["se"]):
            loss += 10.0 * max(0.0, (GENUINE_MARGIN_SE * g["se"] - g["lost"]) / g["se"]) ** 2
    if params is not None:
        bad = constraint_violations(ev, params)
        loss += 1e4 * sum(x**2 for k, x in bad.items() if k.startswith("similarity"))
        loss += 100.0 * sum(x**2 for k, x in bad.items() if not k.startswith("similarity"))
    return loss


GENUINE_MARGIN_SE = 4.0  # genuine recognition lost from the floor to tau 99: at least 4 SE


def evaluate(eng: Engine, params) -> dict[str, Any]:
    return targets.evaluate(eng.stats(params))


FAME_WINDOW = 1.5  # a fame search looks this far (fame sd) either side of the current value


def fame_candidates(par: Param, params, window: float = FAME_WINDOW) -> np.ndarray:
    """Values of a fame parameter (a vendor's cut or a pool's shift) within `window` of its
    current value, one inside each interval between the points where some vendor's known
    count round(Phi(shift - cut) n) changes: every distinct set of counts once."""
    x = par.get(params)
    path = par.paths[0]
    if path[0] == "vendors":  # a cut: counts of this vendor in every pool
        shifts = params["cohort"]["fame"]
        edges = [shifts[pool] - special.ndtri((np.arange(n) + 0.5) / n)
                 for pool, n in POOL_SIZE.items()]  # fmt: skip
    else:  # a pool's shift: counts of every vendor in this pool
        n = POOL_SIZE[path[-1]]
        edges = [params["vendors"][v]["fame_cut"] + special.ndtri((np.arange(n) + 0.5) / n)
                 for v in params["vendors"]]  # fmt: skip
    e = np.unique(np.concatenate(edges))
    lo, hi = max(x - window, par.bounds[0]), min(x + window, par.bounds[1])
    e = e[(e > lo) & (e < hi)]
    points = np.concatenate([[lo], e, [hi]])
    return np.unique(np.concatenate([(points[:-1] + points[1:]) / 2, [x]]))


def fit_fame(eng: Engine, params, log=print):
    """Coordinate search over the fame parameters (3 vendor cuts, 3 pool shifts): each in
    turn set to the best of `fame_candidates`, until a pass changes nothing (at most 3).
    A cut moves one vendor only, so its search evaluates that vendor alone."""
    params = copy.deepcopy(params)
    for _ in range(3):
        changed = False
        for par in FAME:
            path = par.paths[0]
            vendors = (path[1],) if path[0] == "vendors" else ("aws", "azure", "naver")
            def loss(x: float, par=par, vendors=vendors) -> float:
                p = copy.deepcopy(params)
                par.set(p, x)
                return objective(targets.evaluate(eng.stats(p, vendors)), p)

            x0 = par.get(params)
            best = (loss(x0), x0)
            for x in fame_candidates(par, params):
                if x != x0 and (value := loss(x)) < best[0] - 1e-9:  # ties keep x0
                    best = (value, x)
            if best[1] != x0:
                changed = True
                par.set(params, best[1])
        log(f"fame: {fame_summary(params)}")
        if not changed:
            break
    return params


def fame_summary(params) -> str:
    """'cuts aws -0.85 ...; shifts ...; known aws CelebDF 46/58 ...' for the progress log."""
    pols = build_policies(params)
    cuts = " ".join(f"{v} {pol.fame_cut:+.2f}" for v, pol in pols.items())
    shifts = " ".join(f"{p} {x:+.2f}" for p, x in sorted(params["cohort"]["fame"].items()))
    known = " ".join(f"{v}:" + ",".join(f"{pol.n_known(p, n)}/{n}" for p, n in POOL_SIZE.items())
                     for v, pol in pols.items())  # fmt: skip
    return f"cuts {cuts}; shifts {shifts}; known ({', '.join(POOL_SIZE)}) {known}"


def fit(
    scale: str = "paper",
    seeds: tuple[int, ...] = (0, 1, 2),
    base: dict[str, Any] | None = None,
    rounds: int = 2,
    maxfev: int = 1500,
    log=print,
) -> dict[str, Any]:
    """Refit every parameter jointly to all target families; returns a new params dict
    (without provenance). Rounds of: Powell on the continuous parameters, then a coordinate
    search over the fame parameters (`fit_fame`; the loss is a step function of them)."""
    base = copy.deepcopy(start_params() if base is None else base)
    eng = Engine(scale, seeds)
    t0 = _time.monotonic()
    n_eval = [0]

    def total(p) -> float:
        n_eval[0] += 1
        return objective(evaluate(eng, p), p)

    def f(x, p0):
        value = total(_unpack(np.clip(x, *np.array(BOUNDS).T), p0))
        if n_eval[0] % 200 == 0:
            log(f"  {n_eval[0]} evaluations, {_time.monotonic() - t0:.0f} s, loss {value:.1f}")
        return value

    params = base
    best = (total(params), params)
    log(f"start: loss {best[0]:.1f}; {fame_summary(params)}")
    for r in range(rounds):
        res = optimize.minimize(
            f, np.clip(_pack(params), *np.array(BOUNDS).T), args=(params,), method="Powell",
            bounds=BOUNDS, options={"maxfev": maxfev, "xtol": 1e-3, "ftol": 1e-4},
        )  # fmt: skip
        if res.fun < best[0]:
            best = (float(res.fun), _unpack(res.x, params))
        params = copy.deepcopy(best[1])
        log(
            f"round {r}: loss {best[0]:.1f} after {res.nfev} evaluations ({_time.monotonic() - t0:.0f} s)"
        )
        params = fit_fame(eng, params, log)
        best = (total(params), params)
        log(f"round {r}: fame search, loss {best[0]:.1f} ({_time.monotonic() - t0:.0f} s)")
    log(f"fit done: loss {best[0]:.1f}, {n_eval[0]} evaluations, {_time.monotonic() - t0:.0f} s")
    return best[1]


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
            coef = cohort.dataset_coefficients(dr, params)
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
    return {
        "max_abs_error_pp": round(float(err.max()), 2),
        "mean_abs_error_pp": round(float(err.mean()), 2),
    }


def full_stats(params: dict[str, Any] | None = None, seeds=(0,), scale: str = "paper"):
    """targets.group_stats from the full cohort simulation (`cohort.run_vendor`, exact
    distractor maxima, scores at wire precision): what `dicore study` exports, not the fit's
    fast engine."""
    params = load_params() if params is None else params
    pols = build_policies(params)
    items = []
    for s in seeds:
        for d in DATASETS:
            dr = cohort.draw(d, scale, s)
            coef = cohort.dataset_coefficients(dr, params)
            pair = np.einsum("kn,kn->n", coef, dr.r)
            for v, pol in pols.items():
                real, fake = cohort.run_vendor(pol, dr, coef, s, scale)
                # at the vendor's wire precision, as the study exports them (ties included)
                real = real._replace(confidence=reported(v, "confidence", real.confidence))
                fake = fake._replace(confidence=reported(v, "confidence", fake.confidence))
                sim = (
                    reported(v, "similarity", pol.similarity_percent(pair))
                    if pol.has_similarity
                    else None
                )
                items.append((s, d, v, dr, real, fake, sim))
    return targets.group_stats(items)


# Numbers of the model that are not fitted (each with where it comes from).
FIXED = (
    ("AWS floor", 55.0, "paper section 7: AWS names nobody below about 55%"),
    ("MS floor", 70.0, "paper section 7: Azure names nobody below about 70%"),
    ("NAV floor", 0.01, "paper section 7: Naver always names, down to 0.01%"),
    ("real-image cosine to its identity", "0.74..0.86", "ArcFace-like (w600k_mbf on real photos)"),
    ("reference leakage of a face swap", 0.08, "DESIGN.md prototype (bought < 0.4 pp)"),
    ("blend weight", "0.35..0.65", "synthesis: direction of w c_T + (1 - w) c_R"),
    (
        "celebrity share of noise",
        0.0,
        "fitted (with the look-alike effect) 0.08, at the cost of a TA/NA cell and 2 Figure 4 "
        "figures on seed 0: fixed at 0",
    ),
    ("CelebDF/CelebFOM fame shift", 0.0, "the reference of the fame scale (the cuts set it)"),
    (
        "NAV Asian-leaning share",
        0.9,
        "labels only (which distractor names); no metric depends on it",
    ),
    (
        "NAV distractors",
        NAVER_DISTRACTORS,
        "not identified by the targets (fits with 56 to 100 alike); "
        "Naver's evidence offset sets its confidence on unknown faces",
    ),
)


def parameter_table(params) -> list[dict[str, Any]]:
    """Every fitted parameter: name, value, meaning, kind (continuous, or stepwise: a fame
    threshold, which moves the fit only where a known count changes)."""
    rows = [{"name": p.name, "value": p.get(params), "kind": "continuous", "meaning": p.meaning}
            for p in CONTINUOUS]  # fmt: skip
    rows += [{"name": p.name, "value": p.get(params), "kind": FAME_KIND, "meaning": p.meaning}
             for p in FAME]  # fmt: skip
    return rows


def _clean(x):
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    if isinstance(x, np.bool_ | bool):
        return bool(x)
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, float | np.floating):
        return None if not np.isfinite(x) else round(float(x), 3)
    return x


def with_provenance(params, rows, *, command: str, fit_seeds, check_seeds, scale: str,
                    seed0: dict[str, Any] | None = None, seconds: float | None = None):  # fmt: skip
    """Params plus provenance, the parameter table, the TA/NA table over the check seeds and
    (seed0) every target family on seed 0. A check-only run keeps the fit's own provenance
    (command, seeds) and records itself as `checked_by`."""
    p = copy.deepcopy(params)
    old = p.get("provenance", {})
    prov: dict[str, Any] = {
        "date": _dt.date.today().isoformat(),
        "command": command,
        "fit": {
            "scale": scale,
            "seeds": list(fit_seeds),
            "engine": "calibration.Engine",
            "objective": "calibration.objective (TA/NA, Figure 4 figures, per-identity means and W1)",
        },  # fmt: skip
        "check": {"scale": scale, "seeds": list(check_seeds), "engine": "calibration_table"},
        "source": "paper Table 2 asr_before, fig4_and_text_figures.csv, Tables 3 and 5 "
        "(dicore/data/paper/)",
        "simulated": True,
    }
    if seconds is not None:
        prov["fit"]["seconds"] = round(float(seconds), 1)
    if "--check-only" in command and "fit" in old:
        prov.update(command=old["command"], fit=old["fit"], fit_date=old.get("fit_date", old["date"]),
                    checked_by=command)  # fmt: skip
    p["provenance"] = prov
    table = parameter_table(p)
    p["parameters"] = {"fitted": len(table), "table": _clean(table),
                       "fixed": [{"name": n, "value": v, "source": s} for n, v, s in FIXED]}  # fmt: skip
    p["fit"] = {**summarize(rows), "cells": rows}
    if seed0 is not None:
        p["fit"]["seed0"] = _clean({"summary": seed0["summary"], "rows": seed0["rows"]})
    return p
