"""The report's PNG figures (matplotlib, Agg backend). Every function returns PNG bytes."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from dicore import METRICS, paper  # noqa: E402
from dicore.report.model import ReportInputs, vendor_label  # noqa: E402

# One colour per vendor everywhere (colour-blind-safe Okabe-Ito hues).
VENDOR_COLOURS = {"aws": "#E69F00", "azure": "#0072B2", "naver": "#009E73"}
FALLBACK_COLOURS = ("#CC79A7", "#56B4E9", "#D55E00", "#999999")
SIM_COLOUR = "#C00000"
DPI = 100

METRIC_TITLES = {
    "TA": "TA: targeted attack success",
    "NA": "NA: non-targeted attack success",
    "DHF": "DHF: fake named, confidence > real's",
    "DHC": "DHC: named fake with confidence > {beta:g}%",
    "DHS": "DHS: unnamed fake with similarity > {gamma:g}%",
    "SIC": "SIC: identities impersonated by >= 1 TA fake",
}

Y_LABELS = {"TA": "% of fakes", "NA": "% of fakes", "DHF": "% of fakes",
            "DHC": "% of named fakes", "DHS": "% of unnamed fakes", "SIC": "% of identities"}


def colour(vendor: str, i: int = 0) -> str:
    return VENDOR_COLOURS.get(vendor, FALLBACK_COLOURS[i % len(FALLBACK_COLOURS)])


def _suptitle(fig, text: str, simulated: bool | None) -> None:
    if simulated:
        text = f"SIMULATED vendors: {text}"
    fig.suptitle(text, fontsize=14, fontweight="bold", color=SIM_COLOUR if simulated else "black")


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    plt.close(fig)
    return buf.getvalue()


def _num(x) -> float:
    return np.nan if x is None else float(x)


def mark_zero_and_na(ax, positions, values) -> None:
    """A value of exactly 0 gets a black tick and a '0' (a bar of no height is otherwise
    invisible); a missing value (n = 0) gets a legible, boxed 'n/a'."""
    for p, value in zip(positions, values, strict=True):
        if np.isnan(value):
            ax.text(p, 2, "n/a", ha="center", va="bottom", fontsize=8, color="#333",
                    rotation=90, bbox={"boxstyle": "round,pad=0.15", "fc": "white",
                                       "ec": "#999", "lw": 0.5})
        elif value == 0:
            ax.plot([p], [0.6], marker="_", ms=9, mew=2.5, color="black", clip_on=False)
            ax.text(p, 1.5, "0", ha="center", va="bottom", fontsize=8)


def figure4(inputs: ReportInputs) -> bytes:
    """Figure-4-style panel: six grouped bar charts (datasets on x, one bar per vendor),
    interval error bars; the paper's TA/NA values as black diamonds."""
    datasets, vendors = inputs.datasets, inputs.vendors
    cell = {(r["dataset"], r["vendor"], r["metric"]): r for r in inputs.metrics}
    grid = paper.asr_before_grid()
    fig, axes = plt.subplots(2, 3, figsize=(12, 9))  # 1200 px: readable scaled to 800 px
    # Fixed margins: constrained layout doubled the drawing time.
    fig.subplots_adjust(left=0.065, right=0.99, top=0.9, bottom=0.17, hspace=0.36, wspace=0.24)
    x = np.arange(len(datasets))
    width = 0.8 / max(len(vendors), 1)
    for ax, metric in zip(axes.flat, METRICS, strict=True):
        for i, v in enumerate(vendors):
            rows = [cell.get((d, v, metric)) for d in datasets]
            val = np.array([_num(r and r.get("value")) for r in rows])
            lo = np.array([_num(r and r.get("ci_low")) for r in rows])
            hi = np.array([_num(r and r.get("ci_high")) for r in rows])
            err = np.vstack([np.nan_to_num(val - lo), np.nan_to_num(hi - val)]).clip(0)
            pos = x - 0.4 + width * (i + 0.5)
            ax.bar(pos, np.nan_to_num(val), width, color=colour(v, i), label=vendor_label(v),
                   yerr=err, capsize=2, error_kw={"elinewidth": 0.8, "ecolor": "#333"})
            # n = 0 (or not measured) is shown as "n/a", not as a zero bar; a true 0 is marked.
            mark_zero_and_na(ax, pos, val)
            if metric in ("TA", "NA"):
                pv = [grid.get((d, v, metric), np.nan) for d in datasets]
                ax.scatter(pos, pv, marker="D", s=18, color="black", zorder=3,
                           label="paper" if i == 0 else None)
            else:
                paper_markers(ax, metric, v, i, datasets, pos)
        ax.set_title(METRIC_TITLES[metric].format(beta=inputs.beta, gamma=inputs.gamma),
                     fontsize=10)
        ax.set_xticks(x, datasets, fontsize=9, rotation=20, ha="right")
        ax.set_ylim(0, 105)
        ax.grid(axis="y", alpha=0.3)
        ax.set_ylabel(Y_LABELS[metric])
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=10,
               title_fontsize=9,
               title="bars: dicore with 95% interval; diamonds: the paper's value; bands: the "
                     "paper's range over the datasets;\nlines: its maximum (dashed) or bound "
                     "(dotted); x: stated but excluded")
    _suptitle(fig, "Figure 4: attack metrics per dataset and vendor", inputs.simulated)
    return _png(fig)


def paper_markers(ax, metric: str, vendor: str, i: int, datasets, pos) -> None:
    """The paper's stated figures for one vendor on a DHF/DHC/DHS/SIC panel: a diamond at a
    named dataset, a band for a range over the datasets, a dashed line for a maximum over
    them, a dotted line for an upper bound, an x for a stated figure dicore excludes."""
    from dicore.report.fit import figure_markers

    col = colour(vendor, i)
    for m in figure_markers(metric):
        if m["vendor"] != vendor:
            continue
        if m["dataset"] is not None:
            if m["dataset"] in datasets:
                p = pos[list(datasets).index(m["dataset"])]
                excluded = m["rule"] == "excluded"
                ax.scatter([p], [m["value"]], marker="x" if excluded else "D", s=30 if excluded
                           else 18, color="#777" if excluded else "black", zorder=3)
        elif m["rule"] == "range":
            ax.axhspan(m["low"], m["high"], color=col, alpha=0.15, zorder=0)
        else:
            ax.axhline(m["value"], color=col, lw=1.2, ls="--" if m["rule"] == "max" else ":")


def tradeoff(inputs: ReportInputs) -> bytes | None:
    """One panel per vendor: attack success and genuine recognition (%) over the reporting
    threshold tau, with operating points marked."""
    curves = inputs.tradeoffs
    if not curves:
        return None
    fig, axes = plt.subplots(1, len(curves), figsize=(max(5.6 * len(curves), 12.0), 5.4),
                             squeeze=False)
    fig.subplots_adjust(left=0.05, right=0.98, top=0.85, bottom=0.31, wspace=0.22)
    for i, (ax, c) in enumerate(zip(axes[0], curves, strict=True)):
        col = colour(c.vendor, i)
        tau = np.asarray(c.tau, float)
        ax.plot(tau, [_num(a) for a in c.attack_success], color=col, lw=2,
                label=f"attack success ({c.attack})")
        ax.plot(tau, [_num(g) for g in c.genuine_recognition], color=col, lw=2, ls="--",
                label="genuine recognition")
        for j, op in enumerate(c.operating_points):
            if op.tau is None:
                continue
            # Marker per operating point on both curves; numbers go in the legend (no overlap).
            mk = "os^vD"[j % 5]
            ax.axvline(op.tau, color="#555", lw=0.8, ls=":")
            ax.plot([op.tau, op.tau], [_num(op.attack_success), _num(op.genuine_recognition)],
                    mk, color="black", ms=6, ls="none",
                    label=f"{op.name}: tau {op.tau:.1f}, attack {_num(op.attack_success):.1f}%, "
                          f"genuine {_num(op.genuine_recognition):.1f}%")
        ax.set_title(f"{vendor_label(c.vendor)}, {c.dataset} datasets", fontsize=11)
        ax.set_xlabel("reporting threshold tau (confidence %)")
        ax.set_ylabel("%")
        ax.set_ylim(0, 105)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), frameon=False)
    _suptitle(fig, "Trade-off: attack success vs genuine recognition over tau", inputs.simulated)
    return _png(fig)


def sweeps(inputs: ReportInputs) -> bytes | None:
    """DHC over beta (top row) and DHS over gamma (bottom row), one panel per dataset,
    one line per vendor; the study's beta and gamma dashed."""
    if not inputs.sweeps:
        return None
    datasets = [d for d in inputs.datasets if any(s.dataset == d for s in inputs.sweeps)]
    datasets += sorted({s.dataset for s in inputs.sweeps} - set(datasets))
    vendors = inputs.vendors + sorted({s.vendor for s in inputs.sweeps} - set(inputs.vendors))
    fig, axes = plt.subplots(2, len(datasets), figsize=(max(2.3 * len(datasets) + 0.6, 10.0), 6.6),
                             squeeze=False, sharey=True)
    fig.subplots_adjust(left=0.06, right=0.99, top=0.88, bottom=0.16, hspace=0.5, wspace=0.08)
    for row, (metric, at, name) in enumerate((("DHC", inputs.beta, "beta"),
                                               ("DHS", inputs.gamma, "gamma"))):
        for ax, d in zip(axes[row], datasets, strict=True):
            for i, v in enumerate(vendors):
                for s in inputs.sweeps:
                    if (s.dataset, s.vendor, s.metric) == (d, v, metric):
                        ax.plot(s.thresholds, [_num(y) for y in s.values], color=colour(v, i),
                                lw=2, label=vendor_label(v))
            ax.axvline(at, color="#555", ls="--", lw=0.8)
            ax.set_title(f"{metric} over {name}: {d}", fontsize=10)
            ax.set_xlabel(f"{name} ({'confidence' if metric == 'DHC' else 'similarity'} %)")
            ax.set_ylim(0, 105)
            ax.grid(alpha=0.3)
        axes[row][0].set_ylabel(f"{metric} ({Y_LABELS[metric]})")
    handles: dict[str, Any] = {}
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(lab, h)
    labels = list(handles)
    fig.legend([handles[k] for k in labels], labels, loc="lower center",
               ncol=max(len(labels), 1), fontsize=10)
    _suptitle(fig, f"Threshold sweeps (dashed: beta = {inputs.beta:g}%, gamma = "
              f"{inputs.gamma:g}%; Naver has no similarity API)", inputs.simulated)
    return _png(fig)


def all_figures(inputs: ReportInputs) -> dict[str, bytes]:
    """{file name: PNG bytes} for the figures that have data."""
    out = {"figure4.png": figure4(inputs)}
    for name, fn in (("tradeoff.png", tradeoff), ("sweeps.png", sweeps)):
        png = fn(inputs)
        if png is not None:
            out[name] = png
    return out


__all__: Sequence[str] = ("all_figures", "figure4", "tradeoff", "sweeps", "VENDOR_COLOURS")
