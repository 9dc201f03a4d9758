"""The study's metrics (TA, NA, DHF, DHC, DHS, SIC), per (dataset, vendor) group, in JAX.

Every function here is pure and `jit`-able (`sizes`, a `GroupSizes`, is static by
construction); `beta` and `gamma` may be traced. A group id is `dataset * n_vendors +
vendor`, so there are `sizes.n_groups = n_datasets * n_vendors` groups; rows whose group falls outside
that range are dropped. Each metric comes with its counts: `numerator` and
`denominator` (its n); the rate is `100 * numerator / denominator` and NaN when
the denominator is 0.

The rules, per fake X_D with target T and paired real X_T (same vendor):

- TA: X_D named T and X_T named T. A synthesis fake (blend of sources T and R)
  also counts when named R and R's real image (`ref_paired_row`) is named R.
  Denominator: fakes.
- NA: X_D named (any name, `predicted != -1`). Denominator: fakes.
- DHF: X_D named and conf(X_D) > conf(X_T) (strict). X_T's confidence is the
  one it got for whatever name it was given; a real image with no name (or a
  fake with no paired row) counts as confidence 0. Denominator: fakes (the
  paper: 902 of 3,200 VoxCelebTH fakes = 28.2% for AWS).
- DHC(beta): X_D named and conf(X_D) > beta (strict). Denominator: named fakes
  (the paper's MS DHC on CelebBlend, 74.4%, exceeds MS NA there, 21.2%, so it
  cannot be a share of all fakes).
- DHS(gamma): X_D not named and similarity(X_T, X_D) > gamma (strict).
  Denominator: fakes not named that have a similarity (the paper's AWS DHS of
  94.4% exceeds 100 - NA on every dataset, so it cannot be a share of all
  fakes). A vendor with no similarity call (Naver) has n = 0: value NaN.
- SIC: identities the attacker impersonated / identities it could impersonate, within
  the group. A fake impersonates the identity it achieves TA *as*: its target T when
  named T, or, for a synthesis fake named R (the reference rule of TA), its reference
  R; T is not impersonated by that fake. Denominator: identities some fake could
  impersonate: every fake's target, and every synthesis fake's reference. The paper's
  SIC counts impersonated celebrities ("the attacker can successfully impersonate 58
  out of 58 celebrities"); crediting a blend named R to its target T counted a
  celebrity that fake did not impersonate (CelebBlend, simulated, paper scale, seed
  0: Naver 40% by target, 15% by the identity impersonated; the paper: Naver below
  21% on every dataset).
  Without synthesis fakes this is the target rule: identities with a TA fake /
  identities with a fake.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
from jax import Array

from dicore.core.groups import GroupSizes, segment_count
from dicore.core.kernel import counts_above
from dicore.core.observations import Observations
from dicore.core.vocab import DEFAULT_BETA, DEFAULT_GAMMA, METHODS

SYNTHESIS = METHODS.index("synthesis")


class FakeOutcomes(NamedTuple):
    """Per-row outcomes, shape (N,) each; real rows are False / NaN throughout.

    - is_fake: the row is a fake.
    - named: fake with a name (`predicted != -1`): NA's numerator, DHC's denominator.
    - targeted: fake that achieves TA (rule in the module docstring).
    - impersonated: the identity a TA fake is named as, SIC's credit: its target (TA by
      target), else its reference (a synthesis fake, TA by reference); -1 if no TA.
    - higher_than_real: fake named with confidence > its real's (0 if the real has no name).
    - fake_confidence: confidence of a named fake, else NaN (DHC compares it `> beta`).
    - real_confidence: confidence the paired real got, 0 if unnamed; NaN on real rows.
    - unnamed_similarity: similarity of a fake that is not named, else NaN (DHS
      compares it `> gamma`; its non-NaN rows are DHS's denominator).
    """

    is_fake: Array
    named: Array
    targeted: Array
    impersonated: Array
    higher_than_real: Array
    fake_confidence: Array
    real_confidence: Array
    unnamed_similarity: Array


class Counts(NamedTuple):
    """Numerators and denominators, shape (6, G) int32 in `METRICS` order."""

    numerator: Array
    denominator: Array


def group_ids(obs: Observations, *, sizes: GroupSizes) -> Array:
    """Group id of each row: `dataset * n_vendors + vendor`, shape (N,) int32."""
    obs.check()
    return jnp.asarray(obs.dataset, jnp.int32) * sizes.n_vendors + jnp.asarray(obs.vendor, jnp.int32)


def paired_values(column: Array, rows: Array, fill) -> Array:
    """column[rows] where rows >= 0, else `fill` (rows are -1 for 'no such row')."""
    if column.shape[0] == 0:
        return jnp.full(rows.shape, fill, column.dtype)
    return jnp.where(rows >= 0, column[jnp.clip(rows, 0, column.shape[0] - 1)], fill)


def fake_outcomes(obs: Observations) -> FakeOutcomes:
    """Per-row TA / NA / DHF outcomes and the values DHC and DHS threshold (see `FakeOutcomes`).

    Ties: DHF needs conf(X_D) > conf(X_T) strictly, so equal confidences are not DHF.
    A real image with no name counts as confidence 0, so any named fake with
    positive confidence beats it.
    """
    obs.check()
    is_fake = jnp.asarray(obs.is_fake, bool)
    predicted = jnp.asarray(obs.predicted, jnp.int32)
    target = jnp.asarray(obs.target, jnp.int32)
    reference = jnp.asarray(obs.reference, jnp.int32)
    confidence = jnp.asarray(obs.confidence, jnp.float64)  # exact: see Observations
    similarity = jnp.asarray(obs.similarity, jnp.float64)
    paired = jnp.asarray(obs.paired_row, jnp.int32)
    ref_paired = jnp.asarray(obs.ref_paired_row, jnp.int32)
    nan = jnp.float64(jnp.nan)

    named = is_fake & (predicted >= 0)
    real_pred = paired_values(predicted, paired, -1)
    by_target = named & (predicted == target) & (real_pred == target)
    ref_real_pred = paired_values(predicted, ref_paired, -1)
    by_reference = (
        named
        & (jnp.asarray(obs.method, jnp.int32) == SYNTHESIS)
        & (reference >= 0)
        & (predicted == reference)
        & (ref_real_pred == reference)
    )
    real_named = real_pred >= 0
    real_conf = jnp.where(real_named, jnp.nan_to_num(paired_values(confidence, paired, 0.0)), 0.0)
    return FakeOutcomes(
        is_fake=is_fake,
        named=named,
        targeted=by_target | by_reference,
        impersonated=jnp.where(by_target, target, jnp.where(by_reference, reference, -1)),
        higher_than_real=named & (confidence > real_conf),
        fake_confidence=jnp.where(named, confidence, nan),
        real_confidence=jnp.where(is_fake, real_conf, nan),
        unnamed_similarity=jnp.where(is_fake & ~named, similarity, nan),
    )


def segment_counts(
    outcomes: FakeOutcomes,
    segment_ids: Array,
    *,
    num_segments: int,
    beta: float | Array = DEFAULT_BETA,
    gamma: float | Array = DEFAULT_GAMMA,
) -> Counts:
    """Counts of the five row metrics (TA, NA, DHF, DHC, DHS) per segment, shape (5, S).

    DHC and DHS come from `dicore.core.kernel.counts_above` (strict `>`), the same
    kernel the threshold sweeps use. Segments may be groups or (group, identity).
    """
    segment_ids = jnp.asarray(segment_ids, jnp.int32)
    if segment_ids.shape != outcomes.is_fake.shape:
        raise ValueError(
            f"segment_ids shape {segment_ids.shape} must match the rows {outcomes.is_fake.shape}"
        )
    fakes = segment_count(outcomes.is_fake, segment_ids, num_segments)

    def above(values, threshold):
        t = jnp.reshape(jnp.asarray(threshold, values.dtype), (1,))
        return counts_above(values, t, segment_ids=segment_ids, num_segments=num_segments)[
            :, 0
        ].astype(jnp.int32)

    named = segment_count(outcomes.named, segment_ids, num_segments)
    with_sim = segment_count(~jnp.isnan(outcomes.unnamed_similarity), segment_ids, num_segments)
    numerator = jnp.stack(
        [
            segment_count(outcomes.targeted, segment_ids, num_segments),
            named,
            segment_count(outcomes.higher_than_real, segment_ids, num_segments),
            above(outcomes.fake_confidence, beta),
            above(outcomes.unnamed_similarity, gamma),
        ]
    )
    denominator = jnp.stack([fakes, fakes, fakes, named, with_sim])
    return Counts(numerator, denominator)


def ta_counts(obs: Observations, *, sizes: GroupSizes) -> Counts:
    """TA per group, shapes (G,): fakes named as their target T whose real X_T is named T,
    plus synthesis fakes named as their reference R whose R real image is named R
    (an exact id match; confidence plays no part) / fakes."""
    return _row_metric(obs, 0, sizes)


def na_counts(obs: Observations, *, sizes: GroupSizes) -> Counts:
    """NA per group, shapes (G,): fakes with any name (`predicted != -1`) / fakes."""
    return _row_metric(obs, 1, sizes)


def dhf_counts(obs: Observations, *, sizes: GroupSizes) -> Counts:
    """DHF per group, shapes (G,): named fakes with confidence > (strict) the confidence
    their paired real got (0 when the real has no name) / fakes. Ties are not DHF."""
    return _row_metric(obs, 2, sizes)


def dhc_counts(obs: Observations, *, sizes: GroupSizes, beta=DEFAULT_BETA) -> Counts:
    """DHC(beta) per group, shapes (G,): named fakes with confidence > beta (strict; a
    confidence equal to beta does not count) / named fakes."""
    return _row_metric(obs, 3, sizes, beta=beta)


def dhs_counts(obs: Observations, *, sizes: GroupSizes, gamma=DEFAULT_GAMMA) -> Counts:
    """DHS(gamma) per group, shapes (G,): unnamed fakes with similarity > gamma (strict) /
    unnamed fakes that have a similarity. Groups without similarity calls: n = 0."""
    return _row_metric(obs, 4, sizes, gamma=gamma)


def _row_counts(obs, sizes, beta, gamma) -> Counts:
    """The five row metrics per group, (5, G)."""
    return segment_counts(
        fake_outcomes(obs), group_ids(obs, sizes=sizes), num_segments=sizes.n_groups,
        beta=beta, gamma=gamma,
    )


def _row_metric(obs, index, sizes, *, beta=DEFAULT_BETA, gamma=DEFAULT_GAMMA) -> Counts:
    c = _row_counts(obs, sizes, beta, gamma)
    return Counts(c.numerator[index], c.denominator[index])


def identity_segments(obs: Observations, *, sizes: GroupSizes) -> Array:
    """Segment id of (group, target identity): `group * n_identities + target`, shape (N,)."""
    return group_ids(obs, sizes=sizes) * sizes.n_identities + jnp.asarray(obs.target, jnp.int32)


def impersonation_counts(obs: Observations, *, sizes: GroupSizes) -> Counts:
    """Per (group, identity), shapes (G, I) int32, counts that add over parts of a file:
    numerator: fakes that impersonate the identity (`FakeOutcomes.impersonated`);
    denominator: fakes that could impersonate it: the fakes whose target it is, plus the
    synthesis fakes whose reference it is (and not their target). SIC only asks whether
    each is > 0 (`sic_indicators`). `sizes.n_identities` must exceed every identity id."""
    out = fake_outcomes(obs)
    group = group_ids(obs, sizes=sizes)
    target = jnp.asarray(obs.target, jnp.int32)
    reference = jnp.asarray(obs.reference, jnp.int32)
    synthesis_reference = (
        out.is_fake & (jnp.asarray(obs.method, jnp.int32) == SYNTHESIS)
        & (reference >= 0) & (reference != target)
    )
    size = sizes.n_groups * sizes.n_identities
    shape = (sizes.n_groups, sizes.n_identities)

    def per_identity(mask, identity):
        # masked rows add 0, so the segment of a masked row's -1 identity does not matter
        return segment_count(mask, group * sizes.n_identities + identity, size).reshape(shape)

    return Counts(
        per_identity(out.impersonated >= 0, out.impersonated),
        per_identity(out.is_fake, target) + per_identity(synthesis_reference, reference),
    )


def sic_indicators(impersonation: Counts) -> Counts:
    """SIC per (group, identity), shapes (..., I) int32, from `impersonation_counts` (or
    their sums over parts of a file): 1/1 impersonated, 0/1 impersonable but not
    impersonated, 0/0 otherwise. The one place the SIC rule meets the counts."""
    return Counts(
        (impersonation.numerator > 0).astype(jnp.int32),
        (impersonation.denominator > 0).astype(jnp.int32),
    )


def sic_counts(obs: Observations, *, sizes: GroupSizes) -> Counts:
    """SIC per group, shapes (G,): identities impersonated by >= 1 fake (a fake achieving
    TA as them) / identities some fake could impersonate (rule: module docstring).
    `sizes.n_identities` must exceed every identity id."""
    per_identity = sic_indicators(impersonation_counts(obs, sizes=sizes))
    return Counts(
        jnp.sum(per_identity.numerator, axis=-1, dtype=jnp.int32),
        jnp.sum(per_identity.denominator, axis=-1, dtype=jnp.int32),
    )


def group_counts(
    obs: Observations,
    *,
    sizes: GroupSizes,
    beta: float | Array = DEFAULT_BETA,
    gamma: float | Array = DEFAULT_GAMMA,
) -> Counts:
    """All six metrics' counts per group, shape (6, G) in `METRICS` order (rules: module doc)."""
    rows = _row_counts(obs, sizes, beta, gamma)
    sic = sic_counts(obs, sizes=sizes)
    return Counts(
        jnp.concatenate([rows.numerator, sic.numerator[None]]),
        jnp.concatenate([rows.denominator, sic.denominator[None]]),
    )


def rates(counts: Counts) -> Array:
    """Percent `100 * numerator / denominator`, NaN where the denominator is 0."""
    num = jnp.asarray(counts.numerator, jnp.float64)
    den = jnp.asarray(counts.denominator, jnp.float64)
    if num.shape != den.shape:
        raise ValueError(f"numerator {num.shape} and denominator {den.shape} must match")
    return jnp.where(den > 0, 100.0 * num / jnp.maximum(den, 1.0), jnp.nan)
