"""Report sections of the threshold protocol: operating points with their intervals and
where they were chosen, the zero-effort impostor (three-class) view, and the ISO/IEC
30107-3 / 19795 names beside the paper's (docs/metrics.md)."""

from __future__ import annotations

import math
from typing import Any

from dicore.report.model import ReportInputs, vendor_label


def _f(x: Any, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{float(x):.{digits}f}"


def _ci(x: Any, ci: list | None, digits: int = 1) -> str:
    if x is None:
        return "n/a"
    if not ci or ci[0] is None:
        return _f(x, digits)
    return f"{_f(x, digits)} [{_f(ci[0], digits)}, {_f(ci[1], digits)}]"


def _where(op) -> str:
    if op.chosen_on == "dev":
        return "chosen on dev, reported on eval"
    if op.chosen_on == "eval":
        return "read on eval"
    return "chosen on the data it is reported on (all data)"


def operating_table(inputs: ReportInputs) -> tuple[list[str], list[list[str]]]:
    """Every operating point with its 95% intervals (tau, attack, genuine) and protocol."""
    rows = []
    for c in inputs.tradeoffs:
        for op in c.operating_points:
            rows.append([vendor_label(c.vendor), c.dataset, c.attack, op.name,
                         _ci(op.tau, op.tau_ci, 2), _ci(op.attack_success, op.attack_ci),
                         _ci(op.genuine_recognition, op.genuine_ci),
                         _f(op.false_name_rate), _where(op)])
    return (["vendor", "dataset", "attack", "operating point", "tau % [95% CI]",
             "attack success % [95% CI]", "genuine recognition % [95% CI]",
             "false-name rate %", "protocol"], rows)


def impostor_table(inputs: ReportInputs) -> tuple[list[str], list[list[str]]]:
    """The three-class view per vendor: at the taus where the false-name rate of people the
    vendor does not know first falls to 1% and 0.1%, genuine recognition and attack success."""
    fmr = {(r["dataset"], r["vendor"]): r for r in inputs.metrics if r["metric"] == "FMR"}
    rows = []
    for c in inputs.tradeoffs:
        if not c.n_impostors:
            continue
        at_floor = c.false_name_rate[0] if c.false_name_rate else None
        rows.append([vendor_label(c.vendor), c.dataset, "vendor's floor",
                     _f(c.tau[0], 2), _f(at_floor), _f(c.genuine_recognition[0]),
                     _f(c.attack_success[0]), str(c.n_impostors)])
        for op in c.false_name_points:
            rows.append([vendor_label(c.vendor), c.dataset, op.name, _f(op.tau, 2),
                         _f(op.false_name_rate), _f(op.genuine_recognition),
                         _f(op.attack_success), str(c.n_impostors)])
    for (dataset, vendor), r in fmr.items():
        rows.append([vendor_label(vendor), dataset, "as the vendor reports (FMR analogue)",
                     "n/a", _ci(r["value"], [r.get("ci_low"), r.get("ci_high")]), "n/a", "n/a",
                     str(r["n"])])
    return (["vendor", "dataset", "point", "tau %", "false-name rate %",
             "genuine recognition %", "attack success %", "impostor images"], rows)


ISO_NAMES = (
    ("IAPMR", "TA", "ISO/IEC 30107-3: impostor attack presentation match rate"),
    ("FNMR (analogue)", "genuine miss", "ISO/IEC 19795-1: real images not named as themselves"),
    ("FMR (analogue)", "false-name rate", "ISO/IEC 19795-1: impostors (people the vendor "
     "does not know) named as anyone"),
    ("APCER", "fakes passing the detector", "ISO/IEC 30107-3 (detector gate)"),
    ("BPCER", "real images blocked", "ISO/IEC 30107-3 (detector gate; `real_blocked`)"),
)


def iso_table(inputs: ReportInputs) -> tuple[list[str], list[list[str]]]:
    """The ISO names beside the paper's, with the IAPMR/FNMR values per dataset and vendor."""
    cell = {(r["dataset"], r["vendor"], r["metric"]): r for r in inputs.metrics}
    rows = [[iso, paper_name, meaning, ""] for iso, paper_name, meaning in ISO_NAMES]
    for d in inputs.datasets:
        for v in inputs.vendors:
            values = []
            for m in ("IAPMR", "FNMR"):
                r = cell.get((d, v, m))
                if r is not None:
                    values.append(f"{m} {_ci(r['value'], [r.get('ci_low'), r.get('ci_high')])} "
                                  f"n={r['n']}")
            if values:
                rows.append([", ".join(values), "", "", f"{d} / {vendor_label(v)}"])
    return (["ISO name / values", "paper's name", "meaning", "dataset / vendor"], rows)
