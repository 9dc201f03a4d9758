"""Reporting-policy replay: what TA, NA and genuine recognition would be if a vendor
reported only names with confidence >= tau, and the attack/genuine trade-off over tau.

Rules (per (dataset, vendor) group, g = dataset * n_vendors + vendor; inclusive `>=`):

- NA(tau): fakes named with confidence >= tau / fakes.
- TA(tau): fakes that achieve TA (the rule of `dicore.core.metrics`) with the fake's
  confidence >= tau *and* the confidence of the real image whose name makes it TA
  (X_T, or the reference's real for a synthesis fake named R) >= tau / fakes.
  So a fake counts while tau <= min(conf(X_D), conf(real)).
- genuine recognition GR(tau): real images named as their own target with
  confidence >= tau / real images (method `real`; impostors are not genuine images of
  the study's identities). The genuine miss rate is 100 - GR.

Censoring. A vendor hides every name below its floor (AWS about 55, Azure about 70,
Naver 0.01, from the paper's section 7; `dicore.paper.reporting_floors()`; callers pass
them in as `floors`). Above the floor the data hold
every name the vendor would report, so replay at tau >= floor is exact; below it the
hidden names are unknown. `replay_policy` therefore raises ValueError when any tau is
below the floor of a vendor it replays (tau equal to the floor is allowed). The check
runs outside `jit`, on the concrete grid; `replay_counts` is the pure, jit-able core
without the check.

Operating points, per group, on (G, K) percent curves over ascending taus:
- `min_attack_point`: among taus with GR >= target (inclusive), the one with the
  lowest attack success; ties go to the smallest such tau (more genuine recognition).
  Infeasible groups (no tau reaches the target, or empty) get index -1 and NaN.
- `equal_error_point`: where attack success equals the genuine miss rate. With
  d = attack - (100 - GR), the first grid step k-1 -> k (ascending tau) with
  d[k-1] > 0 >= d[k], linearly interpolated in tau: tau* = tau[k-1] + (tau[k] -
  tau[k-1]) * d[k-1] / (d[k-1] - d[k]); exactly tau[0] when d[0] == 0. Rates at tau*
  are interpolated the same way. No crossing on the grid: NaN.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from dicore.core.groups import GroupSizes, segment_count
from dicore.core.kernel import Thresholds, UniformGrid, counts_above, threshold_values
from dicore.core.metrics import Counts, group_ids, paired_values, rates
from dicore.core.observations import Observations
from dicore.core.vocab import METHODS, VENDORS

ATTACKS = ("TA", "NA")


class PolicyReplay(NamedTuple):
    """Counts at every tau, (G, K) each (numerator and denominator)."""

    ta: Counts
    na: Counts
    genuine: Counts


def replay_counts(obs: Observations, taus: Thresholds, *, sizes: GroupSizes) -> PolicyReplay:
    """TA, NA and genuine recognition at every tau (inclusive `>=`), no censoring check.

    Pure and jit-able; see the module docstring for the rules. Use `replay_policy`
    unless the taus were checked against the vendors' floors.
    """
    return replay_segment_counts(
        obs, taus, segment_ids=group_ids(obs, sizes=sizes), num_segments=sizes.n_groups
    )


def replay_segment_counts(
    obs: Observations, taus: Thresholds, *, segment_ids, num_segments: int
) -> PolicyReplay:
    """`replay_counts` per segment (a group, or a (group, identity) cluster): (S, K) each.

    Rows whose segment lies outside [0, num_segments) are dropped. Impostor rows (method
    `impostor`) are neither fakes nor genuine images here.
    """
    obs.check()
    seg = jnp.asarray(segment_ids, jnp.int32)
    g = num_segments
    is_fake = jnp.asarray(obs.is_fake, bool)
    genuine_row = ~is_fake & (jnp.asarray(obs.method, jnp.int32) != METHODS.index("impostor"))
    conf = jnp.asarray(obs.confidence, jnp.float64)  # exact: see Observations
    predicted = jnp.asarray(obs.predicted, jnp.int32)
    target = jnp.asarray(obs.target, jnp.int32)
    reference = jnp.asarray(obs.reference, jnp.int32)
    named = is_fake & (predicted >= 0)
    nan = jnp.float64(jnp.nan)

    # TA survives tau while both the fake's and the matching real's confidence are >= tau.
    def via(rows, identity, allowed):
        rows = jnp.asarray(rows, jnp.int32)
        hit = allowed & named & (predicted == identity) & (paired_values(predicted, rows, -1) == identity)
        return jnp.where(hit, jnp.minimum(conf, paired_values(conf, rows, nan)), nan)

    synthesis = (jnp.asarray(obs.method, jnp.int32) == METHODS.index("synthesis")) & (reference >= 0)
    ta_value = jnp.fmax(
        via(obs.paired_row, target, True), via(obs.ref_paired_row, reference, synthesis)
    )
    na_value = jnp.where(named, conf, nan)
    genuine_value = jnp.where(genuine_row & (predicted >= 0) & (predicted == target), conf, nan)

    def above(values):
        return counts_above(values, taus, segment_ids=seg, num_segments=g, inclusive=True)

    def per_group(mask):
        return segment_count(mask, seg, g)

    ta = above(ta_value)
    k = ta.shape[1]
    fakes = jnp.broadcast_to(per_group(is_fake)[:, None], (g, k))
    reals = jnp.broadcast_to(per_group(genuine_row)[:, None], (g, k))
    return PolicyReplay(
        ta=Counts(ta, fakes),
        na=Counts(above(na_value), fakes),
        genuine=Counts(above(genuine_value), reals),
    )


_replay_counts = jax.jit(replay_counts)  # `sizes` is a static pytree: one compile per shape


def check_taus(
    taus: Thresholds,
    vendors: list[str] | tuple[str, ...],
    *,
    floors: Mapping[str, float],
) -> None:
    """Raise ValueError when a tau lies below the reporting floor of one of `vendors`.

    Concrete grids only (outside `jit`). tau == floor is allowed: the vendor reports
    names with confidence >= its floor. NaN or unsorted taus are rejected too.
    """
    values = np.asarray(taus.values(np.float64) if isinstance(taus, UniformGrid) else taus, np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"taus must be a non-empty 1-D grid, got shape {values.shape}")
    if np.isnan(values).any() or np.any(np.diff(values) < 0):
        raise ValueError("taus must be sorted ascending and free of NaN")
    lowest = float(values.min())
    for vendor in vendors:
        if vendor not in floors:
            raise ValueError(f"no reporting floor known for vendor {vendor!r}; pass floors=")
        floor = float(floors[vendor])
        # float64, as the kernel compares: a grid point equal to the floor passes.
        if lowest < floor:
            raise ValueError(
                f"tau {lowest:g} is below {vendor}'s reporting floor {floor:g}: the vendor hides "
                f"names under {floor:g}% confidence, so what it would report there is unknown "
                f"(censored); start the tau grid at {floor:g} or above"
            )


def replay_policy(
    obs: Observations,
    taus: Thresholds,
    *,
    sizes: GroupSizes,
    floors: Mapping[str, float],
) -> PolicyReplay:
    """`replay_counts` after checking taus against the floor of every vendor present in `obs`.

    Raises ValueError for a tau below a present vendor's floor (see `check_taus`).
    Replay vendors with different floors separately (e.g. on per-vendor subsets, or
    read only the groups of the vendor whose floor the grid respects).
    """
    present = sorted({int(v) for v in np.unique(np.asarray(obs.vendor))})
    vendor_names = [VENDORS[v] for v in present if 0 <= v < len(VENDORS)]
    check_taus(taus, vendor_names, floors=floors)
    return _replay_counts(obs, taus, sizes=sizes)


class TradeOff(NamedTuple):
    """Attack success and genuine recognition (percent) at every tau, (G, K) each."""

    taus: Array
    attack: Array
    genuine: Array


def trade_off(replay: PolicyReplay, taus: Thresholds, *, attack: str = "TA") -> TradeOff:
    """The trade-off curve: attack success (TA or NA) vs genuine recognition over tau."""
    if attack not in ATTACKS:
        raise ValueError(f"attack must be one of {ATTACKS}, got {attack!r}")
    counts = replay.ta if attack == "TA" else replay.na
    return TradeOff(threshold_values(taus, np.float64), rates(counts), rates(replay.genuine))


class OperatingPoint(NamedTuple):
    """Per group (G,): grid index (-1 if none; -1 also for interpolated points), tau,
    attack and genuine rates at it, and whether a point exists."""

    index: Array  # type: ignore[assignment]  # a field named like tuple.index: mypy flags the shadowing
    tau: Array
    attack: Array
    genuine: Array
    found: Array


def _check_curves(taus, attack, genuine):
    taus = jnp.asarray(taus, jnp.float64)
    attack = jnp.asarray(attack, jnp.float64)
    genuine = jnp.asarray(genuine, jnp.float64)
    if taus.ndim != 1 or attack.ndim != 2 or attack.shape != genuine.shape or attack.shape[1] != taus.shape[0]:
        raise ValueError(
            f"need taus (K,) and attack, genuine (G, K); got {taus.shape}, {attack.shape}, {genuine.shape}"
        )
    return taus, attack, genuine


def min_attack_point(taus, attack, genuine, *, target: float | Array) -> OperatingPoint:
    """The tau with the lowest attack success among those with genuine >= target (inclusive).

    Ties in attack success go to the smallest tau. Groups with no such tau (or NaN
    curves) get index -1, NaN values and found False. jit-able.
    """
    taus, attack, genuine = _check_curves(taus, attack, genuine)
    ok = (genuine >= target) & ~jnp.isnan(attack)  # NaN compares False
    idx = jnp.argmin(jnp.where(ok, attack, jnp.inf), axis=1)  # first minimum: smallest tau
    found = jnp.any(ok, axis=1)
    pick = lambda a: jnp.where(found, jnp.take_along_axis(a, idx[:, None], axis=1)[:, 0], jnp.nan)  # noqa: E731
    return OperatingPoint(
        jnp.where(found, idx, -1).astype(jnp.int32),
        jnp.where(found, taus[idx], jnp.nan),
        pick(attack),
        pick(genuine),
        found,
    )


def equal_error_point(taus, attack, genuine) -> OperatingPoint:
    """Where attack success equals the genuine miss rate (100 - genuine), interpolated.

    The first step (ascending tau) where d = attack - miss goes from > 0 to <= 0; linear
    interpolation in tau between the two grid points (exact grid point when d hits 0;
    tau[0] when d[0] == 0). `index` is the grid point when d is exactly 0 there, else -1.
    No crossing: NaN, found False. jit-able.
    """
    taus, attack, genuine = _check_curves(taus, attack, genuine)
    g, k = attack.shape
    d = attack - (100.0 - genuine)
    pos, le = d > 0, d <= 0  # both False for NaN
    step = pos[:, :-1] & le[:, 1:]  # (G, K-1): crossing between j and j+1
    at_start = le[:, 0] & (d[:, 0] == 0)
    has_step = jnp.any(step, axis=1)
    j = jnp.argmax(step, axis=1) if k > 1 else jnp.zeros((g,), jnp.int32)
    j1 = jnp.minimum(j + 1, k - 1)

    def at(a, i):
        return jnp.take_along_axis(a, i[:, None], axis=1)[:, 0]

    d0, d1 = at(d, j), at(d, j1)
    frac = jnp.where(has_step, d0 / jnp.where(d0 - d1 > 0, d0 - d1, 1.0), 0.0)
    lerp = lambda a: at(a, j) + frac * (at(a, j1) - at(a, j))  # noqa: E731
    tau_grid = jnp.broadcast_to(taus[None, :], (g, k))
    found = at_start | has_step
    exact = jnp.where(at_start, 0, jnp.where(has_step & (d1 == 0), j1, -1))

    def pick(a):
        return jnp.where(at_start, a[:, 0], jnp.where(has_step, lerp(a), jnp.nan))

    return OperatingPoint(exact.astype(jnp.int32), pick(tau_grid), pick(attack), pick(genuine), found)

