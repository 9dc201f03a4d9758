"""Vendor reporting policies as plain data (one frozen dataclass per vendor).

A policy says how a simulated vendor turns cosine similarities (ArcFace-like
embeddings) into what its API reports: whether a name is reported, with what
confidence, which celebrities it knows, and how many look-alike "distractor"
celebrities it may confuse an unknown face with. Nothing here computes; see
`simulators.simulate` for the pure simulation.

Facts quoted from the paper (Tariq, Jeon, Woo), section 7, as packaged in
`dicore/data/paper/policy_and_pricing.json`; fitted numbers come from
`simulators/params/calibrated.json` (see `simulators.calibration`).
"""

from __future__ import annotations

import dataclasses
import json
import math
from importlib import resources
from typing import Any

import numpy as np
from scipy import special

EMBEDDING_DIM = 512
DATASETS = ("CelebDF", "FCelebDF", "VoxCelebTH", "CelebFOM", "CelebBlend")
PARAMS_FILE = "calibrated.json"


@dataclasses.dataclass(frozen=True)
class VendorPolicy:
    """One vendor's behaviour, as data. Cosines are in [-1, 1]; percents in 0..100.

    The score model: for its top-1 candidate (cosine s) a vendor's evidence is the logit
    `a + k s + noise * z` (z a standard normal: how well this vendor sees this image and
    knows this celebrity; 0 for a median image); confidence = 100 sigmoid(evidence), and a
    name is reported only when the confidence reaches the floor (AWS 55, Azure 70), always
    for Naver (clipped at its 0.01% floor). So naming and confidence are one mechanism.

    Which celebrities it knows (the fame model): every celebrity of an identity pool has a
    fame (a seeded standard normal, one draw shared by all vendors, plus the pool's shift:
    how famous that dataset's people are); the vendor knows those whose fame clears its cut
    (how deep its celebrity gallery goes). Counts are round(Phi(shift - cut) n), the most
    famous first, so every vendor's known set is nested in a deeper vendor's."""

    vendor: str  # dicore vendor id: aws, azure, naver
    label: str  # the paper's label: AWS, MS, NAV (also the distractor-name prefix)
    floor: float  # lowest confidence (percent) at which a name is reported
    always_reports: bool  # Naver: top-1 name whatever its score
    confidence_a: float  # evidence at cosine 0 (logit)
    confidence_k: float  # evidence per unit of cosine (logit slope)
    noise: float  # sd (logit) of the per-image / per-identity evidence noise
    identity_share: float  # share of that noise's variance that belongs to the celebrity
    has_similarity: bool  # a face-similarity call exists (AWS CompareFaces, Azure verify)
    similarity_k: float  # similarity percent = 100 * sigmoid(ks (cos - bs))
    similarity_b: float
    fame_cut: float  # how deep the vendor's celebrity gallery goes (on the fame scale)
    pool_fame: tuple[tuple[str, float], ...]  # (identity pool, fame shift of its celebrities)
    n_distractors: int  # other celebrities in the vendor's gallery (random unit vectors)
    false_name_rate: float  # P(an unknown random face gets a name), from N and the score model
    lean_share: float = 0.0  # Naver: share of distractors that are Asian-leaning celebrities
    simulated: bool = True

    @property
    def threshold(self) -> float:
        """Cosine at which a median image's confidence equals the floor (-1 for Naver)."""
        if self.always_reports:
            return -1.0
        return (float(special.logit(self.floor / 100.0)) - self.confidence_a) / self.confidence_k

    def known_share(self, pool: str) -> float:
        """Share of an identity pool's celebrities this vendor knows: Phi(shift - cut), the
        chance that a celebrity's fame (standard normal + the pool's shift) clears the
        vendor's cut (0 for a pool without a fame shift)."""
        shifts = dict(self.pool_fame)
        if pool not in shifts:
            return 0.0
        return float(special.ndtr(shifts[pool] - self.fame_cut))

    def n_known(self, pool: str, n_identities: int) -> int:
        """Exact count of known celebrities: round(Phi(shift - cut) x n), not a coin flip
        each (stable across seeds; which ones: the most famous, `cohort.known_mask`)."""
        return int(round(self.known_share(pool) * n_identities))

    def evidence(self, cosine: np.ndarray | float, z: np.ndarray | float = 0.0) -> np.ndarray:
        """Logit of the confidence for a top-1 cosine and a standard-normal noise draw z."""
        return (
            self.confidence_a
            + self.confidence_k * np.asarray(cosine, float)
            + self.noise * np.asarray(z, float)
        )

    def named(self, evidence: np.ndarray) -> np.ndarray:
        """Whether a name is reported at this evidence (Naver: always)."""
        evidence = np.asarray(evidence, float)
        if self.always_reports:
            return np.isfinite(evidence)
        return evidence >= float(special.logit(self.floor / 100.0))

    def confidence(self, cosine: np.ndarray, z: np.ndarray | float = 0.0) -> np.ndarray:
        """Confidence percent for a top-1 cosine (monotone; Naver clipped at its 0.01% floor)."""
        conf = 100.0 * special.expit(self.evidence(cosine, z))
        return np.clip(conf, self.floor if self.always_reports else 0.0, 100.0)

    def similarity_percent(self, cosine: np.ndarray) -> np.ndarray:
        """Face-similarity percent for a cosine; NaN when the vendor has no similarity call."""
        cosine = np.asarray(cosine, float)
        if not self.has_similarity:
            return np.full(cosine.shape, np.nan)
        return 100.0 * special.expit(self.similarity_k * (cosine - self.similarity_b))

    def distractor_name(self, j: int) -> str:
        width = max(4, len(str(self.n_distractors - 1)))
        return f"Simulated Celebrity {self.label}-{j:0{width}d}"


# -- the maximum of N random cosines, exactly -------------------------------------------
# For a fixed query and N distractors drawn uniformly on the unit sphere of R^d, the
# cosines are i.i.d. with x = 2 B - 1, B ~ Beta((d-1)/2, (d-1)/2): exact, not a Gaussian
# tail approximation (that one is about 0.02 cosine off at 512-d and moved AWS NA ~16 pp).


def cosine_sf(x: np.ndarray | float, dim: int = EMBEDDING_DIM) -> np.ndarray:
    """P(cos > x) between a fixed unit vector and a uniform random one in R^dim."""
    a = (dim - 1) / 2.0
    return special.betainc(a, a, (1.0 - np.asarray(x, float)) / 2.0)


def max_cosine_quantile(u: np.ndarray, n: float, dim: int = EMBEDDING_DIM) -> np.ndarray:
    """Inverse CDF of the max of n such cosines at probabilities u (vectorised)."""
    a = (dim - 1) / 2.0
    tail = -np.expm1(np.log(np.asarray(u, float)) / n)  # 1 - u**(1/n), precise near 1
    return 1.0 - 2.0 * special.betaincinv(a, a, tail)


_GH_X, _GH_W = np.polynomial.hermite_e.hermegauss(48)  # E over a standard normal z
_GH_W = _GH_W / _GH_W.sum()


def false_name_rate(
    n: float, *, floor: float, a: float, k: float, noise: float, dim: int = EMBEDDING_DIM
) -> float:
    """P(an unknown random face is named) with n random distractors: the best distractor's
    cosine s must give evidence a + k s + noise z >= logit(floor), z standard normal."""
    cut = (float(special.logit(floor / 100.0)) - a - noise * _GH_X) / k  # cosine needed per z
    p = np.clip(cosine_sf(np.clip(cut, -1.0, 1.0), dim), 0.0, 1.0)
    p = np.where(cut >= 1.0, 0.0, np.where(cut <= -1.0, 1.0, p))
    return float(np.sum(_GH_W * -np.expm1(n * np.log1p(-np.minimum(p, 1 - 1e-16)))))


def distractors_for_rate(
    rate: float, *, floor: float, a: float, k: float, noise: float, dim: int = EMBEDDING_DIM
) -> int:
    """The number of random distractors N whose false-name rate (above) is `rate`."""
    lo, hi = 0.0, 9.0 * math.log(10)  # log N in [0, log 1e9]
    f = lambda ln: false_name_rate(math.exp(ln), floor=floor, a=a, k=k, noise=noise, dim=dim)  # noqa: E731
    if f(hi) <= rate:
        return 10**9
    if f(lo) >= rate:
        return 1
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if f(mid) < rate else (lo, mid)
    return int(max(1, round(math.exp((lo + hi) / 2))))


# -- building the policies from fitted parameters ---------------------------------------

# Paper, section 7: "the AWS and MS API do not return any celebrity's name as their
# prediction unless their confidence in it is equal to or more than approximately 55% and
# 70%, respectively, based on our empirical observations."
AWS_FLOOR = 55.0
AZURE_FLOOR = 70.0
# Paper, section 7: "the NAV API always returns some celebrity's name, as it returns
# predictions even when its confidence is as low as 0.01%."
NAVER_FLOOR = 0.01


def load_params(path: str | None = None) -> dict[str, Any]:
    """The fitted parameters (packaged `simulators/params/calibrated.json` by default)."""
    if path is not None:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    text = resources.files("simulators").joinpath("params", PARAMS_FILE).read_text("utf-8")
    return json.loads(text)


def _noise(params: dict[str, Any], vendor: str) -> tuple[float, float]:
    """(noise sd, identity share) of a vendor: its own `noise` if it has one, else the shared
    `scores.noise` (AWS and Azure share one); `scores.identity_share` for all."""
    scores = params.get("scores", {})
    v = params["vendors"][vendor]
    return float(v.get("noise", scores.get("noise", 0.0))), float(scores.get("identity_share", 0.0))


def build_policies(params: dict[str, Any]) -> dict[str, VendorPolicy]:
    """Policies from a parameter dict shaped like calibrated.json (`vendors`, `scores`)."""
    v = params["vendors"]
    pool_fame = tuple(sorted((pool, float(x)) for pool, x in params["cohort"]["fame"].items()))

    def known(name: str) -> dict[str, Any]:
        return {"fame_cut": float(v[name]["fame_cut"]), "pool_fame": pool_fame}

    def scored(name: str, floor: float, always: bool) -> dict[str, Any]:
        noise, share = _noise(params, name)
        x = v[name]
        return dict(floor=floor, always_reports=always, confidence_a=float(x["confidence_a"]),
                    confidence_k=float(x["confidence_k"]), noise=noise, identity_share=share)  # fmt: skip

    def n_for(name: str, floor: float) -> int:
        return max(1, int(round(float(v[name]["n_distractors"]))))

    def rate_for(name: str, floor: float) -> float:
        x = v[name]
        noise, _ = _noise(params, name)
        return false_name_rate(n_for(name, floor), floor=floor, a=x["confidence_a"],
                               k=x["confidence_k"], noise=noise)  # fmt: skip

    aws, az, nav = v["aws"], v["azure"], v["naver"]
    policies = {
        # AWS Rekognition RecognizeCelebrities + CompareFaces (similarity in percent).
        "aws": VendorPolicy(
            vendor="aws",
            label="AWS",
            **scored("aws", AWS_FLOOR, False),
            has_similarity=True,
            similarity_k=aws["similarity_k"],
            similarity_b=aws["similarity_b"],
            **known("aws"),
            n_distractors=n_for("aws", AWS_FLOOR),
            false_name_rate=rate_for("aws", AWS_FLOOR),
        ),
        # Azure celebrity model + Face verify (its confidence, as percent, is the similarity).
        "azure": VendorPolicy(
            vendor="azure",
            label="MS",
            **scored("azure", AZURE_FLOOR, False),
            has_similarity=True,
            similarity_k=az["similarity_k"],
            similarity_b=az["similarity_b"],
            **known("azure"),
            n_distractors=n_for("azure", AZURE_FLOOR),
            false_name_rate=rate_for("azure", AZURE_FLOOR),
        ),
        # Naver CLOVA Face celebrity: always the top-1 name; no similarity call in the study.
        # Its gallery leans to Asian celebrities and names western faces as Asian ones: a share
        # `lean_share` of its distractors are labelled Asian-leaning (they win most unknowns).
        "naver": VendorPolicy(
            vendor="naver",
            label="NAV",
            **scored("naver", NAVER_FLOOR, True),
            has_similarity=False,
            similarity_k=0.0,
            similarity_b=0.0,
            **known("naver"),
            n_distractors=int(nav["n_distractors"]),
            false_name_rate=1.0,
            lean_share=nav["lean_share"],
        ),
    }
    return policies


POLICIES: dict[str, VendorPolicy] = build_policies(load_params())
