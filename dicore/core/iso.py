"""ISO/IEC 30107-3 error rates of a deepfake-detector gate (docs/metrics.md, ISO names).

Detector scores are the probability that an image is fake; an image passes the gate
(reaches the API) when score < threshold, as `dicore.core.defence.dd1_pass` has it.

- APCER(t): fakes (attack presentations) that pass / fakes.
- BPCER(t): real images (bona fide presentations) blocked, score >= t / real images.
- `apcer_at_bpcer(target)`: the lowest APCER over all thresholds whose BPCER <= target
  (percent); the threshold returned is the smallest one reaching it. Thresholds that
  matter sit just above a real image's score (BPCER falls only there), so the candidates
  are `nextafter(real score, +inf)` and -inf (block everything). Equal to scikit-learn's
  `1 - max(tpr[fpr <= target])` on `roc_curve(is_fake, scores)` (tested).

Percent, NaN where a denominator is 0. Pure and `jit`-able.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import Array


class GateErrors(NamedTuple):
    apcer: Array
    bpcer: Array
    threshold: Array


def _pct(num, den):
    den = jnp.asarray(den, jnp.float32)
    return jnp.where(den > 0, 100.0 * num / jnp.maximum(den, 1.0), jnp.nan)


def apcer_bpcer(scores, is_fake, threshold) -> GateErrors:
    """APCER and BPCER (percent) at `threshold` (scalar or (K,) thresholds)."""
    scores = jnp.asarray(scores, jnp.float32)
    fake = jnp.asarray(is_fake, bool)
    t = jnp.asarray(threshold, jnp.float32)
    passed = scores[None, :] < jnp.reshape(t, (-1, 1))
    apcer = _pct(jnp.sum(passed & fake, axis=1), jnp.sum(fake))
    bpcer = _pct(jnp.sum(~passed & ~fake, axis=1), jnp.sum(~fake))
    return GateErrors(apcer.reshape(t.shape), bpcer.reshape(t.shape), t)


def apcer_at_bpcer(scores, is_fake, *, target: float | Array) -> GateErrors:
    """The lowest APCER with BPCER <= target percent, its BPCER and threshold (scalars)."""
    scores = jnp.asarray(scores, jnp.float32)
    fake = jnp.asarray(is_fake, bool)
    big = jnp.float32(jnp.inf)
    fakes_sorted = jnp.sort(jnp.where(fake, scores, big))
    reals_sorted = jnp.sort(jnp.where(fake, big, scores))
    n_fake, n_real = jnp.sum(fake), jnp.sum(~fake)
    # Candidates: just above each real score (padding rows become +inf), and -inf.
    cand = jnp.concatenate([jnp.array([-big]), jnp.nextafter(reals_sorted, big)])
    passed_fakes = jnp.minimum(jnp.searchsorted(fakes_sorted, cand, side="left"), n_fake)
    blocked_reals = n_real - jnp.minimum(jnp.searchsorted(reals_sorted, cand, side="left"), n_real)
    apcer = _pct(passed_fakes, n_fake)
    bpcer = _pct(blocked_reals, n_real)
    ok = bpcer <= target
    i = jnp.argmin(jnp.where(ok, apcer, jnp.inf))  # first minimum: the smallest threshold
    found = jnp.any(ok) & (n_fake > 0)
    pick = lambda a: jnp.where(found, a[i], jnp.nan)  # noqa: E731
    return GateErrors(pick(apcer), pick(bpcer), pick(cand))


apcer_bpcer_jit = jax.jit(apcer_bpcer)
apcer_at_bpcer_jit = jax.jit(apcer_at_bpcer)
