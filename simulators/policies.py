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
    """One vendor's behaviour, as data. Cosines are in [-1, 1]; percents in 0..100."""

    vendor: str  # dicore vendor id: aws, azure, naver
    label: str  # the paper's label: AWS, MS, NAV (also the distractor-name prefix)
    floor: float  # lowest confidence (percent) at which a name is reported
    always_reports: bool  # Naver: top-1 name whatever its score
    threshold: float  # cosine that maps to `floor`; below it no name (unless always_reports)
    confidence_k: float  # slope of confidence = 100 * sigmoid(k (s - b))
    confidence_b: float  # centre of that sigmoid; b = threshold - logit(floor / 100) / k
    has_similarity: bool  # a face-similarity call exists (AWS CompareFaces, Azure verify)
    similarity_k: float  # similarity percent = 100 * sigmoid(ks (cos - bs))
    similarity_b: float
    coverage: tuple[tuple[str, float], ...]  # (dataset, share of its celebrities the vendor knows)
    n_distractors: int  # other celebrities in the vendor's gallery (random unit vectors)
    false_name_rate: float  # calibrated P(an unknown random face gets a name); N encodes it
    lean_share: float = 0.0  # Naver: share of distractors that are Asian-leaning celebrities
    simulated: bool = True

    def coverage_share(self, dataset: str) -> float:
        """Share of `dataset`'s celebrities this vendor knows (0 for unknown datasets)."""
        return dict(self.coverage).get(dataset, 0.0)

    def n_known(self, dataset: str, n_identities: int) -> int:
        """Exact count of known celebrities: round(share x n), not a coin flip each."""
        return int(round(self.coverage_share(dataset) * n_identities))

    def confidence(self, cosine: np.ndarray) -> np.ndarray:
        """Confidence percent for a top-1 cosine (monotone; Naver clipped at its 0.01% floor)."""
        conf = 100.0 * special.expit(self.confidence_k * (np.asarray(cosine, float) - self.confidence_b))
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


def distractors_for_rate(threshold: float, false_name_rate: float, dim: int = EMBEDDING_DIM) -> int:
    """N random distractors such that P(max cosine >= threshold) = false_name_rate."""
    p = float(cosine_sf(threshold, dim))
    if p <= 0.0:
        return 10**9
    return int(min(max(1.0, round(math.log1p(-false_name_rate) / math.log1p(-p))), 1e9))


def false_name_rate(threshold: float, n: int, dim: int = EMBEDDING_DIM) -> float:
    """P(an unknown random face is named) with n distractors and a cosine threshold."""
    return float(-np.expm1(n * np.log1p(-cosine_sf(threshold, dim))))


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


def _centre(threshold: float, floor: float, k: float) -> float:
    # b such that confidence(threshold) == floor exactly
    return threshold - math.log(floor / (100.0 - floor)) / k


def build_policies(params: dict[str, Any]) -> dict[str, VendorPolicy]:
    """Policies from a parameter dict shaped like calibrated.json's `vendors`."""
    v = params["vendors"]

    def cov(name: str) -> tuple[tuple[str, float], ...]:
        return tuple((d, float(v[name]["coverage"][d])) for d in DATASETS)

    aws, az, nav = v["aws"], v["azure"], v["naver"]
    policies = {
        # AWS Rekognition RecognizeCelebrities + CompareFaces (similarity in percent).
        "aws": VendorPolicy(
            vendor="aws",
            label="AWS",
            floor=AWS_FLOOR,
            always_reports=False,
            threshold=aws["threshold"],
            confidence_k=aws["confidence_k"],
            confidence_b=_centre(aws["threshold"], AWS_FLOOR, aws["confidence_k"]),
            has_similarity=True,
            similarity_k=aws["similarity_k"],
            similarity_b=aws["similarity_b"],
            coverage=cov("aws"),
            n_distractors=distractors_for_rate(aws["threshold"], aws["false_name_rate"]),
            false_name_rate=aws["false_name_rate"],
        ),
        # Azure celebrity model + Face verify (its confidence, as percent, is the similarity).
        # Paper: "whenever the MS API predicts the deepfake as a celebrity, it predicts with
        # high confidence on all attack datasets (i.e., greater than 87.25% on average, even in
        # the worst case)" -- this sets confidence_k (see calibration).
        "azure": VendorPolicy(
            vendor="azure",
            label="MS",
            floor=AZURE_FLOOR,
            always_reports=False,
            threshold=az["threshold"],
            confidence_k=az["confidence_k"],
            confidence_b=_centre(az["threshold"], AZURE_FLOOR, az["confidence_k"]),
            has_similarity=True,
            similarity_k=az["similarity_k"],
            similarity_b=az["similarity_b"],
            coverage=cov("azure"),
            n_distractors=distractors_for_rate(az["threshold"], az["false_name_rate"]),
            false_name_rate=az["false_name_rate"],
        ),
        # Naver CLOVA Face celebrity: always the top-1 name; no similarity call in the study.
        # Its gallery leans to Asian celebrities and names western faces as Asian ones: a share
        # `lean_share` of its distractors are labelled Asian-leaning (they win most unknowns).
        "naver": VendorPolicy(
            vendor="naver",
            label="NAV",
            floor=NAVER_FLOOR,
            always_reports=True,
            threshold=-1.0,
            confidence_k=nav["confidence_k"],
            confidence_b=nav["confidence_b"],
            has_similarity=False,
            similarity_k=0.0,
            similarity_b=0.0,
            coverage=cov("naver"),
            n_distractors=int(nav["n_distractors"]),
            false_name_rate=1.0,
            lean_share=nav["lean_share"],
        ),
    }
    return policies


POLICIES: dict[str, VendorPolicy] = build_policies(load_params())
