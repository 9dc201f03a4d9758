"""The report's "fit to the paper": headlines, one table of every published target, the
paper's known inconsistencies, and the paper's markers on the Figure 4 panels.

All numbers come from `dicore.paper_fit` (it reports; it tunes nothing). Counts are of what
was measured: a target we have no value for counts as not within, and the table says so.
"""

from __future__ import annotations

from typing import Any

from dicore import paper_fit, paper_notes
from dicore.report.model import ReportInputs

FIT_NOTE = (
    "Every published figure dicore compares with: the 30 TA/NA cells (Table 2's before-rates), "
    "the 20 DHF/DHC/DHS/SIC figures the text states (Figure 4), and the per-identity means of "
    "Tables 3 and 5 with the 1-Wasserstein distance of their per-celebrity distributions. "
    "Tolerances: TA/NA and one-dataset figures max(5 pp, 2 binomial SE); ranges and maxima "
    "over the datasets 5 pp; upper bounds + 2 SE on every dataset; per-identity means 15 pp; "
    "mean W1 <= 8 pp. 'within' counts only measured values.")


def fit_of(inputs: ReportInputs) -> paper_fit.PaperFit:
    """`dicore.paper_fit.evaluate` on the report's metrics and per-identity rows."""
    identity = paper_fit.identity_values(inputs.identity) if inputs.identity else None
    return paper_fit.evaluate(inputs.metrics, identity, simulated=bool(inputs.simulated))


def headlines(inputs: ReportInputs) -> list[str]:
    """The fit headlines, labelled simulated when they are."""
    who = "simulated vendors" if inputs.simulated else "measured vendors"
    lines = [f"Fit to the paper ({who}): {h}." for h in fit_of(inputs).headlines]
    if not inputs.identity:
        lines.append("Per-identity means were not measured (no results file with the report).")
    return lines


def _num(x: float | None, digits: int = 1) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def fit_table(inputs: ReportInputs) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of the fit table: family, target, ours, paper, difference, tolerance,
    within (yes / NO / excluded / info), note."""
    who = "simulated" if inputs.simulated else "measured"
    rows = []
    for r in fit_of(inputs).rows:
        within = "excluded" if r.within is None else ("yes" if r.within else "NO")
        diff = "n/a" if r.diff is None else f"{r.diff:+.1f}"
        rows.append([r.family, r.target, _num(r.ours), _num(r.paper), diff, r.tolerance,
                     within, r.note])
    return (["family", "target", who, "paper", "difference (pp)", "tolerance", "within",
             "note"], rows)


def inconsistencies() -> tuple[list[str], list[list[str]]]:
    """(header, rows): the paper's known inconsistencies, each with the target it bites."""
    rows = []
    known: dict[tuple[str, ...], str] = {**paper_notes.EXCLUDED, **paper_notes.INCONSISTENCIES}
    for key, text in known.items():
        family = key[0] if key[0] in paper_fit.FAMILIES else "Figure 4"
        where = " ".join(str(k) for k in key if k not in paper_fit.FAMILIES)
        rows.append([family, where, text.removeprefix("paper: ")])
    return ["family", "bites on", "what the paper's numbers say"], rows


def figure_markers(metric: str) -> list[dict[str, Any]]:
    """The paper's figures to draw on one Figure 4 panel (DHF, DHC, DHS, SIC):
    `{vendor, dataset|None, value, rule, is_range, low, high}`; a range's two ends become
    one band (low..high)."""
    targets = [t for t in paper_fit.figure_targets() if t.metric == metric]
    out: list[dict[str, Any]] = []
    for t in targets:
        if t.rule == "min" and t.is_range:
            high = next((u.value for u in targets if u.vendor == t.vendor and u.rule == "max"
                         and u.is_range), t.value)
            out.append({"vendor": t.vendor, "dataset": None, "rule": "range",
                        "low": t.value, "high": high, "value": t.value})
        elif t.rule == "max" and t.is_range:
            continue  # drawn with its range's minimum
        else:
            out.append({"vendor": t.vendor, "dataset": t.dataset, "rule": t.rule,
                        "value": t.value, "low": t.value, "high": t.value})
    return out
