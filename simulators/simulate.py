"""The pure, vectorised vendor simulation: cosines in, what the API would report out.

`recognize` scores query embeddings against a gallery (the celebrities of interest, of
which the vendor knows some) and a population of distractor celebrities, then applies the
vendor's reporting policy through `decide`, the one decision rule every path shares
(image-level vendors, the synthetic cohort and the calibration).
Everything returned is simulated (`simulators.SIMULATED_LABEL`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from simulators.policies import EMBEDDING_DIM, VendorPolicy

NO_NAME = -1


class SimResult(NamedTuple):
    """index: gallery index, or G + j for distractor j, or -1 (no name reported);
    cosine: the top-1 cosine; confidence: percent, NaN when no name."""

    index: np.ndarray  # type: ignore[assignment]  # a field named like tuple.index: mypy flags the shadowing
    cosine: np.ndarray
    confidence: np.ndarray


def decide(
    policy: VendorPolicy,
    gallery_cos: np.ndarray,
    known: np.ndarray,
    distractor_max: np.ndarray,
    distractor_arg: np.ndarray,
    *,
    image_noise: np.ndarray | None = None,
    identity_noise: np.ndarray | None = None,
    distractor_noise: np.ndarray | None = None,
) -> SimResult:
    """Apply `policy` to cosines: gallery_cos (N, G), known (G,) bool, and per query the
    best distractor's cosine (N,) and index (N,). Ties go to the gallery.

    Noise (standard normals; all zero when omitted, as for a median image): image_noise
    (N,) per query, identity_noise (G,) per gallery celebrity (how well the vendor knows
    it), distractor_noise (N,) the celebrity effect when the top-1 is a distractor (the
    query celebrity's look-alike: the same for all images of one celebrity). The
    evidence noise is sqrt(share) x celebrity effect + sqrt(1 - share) x image effect."""
    gallery_cos = np.asarray(gallery_cos)  # float32 is fine: ties are measure-zero
    n, g = gallery_cos.shape
    known = np.asarray(known, bool)
    if known.any():
        masked = np.where(known[None, :], gallery_cos, -np.inf)
        arg = masked.argmax(axis=1)
        top = masked[np.arange(n), arg]
    else:
        arg = np.zeros(n, int)
        top = np.full(n, -np.inf)
    dmax = np.asarray(distractor_max, float)
    use_d = dmax > top
    index = np.where(use_d, g + np.asarray(distractor_arg, int), arg)
    cosine = np.where(use_d, dmax, top).astype(float)
    z = np.zeros(n)
    share = policy.identity_share
    if image_noise is not None:
        z = z + np.sqrt(1.0 - share) * np.asarray(image_noise, float)
    if share > 0 and (identity_noise is not None or distractor_noise is not None):
        ident = np.zeros(n)
        if identity_noise is not None and g:
            ident = np.asarray(identity_noise, float)[arg]
        if distractor_noise is not None:
            ident = np.where(use_d, np.asarray(distractor_noise, float), ident)
        z = z + np.sqrt(share) * ident
    finite = np.isfinite(cosine)
    evidence = np.where(finite, policy.evidence(np.where(finite, cosine, 0.0), z), -np.inf)
    named = finite & policy.named(evidence)
    index = np.where(named, index, NO_NAME)
    conf = np.where(named, policy.confidence(np.where(named, cosine, 0.0), z), np.nan)
    return SimResult(index=index.astype(int), cosine=cosine, confidence=conf)


def recognize(
    policy: VendorPolicy,
    *,
    gallery: np.ndarray,
    known: np.ndarray,
    distractors: np.ndarray,
    queries: np.ndarray,
    image_noise: np.ndarray | None = None,
) -> SimResult:
    """Celebrity recognition for unit query embeddings (N, d) against a unit gallery (G, d)
    of which `known` (G,) the vendor knows, plus unit distractors (D, d) (D may be 0).
    image_noise (N,): the score model's per-image standard normals (default 0: a median
    image, as for real photos through the image-level vendors)."""
    queries = np.atleast_2d(np.asarray(queries, float))
    gallery = np.asarray(gallery, float).reshape(-1, queries.shape[1])
    distractors = np.asarray(distractors, float).reshape(-1, queries.shape[1])
    gcos = queries @ gallery.T
    if len(distractors):
        dcos = queries @ distractors.T
        darg = dcos.argmax(axis=1)
        dmax = dcos[np.arange(len(queries)), darg]
    else:
        darg = np.zeros(len(queries), int)
        dmax = np.full(len(queries), -np.inf)
    return decide(policy, gcos, known, dmax, darg, image_noise=image_noise)


def similarity(policy: VendorPolicy, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Face-similarity percent between paired unit embeddings a (N, d) and b (N, d);
    NaN for a vendor without a similarity call (Naver). Symmetric in a, b."""
    cos = np.einsum("nd,nd->n", np.atleast_2d(a), np.atleast_2d(b))
    return policy.similarity_percent(cos)


def random_unit(rng: np.random.Generator, n: int, dim: int = EMBEDDING_DIM) -> np.ndarray:
    v = rng.standard_normal((n, dim))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def make_distractors(
    policy: VendorPolicy, dim: int = EMBEDDING_DIM, seed: int = 0
) -> tuple[list[str], np.ndarray]:
    """The vendor's distractor celebrities: names and (N, dim) random unit vectors."""
    rng = np.random.default_rng([seed, sum(map(ord, policy.label))])
    names = [policy.distractor_name(j) for j in range(policy.n_distractors)]
    return names, random_unit(rng, policy.n_distractors, dim)


def asian_leaning(policy: VendorPolicy) -> np.ndarray:
    """(N,) bool: which distractors are Asian-leaning (Naver; the first lean_share x N)."""
    flags = np.zeros(policy.n_distractors, bool)
    flags[: int(round(policy.lean_share * policy.n_distractors))] = True
    return flags


def names_for(
    index: np.ndarray, gallery_names: list[str] | np.ndarray, policy: VendorPolicy
) -> np.ndarray:
    """Reported names for `SimResult.index` ("" when no name)."""
    gallery_names = np.asarray(list(gallery_names) + [""], dtype=object)
    g = len(gallery_names) - 1
    index = np.asarray(index)
    out = np.full(index.shape, "", dtype=object)
    in_g = (index >= 0) & (index < g)
    out[in_g] = gallery_names[index[in_g]]
    for i in np.flatnonzero(index >= g):
        out[i] = policy.distractor_name(int(index[i]) - g)
    return out
