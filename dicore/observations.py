"""The columnar observations record: one row per API call (vendor x item).

`Observations` is a frozen dataclass registered as a JAX pytree; every leaf is a
1-D array of the same length N. Names (vendors, datasets, identities, items) are
mapped to integer ids *outside* `jit` and kept in a `Vocab` returned alongside:

    obs, vocab = Observations.from_results_file("results.csv")

Columns (all shape (N,)):

- vendor: int32, index into `dicore.VENDORS` (aws, azure, naver).
- dataset: int32, index into `vocab.datasets`.
- method: int32, index into `dicore.METHODS` (replacement, reenactment, synthesis, real).
- item: int32, index into `vocab.items`.
- is_fake: bool.
- paired_row: int32, row of the fake's paired real image X_T for the same vendor
  and dataset; -1 for real rows.
- ref_paired_row: int32, row of the reference source's real image for synthesis
  fakes (the real row of the same vendor and dataset whose target is the
  reference identity, first by item id); -1 otherwise or when there is none.
- target: int32, identity id (index into `vocab.identities`).
- reference: int32, identity id or -1.
- predicted: int32, identity id or -1 when the API named nobody. A name that is
  not a dataset identity gets its own id (appended to `vocab.identities`).
- confidence: float32 percent 0..100, NaN when absent.
- similarity: float32 percent 0..100, NaN when absent (stored on the fake's row:
  similarity between the fake and its paired real).

Validation (`from_rows`, `from_columns`, `from_results_file`) is one pass that
collects every problem and raises a single `UserError` listing the first 20,
each naming the row (1-based, counting data rows after the header) and field.
"""

from __future__ import annotations

import csv
import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np

from dicore import METHODS, RESULT_COLUMNS, VENDORS
from dicore.errors import UserError

"""The results-file columns of docs/ARCHITECTURE.md, in order."""

FIELDS = (
    "vendor",
    "dataset",
    "method",
    "item",
    "is_fake",
    "paired_row",
    "ref_paired_row",
    "target",
    "reference",
    "predicted",
    "confidence",
    "similarity",
)
_INT_FIELDS = frozenset(FIELDS) - {"is_fake", "confidence", "similarity"}
MAX_REPORTED_PROBLEMS = 20
_TRUE = frozenset({"true", "1", "yes", "t", "y"})
_FALSE = frozenset({"false", "0", "no", "f", "n"})


@dataclasses.dataclass(frozen=True)
class Vocab:
    """Integer id -> name for each id column of an `Observations` (kept outside jit)."""

    datasets: tuple[str, ...]
    identities: tuple[str, ...]
    items: tuple[str, ...]
    backends: tuple[str, ...] = ()
    vendors: tuple[str, ...] = VENDORS
    methods: tuple[str, ...] = METHODS

    @property
    def n_groups(self) -> int:
        """Static number of (dataset, vendor) groups: len(datasets) * len(vendors)."""
        return len(self.datasets) * len(self.vendors)

    @property
    def simulated(self) -> bool:
        """True when any row came from the simulated backend (`sim`)."""
        return "sim" in self.backends


@dataclasses.dataclass(frozen=True, eq=False)
class Observations:
    """Columnar record of API calls; see the module docstring for each column.

    No checks run in `__init__` (JAX rebuilds pytrees with tracers or
    placeholders); call `check()` or use a `from_*` constructor.
    """

    vendor: Any
    dataset: Any
    method: Any
    item: Any
    is_fake: Any
    paired_row: Any
    ref_paired_row: Any
    target: Any
    reference: Any
    predicted: Any
    confidence: Any
    similarity: Any

    @property
    def n(self) -> int:
        return int(np.shape(self.vendor)[0])

    def check(self) -> Observations:
        """Raise ValueError naming the shapes unless every column is 1-D of one length."""
        shapes = {f: tuple(np.shape(getattr(self, f))) for f in FIELDS}
        n = shapes["vendor"][0] if len(shapes["vendor"]) == 1 else None
        if n is None or any(s != (n,) for s in shapes.values()):
            raise ValueError(f"Observations columns must all have shape (N,), got {shapes}")
        return self

    @classmethod
    def from_arrays(
        cls,
        *,
        vendor,
        dataset,
        target,
        is_fake,
        predicted,
        confidence,
        paired_row,
        method=None,
        item=None,
        ref_paired_row=None,
        reference=None,
        similarity=None,
    ) -> Observations:
        """Build from integer/float arrays (already ids), with dtypes fixed and shapes checked.

        Defaults: method = replacement for fakes and real for reals, item = row
        number, ref_paired_row = reference = -1, similarity = NaN.
        Raises ValueError (naming the shapes) on columns of unequal length.
        """
        is_fake = np.asarray(is_fake, bool)
        n = is_fake.shape[0] if is_fake.ndim == 1 else -1
        if method is None:
            method = np.where(is_fake, METHODS.index("replacement"), METHODS.index("real"))
        fill = {
            "item": np.arange(max(n, 0)),
            "ref_paired_row": np.full(max(n, 0), -1),
            "reference": np.full(max(n, 0), -1),
            "similarity": np.full(max(n, 0), np.nan),
        }
        given = dict(
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
        )
        cols = {}
        for name, value in given.items():
            value = fill[name] if value is None else value
            if name in _INT_FIELDS:
                cols[name] = np.asarray(value, np.int32)
            elif name == "is_fake":
                cols[name] = np.asarray(value, bool)
            else:
                cols[name] = np.asarray(value, np.float32)
        return cls(**cols).check()

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]], *, source: str | None = None) -> Loaded:
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
        return cls.from_columns(columns, source=source)

    @classmethod
    def from_columns(
        cls, columns: Mapping[str, Sequence[Any]], *, source: str | None = None
    ) -> Loaded:
        """Read results-file columns (name -> equal-length sequence); see `from_rows`."""
        problems = _Problems(source)
        absent = [c for c in RESULT_COLUMNS if c not in columns]
        if absent:
            problems.add(None, "columns", f"missing {', '.join(absent)}")
            problems.raise_if_any()
        lengths = {c: len(columns[c]) for c in RESULT_COLUMNS}
        if len(set(lengths.values())) > 1:
            problems.add(None, "columns", f"mismatched column lengths {lengths}")
            problems.raise_if_any()
        return _parse(columns, lengths["vendor"], problems)

    @classmethod
    def from_results_file(cls, path: str | Path) -> Loaded:
        """Read `results.csv` (or `.parquet`, via pyarrow) and validate it; see `from_rows`."""
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
            return cls.from_columns(table.to_pydict(), source=str(path))
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
        return cls.from_rows(rows, source=str(path))


jax.tree_util.register_dataclass(Observations, data_fields=list(FIELDS), meta_fields=[])


class Loaded(NamedTuple):
    """What the `from_*` readers return: the arrays and the names behind their ids."""

    obs: Observations
    vocab: Vocab


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
    confidence = np.full(n, np.nan, np.float32)
    similarity = np.full(n, np.nan, np.float32)
    for i in range(n):
        row = i + 1
        v = text["vendor"][i].lower()
        if v in VENDORS:
            vendor[i] = VENDORS.index(v)
        else:
            problems.add(
                row, "vendor", f"unknown vendor {text['vendor'][i]!r} (known: {', '.join(VENDORS)})"
            )
        m = text["method"][i].lower()
        if m in METHODS:
            method[i] = METHODS.index(m)
        else:
            problems.add(
                row, "method", f"unknown method {text['method'][i]!r} (known: {', '.join(METHODS)})"
            )
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
