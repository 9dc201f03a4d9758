"""Threshold sweeps and reporting-policy replay from a results file.

Per dataset and vendor: DHC over a beta grid (named fakes with confidence > beta /
named fakes), DHS over a gamma grid (unnamed fakes with similarity > gamma / unnamed
fakes with a similarity), the joint beta x gamma grid (share of all fakes that are
DHC(beta) or DHS(gamma)), and the replay of a stricter reporting policy: TA, NA and
genuine recognition if the vendor reported only names with confidence >= tau, with
two operating points (lowest attack success keeping genuine recognition >=
--genuine-target; attack success = genuine miss rate, interpolated).

Grids are START:STOP:STEP (STOP included) or a comma list, in percent. A tau below a
vendor's reporting floor (AWS 55, Azure 70, Naver 0.01) is an error: the vendor hides
names there, so the data cannot say what it would report. Without --taus each vendor
gets its floor followed by the integers above it up to 100.

examples:
  dicore sweep --results results.csv --out sweeps.json
  dicore sweep --results results.csv --betas 50:100:0.5 --gammas 0:100:1 --no-joint
  dicore sweep --results results.csv --taus 70:100:1 --attack NA --genuine-target 95
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
from pathlib import Path

import numpy as np

from dicore.errors import UserError, check_output_file
from dicore.formats.atomic import write_json

NAME = "sweep"
HELP = "DHC/DHS threshold sweeps, the joint beta x gamma grid and reporting-policy replay"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results", required=True, metavar="FILE", help="results.csv or results.parquet")
    parser.add_argument("--betas", default="0:100:1", metavar="GRID", help="DHC grid (default 0:100:1)")
    parser.add_argument("--gammas", default="0:100:1", metavar="GRID", help="DHS grid (default 0:100:1)")
    parser.add_argument(
        "--taus", metavar="GRID", help="reporting floors to replay (default per vendor: its floor, then 1..100)"
    )
    parser.add_argument("--attack", choices=("TA", "NA"), default="TA", help="attack success for the trade-off (default TA)")
    parser.add_argument(
        "--genuine-target", type=float, default=90.0, metavar="PCT",
        help="genuine recognition to keep, percent, >= (default 90)",
    )
    parser.add_argument("--no-joint", action="store_true", help="leave the beta x gamma grid out of the file")
    parser.add_argument("--out", default="sweeps.json", metavar="FILE", help="output JSON (default sweeps.json)")


MAX_GRID_POINTS = 100_001  # 0:100:0.001; finer steps outrun float32 percent anyway


def parse_grid(text: str, option: str):
    """'START:STOP:STEP' -> UniformGrid (STOP included); 'a,b,c' -> sorted float32 array.

    Raises UserError on malformed, unsorted or out-of-0..100 grids.
    """
    from dicore.core.kernel import UniformGrid

    grid: UniformGrid | np.ndarray
    hint = f"{option} takes START:STOP:STEP (e.g. 0:100:1) or a comma list (e.g. 55,70,90), in percent"
    try:
        if ":" in text:
            start, stop, step = (float(x) for x in text.split(":"))
            grid = UniformGrid.from_range(start, stop, step)
            lo, hi = grid.start, grid.stop
            if grid.num > MAX_GRID_POINTS:
                raise UserError(
                    f"{option} {text}: {grid.num:,} thresholds, more than {MAX_GRID_POINTS:,}",
                    f"use a coarser step, e.g. {option} {start:g}:{stop:g}:0.01",
                )
        else:
            grid = np.asarray([float(x) for x in text.split(",")], np.float32)
            lo, hi = float(grid.min()), float(grid.max())
            if np.any(np.diff(grid) <= 0):
                raise UserError(f"{option} {text}: values must be strictly ascending", hint)
    except ValueError as exc:
        raise UserError(f"{option} {text}: {exc}", hint) from exc
    if not (math.isfinite(lo) and math.isfinite(hi) and 0.0 <= lo and hi <= 100.0):
        raise UserError(f"{option} {text} leaves 0..100", hint)
    return grid


def default_taus(floor: float) -> np.ndarray:
    """The vendor's floor, then the integers above it up to 100."""
    return np.concatenate([[floor], np.arange(math.floor(floor) + 1, 101)]).astype(np.float32)


def _num(x, digits=4):
    x = float(x)
    return None if math.isnan(x) else round(x, digits)


def _list(a, digits=4):
    return [_num(x, digits) for x in np.asarray(a, np.float64).ravel()]


def _point(point, g):
    return {
        "found": bool(point.found[g]),
        "tau": _num(point.tau[g]),
        "attack": _num(point.attack[g]),
        "genuine": _num(point.genuine[g]),
    }


def _rates(numerator, denominator) -> np.ndarray:
    """Percent in float64 (NumPy: this is the I/O edge), NaN where the denominator is 0."""
    num = np.asarray(numerator, np.float64)
    den = np.broadcast_to(np.asarray(denominator, np.float64), num.shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, 100.0 * num / den, np.nan)


def compute(obs, vocab, *, betas, gammas, taus=None, attack="TA", genuine_target=90.0, joint=True) -> dict:
    """The sweeps.json payload (see the module docstring); raises UserError on censored taus.

    Replay runs once, on --taus or on the union of the vendors' default grids (each
    vendor then keeps the taus at or above its floor), so it compiles once.
    """
    import jax

    from dicore import paper
    from dicore.core.kernel import threshold_values
    from dicore.core.sweeps import dhc_sweep_jit, dhs_sweep_jit, high_risk_sweep_jit
    from dicore.core.tradeoff import (
        check_taus,
        equal_error_point_jit,
        min_attack_point_jit,
        replay_counts_jit,
    )

    kw = dict(n_datasets=len(vocab.datasets), n_vendors=len(vocab.vendors))
    n_v = len(vocab.vendors)
    present = sorted(set((np.asarray(obs.dataset) * n_v + np.asarray(obs.vendor)).tolist()))
    # Censoring is checked first, before any work.
    floors = paper.reporting_floors()
    vendors = [vocab.vendors[v] for v in sorted({g % n_v for g in present})]
    if taus is None:
        grid = np.unique(np.concatenate([default_taus(floors[v]) for v in vendors]))
    else:
        grid = taus
    all_taus = np.asarray(threshold_values(grid))
    keep = {}
    for vendor in vendors:
        keep[vendor] = all_taus >= np.float32(floors[vendor]) if taus is None else np.ones(len(all_taus), bool)
        try:
            check_taus(all_taus[keep[vendor]], [vendor], floors=floors)
        except ValueError as exc:
            raise UserError(str(exc), f"e.g. --taus {floors[vendor]:g}:100:1, or leave --taus out") from exc
    # To NumPy at once: indexing device arrays one by one would compile each slice.
    to_np = functools.partial(jax.tree.map, np.asarray)
    dhc = to_np(dhc_sweep_jit(obs, betas, **kw))
    dhs = to_np(dhs_sweep_jit(obs, gammas, **kw))
    dhc_rate = _rates(dhc.numerator, dhc.denominator)
    dhs_rate = _rates(dhs.numerator, dhs.denominator)
    if joint:
        hr = to_np(high_risk_sweep_jit(obs, betas, gammas, **kw))
        hr_rate = _rates(hr.numerator, np.asarray(hr.fakes)[:, None, None])
    groups = []
    for g in present:
        entry = {
            "dataset": vocab.datasets[g // n_v],
            "vendor": vocab.vendors[g % n_v],
            "dhc": {"rate": _list(dhc_rate[g]), "n": int(dhc.denominator[g, 0])},
            "dhs": {"rate": _list(dhs_rate[g]), "n": int(dhs.denominator[g, 0])},
        }
        if joint:
            entry["high_risk"] = {"rate": [_list(row, 3) for row in hr_rate[g]], "n": int(hr.fakes[g])}
        groups.append(entry)

    rep = to_np(replay_counts_jit(obs, grid, **kw))
    ta, na, gen = (_rates(c.numerator, c.denominator) for c in rep)
    replay = []
    for vendor in vendors:
        cols = np.flatnonzero(keep[vendor])
        v = vocab.vendors.index(vendor)
        # Pad by repeating the last column: one compiled shape for every vendor, and a
        # repeated point changes neither operating point (ties go to the first one; no
        # crossing between equal values).
        padded = np.concatenate([cols, np.full(len(all_taus) - len(cols), cols[-1])])
        curve_attack = (ta if attack == "TA" else na)[:, padded]
        best = to_np(min_attack_point_jit(all_taus[padded], curve_attack, gen[:, padded], target=genuine_target))
        eer = to_np(equal_error_point_jit(all_taus[padded], curve_attack, gen[:, padded]))
        for g in (g for g in present if g % n_v == v):
            replay.append({
                "dataset": vocab.datasets[g // n_v],
                "vendor": vendor,
                "floor": floors[vendor],
                "taus": _list(all_taus[cols]),
                "TA": _list(ta[g, cols]),
                "NA": _list(na[g, cols]),
                "genuine": _list(gen[g, cols]),
                "n_fakes": int(rep.ta.denominator[g, 0]),
                "n_reals": int(rep.genuine.denominator[g, 0]),
                "min_attack": _point(best, g),
                "equal_error": _point(eer, g),
            })
    return {
        "simulated": bool(vocab.simulated),
        "rules": {
            "dhc": "named fakes with confidence > beta / named fakes",
            "dhs": "unnamed fakes with similarity > gamma / unnamed fakes with a similarity",
            "high_risk": "fakes that are DHC(beta) or DHS(gamma) / fakes; rate[b][g]",
            "replay": "names reported only at confidence >= tau; TA, NA over fakes, genuine over reals",
            "min_attack": f"lowest {attack} with genuine >= {genuine_target:g}; ties -> smallest tau",
            "equal_error": f"{attack} = 100 - genuine, linear interpolation between grid points",
        },
        "attack": attack,
        "genuine_target": genuine_target,
        "betas": _list(threshold_values(betas)),
        "gammas": _list(threshold_values(gammas)),
        "groups": groups,
        "replay": replay,
    }


def run(args: argparse.Namespace) -> int:
    from dicore.formats.results import read_results_file

    betas = parse_grid(args.betas, "--betas")
    gammas = parse_grid(args.gammas, "--gammas")
    taus = parse_grid(args.taus, "--taus") if args.taus else None
    if not (math.isfinite(args.genuine_target) and 0.0 <= args.genuine_target <= 100.0):
        raise UserError(f"--genuine-target {args.genuine_target} is outside 0..100", "a percent, e.g. 90")
    check_output_file(args.out, "--out")
    obs, vocab = read_results_file(args.results)
    if obs.n == 0:
        raise UserError(f"{args.results} has no result rows", "run `dicore run` or `dicore study` first")
    payload = compute(
        obs, vocab, betas=betas, gammas=gammas, taus=taus, attack=args.attack,
        genuine_target=args.genuine_target, joint=not args.no_joint,
    )
    out = Path(args.out)
    try:
        write_json(out, payload, indent=None)
    except OSError as exc:
        raise UserError(f"cannot write {args.out}: {exc.strerror}", "check the --out path") from exc
    label = " (SIMULATED vendors)" if payload["simulated"] else ""
    print(
        f"{len(payload['groups'])} groups x {len(payload['betas'])} betas x "
        f"{len(payload['gammas'])} gammas from {obs.n} results -> {args.out}{label}",
        file=sys.stdout,
    )
    for r in payload["replay"]:
        best, eer = r["min_attack"], r["equal_error"]
        best_s = f"tau {best['tau']:g}: {args.attack} {best['attack']}%" if best["found"] else "none"
        eer_s = f"tau {eer['tau']:g}: {eer['attack']}%" if eer["found"] else "none"
        print(f"  {r['dataset']:<12} {r['vendor']:<6} min {args.attack} at genuine >= "
              f"{args.genuine_target:g}: {best_s}; equal error: {eer_s}")
    return 0
