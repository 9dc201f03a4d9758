"""The synthetic embedding-space cohort: the paper's five deepfake sets as 512-d vectors.

Statistics are ArcFace-like (as measured on real photos with w600k_mbf): an identity is a
random unit centre (different people: cosine about 0 +- 0.05), a real image is
`q c + sqrt(1 - q^2) u` with q in REAL_COS, so two real images of one person have cosine
about 0.5..0.75 (mean 0.64). A fake of target T keeps cosine m_i to T's centre, drawn around one level per
dataset (`level`: the median, `spread`: logit-scale spread) and capped at what real images
reach (CAP). Attack families as embedding operators:
- replacement (face swap): m_i of the target, plus LEAKAGE of the reference (the body's owner);
- reenactment: the target identity kept (high m_i), the rest expression noise;
- synthesis (blend): the direction of w c_T + (1 - w) c_R, w uniform in BLEND_W.
The rest of a fake (its non-identity appearance: pose, lighting, background, expression)
is the unit vector e3 = sqrt(c) a + sqrt(1 - c) b, orthogonal to e1 and e2: `a` is its
paired real image's own non-identity direction (that real's `u`, orthogonalised against
e1, e2), `b` fresh noise, and c = `pair_context` (one global cohort parameter, 0..1: the
share of appearance a fake shares with the real frames it was made from). c changes only
how close a fake is to its paired real image (the face-similarity metric DHS), not the law
of its cosines to the identity centres (e3 stays a uniform unit vector orthogonal to e1, e2).
Every vector is built from a fixed orthonormal basis per fake (e1 identity, e2 reference,
a pair context, b noise), so a fake's cosines are `m p1 + l p2 + s (sqrt(c) p3 +
sqrt(1 - c) p4)` with the projections drawn once: the calibration recombines them per
parameter vector (common random numbers) and the results below are the same numbers the
materialised vectors give.

`simulate_cohort_results` runs the three simulated vendors over the cohort and returns the
columns of the results contract (docs/ARCHITECTURE.md), backend "sim".
"""

from __future__ import annotations

import dataclasses
import zlib
from functools import lru_cache
from typing import Any

import numpy as np
from scipy import special

from simulators.policies import (
    DATASETS,
    EMBEDDING_DIM,
    VendorPolicy,
    build_policies,
    load_params,
    max_cosine_quantile,
)
from simulators.simulate import NO_NAME, decide
from simulators.wire import reported

REAL_COS = (0.74, 0.86)  # cosine of a real image to its identity centre
CAP = REAL_COS[1]  # a fake is never closer to its target than a real image gets
LEAKAGE = {"replacement": 0.08, "reenactment": 0.0, "synthesis": 0.0}
BLEND_W = (0.35, 0.65)
PAIR_CONTEXT_DEFAULT = 0.0  # calibrated.json's cohort.pair_context when absent: no shared context
SCALES = ("paper", "small")
RESULT_COLUMNS = (
    "vendor", "backend", "dataset", "method", "item_id", "is_fake", "real_item_id",
    "target", "reference", "predicted", "confidence", "similarity",
)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    name: str
    method: str
    pool: str  # identity pool: CelebFOM reuses CelebDF's 58 people
    n_identities: int
    n_real: int
    n_fake: int


# Table 1 of the paper (images tested: real + fake).
PAPER = {
    "CelebDF": DatasetSpec("CelebDF", "replacement", "CelebDF", 58, 546, 5638),
    "FCelebDF": DatasetSpec("FCelebDF", "replacement", "FCelebDF", 50, 50, 5000),
    "VoxCelebTH": DatasetSpec("VoxCelebTH", "reenactment", "VoxCelebTH", 100, 100, 3200),
    "CelebFOM": DatasetSpec("CelebFOM", "reenactment", "CelebDF", 58, 544, 2176),
    "CelebBlend": DatasetSpec("CelebBlend", "synthesis", "CelebBlend", 20, 20, 180),
}


def spec(name: str, scale: str = "paper") -> DatasetSpec:
    """Sizes without generating anything. "small": about 10x fewer images, the same
    identities (at least one real each); sets under 200 fakes keep all of them."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    s = PAPER[name]
    if scale == "paper":
        return s
    n_real = max(s.n_identities, -(-s.n_real // 10))
    n_fake = max(-(-s.n_fake // 10), min(s.n_fake, 200))
    return dataclasses.replace(s, n_real=n_real, n_fake=n_fake)


def identity_names(pool: str, n: int) -> list[str]:
    width = max(2, len(str(n - 1)))
    return [f"{pool}-id{i:0{width}d}" for i in range(n)]


def _key(*parts: object) -> list[int]:
    return [zlib.crc32(str(p).encode()) for p in parts]


def _orthonormal(v: np.ndarray, *against: np.ndarray) -> np.ndarray:
    for a in against:
        v = v - np.einsum("nd,nd->n", v, a)[:, None] * a
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


@dataclasses.dataclass(frozen=True)
class Draws:
    """Parameter-free random draws of one dataset (the common random numbers)."""

    spec: DatasetSpec
    identities: tuple[str, ...]
    real_identity: np.ndarray  # (R,)
    real_cos: np.ndarray  # (R, n_id) cosine of each real image to each centre
    fake_target: np.ndarray  # (F,)
    fake_reference: np.ndarray  # (F,)
    fake_real: np.ndarray  # (F,) index of the paired real image (of the target)
    z: np.ndarray  # (F,) standard normal: where the fake sits in its dataset's spread
    p: np.ndarray  # (4, F, n_id) projections of the basis e1, e2, a, b on the centres
    r: np.ndarray  # (4, F) projections of the basis on the paired real image
    vectors: dict[str, np.ndarray] | None = None  # only with keep_vectors


def draw(name: str, scale: str = "paper", seed: int = 0, keep_vectors: bool = False) -> Draws:
    """All random draws of one dataset, seeded by (seed, dataset); centres by (seed, pool)."""
    sp = spec(name, scale)
    n_id, d = sp.n_identities, EMBEDDING_DIM
    f32 = np.float32  # half the memory traffic; cosines to 1e-6 are plenty
    centres = _unit(
        np.random.default_rng(_key(seed, "pool", sp.pool)).standard_normal((n_id, d), f32)
    )
    rng = np.random.default_rng(_key(seed, "dataset", sp.name, scale))
    real_identity = np.concatenate([np.arange(n_id), rng.integers(0, n_id, sp.n_real - n_id)])
    q = rng.uniform(*REAL_COS, sp.n_real)
    c = centres[real_identity]
    u = _orthonormal(rng.standard_normal((sp.n_real, d), f32), c)
    reals = (q[:, None] * c + np.sqrt(1 - q**2)[:, None] * u).astype(f32)
    real_cos = reals @ centres.T

    target = rng.permutation(np.arange(sp.n_fake) % n_id)  # fakes spread evenly over targets
    reference = (target + rng.integers(1, n_id, sp.n_fake)) % n_id
    order = np.argsort(real_identity, kind="stable")
    counts = np.bincount(real_identity, minlength=n_id)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pick = (rng.random(sp.n_fake) * counts[target]).astype(int)
    fake_real = order[starts[target] + pick]
    z = rng.standard_normal(sp.n_fake)
    w = rng.uniform(*BLEND_W, sp.n_fake)
    ct, cr = centres[target], centres[reference]
    if sp.method == "synthesis":
        e1 = _unit((w[:, None] * ct + (1 - w)[:, None] * cr).astype(f32))
    else:
        e1 = ct
    e2 = _orthonormal(cr, e1)
    noise = rng.standard_normal((sp.n_fake, d), f32)
    ea = _orthonormal(u[fake_real], e1, e2)  # the paired real's non-identity direction
    eb = _orthonormal(noise, e1, e2, ea)  # fresh noise; ea, eb orthonormal, both _|_ e1, e2
    basis = (e1, e2, ea, eb)
    p = np.stack([e @ centres.T for e in basis])  # the fit recombines these many times
    paired = reals[fake_real]
    r = np.stack([np.einsum("nd,nd->n", e, paired, dtype=float) for e in basis])
    vectors = None
    if keep_vectors:
        vectors = {"centres": centres, "reals": reals, "basis": np.stack(basis)}
    return Draws(sp, tuple(identity_names(sp.pool, n_id)), real_identity, real_cos,
                 target, reference, fake_real, z, p, r, vectors)  # fmt: skip


def fake_level(z: np.ndarray, level: float, spread: float) -> np.ndarray:
    """Cosine of each fake to its identity direction: median `level`, capped at CAP."""
    lo = special.logit(level / CAP)
    return CAP * special.expit(lo + spread * z)


def pair_context(params: dict[str, Any] | None = None) -> float:
    """The cohort's `pair_context` (calibrated.json, or PAIR_CONTEXT_DEFAULT when absent)."""
    params = load_params() if params is None else params
    return float(params["cohort"].get("pair_context", PAIR_CONTEXT_DEFAULT))


def fake_coefficients(
    dr: Draws, level: float, spread: float, context: float | None = None
) -> np.ndarray:
    """(4, F) coefficients of the fakes on their basis (e1, e2, a, b); unit vectors.
    `context`: the pair context c (None: the packaged calibrated.json value)."""
    c = pair_context() if context is None else float(context)
    if not 0.0 <= c <= 1.0:
        raise ValueError(f"pair_context must be in [0, 1], got {c}")
    m = fake_level(dr.z, level, spread)
    lk = LEAKAGE[dr.spec.method]
    s = np.sqrt(1 - m**2 - lk**2)
    return np.stack([m, np.full_like(m, lk), np.sqrt(c) * s, np.sqrt(1 - c) * s])


def dataset_coefficients(dr: Draws, params: dict[str, Any]) -> np.ndarray:
    """fake_coefficients with the dataset's level and spread and the cohort's pair context
    from `params` (shaped like calibrated.json)."""
    dp = params["cohort"]["datasets"][dr.spec.name]
    return fake_coefficients(dr, dp["level"], dp["spread"], pair_context(params))


def fake_vectors(
    dr: Draws, level: float, spread: float, context: float | None = None
) -> np.ndarray:
    """Materialised (F, 512) unit fake embeddings (needs draw(..., keep_vectors=True))."""
    if dr.vectors is None:
        raise ValueError("draw the dataset with keep_vectors=True")
    coef = fake_coefficients(dr, level, spread, context)
    return np.einsum("kn,knd->nd", coef, dr.vectors["basis"])


@lru_cache(maxsize=64)
def fame(seed: int, pool: str, n: int) -> np.ndarray:
    """(n,) standard-normal fame of each celebrity of an identity pool, seeded per (seed,
    pool): one draw shared by every vendor (they agree on who is famous) and by the datasets
    of a pool (CelebDF and CelebFOM hold the same people)."""
    f = np.random.default_rng(_key(seed, "fame", pool)).standard_normal(n)
    f.setflags(write=False)
    return f


def known_mask(policy: VendorPolicy, sp: DatasetSpec, seed: int) -> np.ndarray:
    """(n_id,) bool: the celebrities `policy` knows, the round(Phi(shift - cut) n) most famous
    of the pool (a count from the expected share, not from the draw, so it is the same on
    every seed and moves smoothly with the fit; the fame order says which)."""
    k = policy.n_known(sp.pool, sp.n_identities)
    known = np.zeros(sp.n_identities, bool)
    known[np.argsort(-fame(seed, sp.pool, sp.n_identities), kind="stable")[:k]] = True
    return known


def distractor_draws(policy: VendorPolicy, name: str, scale: str, seed: int, n: int):
    """Per query: the best distractor's cosine (exact law of the max of N random cosines,
    see policies.max_cosine_quantile) and its index (uniform: the vectors are exchangeable)."""
    rng = np.random.default_rng(_key(seed, "distractors", policy.vendor, name, scale))
    u = rng.random(n)
    arg = rng.integers(0, policy.n_distractors, n)
    return max_cosine_quantile(u, policy.n_distractors), arg


@dataclasses.dataclass(frozen=True)
class ScoreNoise:
    """Standard-normal draws of one vendor's evidence noise on one dataset (the score
    model's common random numbers): per image (reals then fakes), and two celebrity effects
    per celebrity of the identity pool (shared by CelebDF and CelebFOM: the same people):
    how well the vendor knows it (when it is the top-1 gallery match) and, when the top-1 is
    a distractor, how close this celebrity's look-alike in the vendor's gallery is (the same
    look-alike for all of its images, real and fake: Table 3's Naver Reference and Target
    correlate 0.73 across celebrities)."""

    image: np.ndarray  # (R + F,)
    identity: np.ndarray  # (n_id,)
    lookalike: np.ndarray  # (n_id,)

    def split(self, dr: Draws) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """decide() keyword arguments for the reals and for the fakes of `dr` (a fake's
        look-alike is its target's)."""
        nr = dr.spec.n_real
        r = {"image_noise": self.image[:nr], "identity_noise": self.identity,
             "distractor_noise": self.lookalike[dr.real_identity]}  # fmt: skip
        f = {"image_noise": self.image[nr:], "identity_noise": self.identity,
             "distractor_noise": self.lookalike[dr.fake_target]}  # fmt: skip
        return r, f


@lru_cache(maxsize=256)
def score_noise(vendor: str, name: str, scale: str, seed: int) -> ScoreNoise:
    sp = spec(name, scale)
    n = sp.n_real + sp.n_fake
    image = np.random.default_rng(_key(seed, "score-noise", vendor, name, scale)).standard_normal(n)
    pool = np.random.default_rng(_key(seed, "identity-noise", vendor, sp.pool))
    ident, lookalike = pool.standard_normal(sp.n_identities), pool.standard_normal(sp.n_identities)
    for a in (image, ident, lookalike):
        a.setflags(write=False)
    return ScoreNoise(image, ident, lookalike)


def run_vendor(policy: VendorPolicy, dr: Draws, coef: np.ndarray, seed: int, scale: str):
    """Simulated recognition of the reals and fakes of one dataset by one vendor.
    Returns (real SimResult, fake SimResult)."""
    sp = dr.spec
    known = known_mask(policy, sp, seed)
    dmax, darg = distractor_draws(policy, sp.name, scale, seed, sp.n_real + sp.n_fake)
    fake_cos = np.einsum("kn,kng->ng", coef.astype(np.float32), dr.p)
    nr, nf = score_noise(policy.vendor, sp.name, scale, seed).split(dr)
    real = decide(policy, dr.real_cos, known, dmax[: sp.n_real], darg[: sp.n_real], **nr)
    fake = decide(policy, fake_cos, known, dmax[sp.n_real :], darg[sp.n_real :], **nf)
    return real, fake


def ta_na(dr: Draws, real, fake) -> tuple[float, float]:
    """TA: fake named as its target and its paired real named as the target (a blend: as
    either source, with that source's first real image named alike); NA: fake named."""
    t = dr.fake_target
    ta = (fake.index == t) & (real.index[dr.fake_real] == t)
    if dr.spec.method == "synthesis":
        r = dr.fake_reference  # real image r is the first of identity r (see draw)
        ta |= (fake.index == r) & (real.index[r] == r)
    return 100.0 * ta.mean(), 100.0 * (fake.index != NO_NAME).mean()


def _resolve(params: dict[str, Any] | None):
    params = load_params() if params is None else params
    return params, build_policies(params)


def simulate_cohort_results(
    *,
    scale: str = "paper",
    seed: int = 0,
    vendors: tuple[str, ...] = ("aws", "azure", "naver"),
    datasets: tuple[str, ...] | None = None,
    params: dict[str, Any] | None = None,
) -> dict[str, np.ndarray]:
    """Columns of the results contract for the simulated vendors on the synthetic cohort.

    Strings are "" and numbers NaN where the contract says empty. `confidence` is the
    reported confidence (percent); `similarity` (fake rows only) is the vendor's face
    similarity between the fake and its paired real (NaN for Naver). Seeded, reproducible.
    `datasets` may include "NonCelebrities", the zero-effort impostor set
    (`simulators.impostors`); the default is the paper's five deepfake sets.
    """
    params, policies = _resolve(params)
    datasets = tuple(DATASETS if datasets is None else datasets)
    cols: dict[str, list[np.ndarray]] = {c: [] for c in RESULT_COLUMNS}
    for name in datasets:
        if name == "NonCelebrities":  # the zero-effort impostors (simulators/impostors.py)
            from simulators.impostors import simulate_impostor_results

            imp = simulate_impostor_results(scale=scale, seed=seed, vendors=vendors, params=params)
            for c in RESULT_COLUMNS:
                cols[c].append(imp[c])
            continue
        dr = draw(name, scale, seed)
        sp = dr.spec
        coef = dataset_coefficients(dr, params)
        ids = np.asarray(dr.identities, dtype=object)
        real_ids = np.asarray([f"{name}-real-{i:04d}" for i in range(sp.n_real)], dtype=object)
        fake_ids = np.asarray([f"{name}-fake-{i:05d}" for i in range(sp.n_fake)], dtype=object)
        pair_cos = np.einsum("kn,kn->n", coef, dr.r)
        n = sp.n_real + sp.n_fake
        for vendor in vendors:
            pol = policies[vendor]
            real, fake = run_vendor(pol, dr, coef, seed, scale)
            index = np.concatenate([real.index, fake.index])
            predicted = np.full(n, "", dtype=object)
            in_g = (index >= 0) & (index < len(ids))
            predicted[in_g] = ids[index[in_g]]
            for i in np.flatnonzero(index >= len(ids)):
                predicted[i] = pol.distractor_name(int(index[i]) - len(ids))
            cols["vendor"].append(np.full(n, vendor, dtype=object))
            cols["backend"].append(np.full(n, "sim", dtype=object))
            cols["dataset"].append(np.full(n, name, dtype=object))
            method = np.full(n, sp.method, dtype=object)
            method[: sp.n_real] = "real"
            cols["method"].append(method)
            cols["item_id"].append(np.concatenate([real_ids, fake_ids]))
            cols["is_fake"].append(np.arange(n) >= sp.n_real)
            cols["real_item_id"].append(
                np.concatenate([np.full(sp.n_real, "", dtype=object), real_ids[dr.fake_real]])
            )
            cols["target"].append(np.concatenate([ids[dr.real_identity], ids[dr.fake_target]]))
            cols["reference"].append(
                np.concatenate([np.full(sp.n_real, "", dtype=object), ids[dr.fake_reference]])
            )
            cols["predicted"].append(predicted)
            # Scores at the vendor's wire precision (simulators.wire): what a client reads.
            confidence = np.concatenate([real.confidence, fake.confidence])
            cols["confidence"].append(reported(vendor, "confidence", confidence))
            similarity = pol.similarity_percent(pair_cos)
            if pol.has_similarity:
                similarity = reported(vendor, "similarity", similarity)
            cols["similarity"].append(np.concatenate([np.full(sp.n_real, np.nan), similarity]))
    return {c: np.concatenate(v) if v else np.array([]) for c, v in cols.items()}


def as_rows(columns: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """Row dicts (the results contract) from `simulate_cohort_results` columns."""
    keys = list(columns)
    return [
        dict(zip(keys, vals, strict=True))
        for vals in zip(*(columns[k].tolist() for k in keys), strict=True)
    ]
