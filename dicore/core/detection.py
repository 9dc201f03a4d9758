"""Detector curves for the defence gate: ROC AUC, EER with its threshold, average precision,
APCER at a fixed BPCER, balanced accuracy, and the DET curve (ISO/IEC 30107-3 names).

A detector's score is P(fake). The gate BLOCKS an image when `score >= t` (a tie is
blocked, as in `dicore.core.defence.dd1_pass`), so at threshold t:

- APCER(t) = share of fakes (attack presentations) that pass: `score < t`;
- BPCER(t) = share of real images (bona fide) blocked: `score >= t`.

Pure and `jit`-able. Every function takes `valid` (N,) bool (default all) so that padded
or masked rows drop out without changing shapes. References: scikit-learn's
`roc_auc_score`, `average_precision_score`, `roc_curve` (tests/test_detection.py).
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
from jax import Array
from jax.ops import segment_sum


def _masks(is_fake, valid):
    is_fake = jnp.asarray(is_fake, bool)
    valid = jnp.ones_like(is_fake) if valid is None else jnp.asarray(valid, bool)
    return is_fake & valid, ~is_fake & valid


def _sorted_where(scores: Array, mask: Array) -> Array:
    """Scores of `mask` rows sorted ascending; the other rows become +inf at the end."""
    return jnp.sort(jnp.where(mask, scores, jnp.inf))


def _count_below(sorted_: Array, x: Array, side: str) -> Array:
    """How many finite entries of `sorted_` are < x (side left) or <= x (side right)."""
    return jnp.searchsorted(sorted_, x, side=side).astype(jnp.float64)


def roc_auc(scores, is_fake, valid=None) -> Array:
    """P(score of a fake > score of a real) + half P(equal) (Mann-Whitney); NaN without
    both classes. Equals `sklearn.metrics.roc_auc_score(is_fake, scores)`."""
    scores = jnp.asarray(scores, jnp.float64)
    fake, real = _masks(is_fake, valid)
    reals = _sorted_where(scores, real)
    below = _count_below(reals, scores, "left")
    ties = _count_below(reals, scores, "right") - below
    n_f, n_r = jnp.sum(fake), jnp.sum(real)
    wins = jnp.sum(jnp.where(fake, below + 0.5 * ties, 0.0))
    return jnp.where((n_f > 0) & (n_r > 0), wins / jnp.maximum(n_f * n_r, 1), jnp.nan)


def average_precision(scores, is_fake, valid=None) -> Array:
    """Average precision with the fakes as positives, no interpolation: the mean over
    fakes of the precision when blocking at that fake's score (sklearn's
    `average_precision_score`); NaN without fakes."""
    scores = jnp.asarray(scores, jnp.float64)
    fake, real = _masks(is_fake, valid)
    fakes, reals = _sorted_where(scores, fake), _sorted_where(scores, real)
    n_f, n_r = jnp.sum(fake), jnp.sum(real)
    tp = n_f - _count_below(fakes, scores, "left")  # fakes with score >= s
    fp = n_r - _count_below(reals, scores, "left")
    precision = tp / jnp.maximum(tp + fp, 1.0)
    return jnp.where(n_f > 0, jnp.sum(jnp.where(fake, precision, 0.0)) / jnp.maximum(n_f, 1),
                     jnp.nan)


class ErrorCurve(NamedTuple):
    """APCER and BPCER (fractions 0..1) at each candidate threshold, ascending, shape (N + 1,):
    every row's score (masked rows at +inf) and +inf (nothing blocked)."""

    thresholds: Array
    apcer: Array
    bpcer: Array


def error_curve(scores, is_fake, valid=None) -> ErrorCurve:
    """APCER(t) and BPCER(t) at every score as threshold (see the module docstring)."""
    scores = jnp.asarray(scores, jnp.float64)
    fake, real = _masks(is_fake, valid)
    fakes, reals = _sorted_where(scores, fake), _sorted_where(scores, real)
    everyone = fake | real
    t = jnp.concatenate([jnp.sort(jnp.where(everyone, scores, jnp.inf)), jnp.array([jnp.inf])])
    n_f, n_r = jnp.sum(fake), jnp.sum(real)
    apcer = _count_below(fakes, t, "left") / jnp.maximum(n_f, 1)
    bpcer = 1.0 - _count_below(reals, t, "left") / jnp.maximum(n_r, 1)
    # +inf blocks nothing: APCER 1, BPCER 0 (searchsorted counts the +inf padding there).
    last = jnp.isinf(t)
    apcer = jnp.where(last, 1.0, apcer)
    bpcer = jnp.where(last, 0.0, bpcer)
    return ErrorCurve(t, apcer, bpcer)


class OperatingPoint(NamedTuple):
    threshold: Array
    apcer: Array
    bpcer: Array


def equal_error_rate(scores, is_fake, valid=None) -> tuple[Array, Array]:
    """(EER, its threshold): at the candidate threshold where |APCER - BPCER| is smallest
    (the lowest such threshold on ties), EER = (APCER + BPCER) / 2, a fraction."""
    c = error_curve(scores, is_fake, valid)
    i = jnp.argmin(jnp.abs(c.apcer - c.bpcer))
    return (c.apcer[i] + c.bpcer[i]) / 2.0, c.thresholds[i]


def apcer_at_bpcer(scores, is_fake, bpcer_max, valid=None) -> OperatingPoint:
    """The lowest threshold whose BPCER <= `bpcer_max` (a fraction), and its APCER there:
    the gate that blocks the most fakes while blocking at most that share of real images."""
    c = error_curve(scores, is_fake, valid)
    ok = c.bpcer <= bpcer_max + 1e-7  # +inf always qualifies (BPCER 0)
    i = jnp.argmax(ok)  # first (lowest) qualifying threshold
    return OperatingPoint(c.thresholds[i], c.apcer[i], c.bpcer[i])


def balanced_accuracy(scores, is_fake, threshold, valid=None) -> Array:
    """1 - (APCER + BPCER) / 2 at `threshold` (blocked when score >= threshold): sklearn's
    `balanced_accuracy_score(is_fake, score >= threshold)`."""
    scores = jnp.asarray(scores, jnp.float64)
    fake, real = _masks(is_fake, valid)
    blocked = scores >= threshold
    tpr = jnp.sum(fake & blocked) / jnp.maximum(jnp.sum(fake), 1)
    tnr = jnp.sum(real & ~blocked) / jnp.maximum(jnp.sum(real), 1)
    return (tpr + tnr) / 2.0


def video_scores(scores, video, is_fake, *, n_videos: int, valid=None):
    """Frame scores -> one score per video (the mean of its frames, DeepfakeBench's rule):
    (score (V,), is_fake (V,) = any frame fake, valid (V,) = has a frame). Rows with
    video -1 are left out."""
    scores = jnp.asarray(scores, jnp.float64)
    video = jnp.asarray(video, jnp.int32)
    keep = video >= 0
    if valid is not None:
        keep = keep & jnp.asarray(valid, bool)
    seg = jnp.where(keep, video, n_videos)
    frames = segment_sum(keep.astype(jnp.float64), seg, num_segments=n_videos)
    total = segment_sum(jnp.where(keep, scores, 0.0), seg, num_segments=n_videos)
    fake = segment_sum((keep & jnp.asarray(is_fake, bool)).astype(jnp.int32), seg,
                       num_segments=n_videos) > 0
    return total / jnp.maximum(frames, 1.0), fake, frames > 0


def video_auc(scores, video, is_fake, *, n_videos: int, valid=None) -> Array:
    """ROC AUC over videos, each scored by the mean of its frames' scores."""
    s, f, v = video_scores(scores, video, is_fake, n_videos=n_videos, valid=valid)
    return roc_auc(s, f, v)
