"""Deepfake-detector gating in front of a face-recognition API (paper section 6, Table 2).

Two views:

- Analytic: a detector of accuracy `acc` blocks that share of fakes, so
  `ASR_after = ASR_before x (1 - acc / 100)` (`gated_asr`). The paper's Table 2
  follows it in 92 of 108 rows within print rounding; `TABLE2_EXCLUDED` lists the
  16 that do not, and why.
- Empirical: per-image detector scores (score = probability the image is fake).
  An image *passes* the filter (reaches the API) when it is judged real:
  DD1 `score < threshold` for one detector (a tie, score == threshold, is blocked:
  a detector that is unsure errs on the side of blocking); DD2 every detector
  says real; DD3 a logistic-regression stacker over all detectors' scores, fitted
  with Newton's method and evaluated out of fold (`stacked_scores_oof`).
  `gate_outcome` then gives attack success after the filter, where a blocked fake
  cannot succeed and the denominator stays all fakes, plus the share of real
  images wrongly blocked.

All array functions are pure and `jit`-able; percentages are 0..100.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from dicore.core.metrics import Counts, rates

# ---------------------------------------------------------------- analytic model


def gated_asr(asr_before: ArrayLike, accuracy: ArrayLike) -> Array:
    """Attack success after a detector of `accuracy` percent: `asr_before * (1 - acc/100)`.

    Both in percent; shapes must broadcast.
    """
    asr_before = jnp.asarray(asr_before, jnp.float32)
    accuracy = jnp.asarray(accuracy, jnp.float32)
    jnp.broadcast_shapes(asr_before.shape, accuracy.shape)  # raises on mismatch
    return asr_before * (1.0 - accuracy / 100.0)


# The Table 2 rows that the analytic model does not reproduce within print rounding
# (dataset, detector, vendor, attack). Checked in tests/test_defence.py.
TABLE2_EXCLUDED: dict[tuple[str, str, str, str], str] = {
    **{
        ("VoxCelebTH", det, vendor, attack): (
            "VoxCelebTH AWS/MS after-values imply before-rates of about 56.6 (AWS TA), "
            "61.0 (MS TA), 69.0 (AWS NA), 71.9 (MS NA), not the printed 68.7/78.0/77.8/78.8"
        )
        for det in ("ShallowNet", "CLRNet", "FTDetect")
        for vendor in ("aws", "azure")
        for attack in ("TA", "NA")
    },
    **{
        ("FCelebDF", "CLRNet", vendor, attack): (
            "FCelebDF/CLRNet after-values fit an accuracy of 98.0, not the printed 97.9"
        )
        for vendor, attack in (("naver", "TA"), ("aws", "NA"), ("azure", "NA"), ("naver", "NA"))
    },
}


def _half_unit(text: str) -> float:
    """Half a unit in the last printed digit of a number as printed ("1.16" -> 0.005)."""
    decimals = len(text.split(".")[1]) if "." in text else 0
    return 0.5 * 10.0 ** (-decimals)


def fits_within_rounding(
    before: float, accuracy: float, after_text: str, *, before_half_unit: float = 0.05,
    accuracy_half_unit: float = 0.05,
) -> bool:
    """Whether a printed after-value is consistent with `before x (1 - acc/100)` when every
    printed number may be off by half a unit in its last digit (interval arithmetic).

    Before-rates are Figure 4's percentages, given to one decimal (hence 0.05, also where
    Table 2 pads them to three digits, e.g. "2.10"); accuracies to one decimal.
    """
    after = float(after_text)
    lo = max(before - before_half_unit, 0.0) * (1 - (accuracy + accuracy_half_unit) / 100)
    hi = (before + before_half_unit) * (1 - (accuracy - accuracy_half_unit) / 100)
    tol = _half_unit(after_text)
    return (after + tol >= lo - 1e-12) and (after - tol <= hi + 1e-12)


# ---------------------------------------------------------------- empirical gating


class GateOutcome(NamedTuple):
    """Attack success after a detector filter, in percent (NaN when the denominator is 0).

    `ta_after`/`na_after`: fakes that pass the filter AND succeed, over all fakes.
    `ta_before`/`na_before`: the same without the filter. `real_blocked`: real images
    the filter blocks, over all real images. `fake_blocked`: fakes blocked (detector
    recall). `accuracy`: share of all images the filter classifies correctly.
    """

    ta_before: Array
    na_before: Array
    ta_after: Array
    na_after: Array
    real_blocked: Array
    fake_blocked: Array
    accuracy: Array
    n_fake: Array
    n_real: Array


def _pct(num: Array, den: Array) -> Array:
    """`dicore.core.metrics.rates` of num over den (den broadcast to num's shape)."""
    return rates(Counts(num, jnp.broadcast_to(den, jnp.shape(num))))


def gate_outcome(
    passed: ArrayLike, is_fake: ArrayLike, ta: ArrayLike, na: ArrayLike
) -> GateOutcome:
    """Attack success before/after a filter and the real images it wrongly blocks.

    Args:
      passed: (N,) bool, the image reaches the API (judged real).
      is_fake: (N,) bool.
      ta, na: (..., N) bool, the fake's targeted / non-targeted attack succeeds at the API
        (leading axes, e.g. vendors, are kept). Values on real rows are ignored.
    Returns: `GateOutcome`, fields of shape (...) (counts of shape ()).
    """
    passed = jnp.asarray(passed, bool)
    is_fake = jnp.asarray(is_fake, bool)
    ta = jnp.asarray(ta, bool)
    na = jnp.asarray(na, bool)
    n = passed.shape[0] if passed.ndim == 1 else -1
    if passed.ndim != 1 or is_fake.shape != (n,):
        raise ValueError(f"passed {passed.shape} and is_fake {is_fake.shape} must be (N,)")
    if ta.shape != na.shape or ta.shape[-1:] != (n,):
        raise ValueError(f"ta {ta.shape} and na {na.shape} must be (..., {n})")
    n_fake = jnp.sum(is_fake)
    n_real = jnp.sum(~is_fake)
    ta_f, na_f = ta & is_fake, na & is_fake
    blocked = ~passed
    n_correct = jnp.sum(blocked & is_fake) + jnp.sum(passed & ~is_fake)
    return GateOutcome(
        ta_before=_pct(jnp.sum(ta_f, axis=-1), n_fake),
        na_before=_pct(jnp.sum(na_f, axis=-1), n_fake),
        ta_after=_pct(jnp.sum(ta_f & passed, axis=-1), n_fake),
        na_after=_pct(jnp.sum(na_f & passed, axis=-1), n_fake),
        real_blocked=_pct(jnp.sum(blocked & ~is_fake), n_real),
        fake_blocked=_pct(jnp.sum(blocked & is_fake), n_fake),
        accuracy=_pct(n_correct, n_fake + n_real),
        n_fake=n_fake,
        n_real=n_real,
    )


def _check_scores(scores: ArrayLike) -> Array:
    scores = jnp.asarray(scores, jnp.float32)
    if scores.ndim != 2:
        raise ValueError(f"scores must be (N, D) (items x detectors), got {scores.shape}")
    return scores


def dd1_pass(scores: ArrayLike, *, detector: int = 0, threshold: float = 0.5) -> Array:
    """DD1: one detector; an image passes when `score < threshold` (a tie is blocked)."""
    scores = _check_scores(scores)
    if not 0 <= detector < scores.shape[1]:
        raise ValueError(f"detector index {detector} out of range for {scores.shape[1]} detectors")
    return scores[:, detector] < threshold


def dd2_pass(scores: ArrayLike, *, threshold: ArrayLike = 0.5) -> Array:
    """DD2: passes only when every detector says real (`score < threshold` for all)."""
    scores = _check_scores(scores)
    threshold = jnp.broadcast_to(jnp.asarray(threshold, jnp.float32), scores.shape[1:])
    return jnp.all(scores < threshold, axis=1)


# ---------------------------------------------------------------- DD3: stacking


def _logistic_loss(w: Array, x1: Array, y: Array, sw: Array, inv_c: float) -> Array:
    z = x1 @ w
    # log(1 + e^z) - y z, stable; the intercept (last column) is not penalised, as in sklearn.
    nll = jnp.sum(sw * (jnp.logaddexp(0.0, z) - y * z))
    return nll + 0.5 * inv_c * jnp.sum(w[:-1] ** 2)


def fit_logistic(
    x: ArrayLike, y: ArrayLike, *, sample_weight: ArrayLike | None = None, c: ArrayLike = 1.0,
    iterations: int = 30,
) -> Array:
    """L2-regularised logistic regression by Newton's method (scikit-learn's objective:
    `C * sum_i s_i logloss_i + ||w||^2 / 2`, intercept unpenalised).

    Each step tries step sizes 1, 1/2, ..., 1/512 and keeps the best (a vectorised line
    search, so it stays `jit`-able with a fixed number of iterations).

    Args: x (N, D) features; y (N,) 0/1; sample_weight (N,) (0 drops a row).
    Returns: (D + 1,) coefficients, the intercept last.
    """
    x = jnp.asarray(x, jnp.float32)
    if x.ndim != 2:
        raise ValueError(f"x must be (N, D), got {x.shape}")
    n, d = x.shape
    y = jnp.asarray(y, jnp.float32)
    sw = jnp.ones((n,), jnp.float32) if sample_weight is None else jnp.asarray(
        sample_weight, jnp.float32)
    if y.shape != (n,) or sw.shape != (n,):
        raise ValueError(f"y {y.shape} and sample_weight {sw.shape} must be ({n},)")
    x1 = jnp.concatenate([x, jnp.ones((n, 1), jnp.float32)], axis=1)
    return _newton(x1, y, sw, 1.0 / jnp.float32(c), iterations=iterations)


# Jitted at module level so eager callers reuse one compilation per shape (a scan built
# inside the wrapper would be re-traced on every call).
@functools.partial(jax.jit, static_argnames=("iterations",))
def _newton(x1: Array, y: Array, sw: Array, inv_c: Array, *, iterations: int) -> Array:
    d = x1.shape[1] - 1
    # 1e-6 keeps H invertible; dtypes follow x1 so the scan's carry keeps its dtype.
    reg = jnp.concatenate([jnp.full((d,), inv_c, x1.dtype), jnp.array([1e-6], x1.dtype)])
    steps = 0.5 ** jnp.arange(10, dtype=jnp.float32)

    def step(w, _):
        p = jax.nn.sigmoid(x1 @ w)
        grad = x1.T @ (sw * (p - y)) + jnp.concatenate([inv_c * w[:-1], jnp.zeros((1,), w.dtype)])
        hess = (x1.T * (sw * p * (1 - p))) @ x1 + jnp.diag(reg)
        delta = jnp.linalg.solve(hess, grad)
        cand = w[None, :] - steps[:, None] * delta[None, :]
        losses = jax.vmap(lambda wc: _logistic_loss(wc, x1, y, sw, inv_c))(cand)
        best = cand[jnp.nanargmin(losses)]
        keep = _logistic_loss(w, x1, y, sw, inv_c) <= jnp.nanmin(losses)
        return jnp.where(keep, w, best), None

    w, _ = jax.lax.scan(step, jnp.zeros((d + 1,), jnp.float32), None, length=iterations)
    return w


def predict_logistic(w: Array, x: ArrayLike) -> Array:
    """P(fake) from `fit_logistic` coefficients; x (N, D)."""
    x = jnp.asarray(x, jnp.float32)
    if x.ndim != 2 or x.shape[1] + 1 != w.shape[0]:
        raise ValueError(f"x {x.shape} does not match coefficients {w.shape}")
    return jax.nn.sigmoid(x @ w[:-1] + w[-1])


def fold_ids(key: Array, n: int, *, folds: int) -> Array:
    """Seeded fold assignment: a random permutation, then position mod `folds` (sizes differ
    by at most one)."""
    if folds < 2:
        raise ValueError(f"folds must be >= 2, got {folds}")
    perm = jax.random.permutation(key, n)
    return jnp.zeros((n,), jnp.int32).at[perm].set(jnp.arange(n, dtype=jnp.int32) % folds)


def stacked_scores_oof(
    scores: ArrayLike, is_fake: ArrayLike, folds_of: ArrayLike, *, folds: int, c: float = 1.0,
    iterations: int = 30,
) -> Array:
    """DD3: out-of-fold stacked P(fake). For each fold k a logistic regression is fitted on
    the other folds' (scores, is_fake) and predicts fold k; folds run in one `vmap`.

    Args: scores (N, D); is_fake (N,); folds_of (N,) ints in [0, folds); `folds` static.
    Returns: (N,) stacked probabilities, each from a model that never saw that image.
    """
    scores = _check_scores(scores)
    n = scores.shape[0]
    is_fake = jnp.asarray(is_fake, jnp.float32)
    folds_of = jnp.asarray(folds_of, jnp.int32)
    if is_fake.shape != (n,) or folds_of.shape != (n,):
        raise ValueError(f"is_fake {is_fake.shape} and folds_of {folds_of.shape} must be ({n},)")
    return _oof(scores, is_fake, folds_of, jnp.float32(c), folds=folds, iterations=iterations)


@functools.partial(jax.jit, static_argnames=("folds", "iterations"))
def _oof(scores, is_fake, folds_of, c, *, folds: int, iterations: int) -> Array:
    ks = jnp.arange(folds, dtype=jnp.int32)
    weights = jax.vmap(
        lambda k: fit_logistic(scores, is_fake, sample_weight=(folds_of != k).astype(jnp.float32),
                               c=c, iterations=iterations)
    )(ks)  # (K, D + 1)
    probs = jax.vmap(lambda w: predict_logistic(w, scores))(weights)  # (K, N)
    return jnp.take_along_axis(probs, jnp.clip(folds_of, 0, folds - 1)[None, :], axis=0)[0]


def dd3_pass(
    scores: ArrayLike, is_fake: ArrayLike, key: Array, *, folds: int = 5, threshold: float = 0.5,
    c: float = 1.0,
) -> Array:
    """DD3: passes when the out-of-fold stacked P(fake) < threshold (ties blocked)."""
    scores = _check_scores(scores)
    ids = fold_ids(key, scores.shape[0], folds=folds)
    return stacked_scores_oof(scores, is_fake, ids, folds=folds, c=c) < threshold


# ---------------------------------------------------------------- simulated detectors


def simulate_detector_scores(
    key: Array, is_fake: ArrayLike, accuracy: ArrayLike | Sequence[float], *, correlation: float = 0.5,
    sharpness: float = 2.0,
) -> Array:
    """SIMULATED detector scores (probability fake) for detectors of given accuracy (percent).

    Latent `z = (2 y - 1) d + e` with `d = Phi^-1(acc)`, so thresholding at 0.5 is correct with
    probability `acc` for fakes and reals alike; `e` shares `correlation` of its variance across
    detectors (real detectors err on the same hard images). Score = sigmoid(sharpness z).
    For demos on synthetic data only: label any output SIMULATED.

    Args: key; is_fake (N,); accuracy (D,) in (0, 100).
    Returns: (N, D) scores in (0, 1).
    """
    is_fake = jnp.asarray(is_fake, bool)
    acc = jnp.atleast_1d(jnp.asarray(accuracy, jnp.float32))
    if is_fake.ndim != 1 or acc.ndim != 1:
        raise ValueError(f"is_fake {is_fake.shape} must be (N,), accuracy {acc.shape} (D,)")
    n, d = is_fake.shape[0], acc.shape[0]
    sep = jax.scipy.special.ndtri(jnp.clip(acc / 100.0, 1e-6, 1 - 1e-6))
    k_common, k_own = jax.random.split(key)
    common = jax.random.normal(k_common, (n, 1))
    own = jax.random.normal(k_own, (n, d))
    noise = jnp.sqrt(correlation) * common + jnp.sqrt(1.0 - correlation) * own
    sign = jnp.where(is_fake, 1.0, -1.0)[:, None]
    return jax.nn.sigmoid(sharpness * (sign * sep[None, :] + noise))
