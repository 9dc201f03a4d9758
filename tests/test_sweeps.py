"""DHC / DHS sweeps and the joint beta x gamma grid: NumPy references, point metrics, traces."""

from __future__ import annotations

import chex
import jax
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dicore import METHODS
from dicore.core.groups import GroupSizes
from dicore.core.kernel import UniformGrid
from dicore.core.metrics import dhc_counts, dhs_counts, rates
from dicore.core.observations import Observations
from dicore.core.sweeps import (
    dhc_sweep,
    dhs_sweep,
    high_risk_sweep,
)
from dicore.formats.results import read_results_file
from tests.helpers import pair_rows

# jitted at the call site, as every caller of the core does
dhc_sweep_jit = jax.jit(dhc_sweep)
dhs_sweep_jit = jax.jit(dhs_sweep)
high_risk_sweep_jit = jax.jit(high_risk_sweep)

N_ROWS, N_DATASETS, N_VENDORS, N_IDS = 40, 2, 3, 6
G = N_DATASETS * N_VENDORS
SYN, REAL = METHODS.index("synthesis"), METHODS.index("real")
# Values sit on the grid points (ties) and one float32 ulp off them.
GRID = UniformGrid(0.0, 12.5, 9)  # 0, 12.5, ..., 100
ARRAY_GRID = np.array([0.0, 0.01, 50.0, 55.0, 70.0, 80.0, 90.0, 99.99, 100.0], np.float32)
ON_GRID = np.concatenate(
    [GRID.values(), ARRAY_GRID, np.nextafter(ARRAY_GRID, np.float32(200)), [33.3, 87.25]]
).astype(np.float32)
# No subnormals: XLA on CPU flushes them to zero (see dicore.core.kernel).
ON_GRID = ON_GRID[(ON_GRID == 0) | ((ON_GRID >= np.finfo(np.float32).tiny) & (ON_GRID <= 100))]
# Eager JAX dispatches op by op: fewer examples where a test runs it.
EAGER_EXAMPLES = min(settings().max_examples, 12)


@st.composite
def observations(draw, n=N_ROWS):
    """Valid observations of fixed length n (one jit shape): empty groups, all-fake,
    all-real, one-group regimes; confidences and similarities on thresholds.

    Hypothesis draws the regime and a seed; NumPy fills the columns (fast)."""
    return make_observations(
        mode=draw(st.sampled_from(["mixed", "all_fake", "all_real", "one_group"])),
        p_named=draw(st.sampled_from([0.0, 0.5, 0.9, 1.0])),
        seed=draw(st.integers(0, 2**32 - 1)),
        n=n,
    )


def make_observations(*, mode="mixed", p_named=0.7, seed=0, n=N_ROWS, values=None):
    """Seeded observations (see `observations`); `values` are the confidences/similarities drawn."""
    values = ON_GRID if values is None else values
    rng = np.random.default_rng(seed)
    vendor = rng.integers(0, N_VENDORS, n)
    dataset = rng.integers(0, N_DATASETS, n)
    if mode == "one_group":
        vendor[:], dataset[:] = vendor[0], dataset[0]
    target = rng.integers(0, N_IDS - 1, n)
    is_fake = rng.random(n) < {"all_fake": 1.0, "all_real": 0.0}.get(mode, 0.6)
    method = np.where(is_fake, rng.integers(0, 3, n), REAL)
    reference = np.where(method == SYN, rng.integers(0, N_IDS - 1, n), -1)
    predicted = np.where(rng.random(n) < 0.6, target, rng.integers(0, N_IDS, n))
    predicted = np.where(rng.random(n) < p_named, predicted, -1)
    confidence = np.where(predicted >= 0, rng.choice(values, n), np.nan)
    similarity = np.where(is_fake & (rng.random(n) < 0.7), rng.choice(values, n), np.nan)
    paired, ref_paired = pair_rows(rng, vendor=vendor, dataset=dataset, target=target,
                                   reference=reference, method=method, is_fake=is_fake)
    return Observations.from_arrays(
        vendor=vendor, dataset=dataset, method=method, target=target, reference=reference,
        is_fake=is_fake, predicted=predicted, confidence=confidence, similarity=similarity,
        paired_row=paired, ref_paired_row=ref_paired,
    )


def np_cols(obs):
    return {f: np.asarray(getattr(obs, f)) for f in obs.__dataclass_fields__}


def ref_sweeps(obs, betas, gammas):
    """NumPy reference by loops over groups and thresholds: DHC (G, B), DHS (G, Γ), joint (G, B, Γ)."""
    o = np_cols(obs)
    grp = o["dataset"] * N_VENDORS + o["vendor"]
    named = o["is_fake"] & (o["predicted"] >= 0)
    unnamed_sim = o["is_fake"] & (o["predicted"] < 0) & ~np.isnan(o["similarity"])
    conf, sim = o["confidence"], o["similarity"]
    out = {k: [] for k in ("dhc", "dhc_den", "dhs", "dhs_den", "joint", "fakes")}
    with np.errstate(invalid="ignore"):
        for g in range(G):
            in_g = grp == g
            out["dhc"].append([np.sum(in_g & named & (conf > b)) for b in betas])
            out["dhc_den"].append(np.sum(in_g & named))
            out["dhs"].append([np.sum(in_g & unnamed_sim & (sim > c)) for c in gammas])
            out["dhs_den"].append(np.sum(in_g & unnamed_sim))
            # The joint rule taken literally, row by row (no use of disjointness).
            out["joint"].append(
                [
                    [np.sum(in_g & ((named & (conf > b)) | (unnamed_sim & (sim > c)))) for c in gammas]
                    for b in betas
                ]
            )
            out["fakes"].append(np.sum(in_g & o["is_fake"]))
    return {k: np.asarray(v) for k, v in out.items()}


def check_against_reference(obs, betas, gammas, dhc, dhs, joint):
    thr_b = betas.values() if isinstance(betas, UniformGrid) else betas
    thr_g = gammas.values() if isinstance(gammas, UniformGrid) else gammas
    ref = ref_sweeps(obs, thr_b, thr_g)
    np.testing.assert_array_equal(np.asarray(dhc.numerator), ref["dhc"])
    np.testing.assert_array_equal(np.asarray(dhc.denominator), np.repeat(ref["dhc_den"][:, None], len(thr_b), 1))
    np.testing.assert_array_equal(np.asarray(dhs.numerator), ref["dhs"])
    np.testing.assert_array_equal(np.asarray(dhs.denominator), np.repeat(ref["dhs_den"][:, None], len(thr_g), 1))
    np.testing.assert_array_equal(np.asarray(joint.numerator), ref["joint"])
    np.testing.assert_array_equal(np.asarray(joint.fakes), ref["fakes"])
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = 100.0 * ref["joint"] / ref["fakes"][:, None, None]
    np.testing.assert_allclose(np.asarray(joint.rates()), expected, rtol=1e-5)


@given(obs=observations(), grid=st.sampled_from(["uniform", "array"]))
def test_sweeps_match_numpy_under_jit(obs, grid):
    betas = GRID if grid == "uniform" else ARRAY_GRID
    gammas = ARRAY_GRID if grid == "uniform" else GRID
    kw = dict(sizes=GroupSizes(n_datasets=N_DATASETS, n_vendors=N_VENDORS))
    check_against_reference(
        obs, betas, gammas,
        dhc_sweep_jit(obs, betas, **kw), dhs_sweep_jit(obs, gammas, **kw),
        high_risk_sweep_jit(obs, betas, gammas, **kw),
    )


@settings(max_examples=EAGER_EXAMPLES)
@given(obs=observations())
def test_sweeps_match_numpy_eagerly(obs):
    kw = dict(sizes=GroupSizes(n_datasets=N_DATASETS, n_vendors=N_VENDORS))
    check_against_reference(
        obs, GRID, ARRAY_GRID,
        dhc_sweep(obs, GRID, **kw), dhs_sweep(obs, ARRAY_GRID, **kw),
        high_risk_sweep(obs, GRID, ARRAY_GRID, **kw),
    )


# The point metrics, mapped over thresholds (one call per grid instead of one per point).
_dhc_point = jax.jit(jax.vmap(
    lambda obs, t: dhc_counts(obs, beta=t, sizes=GroupSizes(n_datasets=N_DATASETS, n_vendors=N_VENDORS)),
    in_axes=(None, 0), out_axes=1,
))
_dhs_point = jax.jit(jax.vmap(
    lambda obs, t: dhs_counts(obs, gamma=t, sizes=GroupSizes(n_datasets=N_DATASETS, n_vendors=N_VENDORS)),
    in_axes=(None, 0), out_axes=1,
))


@given(obs=observations())
def test_sweeps_equal_point_metrics_at_every_grid_point(obs):
    kw = dict(sizes=GroupSizes(n_datasets=N_DATASETS, n_vendors=N_VENDORS))
    for grid in (GRID, ARRAY_GRID):
        dhc = dhc_sweep_jit(obs, grid, **kw)
        dhs = dhs_sweep_jit(obs, grid, **kw)
        joint = high_risk_sweep_jit(obs, grid, grid, **kw)
        values = grid.values() if isinstance(grid, UniformGrid) else grid
        c = _dhc_point(obs, values)  # (G, K): column k is dhc_counts(beta=values[k])
        s = _dhs_point(obs, values)
        assert c.numerator.shape == (G, len(values))
        np.testing.assert_array_equal(np.asarray(dhc.numerator), np.asarray(c.numerator))
        np.testing.assert_array_equal(np.asarray(dhc.denominator), np.asarray(c.denominator))
        np.testing.assert_array_equal(np.asarray(dhs.numerator), np.asarray(s.numerator))
        np.testing.assert_array_equal(np.asarray(dhs.denominator), np.asarray(s.denominator))
        # The rates agree too (NaN where the point metric has n = 0).
        np.testing.assert_array_equal(np.asarray(rates(dhc)), np.asarray(rates(c)))
        # Joint diagonal: DHC(t) count + DHS(t) count.
        np.testing.assert_array_equal(
            np.asarray(jax.numpy.diagonal(joint.numerator, axis1=1, axis2=2)),
            np.asarray(c.numerator + s.numerator),
        )


@given(obs=observations())
def test_sweeps_are_monotone_and_bounded(obs):
    kw = dict(sizes=GroupSizes(n_datasets=N_DATASETS, n_vendors=N_VENDORS))
    dhc = np.asarray(dhc_sweep_jit(obs, GRID, **kw).numerator)
    dhs = np.asarray(dhs_sweep_jit(obs, GRID, **kw).numerator)
    joint = high_risk_sweep_jit(obs, GRID, GRID, **kw)
    assert np.all(np.diff(dhc, axis=1) <= 0) and np.all(np.diff(dhs, axis=1) <= 0)
    num = np.asarray(joint.numerator)
    assert np.all(np.diff(num, axis=1) <= 0) and np.all(np.diff(num, axis=2) <= 0)
    assert np.all(num <= np.asarray(joint.fakes)[:, None, None])


def _permute(obs, perm):
    """Reorder rows and remap the row pointers (paired_row, ref_paired_row)."""
    inv = np.empty_like(perm)
    inv[perm] = np.arange(len(perm))
    cols = {f: np.asarray(getattr(obs, f))[perm] for f in obs.__dataclass_fields__}
    for f in ("paired_row", "ref_paired_row"):
        cols[f] = np.where(cols[f] >= 0, inv[np.maximum(cols[f], 0)], -1)
    return Observations(**cols)


@given(obs=observations(), seed=st.integers(0, 2**16))
def test_sweeps_do_not_depend_on_row_order(obs, seed):
    kw = dict(sizes=GroupSizes(n_datasets=N_DATASETS, n_vendors=N_VENDORS))
    perm = np.random.default_rng(seed).permutation(N_ROWS)
    a = high_risk_sweep_jit(obs, GRID, ARRAY_GRID, **kw)
    b = high_risk_sweep_jit(_permute(obs, perm), GRID, ARRAY_GRID, **kw)
    np.testing.assert_array_equal(np.asarray(a.numerator), np.asarray(b.numerator))


def test_each_sweep_compiles_once_per_shape():
    kw = dict(sizes=GroupSizes(n_datasets=N_DATASETS, n_vendors=N_VENDORS))
    samples = [make_observations(seed=s, mode=m) for s, m in enumerate(["mixed", "all_real", "one_group"])]
    for fn, args in (
        (dhc_sweep, (GRID,)),
        (dhs_sweep, (ARRAY_GRID,)),
        (high_risk_sweep, (GRID, ARRAY_GRID)),
    ):
        traced = jax.jit(chex.assert_max_traces(fn, n=1), static_argnames=tuple(kw))
        for obs in samples:
            traced(obs, *args, **kw)
        # Another array grid of the same shape: still no new trace.
        if fn is dhs_sweep:
            traced(samples[0], ARRAY_GRID + np.float32(1.0), **kw)
    chex.clear_trace_counter()
    # The exported jitted sweeps: new data of the same shape reuses the compiled code.
    before = dhc_sweep_jit._cache_size()
    for obs in samples:
        dhc_sweep_jit(obs, UniformGrid(0.0, 12.5, 9), **kw)
    assert dhc_sweep_jit._cache_size() <= before + 1


def test_joint_rates_reject_mismatched_denominator():
    from dicore.core.sweeps import JointCounts

    bad = JointCounts(np.zeros((2, 3, 4), np.int32), np.zeros((3,), np.int32))
    try:
        bad.rates()
    except ValueError as exc:
        assert "(2,)" in str(exc)
    else:
        raise AssertionError("expected ValueError")


def _write_results(path, rows):
    import csv

    cols = ["vendor", "backend", "dataset", "method", "item_id", "is_fake", "real_item_id",
            "target", "reference", "predicted", "confidence", "similarity"]
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c, "") for c in cols})


def _run_sweep_command(argv):
    import argparse

    from dicore.commands import sweep

    parser = argparse.ArgumentParser()
    sweep.add_arguments(parser)
    return sweep.run(parser.parse_args(argv))


def test_sweep_command_writes_the_sweeps_and_refuses_censored_taus(tmp_path, capsys):
    import json

    import pytest

    from dicore.errors import UserError

    rows = []
    for vendor, (real_conf, fake_conf, sim) in {"aws": (99, 91, ""), "naver": (60, 0.5, "")}.items():
        for i in range(3):
            rows.append(dict(vendor=vendor, backend="sim", dataset="CelebDF", method="real",
                             item_id=f"r{i}", is_fake="false", target=f"p{i}",
                             predicted=f"p{i}", confidence=real_conf))
            rows.append(dict(vendor=vendor, backend="sim", dataset="CelebDF", method="replacement",
                             item_id=f"f{i}", is_fake="true", real_item_id=f"r{i}", target=f"p{i}",
                             predicted=f"p{i}" if i else "", confidence=fake_conf if i else "",
                             similarity=85 if i == 0 and vendor == "aws" else sim))
    results = tmp_path / "results.csv"
    _write_results(results, rows)
    out = tmp_path / "sweeps.json"
    argv = ["--results", str(results), "--betas", "0:100:10", "--gammas", "0,80,85,100"]
    assert _run_sweep_command([*argv, "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["simulated"] is True and data["genuine_keep"] == 90.0
    curve = {(s["vendor"], s["metric"]): s for s in data["sweeps"]}
    dhc, dhs = curve[("aws", "DHC")], curve[("aws", "DHS")]
    assert len(dhc["thresholds"]) == 11
    # Two named AWS fakes at 91: DHC is 100% up to beta 90 and 0% from beta 100 on; the
    # unnamed one has similarity 85: DHS 100% up to gamma 80.
    assert dhc["values"][9] == 100.0 and dhc["values"][10] == 0.0 and dhc["n"] == 2
    assert dhs["values"] == [100.0, 100.0, 0.0, 0.0] and dhs["n"] == 1
    joint = next(j for j in data["joint"] if j["vendor"] == "aws")
    assert joint["values"][9][1] == 100.0 and joint["n"] == 3
    assert joint["values"][10][2] == 0.0

    obs, vocab = read_results_file(results)
    ref = dhc_sweep_jit(obs, UniformGrid(0.0, 10.0, 11), sizes=GroupSizes(n_datasets=1))
    expected = 100.0 * np.asarray(ref.numerator)[0] / np.asarray(ref.denominator)[0]
    np.testing.assert_allclose(dhc["values"], expected, rtol=1e-5)
    replay = {(r["vendor"], r["dataset"]): r for r in data["tradeoffs"]}
    assert set(replay) == {(v, d) for v in ("aws", "naver") for d in ("CelebDF", "all")}
    aws, naver = replay[("aws", "CelebDF")], replay[("naver", "CelebDF")]
    assert aws["tau"][0] == 55.0 and naver["tau"][0] == pytest.approx(0.01)
    # Naver: fakes named at 0.5 survive tau = 0.01 only; reals at 60 survive up to 60.
    assert naver["attack_success"][:2] == [pytest.approx(200 / 3), 0.0]
    assert naver["genuine_recognition"][60] == 100.0 and naver["genuine_recognition"][61] == 0.0
    assert naver["operating_points"][1]["tau"] is not None  # the equal-error point exists
    # The operating-point rule (docs/thresholds.md): keep 90% of the genuine recognition at
    # the floor (here 100%), lowest attack success among those taus, smallest tau on ties.
    best = naver["operating_points"][0]
    assert best["target"] == 90.0 and best["tau"] == 1.0 and best["attack_success"] == 0.0
    with pytest.raises(UserError, match="below aws's reporting floor 55"):
        _run_sweep_command(["--results", str(results), "--taus", "50:100:1", "--out", str(out)])
    with pytest.raises(UserError, match="--gammas"):
        _run_sweep_command(["--results", str(results), "--gammas", "0:200:1"])
