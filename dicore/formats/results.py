"""The results file (`results.csv` / `results.parquet`): its columns, reading with
validation, and writing. The one home of the results contract (docs/ARCHITECTURE.md).

Columns, in order (`RESULT_COLUMNS`): vendor, backend, dataset, method, item_id, is_fake,
real_item_id, target, reference, predicted, confidence, similarity. Writers may append
extra columns after these (`extra=`); readers ignore columns they do not know.

Reading (`read_rows`, `read_columns`, `read_results_file`) returns
`Loaded(obs, vocab)` (`dicore.core.observations`). Validation is one pass that
collects every problem and raises a single `UserError` listing the first 20,
each naming the row (1-based, counting data rows after the header) and field.

Writing (`write_results`, `write_results_csv`, `write_results_parquet`): empty CSV cells
(Parquet nulls) for absent values, floats shortest-exact, atomically.

Over 400 lines because it is the whole results contract in one place: the columns,
the one-pass validation (every rule with its message) and both writers.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dicore.core.observations import Loaded, Observations, Vocab
from dicore.core.vocab import METHODS, VENDORS
from dicore.errors import UserError
from dicore.formats.atomic import write_atomic
from dicore.tables import none_if_nan

RESULT_COLUMNS = (
    "vendor", "backend", "dataset", "method", "item_id", "is_fake", "real_item_id",
    "target", "reference", "predicted", "confidence", "similarity",
)
"""Columns of results.csv / results.parquet, in order (docs/ARCHITECTURE.md)."""

MAX_REPORTED_PROBLEMS = 20
_TRUE = frozenset({"true", "1", "yes", "t", "y"})
_FALSE = frozenset({"false", "0", "no", "f", "n"})


def read_rows(rows: Iterable[Mapping[str, Any]], *, source: str | None = None,
              identities=None) -> Loaded:
    """Read rows of the results-file contract (values may be CSV strings; '' = absent).

    Returns `Loaded(obs, vocab)`. Raises `UserError` listing every problem
    (first 20) with its row number (1-based) and field.
    """
    rows = list(rows)
    problems = _Problems(source)
    columns: dict[str, list[Any]] = {c: [] for c in RESULT_COLUMNS}
    for i, row in enumerate(rows, start=1):
        missing = [c for c in RESULT_COLUMNS if c not in row]
        if missing:
            problems.add(i, ", ".join(missing), "missing (no such column in this row)")
        for c in RESULT_COLUMNS:
            columns[c].append(row.get(c))
    problems.raise_if_any()
    return read_columns(columns, source=source, identities=identities)

def read_columns(
    columns: Mapping[str, Sequence[Any]], *, source: str | None = None, identities=None
) -> Loaded:
    """Read results-file columns (name -> equal-length sequence); see `read_rows`.

    `identities(columns) -> columns`, if given, puts target/reference/predicted in
    canonical form first (`dicore.names.canonical_columns`: --names, normalised names)."""
    problems = _Problems(source)
    absent = [c for c in RESULT_COLUMNS if c not in columns]
    if absent:
        problems.add(None, "columns", f"missing {', '.join(absent)}")
        problems.raise_if_any()
    lengths = {c: len(columns[c]) for c in RESULT_COLUMNS}
    if len(set(lengths.values())) > 1:
        problems.add(None, "columns", f"mismatched column lengths {lengths}")
        problems.raise_if_any()
    if identities is not None:
        columns = identities(columns)
    return _parse(columns, lengths["vendor"], problems)

def read_results_file(path: str | Path, *, identities=None) -> Loaded:
    """Read `results.csv` (or `.parquet`, via pyarrow) and validate it; see `read_rows`
    (and `read_columns` for `identities`)."""
    path = Path(path)
    if path.is_dir():
        raise UserError(
            f"results file {path} is a folder", f"pass the file, e.g. {path / 'results.csv'}"
        )
    if not path.is_file():
        raise UserError(
            f"results file {path} not found", "run `dicore run` or `dicore study` first"
        )
    if path.suffix.lower() == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError as exc:
            raise UserError(
                f"{path}: reading Parquet needs pyarrow", "pip install 'dicore[study]'"
            ) from exc
        try:
            table = pq.read_table(path)
        except (OSError, ValueError) as exc:  # pyarrow.ArrowInvalid is a ValueError
            raise UserError(
                f"{path}: not a readable Parquet file ({str(exc).splitlines()[0]})",
                "write results as .parquet with pyarrow, or use a .csv name for a CSV file",
            ) from exc
        return read_columns(table.to_pydict(), source=str(path), identities=identities)
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            absent = [c for c in RESULT_COLUMNS if c not in header]
            if absent:
                raise UserError(
                    f"{path}: missing column(s) {', '.join(absent)}",
                    f"the results file needs the columns {', '.join(RESULT_COLUMNS)}",
                )
            rows = list(reader)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise UserError(
            f"{path}: not a readable UTF-8 CSV file ({exc})",
            "results files are UTF-8 CSV with a header row, or .parquet",
        ) from exc
    return read_rows(rows, source=str(path), identities=identities)


class _Problems:
    """Collects validation problems; raises one UserError listing the first 20."""

    def __init__(self, source: str | None):
        self.source = source
        self.items: list[str] = []

    def add(self, row: int | None, field: str, message: str) -> None:
        where = "" if row is None else f"row {row}, "
        self.items.append(f"{where}{field}: {message}")

    def raise_if_any(self) -> None:
        if not self.items:
            return
        shown = self.items[:MAX_REPORTED_PROBLEMS]
        more = len(self.items) - len(shown)
        head = f"{self.source}: " if self.source else ""
        lines = [f"{head}{len(self.items)} invalid result(s):"] + [f"  {p}" for p in shown]
        if more:
            lines.append(f"  ... and {more} more")
        raise UserError(
            "\n".join(lines),
            "rows are numbered from 1 after the header; fix or drop the rows named "
            "(the other results are untouched)",
        )


def _text(value: Any) -> str:
    """'' for absent values (None, '', NaN), else the stripped string."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def _percent(value: Any, row: int, field: str, problems: _Problems) -> float:
    """Parse an optional percent in 0..100; NaN when absent or invalid (problem recorded)."""
    text = _text(value)
    if text == "":
        return math.nan
    try:
        x = float(text)
    except ValueError:
        problems.add(row, field, f"{text!r} is not a number")
        return math.nan
    if not 0.0 <= x <= 100.0:  # also rejects NaN/inf spelled out
        problems.add(row, field, f"{text} is outside 0..100 (percent)")
        return math.nan
    return x


def _boolean(value: Any, row: int, problems: _Problems) -> bool | None:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    text = _text(value).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    problems.add(row, "is_fake", f"{_text(value)!r} is not a boolean (true/false)")
    return None


def _known(text: str, names: Sequence[str], row: int, field: str, problems: _Problems) -> int:
    """Index of `text` (case-insensitive) in `names`; -1 and a problem when unknown."""
    key = text.lower()
    if key in names:
        return names.index(key)
    problems.add(row, field, f"unknown {field} {text!r} (known: {', '.join(names)})")
    return -1


def _parse(columns: Mapping[str, Sequence[Any]], n: int, problems: _Problems) -> Loaded:
    text = {c: [_text(v) for v in columns[c]] for c in RESULT_COLUMNS if c != "is_fake"}
    datasets: dict[str, int] = {}
    identities: dict[str, int] = {}
    items: dict[str, int] = {}
    backends: dict[str, None] = {}

    def ident(name: str) -> int:
        return identities.setdefault(name, len(identities))

    vendor = np.full(n, -1, np.int32)
    method = np.full(n, -1, np.int32)
    is_fake = np.zeros(n, bool)
    confidence = np.full(n, np.nan, np.float64)  # float64: exactly the file's values
    similarity = np.full(n, np.nan, np.float64)
    for i in range(n):
        row = i + 1
        vendor[i] = _known(text["vendor"][i], VENDORS, row, "vendor", problems)
        m = text["method"][i].lower()
        method[i] = _known(text["method"][i], METHODS, row, "method", problems)
        fake = _boolean(columns["is_fake"][i], row, problems)
        is_fake[i] = bool(fake)
        if fake is not None and m in METHODS and fake != (m != "real"):
            problems.add(row, "is_fake", f"is_fake={fake} contradicts method {m!r}")
        for field in ("dataset", "item_id", "target"):
            if text[field][i] == "":
                problems.add(row, field, "is empty")
        if fake and text["real_item_id"][i] == "":
            problems.add(row, "real_item_id", "a fake needs its paired real item (empty)")
        confidence[i] = _percent(columns["confidence"][i], row, "confidence", problems)
        similarity[i] = _percent(columns["similarity"][i], row, "similarity", problems)
        has_name = text["predicted"][i] != ""
        has_conf = _text(columns["confidence"][i]) != ""
        if has_name and not has_conf:
            problems.add(
                row, "confidence", f"name {text['predicted'][i]!r} reported without a confidence"
            )
        if has_conf and not has_name:
            problems.add(row, "predicted", "a confidence was reported without a name")
        backends.setdefault(text["backend"][i], None)

    dataset = np.array([datasets.setdefault(d, len(datasets)) for d in text["dataset"]], np.int32)
    item = np.array([items.setdefault(x, len(items)) for x in text["item_id"]], np.int32)
    # Dataset identities first, then names only an API produced.
    target = np.array([ident(t) for t in text["target"]], np.int32)
    reference = np.array([ident(r) if r else -1 for r in text["reference"]], np.int32)
    predicted = np.array([ident(p) if p else -1 for p in text["predicted"]], np.int32)

    # Row index per (vendor, dataset, item); duplicates are errors.
    row_of: dict[tuple[int, int, str], int] = {}
    for i in range(n):
        key = (int(vendor[i]), int(dataset[i]), text["item_id"][i])
        if vendor[i] >= 0 and key in row_of:
            problems.add(
                i + 1,
                "item_id",
                f"duplicate ({text['vendor'][i]}, {text['dataset'][i]}, {text['item_id'][i]}) "
                f"also on row {row_of[key] + 1}",
            )
        else:
            row_of.setdefault(key, i)
    # First real row (by item id) of each identity, per vendor and dataset, for synthesis references.
    first_real: dict[tuple[int, int, int], int] = {}
    for i in sorted(range(n), key=lambda j: text["item_id"][j]):
        if not is_fake[i]:
            first_real.setdefault((int(vendor[i]), int(dataset[i]), int(target[i])), i)

    paired_row = np.full(n, -1, np.int32)
    ref_paired_row = np.full(n, -1, np.int32)
    for i in range(n):
        if not is_fake[i] or vendor[i] < 0 or text["real_item_id"][i] == "":
            continue
        j = row_of.get((int(vendor[i]), int(dataset[i]), text["real_item_id"][i]))
        if j is None:
            problems.add(
                i + 1,
                "real_item_id",
                f"paired real item {text['real_item_id'][i]!r} has no row for vendor "
                f"{text['vendor'][i]} in dataset {text['dataset'][i]}",
            )
        elif is_fake[j]:
            problems.add(
                i + 1,
                "real_item_id",
                f"paired item {text['real_item_id'][i]!r} is a fake (row {j + 1})",
            )
        else:
            paired_row[i] = j
        if method[i] == METHODS.index("synthesis") and reference[i] >= 0:
            ref_paired_row[i] = first_real.get(
                (int(vendor[i]), int(dataset[i]), int(reference[i])), -1
            )

    problems.raise_if_any()
    obs = Observations(
        vendor=vendor,
        dataset=dataset,
        method=method,
        item=item,
        is_fake=is_fake,
        paired_row=paired_row,
        ref_paired_row=ref_paired_row,
        target=target,
        reference=reference,
        predicted=predicted,
        confidence=confidence,
        similarity=similarity,
    ).check()
    vocab = Vocab(
        datasets=tuple(datasets),
        identities=tuple(identities),
        items=tuple(items),
        backends=tuple(b for b in backends if b),
    )
    return Loaded(obs, vocab)


def read_backends(results: Path) -> dict[str, str]:
    """{vendor: backend(s)} of a results file, several joined by '+' (sorted)."""
    if results.suffix == ".parquet":
        import pyarrow.parquet as pq

        cols = pq.read_table(results, columns=["vendor", "backend"]).to_pydict()
        pairs = list(zip(cols["vendor"], cols["backend"], strict=True))
    else:
        with results.open(newline="", encoding="utf-8-sig") as fh:
            pairs = [(r.get("vendor"), r.get("backend")) for r in csv.DictReader(fh)]
    seen: dict[str, set[str]] = {}
    for vendor, backend in pairs:
        seen.setdefault(str(vendor), set()).add(str(backend))
    return {v: "+".join(sorted(b)) for v, b in seen.items()}


# ---- writing -------------------------------------------------------------------


_NULLABLE_TEXT = ("predicted", "real_item_id", "reference")


def _arrow_table(cols: Mapping[str, Sequence], extra: Sequence[str] = ()):
    """The contract's columns (then `extra`, as strings or their pyarrow-inferred types)."""
    import pyarrow as pa

    types = {"is_fake": pa.bool_(), "confidence": pa.float64(), "similarity": pa.float64()}
    data = {}
    for c in RESULT_COLUMNS:
        values = cols[c]
        if c in _NULLABLE_TEXT:
            values = [v or None for v in values]  # empty = null (an empty CSV cell)
        elif c in ("confidence", "similarity"):
            values = [none_if_nan(v) for v in values]
        data[c] = values
    schema = pa.schema([(c, types.get(c, pa.string())) for c in RESULT_COLUMNS])
    table = pa.table(data, schema=schema)
    for c in extra:
        if c in RESULT_COLUMNS:
            raise ValueError(f"extra column {c!r} is one of the contract's columns")
        table = table.append_column(c, pa.array(list(cols[c])))
    return table


def write_results_csv(
    path: Path, cols: Mapping[str, Sequence], table=None, *, extra: Sequence[str] = ()
) -> Path:
    """The results contract as CSV: empty cells for absent values, floats written
    shortest-exact (they read back to the same double), atomically."""
    import pyarrow.csv as pa_csv

    table = table if table is not None else _arrow_table(cols, extra)
    header = ",".join(table.column_names) + "\n"

    def write(tmp: Path) -> None:
        import pyarrow as pa

        # Unquoted cells; pyarrow refuses that when a value holds a comma, quote or
        # newline, and then every string is quoted (still standard CSV).
        for quoting in ("none", "needed"):
            try:
                with open(tmp, "wb") as fh:
                    fh.write(header.encode())
                    pa_csv.write_csv(
                        table, fh,
                        pa_csv.WriteOptions(include_header=False, quoting_style=quoting),
                    )
                return
            except pa.ArrowInvalid:
                continue

    return write_atomic(path, write)


def drop_unpaired_fakes(cols: Mapping[str, Sequence]) -> tuple[dict[str, list], int]:
    """Leave out the fakes whose paired real image has no result for that vendor (its call
    failed): without X_T none of the fake's metrics is defined. Returns (columns, number left out)."""
    reals = {
        (v, d, i)
        for v, d, i, f in zip(cols["vendor"], cols["dataset"], cols["item_id"], cols["is_fake"], strict=True)
        if not f
    }
    keep = [
        not f or (v, d, r) in reals
        for v, d, r, f in zip(cols["vendor"], cols["dataset"], cols["real_item_id"], cols["is_fake"], strict=True)
    ]
    if all(keep):
        return {c: list(v) for c, v in cols.items()}, 0
    return {c: [x for x, k in zip(v, keep, strict=True) if k] for c, v in cols.items()}, keep.count(False)


def write_results_parquet(
    path: Path, cols: Mapping[str, Sequence], table=None, *, extra: Sequence[str] = ()
) -> Path:
    """The results contract as Parquet (nulls for absent values), atomically."""
    import pyarrow.parquet as pq

    table = table if table is not None else _arrow_table(cols, extra)
    return write_atomic(path, lambda tmp: pq.write_table(table, tmp))


def write_results(
    out: Path, cols: Mapping[str, Sequence], *, extra: Sequence[str] = ()
) -> tuple[Path, Path]:
    """OUT/results.csv and OUT/results.parquet from results-contract columns (and `extra`)."""
    out.mkdir(parents=True, exist_ok=True)
    table = _arrow_table(cols, extra)
    return (
        write_results_csv(out / "results.csv", cols, table),
        write_results_parquet(out / "results.parquet", cols, table),
    )
