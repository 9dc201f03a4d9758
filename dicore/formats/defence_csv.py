"""`defence.csv`: Table-2-style rows of attack success behind a deepfake-detector filter.

Columns (`COLUMNS`): dataset, detector, detector_acc, vendor, attack, asr_before,
asr_after, real_blocked, n_fake, source, vendor_simulated. Rates in percent; an empty cell
is an absent value. `vendor_simulated` marks rows whose rates came from simulated vendors;
`source` says where the detector's verdicts came from (measured, simulated, analytic).
"""

from __future__ import annotations

import csv
from pathlib import Path

from dicore.errors import UserError
from dicore.formats.atomic import write_atomic

TABLE_COLUMNS = (
    "dataset", "detector", "detector_acc", "vendor", "attack", "asr_before", "asr_after",
    "real_blocked", "n_fake", "source",
)
"""The columns of a defence row (`dicore.tables.defence_table`), in order."""
COLUMNS = (*TABLE_COLUMNS, "vendor_simulated")
"""The columns of defence.csv, in order."""


def write_defence_csv(path: str | Path, rows: list[dict], *, vendor_simulated: bool) -> Path:
    """Write defence rows (`COLUMNS`: `TABLE_COLUMNS` + `vendor_simulated`); empty
    cell for None. `vendor_simulated` marks every row whose attack-success rates came from
    simulated vendors (`source` says where the detector's verdicts came from)."""
    columns = list(COLUMNS)

    def write(tmp: Path) -> None:
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=columns)
            w.writeheader()
            for r in rows:
                r = {**r, "vendor_simulated": vendor_simulated}
                w.writerow({k: "" if r.get(k) is None else r.get(k) for k in columns})

    try:
        return write_atomic(path, write)
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror}", "check the --out path") from exc


def read_defence_csv(path: str | Path) -> list[dict]:
    """Read a defence CSV written by `write_defence_csv` (numbers back to floats)."""
    rows = []
    with Path(path).open(newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            row: dict = dict(r)
            for k in ("detector_acc", "asr_before", "asr_after", "real_blocked"):
                row[k] = float(r[k]) if r.get(k) not in (None, "") else None
            row["n_fake"] = int(r["n_fake"]) if r.get("n_fake") not in (None, "") else None
            row["vendor_simulated"] = r.get("vendor_simulated") == "True"
            rows.append(row)
    return rows
