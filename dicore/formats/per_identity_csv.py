"""`per_identity.csv`: the paper's Tables 3-6 form, one row per (dataset, vendor, identity).

Columns (`COLUMNS`): dataset, vendor, identity, n_real, n_fake, reference (mean confidence
of the identity's real images), target (mean confidence of its fakes), similarity (mean
similarity of its fakes to their real), ta, na (counts of its fakes), ta_rate, na_rate (%
of its fakes). Means are percent over the images that got a value, 0 where none did (as
the paper prints them; `n_real`/`n_fake` say which zeros are empty); a column is empty for a
vendor that gave no such value in the dataset at all (Naver: similarity). Written by the
study (`dicore.breakdowns.per_identity_rows`).
"""

from __future__ import annotations

from pathlib import Path

from dicore.formats.atomic import read_csv_rows, write_csv_rows

COLUMNS = ("dataset", "vendor", "identity", "n_real", "n_fake", "reference", "target",
           "similarity", "ta", "na", "ta_rate", "na_rate")


def write_per_identity_csv(path: str | Path, rows: list[dict]) -> Path:
    return write_csv_rows(path, rows, COLUMNS)


def read_per_identity_csv(path: str | Path) -> list[dict]:
    return read_csv_rows(path, columns=COLUMNS,
                         numbers=("reference", "target", "similarity", "ta_rate", "na_rate"),
                         integers=("n_real", "n_fake", "ta", "na"))
