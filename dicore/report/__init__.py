"""The study report: `write_report(out_dir, ReportInputs(...))` writes report.md, a
self-contained report.html and PNG figures. `load_inputs(folder)` rebuilds the inputs from an
output folder (see `dicore.report.folder`)."""

from dicore.report.model import ReportInputs
from dicore.report.render import write_report
from dicore.tables import (
    ComparisonRow,
    OperatingPoint,
    SweepCurve,
    TradeoffCurve,
    comparison_rows,
)

__all__ = [
    "ComparisonRow",
    "OperatingPoint",
    "ReportInputs",
    "SweepCurve",
    "TradeoffCurve",
    "comparison_rows",
    "write_report",
]
