"""Figures of the breakdown sections (per identity, hit landing, groups, detectors, score
distributions). Each function returns PNG bytes, or None when there is nothing to draw.
Sized for a page: 10-11 inches wide at 100 dpi, fonts of 10 pt or more, so a figure stays
readable scaled to 800 px."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dicore.report.figures import SIM_COLOUR, _png, colour, mark_zero_and_na, plt
from dicore.report.model import vendor_label

LANDING_COLOURS = {"target": "#D55E00", "reference": "#56B4E9", "other": "#999999"}


def _title(fig, text: str, simulated: bool | None) -> None:
    if simulated:
        text = f"SIMULATED vendors: {text}"
    fig.suptitle(text, fontsize=13, fontweight="bold", color=SIM_COLOUR if simulated else "black")


def _legend_below(fig, ax_list, ncol: int | None = None) -> None:
    handles: dict = {}
    for ax in ax_list:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(lab, h)
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="lower center",
                   ncol=ncol or len(handles), fontsize=10, frameon=False)


def per_identity(rows: Sequence[dict], datasets: Sequence[str], vendors: Sequence[str],
                 simulated: bool | None) -> bytes | None:
    """One panel per dataset: each identity's TA rate (dots, one column per vendor, jittered)
    with the median as a bar, so the spread over identities shows."""
    datasets = [d for d in datasets if any(r["dataset"] == d and r["n_fake"] for r in rows)]
    if not datasets:
        return None
    ncol = min(3, len(datasets))
    nrow = -(-len(datasets) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(10.5, 3.3 * nrow + 0.9), squeeze=False,
                             sharey=True)
    fig.subplots_adjust(left=0.07, right=0.99, top=1 - 0.75 / (3.3 * nrow + 0.9),
                        bottom=0.75 / (3.3 * nrow + 0.9), hspace=0.45, wspace=0.08)
    rng = np.random.default_rng(0)  # jitter only; the same picture every run
    for ax, d in zip(axes.flat, datasets, strict=False):
        for i, v in enumerate(vendors):
            vals = np.array([r["ta_rate"] for r in rows if (r["dataset"], r["vendor"]) == (d, v)
                             and r["n_fake"] and r["ta_rate"] is not None], float)
            if not len(vals):
                continue
            x = i + rng.uniform(-0.25, 0.25, len(vals))
            ax.scatter(x, vals, s=12, alpha=0.6, color=colour(v, i), label=vendor_label(v))
            ax.hlines(np.median(vals), i - 0.35, i + 0.35, color="black", lw=2,
                      label="median over identities")
        ax.set_xticks(range(len(vendors)), [vendor_label(v) for v in vendors], fontsize=10)
        ax.set_title(f"{d}", fontsize=11)
        ax.set_ylim(-3, 103)
        ax.grid(axis="y", alpha=0.3)
    for ax in axes[:, 0]:
        ax.set_ylabel("TA, % of the identity's fakes", fontsize=10)
    for ax in list(axes.flat)[len(datasets):]:
        ax.set_visible(False)
    _legend_below(fig, axes.flat)
    _title(fig, "Per identity: targeted attack success of each identity", simulated)
    return _png(fig)


def hit_landing(rows: Sequence[dict], datasets: Sequence[str], vendors: Sequence[str],
                simulated: bool | None) -> bytes | None:
    """Stacked bars per dataset x vendor: share of the named fakes named as their target,
    their reference, or someone else."""
    cell = {(r["dataset"], r["vendor"], r["metric"]): r for r in rows}
    pairs = [(d, v) for d in datasets for v in vendors if (d, v, "NA_AS_TARGET") in cell]
    if not pairs:
        return None
    fig, ax = plt.subplots(figsize=(10.5, 4.6))
    fig.subplots_adjust(left=0.07, right=0.99, top=0.86, bottom=0.3)
    x = np.arange(len(pairs))
    bottom = np.zeros(len(pairs))
    for kind in ("target", "reference", "other"):
        vals = np.array([cell[(d, v, f"NA_AS_{kind.upper()}")]["value"] or 0.0 for d, v in pairs])
        ax.bar(x, vals, 0.8, bottom=bottom, color=LANDING_COLOURS[kind], label=f"named as {kind}")
        bottom += vals
    for i, (d, v) in enumerate(pairs):
        n = cell[(d, v, "NA_AS_TARGET")]["n"]
        ax.text(i, 101, "no hits" if n == 0 else f"n={n}", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(x, [f"{d}\n{vendor_label(v)}" for d, v in pairs], fontsize=8, rotation=90)
    ax.set_ylim(0, 112)
    ax.set_ylabel("% of named fakes", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=10, loc="upper center", bbox_to_anchor=(0.5, 1.13), ncol=3, frameon=False)
    _title(fig, "Where a non-targeted hit lands", simulated)
    return _png(fig)


def groups(rows: Sequence[dict], vendors: Sequence[str], simulated: bool | None,
           metrics: Sequence[str] = ("TA", "NA", "DHC", "DHS")) -> bytes | None:
    """Per grouping column, one panel per metric: a bar per (group, vendor) with its 95%
    interval; 0 marked, n/a written."""
    columns = list(dict.fromkeys(r["column"] for r in rows))
    if not columns:
        return None
    fig, axes = plt.subplots(len(columns), len(metrics), figsize=(11, 3.6 * len(columns) + 1),
                             squeeze=False, sharey=True)
    h = 3.6 * len(columns) + 1
    fig.subplots_adjust(left=0.07, right=0.99, top=1 - 0.8 / h, bottom=1.0 / h, hspace=0.6,
                        wspace=0.08)
    for r_i, column in enumerate(columns):
        cell = {(r["group"], r["vendor"], r["metric"]): r for r in rows if r["column"] == column}
        names = list(dict.fromkeys(g for g, _, _ in cell))
        x = np.arange(len(names))
        width = 0.8 / max(len(vendors), 1)
        for ax, metric in zip(axes[r_i], metrics, strict=True):
            for i, v in enumerate(vendors):
                pos = x - 0.4 + width * (i + 0.5)
                got = [cell.get((g, v, metric)) for g in names]
                val = np.array([np.nan if r is None or r["value"] is None else r["value"]
                                for r in got])
                lo = np.array([np.nan if r is None or r["ci_low"] is None else r["ci_low"]
                               for r in got])
                hi = np.array([np.nan if r is None or r["ci_high"] is None else r["ci_high"]
                               for r in got])
                ax.bar(pos, np.nan_to_num(val), width, color=colour(v, i), label=vendor_label(v),
                       yerr=np.vstack([np.nan_to_num(val - lo), np.nan_to_num(hi - val)]).clip(0),
                       capsize=2, error_kw={"elinewidth": 0.8})
                mark_zero_and_na(ax, pos, val)
            ax.set_xticks(x, names, fontsize=8, rotation=20, ha="right")
            ax.set_title(f"{metric} by {column}", fontsize=10)
            ax.set_ylim(0, 108)
            ax.grid(axis="y", alpha=0.3)
        axes[r_i][0].set_ylabel("%", fontsize=10)
    _legend_below(fig, axes.flat)
    _title(fig, "Metrics by group (datasets pooled), 95% intervals", simulated)
    return _png(fig)


def det(curves: Sequence[dict], simulated: bool | None, scores_simulated: bool) -> bytes | None:
    """DET curves (APCER over BPCER, log axes), one panel per dataset, one line per detector."""
    if not curves:
        return None
    datasets = list(dict.fromkeys(c["dataset"] for c in curves))
    ncol = min(3, len(datasets))
    nrow = -(-len(datasets) // ncol)
    h = 3.4 * nrow + 1.0
    fig, axes = plt.subplots(nrow, ncol, figsize=(10.5, h), squeeze=False)
    fig.subplots_adjust(left=0.08, right=0.99, top=1 - 0.75 / h, bottom=0.6 / h, hspace=0.5,
                        wspace=0.25)
    floor = 0.01  # percent: a rate of 0 is drawn at this floor of the log axis
    for ax, d in zip(axes.flat, datasets, strict=False):
        for i, c in enumerate([c for c in curves if c["dataset"] == d]):
            a = np.clip(np.asarray(c["apcer"], float), floor, 100)
            b = np.clip(np.asarray(c["bpcer"], float), floor, 100)
            ax.plot(b, a, lw=1.8, color=plt.cm.tab10(i), label=c["detector"])
        ax.plot([floor, 100], [floor, 100], color="#999", ls=":", lw=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(floor, 100)
        ax.set_ylim(floor, 100)
        ax.set_title(d, fontsize=11)
        ax.set_xlabel("BPCER % (real images blocked)", fontsize=9)
        ax.set_ylabel("APCER % (fakes passed)", fontsize=9)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8, loc="lower left")
    for ax in list(axes.flat)[len(datasets):]:
        ax.set_visible(False)
    label = "SIMULATED scores" if scores_simulated else "measured scores"
    fig.suptitle(f"DET curves of the detectors ({label}; dotted: APCER = BPCER)", fontsize=13,
                 fontweight="bold", color=SIM_COLOUR if scores_simulated else "black")
    return _png(fig)


def distributions(dists: Sequence[dict], beta: float, gamma: float,
                  floors: dict[str, float], simulated: bool | None) -> bytes | None:
    """Top row: confidence histograms, real vs fake, per vendor, with beta and the vendor's
    reporting floor; bottom row: similarity of fakes to their real, with gamma."""
    if not dists:
        return None
    n = len(dists)
    fig, axes = plt.subplots(2, n, figsize=(max(3.6 * n, 10.5), 7.0), squeeze=False)
    fig.subplots_adjust(left=0.07, right=0.99, top=0.88, bottom=0.14, hspace=0.5, wspace=0.25)
    bins = np.linspace(0, 100, 51)
    for i, d in enumerate(dists):
        ax = axes[0][i]
        for values, label, col in ((d["real_confidence"], "real images", "#0072B2"),
                                   (d["fake_confidence"], "fakes", "#D55E00")):
            if len(values):
                ax.hist(values, bins=bins, density=True, alpha=0.55, color=col,
                        label=f"{label} (n={len(values)})")
        ax.axvline(beta, color="black", ls="--", lw=1, label=f"beta = {beta:g}")
        if d["vendor"] in floors:
            ax.axvline(floors[d["vendor"]], color="#555", ls=":", lw=1.2,
                       label=f"reporting floor {floors[d['vendor']]:g}")
        dp = "n/a" if d["d_prime"] is None else f"{d['d_prime']:.2f}"
        ax.set_title(f"{vendor_label(d['vendor'])}: confidence (d' = {dp})", fontsize=10)
        ax.set_xlabel("confidence % (named images)", fontsize=9)
        ax.legend(fontsize=8, loc="upper left")
        ax2 = axes[1][i]
        if len(d["similarity"]):
            ax2.hist(d["similarity"], bins=bins, color="#CC79A7", alpha=0.75,
                     label=f"fake vs its real (n={len(d['similarity'])})")
            ax2.axvline(gamma, color="black", ls="--", lw=1, label=f"gamma = {gamma:g}")
            ax2.legend(fontsize=8, loc="upper left")
        else:
            ax2.text(50, 0.5, "n/a: no similarity call", ha="center", va="center", fontsize=11,
                     transform=ax2.get_xaxis_transform())
        ax2.set_xlim(0, 100)
        ax2.set_title(f"{vendor_label(d['vendor'])}: similarity", fontsize=10)
        ax2.set_xlabel("similarity %", fontsize=9)
    _title(fig, "Score distributions (datasets pooled)", simulated)
    return _png(fig)
