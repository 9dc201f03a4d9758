"""The results file (`results.csv` / `results.parquet`): its columns, reading with
validation, and writing. The one home of the results contract (docs/ARCHITECTURE.md).

Columns, in order (`RESULT_COLUMNS`): vendor, backend, dataset, method, item_id, is_fake,
real_item_id, target, reference, predicted, confidence, similarity. Writers may append
extra columns after these (`extra=`); readers ignore columns they do not know.

Reading (`read_rows`, `read_columns`, `read_results_file`) returns
`Loaded(obs, vocab)` (`dicore.core.observations`). The file is read with pyarrow into
columns; every validation rule is a vectorised mask over the rows (no Python loop over
rows), and one `UserError` lists the first 20 problems in row order (all are counted),
each naming the row (1-based, counting data rows after the header), field and value.

Writing (`write_results`, `write_results_csv`, `write_results_parquet`): empty CSV cells
(Parquet nulls) for absent values, floats shortest-exact, atomically.

Over 400 lines because it is the whole results contract in one place: the columns,
the one-pass validation (every rule with its message) and both writers.
"""

from __future__ import annotations

import csv
import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dicore.core.observations import Loaded, Observations, Vocab
from dicore.core.vocab import METHODS, REAL_METHODS, VENDORS
from dicore.errors import UserError
from dicore.formats.atomic import write_atomic

RESULT_COLUMNS = (
    "vendor", "backend", "dataset", "method", "item_id", "is_fake", "real_item_id",
    "target", "reference", "predicted", "confidence", "similarity",
)
"""Columns of results.csv / results.parquet, in order (docs/ARCHITECTURE.md)."""

VIDEO_COLUMNS = ("source_video", "frame_index")
"""Optional trailing columns (after `RESULT_COLUMNS`): the video a frame came from and its
frame number in it; empty when unknown. Readers accept files without them."""

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
    columns: Mapping[str, Any], *, source: str | None = None, identities=None
) -> Loaded:
    """Read results-file columns (name -> equal-length sequence or pyarrow array); see
    `read_rows`.

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
    arrays = {c: _as_arrow(columns[c], c, problems) for c in RESULT_COLUMNS}
    problems.raise_if_any()
    if identities is not None:
        arrays.update(_canonical_names(arrays, identities, problems))
    return _parse(arrays, lengths["vendor"], problems)


def _canonical_names(arrays, identities, problems: _Problems) -> dict:
    """target, reference and predicted in canonical form: `identities` maps the distinct
    names only (targets first, each column in order of first appearance, as a row-by-row
    pass would meet them), and the rows take their name's canonical form."""
    import pyarrow as pa

    encoded = {}
    for c in ("target", "reference", "predicted"):
        text = _text(arrays[c], c, problems)
        encoded[c] = text.dictionary_encode()
    mapped = identities({c: encoded[c].dictionary.to_pylist() for c in encoded})
    return {c: pa.array(mapped[c], pa.string()).take(encoded[c].indices) for c in encoded}


def read_results_file(path: str | Path, *, identities=None) -> Loaded:
    """Read `results.csv` (or `.parquet`) with pyarrow into columns and validate them; see
    `read_rows` (and `read_columns` for `identities`). An empty file (a header only, or
    no rows) is an error naming the file."""
    path = Path(path)
    if path.is_dir():
        raise UserError(
            f"results file {path} is a folder", f"pass the file, e.g. {path / 'results.csv'}"
        )
    if not path.is_file():
        raise UserError(
            f"results file {path} not found", "run `dicore run` or `dicore study` first"
        )
    table = _read_table(path)
    if table.num_rows == 0:
        raise UserError(
            f"{path}: no result rows (the file has its columns but no data)",
            "run `dicore run` or `dicore study` first, or pass a results file with rows",
        )
    columns = {c: table.column(c) for c in RESULT_COLUMNS}
    return read_columns(columns, source=str(path), identities=identities)


def _require_columns(path: Path, names: Sequence[str]) -> None:
    absent = [c for c in RESULT_COLUMNS if c not in names]
    if absent:
        raise UserError(
            f"{path}: missing column(s) {', '.join(absent)}",
            f"the results file needs the columns {', '.join(RESULT_COLUMNS)}",
        )


def _csv_header(path: Path) -> list[str]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            return next(csv.reader(fh), [])
    except (UnicodeDecodeError, csv.Error) as exc:
        raise UserError(
            f"{path}: not a readable UTF-8 CSV file ({exc})",
            "results files are UTF-8 CSV with a header row, or .parquet",
        ) from exc


def _unreadable_parquet(path: Path, exc: Exception) -> UserError:
    return UserError(
        f"{path}: not a readable Parquet file ({str(exc).splitlines()[0]})",
        "write results as .parquet with pyarrow, or use a .csv name for a CSV file",
    )


def _read_table(path: Path):
    """The contract's columns of a results file as a pyarrow Table (CSV cells as text)."""
    try:
        import pyarrow as pa
        import pyarrow.csv as pa_csv
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise UserError(f"{path}: reading results needs pyarrow", "pip install 'dicore[study]'") from exc
    if path.suffix.lower() == ".parquet":
        try:
            _require_columns(path, pq.read_schema(path).names)
            return pq.read_table(path, columns=list(RESULT_COLUMNS))
        except (OSError, ValueError) as exc:  # pyarrow.ArrowInvalid is a ValueError
            raise _unreadable_parquet(path, exc) from exc
    header = _csv_header(path)
    _require_columns(path, header)
    try:
        return pa_csv.read_csv(
            path,
            parse_options=pa_csv.ParseOptions(newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(
                column_types={c: pa.string() for c in header},  # every cell as its text
                strings_can_be_null=False, include_columns=list(RESULT_COLUMNS),
            ),
        )
    except (pa.ArrowInvalid, OSError) as exc:
        raise UserError(
            f"{path}: not a readable UTF-8 CSV file ({str(exc).splitlines()[0]})",
            "results files are UTF-8 CSV with a header row (every row with every column), "
            "or .parquet",
        ) from exc


class _Problems:
    """Collects validation problems; raises one UserError listing the first 20.

    Checks add whole masks (`add_rows`); only each check's first 20 rows are formatted,
    so a file with a million bad rows costs no million messages. The streaming reader
    (`dicore.streaming`) validates a file part by part into one `_Problems`
    (`defer=True`): `begin(row_of, skip)` maps each part's rows to the file's rows and
    leaves out rows already validated; it raises once, at the end, with every part's
    problems in the order the whole-file reader gives them."""

    def __init__(self, source: str | None, *, defer: bool = False):
        self.source = source
        self.items: list[str] = []
        self.count = 0
        # (phase, file row, check order, message) of the first rows of each check
        self._rows: list[tuple[int, int, int, str]] = []
        self._checks = 0
        self.defer = defer
        self.row_of: np.ndarray | None = None  # file row (0-based) of each local row
        self.skip: np.ndarray | None = None  # local rows validated elsewhere

    def begin(self, row_of=None, skip=None) -> None:
        """A new part of the file: its rows' file rows (0-based) and rows to leave out."""
        self.row_of, self.skip, self._checks = row_of, skip, 0

    def row_number(self, i) -> int:
        """The 1-based file row of local row `i` (as messages name other rows)."""
        return (int(self.row_of[int(i)]) if self.row_of is not None else int(i)) + 1

    def add(self, row: int | None, field: str, message: str) -> None:
        where = "" if row is None else f"row {row}, "
        self.items.append(f"{where}{field}: {message}")
        self.count += 1

    def add_file_row(self, row: int, field: str, message: str, *, phase: int, order: int = 0) -> None:
        """One problem on file row `row` (0-based), found outside a mask check."""
        self.count += 1
        self._rows.append((phase, int(row), order, f"row {int(row) + 1}, {field}: {message}"))

    def add_rows(self, mask, field: str, message, *, phase: int = 0) -> None:
        """A problem on every row where `mask` holds; `message(i)` (0-based row) says it."""
        mask = np.asarray(mask, bool)
        if self.skip is not None:
            mask = mask & ~self.skip
        rows = np.flatnonzero(mask)
        self._checks += 1
        if not len(rows):
            return
        self.count += len(rows)
        order = self._checks
        for i in rows[:MAX_REPORTED_PROBLEMS]:
            n = self.row_number(i)
            self._rows.append((phase, n - 1, order, f"row {n}, {field}: {message(int(i))}"))
        if len(self._rows) > 8 * MAX_REPORTED_PROBLEMS:  # only the first 20 are ever shown
            self._rows = sorted(self._rows)[:MAX_REPORTED_PROBLEMS]

    def raise_if_any(self, *, force: bool = False) -> None:
        if not self.count or (self.defer and not force):
            return
        shown = self.items[:MAX_REPORTED_PROBLEMS]
        for *_, text in sorted(self._rows, key=lambda r: r[:3])[: MAX_REPORTED_PROBLEMS - len(shown)]:
            shown.append(text)
        more = self.count - len(shown)
        head = f"{self.source}: " if self.source else ""
        lines = [f"{head}{self.count} invalid result(s):"] + [f"  {p}" for p in shown]
        if more:
            lines.append(f"  ... and {more} more")
        raise UserError(
            "\n".join(lines),
            "rows are numbered from 1 after the header; fix or drop the rows named "
            "(the other results are untouched)",
        )


def _as_arrow(values, field: str, problems: _Problems):
    """One column as a pyarrow array; Python sequences are converted (mixed types as text)."""
    import pyarrow as pa

    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    if isinstance(values, pa.Array):
        return values
    values = list(values)
    try:
        return pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        # Mixed types (as in hand-built rows): every value as its text, None stays null.
        return pa.array([None if v is None else _scalar_text(v) for v in values], pa.string())


def _scalar_text(v) -> str:
    if isinstance(v, float) and math.isnan(v):
        return ""
    if isinstance(v, bytes | bytearray):
        return repr(bytes(v))  # refused below as binary: keep it visibly bytes
    return str(v)


def _text(arr, field: str, problems: _Problems):
    """A text column as a pyarrow string array, stripped, absent values as ''.

    Binary, list and other nested values are refused (they would read as "b'Alice'" or
    "['Alice']"); numbers and booleans read as their text."""
    import pyarrow as pa
    import pyarrow.compute as pc

    t = arr.type
    if pa.types.is_dictionary(t) and pa.types.is_string(t.value_type):
        # Trim each distinct value once, then spread them over the rows.
        values = pc.utf8_trim_whitespace(arr.dictionary.fill_null(""))
        out = values.take(arr.indices)
        return out.fill_null("") if out.null_count else out
    if pa.types.is_dictionary(t):
        arr, t = arr.cast(t.value_type), t.value_type
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        valid = np.asarray(arr.is_valid())
        problems.add_rows(valid, field, lambda i: f"{arr[i].as_py()!r} is binary (bytes), not text")
        return pa.array([""] * len(arr), pa.string())
    if pa.types.is_nested(t):
        valid = np.asarray(arr.is_valid())
        problems.add_rows(valid, field, lambda i: f"{arr[i].as_py()!r} is a {t}, not text")
        return pa.array([""] * len(arr), pa.string())
    if pa.types.is_floating(t):  # NaN is absent, as in a CSV's empty cell
        arr = pc.if_else(pc.is_nan(arr), pa.scalar(None, t), arr)
    if pa.types.is_string(t) and isinstance(arr, pa.StringArray):
        pass
    else:
        arr = arr.cast(pa.string())
    if pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.string())
    return pc.utf8_trim_whitespace(arr.fill_null("") if arr.null_count else arr)


def _codes(text, names: Sequence[str]):
    """Index of each (lower-cased) value in `names`; -1 where unknown."""
    import pyarrow as pa
    import pyarrow.compute as pc

    enc = pc.dictionary_encode(text)  # lower-case and look up each distinct value once
    idx = pc.index_in(pc.utf8_lower(enc.dictionary), value_set=pa.array(list(names), pa.string()))
    return np.asarray(idx.fill_null(-1), np.int32)[np.asarray(enc.indices, np.int64)]



def _vocabulary(text):
    """(first-occurrence-ordered distinct values, code of each row), by dictionary encoding."""
    import pyarrow.compute as pc

    enc = pc.dictionary_encode(text)
    return enc.dictionary.to_pylist(), np.asarray(enc.indices, np.int32)


# A number as written in a results file: no underscores (Python's float() takes "9_5").
_NUMBER = r"^[+-]?(([0-9]+\.?[0-9]*|\.[0-9]+)(e[+-]?[0-9]+)?|nan|inf|infinity)$"


def _percent(arr, field: str, problems: _Problems):
    """An optional percent column in 0..100: (float64 values with NaN when absent or
    invalid, mask of rows that hold a value at all)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    t = arr.type
    if pa.types.is_dictionary(t):
        arr, t = arr.cast(t.value_type), t.value_type
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        x = np.asarray(arr.cast(pa.float64()).fill_null(np.nan), np.float64)
        present = ~np.isnan(x)
        text_of = lambda i: repr(float(x[i]))  # noqa: E731
        bad_number = np.zeros(len(x), bool)
    else:
        text = _text(arr, field, problems)
        present = np.asarray(pc.not_equal(text, ""), bool)
        ok = np.asarray(pc.match_substring_regex(text, _NUMBER, ignore_case=True), bool)
        bad_number = present & ~ok
        x = np.full(len(text), np.nan)
        if ok.any():
            x[ok] = np.asarray(pc.filter(text, pa.array(ok)).cast(pa.float64()), np.float64)
        text_of = lambda i: text[i].as_py()  # noqa: E731
        problems.add_rows(bad_number, field, lambda i: f"{text_of(i)!r} is not a number")
    with np.errstate(invalid="ignore"):
        outside = present & ~bad_number & ~((x >= 0.0) & (x <= 100.0))
    problems.add_rows(outside, field, lambda i: f"{text_of(i)} is outside 0..100 (percent)")
    return np.where(outside | bad_number, np.nan, x), present


def _booleans(arr, problems: _Problems):
    """is_fake as bools; a problem (and None-like False) where it is not a boolean."""
    import pyarrow as pa

    if pa.types.is_boolean(arr.type):
        valid = np.asarray(arr.is_valid())
        problems.add_rows(~valid, "is_fake", lambda i: "'' is not a boolean (true/false)")
        return np.asarray(arr.fill_null(False), bool), valid
    text = _text(arr, "is_fake", problems)
    true = _codes(text, tuple(sorted(_TRUE))) >= 0
    false = _codes(text, tuple(sorted(_FALSE))) >= 0
    valid = true | false
    problems.add_rows(~valid, "is_fake",
                      lambda i: f"{text[i].as_py()!r} is not a boolean (true/false)")
    return true, valid


def _row_fields(arrays: Mapping[str, Any], problems: _Problems) -> dict[str, Any]:
    """The checks of one row at a time (every rule that needs no other row), as masks, and
    the columns they give: trimmed text, vendor/method codes, is_fake, empty masks,
    confidence and similarity. Shared by the whole-file reader and the streaming one."""
    import pyarrow.compute as pc

    text = {c: _text(arrays[c], c, problems)
            for c in RESULT_COLUMNS if c not in ("is_fake", "confidence", "similarity")}
    vendor = _codes(text["vendor"], VENDORS)
    problems.add_rows(vendor < 0, "vendor", lambda i: f"unknown vendor {text['vendor'][i].as_py()!r} "
                      f"(known: {', '.join(VENDORS)})")
    method = _codes(text["method"], METHODS)
    problems.add_rows(method < 0, "method", lambda i: f"unknown method {text['method'][i].as_py()!r} "
                      f"(known: {', '.join(METHODS)})")
    is_fake, fake_ok = _booleans(arrays["is_fake"], problems)
    real_codes = [METHODS.index(m) for m in REAL_METHODS]  # real and impostor: not fakes
    contradicts = fake_ok & (method >= 0) & (is_fake != ~np.isin(method, real_codes))
    problems.add_rows(contradicts, "is_fake", lambda i: f"is_fake={bool(is_fake[i])} contradicts "
                      f"method {METHODS[method[i]]!r}")
    empty = {c: np.asarray(pc.equal(text[c], ""), bool) for c in text}
    for field in ("dataset", "item_id", "target"):
        problems.add_rows(empty[field], field, lambda i: "is empty")
    problems.add_rows(is_fake & empty["real_item_id"], "real_item_id",
                      lambda i: "a fake needs its paired real item (empty)")
    confidence, has_conf = _percent(arrays["confidence"], "confidence", problems)
    similarity, _ = _percent(arrays["similarity"], "similarity", problems)
    has_name = ~empty["predicted"]
    problems.add_rows(has_name & ~has_conf, "confidence",
                      lambda i: f"name {text['predicted'][i].as_py()!r} reported without a confidence")
    problems.add_rows(has_conf & ~has_name, "predicted",
                      lambda i: "a confidence was reported without a name")
    return {"text": text, "vendor": vendor, "method": method, "is_fake": is_fake,
            "empty": empty, "confidence": confidence, "similarity": similarity}


def _parse(arrays: Mapping[str, Any], n: int, problems: _Problems) -> Loaded:
    """Validate and encode the columns, all checks as masks over the rows."""
    import pyarrow as pa
    import pyarrow.compute as pc

    f = _row_fields(arrays, problems)
    text, vendor, method, is_fake, empty = f["text"], f["vendor"], f["method"], f["is_fake"], f["empty"]
    confidence, similarity = f["confidence"], f["similarity"]

    datasets, dataset = _vocabulary(text["dataset"])
    items, item = _vocabulary(text["item_id"])
    backends = [b for b in _vocabulary(text["backend"])[0] if b]
    # Dataset identities first, then names only an API produced.
    named = pa.concat_arrays([text["target"], text["reference"], text["predicted"]])
    identities = [x for x in pc.unique(named).to_pylist() if x] if n else []
    id_set = pa.array(identities, pa.string())

    def ident(col):
        return np.asarray(pc.index_in(text[col], value_set=id_set).fill_null(-1), np.int32)

    target, reference, predicted = ident("target"), ident("reference"), ident("predicted")

    # Row of each (vendor, dataset, item); a repeated key is a duplicate of its first row.
    n_d, n_i = max(len(datasets), 1), max(len(items), 1)
    key = (vendor.astype(np.int64) * n_d + dataset) * n_i + item
    valid = vendor >= 0
    keys, first = np.unique(np.where(valid, key, -1), return_index=True)
    first_of = first[np.searchsorted(keys, np.where(valid, key, -1))]
    dup = valid & (first_of != np.arange(n))
    problems.add_rows(dup, "item_id", lambda i: (
        f"duplicate ({text['vendor'][i].as_py()}, {text['dataset'][i].as_py()}, "
        f"{text['item_id'][i].as_py()}) also on row {problems.row_number(first_of[i])}"), phase=1)

    # The paired real row of each fake: same vendor and dataset, item = real_item_id.
    real_item = np.asarray(pc.index_in(text["real_item_id"], value_set=pa.array(items, pa.string()))
                           .fill_null(-1), np.int64)
    wants = is_fake & valid & ~empty["real_item_id"]
    real_key = (vendor.astype(np.int64) * n_d + dataset) * n_i + real_item
    pos = np.clip(np.searchsorted(keys, real_key), 0, len(keys) - 1)
    found = wants & (real_item >= 0) & (keys[pos] == real_key)
    j = np.where(found, first[pos], -1)
    safe = np.maximum(j, 0)
    paired = _pairing(problems, text, wants, found, j_fake=is_fake[safe],
                      j_impostor=method[safe] == METHODS.index("impostor"),
                      j_other=target[safe] != target, j_row=lambda i: problems.row_number(j[i]),
                      j_target=lambda i: text["target"][int(j[i])].as_py())
    paired_row = np.where(paired, j, -1).astype(np.int32)

    # First real row (by item id) of each (vendor, dataset, identity): a synthesis
    # blend's reference source.
    ref_paired_row = np.full(n, -1, np.int32)
    synth = is_fake & valid & (method == METHODS.index("synthesis")) & (reference >= 0)
    if synth.any():
        rank = np.empty(len(items), np.int64)
        rank[np.argsort(np.asarray(items, dtype=object), kind="stable")] = np.arange(len(items))
        reals = np.flatnonzero(~is_fake & valid)
        n_t = max(len(identities), 1)
        table = _reference_table(vendor[reals], dataset[reals], target[reals], rank[item[reals]], n_d, n_t)
        at = _reference_rows(table, vendor[synth], dataset[synth], reference[synth], n_d, n_t)
        ref_paired_row[synth] = np.where(at >= 0, reals[np.maximum(at, 0)], -1)

    problems.raise_if_any()
    obs = Observations(
        vendor=vendor, dataset=dataset.astype(np.int32), method=method,
        item=item.astype(np.int32), is_fake=is_fake, paired_row=paired_row,
        ref_paired_row=ref_paired_row, target=target, reference=reference,
        predicted=predicted, confidence=confidence,  # float64: exactly the file's values
        similarity=similarity,
    ).check()
    vocab = Vocab(
        datasets=tuple(datasets), identities=tuple(identities), items=tuple(items),
        backends=tuple(backends),
    )
    return Loaded(obs, vocab)


def _pairing(problems: _Problems, text, wants, found, *, j_fake, j_impostor, j_other,
             j_row, j_target) -> np.ndarray:
    """The rules between a fake and the row its real_item_id names (phase 2 problems):
    that row exists, is a real image (not a fake, not an impostor) and is of the fake's
    target. `found`: a row was found; `j_*`: that row's facts (masks over the fakes, and
    its file row number and target name for the messages). Returns the fakes paired."""
    rid = lambda i: text["real_item_id"][i].as_py()  # noqa: E731
    problems.add_rows(wants & ~found, "real_item_id", lambda i: (
        f"paired real item {rid(i)!r} has no row for vendor "
        f"{text['vendor'][i].as_py()} in dataset {text['dataset'][i].as_py()}"), phase=2)
    pair_fake = found & j_fake
    problems.add_rows(pair_fake, "real_item_id", lambda i: (
        f"paired item {rid(i)!r} is a fake (row {j_row(i)})"), phase=2)
    pair_impostor = found & ~pair_fake & j_impostor
    problems.add_rows(pair_impostor, "real_item_id", lambda i: (
        f"paired item {rid(i)!r} is an impostor (row {j_row(i)}), "
        "not a real image of the fake's target"), phase=2)
    not_real = pair_fake | pair_impostor
    other_person = found & ~not_real & j_other
    problems.add_rows(other_person, "real_item_id", lambda i: (
        f"paired real item {rid(i)!r} is of {j_target(i)!r} (row {j_row(i)}), not of the "
        f"fake's target {text['target'][i].as_py()!r}"), phase=2)
    return found & ~not_real & ~other_person


def _reference_table(vendor, dataset, target, rank, n_d: int, n_t: int):
    """(sorted group keys, index of the group's first row by item rank) of real rows, group
    = (vendor, dataset, target): where a synthesis blend finds its reference's real."""
    group = (np.asarray(vendor, np.int64) * n_d + dataset) * n_t + target
    order = np.lexsort((rank, group))
    g_sorted = group[order]
    if not len(g_sorted):
        return g_sorted, order
    starts = np.flatnonzero(np.r_[True, g_sorted[1:] != g_sorted[:-1]])
    return g_sorted[starts], order[starts]


def _reference_rows(table, vendor, dataset, reference, n_d: int, n_t: int) -> np.ndarray:
    """Index (into the rows `_reference_table` was built from) of each blend's reference
    real, -1 where there is none."""
    g_keys, g_rows = table
    want = (np.asarray(vendor, np.int64) * n_d + dataset) * n_t + reference
    if not len(g_keys):
        return np.full(len(want), -1, np.int64)
    at = np.clip(np.searchsorted(g_keys, want), 0, len(g_keys) - 1)
    return np.where(g_keys[at] == want, g_rows[at], -1)


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


# ---- streaming: a file part by part (`dicore.streaming`) ------------------------

STREAM_DICTIONARY = ("vendor", "backend", "dataset", "method", "target", "reference", "predicted")
"""Low-cardinality columns read dictionary-encoded from Parquet (less memory, less decoding)."""


def check_results_path(path: str | Path) -> Path:
    """The results file as a Path; `UserError` when it is a folder or does not exist."""
    path = Path(path)
    if path.is_dir():
        raise UserError(
            f"results file {path} is a folder", f"pass the file, e.g. {path / 'results.csv'}"
        )
    if not path.is_file():
        raise UserError(
            f"results file {path} not found", "run `dicore run` or `dicore study` first"
        )
    return path


def iter_result_batches(path: Path, columns: Sequence[str], batch_rows: int):
    """(pyarrow RecordBatch of `columns`, file row of its first row) of a results file, in
    file order: Parquet by `iter_batches` (the `STREAM_DICTIONARY` columns dictionary-
    encoded), CSV by `pyarrow.csv.open_csv` (every cell as text). Errors name the file."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    offset = 0
    if path.suffix.lower() == ".parquet":
        try:
            schema = pq.read_schema(path)
            _require_columns(path, schema.names)
            text = [c for c in STREAM_DICTIONARY if c in columns and (
                pa.types.is_string(schema.field(c).type) or pa.types.is_large_string(schema.field(c).type))]
            pf = pq.ParquetFile(path, read_dictionary=text)
            for batch in pf.iter_batches(batch_size=batch_rows, columns=list(columns)):
                yield batch, offset
                offset += batch.num_rows
        except (OSError, ValueError) as exc:  # pyarrow.ArrowInvalid is a ValueError
            if isinstance(exc, UserError):
                raise
            raise _unreadable_parquet(path, exc) from exc
        return
    header = _csv_header(path)
    _require_columns(path, header)
    try:
        reader = pa_csv.open_csv(
            path,
            read_options=pa_csv.ReadOptions(block_size=max(batch_rows, 1) * 160),
            parse_options=pa_csv.ParseOptions(newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(
                column_types={c: pa.string() for c in header},  # every cell as its text
                strings_can_be_null=False, include_columns=list(columns),
            ),
        )
        for batch in reader:
            yield batch, offset
            offset += batch.num_rows
    except (pa.ArrowInvalid, OSError) as exc:
        raise UserError(
            f"{path}: not a readable UTF-8 CSV file ({str(exc).splitlines()[0]})",
            "results files are UTF-8 CSV with a header row (every row with every column), "
            "or .parquet",
        ) from exc


def _distinct(arr) -> list:
    """Distinct trimmed texts of a column in order of first appearance (a dictionary-
    encoded column: from its dictionary and indices, without decoding every row)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(arr.type) and pa.types.is_string(arr.type.value_type):
        idx = np.asarray(arr.indices.fill_null(-1), np.int64) + 1  # 0: null
        order = first_seen(idx, len(arr.dictionary) + 1)
        words = [""] + [("" if x is None else x.strip()) for x in arr.dictionary.to_pylist()]
        return list(dict.fromkeys(words[i] for i in order))
    return pc.unique(_text(arr, "", _Problems(None))).to_pylist()


def first_seen(codes: np.ndarray, size: int) -> np.ndarray:
    """The distinct values of `codes` (ints in 0..size-1) in order of first appearance."""
    n = len(codes)
    first = np.full(size, n, np.int64)
    first[codes[::-1]] = np.arange(n - 1, -1, -1)  # the last write (the first row) wins
    used = np.flatnonzero(first < n)
    return used[np.argsort(first[used], kind="stable")]


@dataclasses.dataclass(frozen=True)
class StreamVocab:
    """The names of a whole file, gathered before its rows are parsed (so every part of it
    gets the same ids as the whole-file reader gives): datasets and identities in the
    whole-file reader's order, and each name column's raw -> canonical names."""

    datasets: tuple[str, ...]
    identities: tuple[str, ...]
    backends: tuple[str, ...]
    n_targets: int  # identities[:n_targets] are the targets (dense cluster ids)
    groups: tuple[int, ...]  # (dataset, vendor) group ids with rows, dataset * 3 + vendor
    pairs: tuple[tuple[int, int], ...]  # (dataset, target) ids that occur
    canonical: dict[str, dict[str, str]] | None = None
    n_rows: int = 0
    references: tuple[int, ...] = ()  # ids named as a synthesis blend's reference

    def ids(self, text, names: str) -> np.ndarray:
        """Index of each (already canonical) text in `datasets` or `identities`; -1 if absent."""
        import pyarrow as pa
        import pyarrow.compute as pc

        values = pa.array(list(getattr(self, names)), pa.string())
        return np.asarray(pc.index_in(text, value_set=values).fill_null(-1), np.int32)


_NAME_COLUMNS = ("target", "reference", "predicted")
VOCAB_COLUMNS = ("vendor", "backend", "dataset", *_NAME_COLUMNS)


def stream_vocab(batches, identities=None) -> StreamVocab:
    """A `StreamVocab` from batches of `VOCAB_COLUMNS` (the whole file, in order).
    `identities` as in `read_columns`: called once, with every distinct name."""
    import pyarrow as pa
    import pyarrow.compute as pc

    seen: dict[str, dict] = {c: {} for c in ("dataset", "backend", *_NAME_COLUMNS)}
    group_pairs: set[tuple[str, str]] = set()
    vendor_dataset: set[tuple[int, str]] = set()
    n_rows = 0
    for batch, _ in batches:
        n_rows += batch.num_rows
        for c in seen:
            for x in _distinct(batch.column(c)):
                seen[c].setdefault(x, None)
        quiet = _Problems(None)
        d_enc = pc.dictionary_encode(_text(batch.column("dataset"), "dataset", quiet))
        t_enc = pc.dictionary_encode(_text(batch.column("target"), "target", quiet))
        v = _codes(_text(batch.column("vendor"), "vendor", quiet), VENDORS).astype(np.int64)
        d = np.asarray(d_enc.indices, np.int64)
        t = np.asarray(t_enc.indices, np.int64)
        d_names, t_names = d_enc.dictionary.to_pylist(), t_enc.dictionary.to_pylist()
        k = max(len(t_names), 1)
        for code in np.flatnonzero(np.bincount(d * k + t)).tolist():
            group_pairs.add((d_names[code // k], t_names[code % k]))
        ok = v >= 0
        for code in np.flatnonzero(np.bincount(d[ok] * len(VENDORS) + v[ok])).tolist():
            vendor_dataset.add((code % len(VENDORS), d_names[code // len(VENDORS)]))
    names = {c: list(seen[c]) for c in _NAME_COLUMNS}
    canonical = None
    if identities is not None:
        mapped = identities(names)
        canonical = {c: dict(zip(names[c], mapped[c], strict=True)) for c in _NAME_COLUMNS}
        names = {c: [canonical[c][x] for x in names[c]] for c in _NAME_COLUMNS}
    # Dataset identities first, then names only an API produced (as `_parse` orders them).
    ids = list(dict.fromkeys(x for c in _NAME_COLUMNS for x in names[c] if x))
    n_targets = len(dict.fromkeys(x for x in names["target"] if x))
    datasets = list(seen["dataset"])
    d_of = {x: i for i, x in enumerate(datasets)}
    i_of = {x: i for i, x in enumerate(ids)}
    to_canon = (canonical or {}).get("target", {})
    pairs = sorted({(d_of[d], i_of[to_canon.get(t, t)]) for d, t in group_pairs
                    if to_canon.get(t, t) in i_of})
    groups = sorted({d_of[d] * len(VENDORS) + v for v, d in vendor_dataset})
    del pa
    references = tuple(sorted(i_of[x] for x in set(names["reference"]) if x))
    return StreamVocab(tuple(datasets), tuple(ids), tuple(b for b in seen["backend"] if b),
                       n_targets, tuple(groups), tuple(pairs), canonical, n_rows, references)


def _canonical_arrays(arrays, vocab: StreamVocab, problems: _Problems) -> dict:
    """The name columns in canonical form by the file's one mapping (`StreamVocab`)."""
    import pyarrow as pa

    out = {}
    for c in _NAME_COLUMNS:
        enc = _text(arrays[c], c, problems).dictionary_encode()
        mapping = vocab.canonical[c]  # type: ignore[index]
        mapped = [mapping.get(x, x) for x in enc.dictionary.to_pylist()]
        out[c] = pa.array(mapped, pa.string()).take(enc.indices)
    return out


def _prepared(arrays, vocab: StreamVocab, problems: _Problems) -> dict:
    arrays = {c: _as_arrow(arrays[c], c, problems) for c in RESULT_COLUMNS}
    if vocab.canonical is not None:
        arrays.update(_canonical_arrays(arrays, vocab, problems))
    return arrays


_MASK64 = (1 << 64) - 1


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser (a bijection of uint64, wrapping arithmetic)."""
    x = np.asarray(x, np.uint64).copy()
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


def _string_hash(text) -> np.ndarray:
    """A 64-bit hash of each string of a pyarrow string array (no Python loop over rows):
    a polynomial over its bytes, plus its length, mixed. Equal strings hash equal; the
    callers confirm a match on the strings themselves."""
    import pyarrow as pa

    text = text.cast(pa.string()) if not pa.types.is_string(text.type) else text
    n = len(text)
    out = np.zeros(n, np.uint64)
    step = 1 << 16
    for lo in range(0, n, step):
        part = text.slice(lo, min(step, n - lo))
        offsets = np.frombuffer(part.buffers()[1], np.int32, count=len(part) + 1,
                                offset=part.offset * 4).astype(np.int64)
        data = part.buffers()[2]
        lengths = np.diff(offsets)
        h = lengths.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        if data is not None and offsets[-1] > offsets[0]:
            raw = np.frombuffer(data, np.uint8)[offsets[0]:offsets[-1]].astype(np.uint64) + np.uint64(1)
            starts = offsets[:-1] - offsets[0]
            pos = np.arange(len(raw), dtype=np.int64) - np.repeat(starts, lengths)
            contrib = raw * _powers(int(lengths.max()))[pos]
            nonempty = lengths > 0
            h[nonempty] += np.add.reduceat(contrib, starts[nonempty])
        out[lo:lo + len(part)] = _mix(h)
    return out


_POWERS = np.ones(1, np.uint64)


def _powers(k: int) -> np.ndarray:
    """P**i mod 2**64 for i < k (P odd), cached."""
    global _POWERS
    if len(_POWERS) < k:
        p = np.full(max(k, 2 * len(_POWERS)), np.uint64(0x100000001B3), np.uint64)
        p[0] = 1
        _POWERS = np.cumprod(p, dtype=np.uint64)
    return _POWERS


def key_hash(vendor, dataset, item_text) -> np.ndarray:
    """64-bit hash of (vendor id, dataset id, item text): the key of a result row."""
    pair = (np.asarray(vendor, np.int64).astype(np.uint64) << np.uint64(32)) | (
        np.asarray(dataset, np.int64).astype(np.uint64) & np.uint64(0xFFFFFFFF))
    return _mix(_string_hash(item_text) ^ _mix(pair))


def row_keys(batch, vocab: StreamVocab) -> tuple[np.ndarray, np.ndarray]:
    """(key hash, has a known vendor) of every row of a batch (duplicates are rows of one
    key; rows of an unknown vendor are reported as that, as by the whole-file reader)."""
    quiet = _Problems(None)
    vendor = _codes(_text(batch.column("vendor"), "vendor", quiet), VENDORS)
    dataset = vocab.ids(_text(batch.column("dataset"), "dataset", quiet), "datasets")
    return key_hash(vendor, dataset, _text(batch.column("item_id"), "item_id", quiet)), vendor >= 0


def key_texts(batch, rows: np.ndarray) -> list[tuple[str, str, str, int]]:
    """(vendor, dataset, item_id) texts (trimmed) and vendor id of some rows of a batch:
    what a duplicate's message says, and what confirms two keys equal."""
    import pyarrow as pa

    quiet = _Problems(None)
    idx = pa.array(rows)
    cols = [_text(batch.column(c), c, quiet).take(idx).to_pylist() for c in ("vendor", "dataset", "item_id")]
    vendor = _codes(pa.array(cols[0], pa.string()), VENDORS).tolist()
    return list(zip(*cols, vendor, strict=True))


_REAL_FIELDS = ("vendor", "dataset", "method", "target", "reference", "predicted",
                "confidence", "similarity")


def parse_reals(arrays, vocab: StreamVocab, problems: _Problems) -> dict[str, Any]:
    """A part of the file's real (and impostor) rows, every row-level check run (problems
    to `problems`, which maps them to file rows): their fields in the file's ids, and their
    item ids (text). Reals are read once; the fakes are checked against them
    (`parse_fakes`)."""
    f = _row_fields(_prepared(arrays, vocab, problems), problems)
    text = f["text"]
    out = {c: f[c] for c in ("vendor", "method", "confidence", "similarity")}
    out["dataset"] = vocab.ids(text["dataset"], "datasets")
    for c in _NAME_COLUMNS:
        out[c] = vocab.ids(text[c], "identities")
    out["item"] = text["item_id"]
    out["is_fake"] = f["is_fake"]
    return out


@dataclasses.dataclass
class RealSide:
    """The file's real and impostor rows, parsed once: their fields (file ids), file
    rows, item ids, and the look-ups fakes need: (vendor, dataset, item) -> row, and a
    synthesis blend's reference -> its first real row by item id (as `_parse`)."""

    fields: dict[str, np.ndarray]
    rows: np.ndarray  # file row (0-based) of each
    items: Any  # pyarrow string array
    key_sorted: np.ndarray
    key_order: np.ndarray
    ref_table: tuple[np.ndarray, np.ndarray]
    n_d: int
    n_t: int

    @property
    def n(self) -> int:
        return len(self.rows)

    @staticmethod
    def allocate(n: int, n_rows: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Empty fields for `n` reals of a file of `n_rows` rows, and their file rows, to
        fill part by part (`parse_reals`) in place: no list of parts joined at the end,
        which held every real twice. 41 bytes a real, and 4 for its row."""
        dtypes: dict[str, type] = {c: np.int32 for c in _REAL_FIELDS}
        dtypes.update(confidence=np.float64, similarity=np.float64, is_fake=bool)
        index = np.int32 if n_rows < 2**31 else np.int64
        return {c: np.empty(n, dtypes[c]) for c in (*_REAL_FIELDS, "is_fake")}, np.empty(n, index)

    @classmethod
    def build(cls, fields: dict[str, np.ndarray], rows: np.ndarray, parts: list, vocab: StreamVocab,
              hashes: np.ndarray) -> RealSide:
        """From the reals' fields (`allocate`, filled), file rows and item texts (`parts`:
        one pyarrow array per part); `hashes`, the `row_keys` hash (`key_hash`) of every file
        row, so the reals' keys are not hashed again."""
        import pyarrow as pa
        import pyarrow.compute as pc

        items = pa.chunked_array(parts, pa.string()).combine_chunks()
        valid = np.flatnonzero(fields["vendor"] >= 0)
        h = hashes[rows[valid]]
        order = np.argsort(h, kind="stable")
        h = h[order]
        valid = valid[order].astype(rows.dtype)
        del order
        n_d, n_t = max(len(vocab.datasets), 1), max(len(vocab.identities), 1)
        real = np.flatnonzero(~fields["is_fake"].astype(bool) & (fields["vendor"] >= 0))
        # Only the reals of an identity some blend names as its reference can be one.
        real = real[np.isin(fields["target"][real], np.asarray(vocab.references, np.int64))]
        rank = np.empty(len(real), np.int64)
        rank[np.asarray(pc.sort_indices(items.take(pa.array(real))), np.int64)] = np.arange(len(real))
        table = _reference_table(fields["vendor"][real], fields["dataset"][real],
                                 fields["target"][real], rank, n_d, n_t)
        table = (table[0], real[table[1]])
        return cls(fields, rows, items, h, valid, table, n_d, n_t)

    def lookup(self, vendor, dataset, item_text, wants) -> np.ndarray:
        """Index of the real row of each wanted (vendor, dataset, item), -1 if none: the
        first such row of the file, as `_parse` pairs."""
        import pyarrow as pa
        import pyarrow.compute as pc

        out = np.full(len(wants), -1, np.int64)
        idx = np.flatnonzero(wants)
        if not len(idx) or not len(self.key_sorted):
            return out
        texts = item_text.take(pa.array(idx))
        h = key_hash(vendor[idx], dataset[idx], texts)
        q = np.argsort(h)  # sorted queries: a cache-friendly search
        lo = np.empty(len(h), np.int64)
        lo[q] = np.searchsorted(self.key_sorted, h[q], "left")
        last = len(self.key_sorted) - 1
        hit = self.key_sorted[np.minimum(lo, last)] == h
        more = hit & (lo < last) & (self.key_sorted[np.minimum(lo + 1, last)] == h)
        hi = np.where(hit, lo + 1, lo)
        for k in np.flatnonzero(more):  # equal hashes: rare
            hi[k] = np.searchsorted(self.key_sorted, h[k], "right")
        cand = self.key_order[np.minimum(lo, last)]

        def same(c, k):
            return ((self.fields["vendor"][c] == vendor[idx[k]]) & (self.fields["dataset"][c] == dataset[idx[k]])
                    & np.asarray(pc.equal(self.items.take(pa.array(c)), texts.take(pa.array(k))), bool))

        everyone = np.arange(len(idx))
        ok = (lo < hi) & same(cand, everyone)
        for k in np.flatnonzero((lo < hi) & ~ok & (hi - lo > 1)):  # hash collisions only
            for m in range(lo[k] + 1, hi[k]):
                c = self.key_order[m]
                if same(np.array([c]), np.array([k]))[0]:
                    cand[k], ok[k] = c, True
                    break
        out[idx[ok]] = cand[ok]
        return out


def parse_fakes(arrays, reals: RealSide, vocab: StreamVocab, problems: _Problems) -> dict[str, Any]:
    """A part of the file's fakes (the rows not read as real), every check of `_parse`
    against the reals already read: their fields in the file's ids, and `paired` /
    `ref_paired`, the index into `reals` of each fake's real X_T and of a synthesis
    blend's reference real (-1: none). Problems go to `problems` (file rows)."""
    f = _row_fields(_prepared(arrays, vocab, problems), problems)
    text, vendor, method, is_fake = f["text"], f["vendor"], f["method"], f["is_fake"]
    out = {c: f[c] for c in ("vendor", "method", "confidence", "similarity", "is_fake")}
    out["dataset"] = dataset = vocab.ids(text["dataset"], "datasets")
    for c in _NAME_COLUMNS:
        out[c] = vocab.ids(text[c], "identities")
    target, reference = out["target"], out["reference"]
    valid = vendor >= 0
    wants = is_fake & valid & ~f["empty"]["real_item_id"]
    j = reals.lookup(vendor, dataset, text["real_item_id"], wants)
    safe = np.maximum(j, 0)
    rf = reals.fields
    found = j >= 0
    if not reals.n:  # nothing to pair with
        found = np.zeros(len(j), bool)
        safe = np.zeros(len(j), np.int64)
        rf = {c: np.zeros(1, np.int32) for c in ("method", "target")}
    real_target = lambda i: (vocab.identities[rf["target"][j[i]]] if rf["target"][j[i]] >= 0 else "")  # noqa: E731
    paired = _pairing(problems, text, wants, found, j_fake=np.zeros(len(j), bool),
                      j_impostor=rf["method"][safe] == METHODS.index("impostor"),
                      j_other=rf["target"][safe] != target,
                      j_row=lambda i: int(reals.rows[j[i]]) + 1, j_target=real_target)
    out["paired"] = np.where(paired, j, -1)
    ref = np.full(len(j), -1, np.int64)
    synth = is_fake & valid & (method == METHODS.index("synthesis")) & (reference >= 0)
    if synth.any():
        ref[synth] = _reference_rows(reals.ref_table, vendor[synth], dataset[synth], reference[synth],
                                     reals.n_d, reals.n_t)
    out["ref_paired"] = ref
    return out


# ---- writing -------------------------------------------------------------------


_NULLABLE_TEXT = ("predicted", "real_item_id", "reference")


def _arrow_table(cols: Mapping[str, Sequence], extra: Sequence[str] = ()):
    """The contract's columns (then `extra`, as strings or their pyarrow-inferred types).

    Converted column by column in pyarrow (no Python loop over rows): empty text is null
    (an empty CSV cell), NaN numbers are null."""
    import pyarrow as pa
    import pyarrow.compute as pc

    types = {"is_fake": pa.bool_(), "confidence": pa.float64(), "similarity": pa.float64()}
    data = {}
    for c in RESULT_COLUMNS:
        values = cols[c]
        if not isinstance(values, pa.Array | pa.ChunkedArray):
            values = pa.array(values if isinstance(values, np.ndarray) else list(values),
                              types.get(c, pa.string()), from_pandas=True)
        values = values.cast(types.get(c, pa.string()))
        if c in _NULLABLE_TEXT:
            values = pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)
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
    """OUT/results.csv and OUT/results.parquet from results-contract columns (and `extra`).
    `VIDEO_COLUMNS` in `cols` are written after the contract's when any row has a value."""
    extra = [*trailing_video_columns(cols), *(c for c in extra if c not in VIDEO_COLUMNS)]
    cols = {**cols, **{c: [None if v in ("", None) else v for v in cols[c]]
                       for c in VIDEO_COLUMNS if c in extra}}
    out.mkdir(parents=True, exist_ok=True)
    table = _arrow_table(cols, extra)
    return (
        write_results_csv(out / "results.csv", cols, table),
        write_results_parquet(out / "results.parquet", cols, table),
    )


def trailing_video_columns(cols: Mapping[str, Sequence]) -> list[str]:
    """The `VIDEO_COLUMNS` that `cols` holds with at least one value."""
    return [c for c in VIDEO_COLUMNS if c in cols and any(v not in ("", None) for v in cols[c])]


def read_extra_columns(path: str | Path, names: Sequence[str]) -> dict[str, list[str]]:
    """Columns of a results file beyond the contract (e.g. `source_video`, a manifest's
    `gender`), as strings ("" when empty), in row order (that of `read_results_file`).
    `UserError` naming the file when a column is absent."""
    path = Path(path)
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        header = pq.read_schema(path).names
        data = None
    else:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = list(reader.fieldnames or [])
            data = list(reader)
    absent = [c for c in names if c not in header]
    if absent:
        extras = [c for c in header if c not in RESULT_COLUMNS]
        raise UserError(
            f"{path}: no column {', '.join(absent)}",
            "columns after the contract's: " + (", ".join(extras) if extras else "none")
            + " (a manifest column travels into the results file of `dicore study`)")
    if data is None:
        table = pq.read_table(path, columns=list(names)).to_pydict()
        return {c: [_cell_text(v) for v in table[c]] for c in names}
    return {c: [_cell_text(r.get(c)) for r in data] for c in names}


def _cell_text(value: Any) -> str:
    """'' for an absent value (None, '', NaN), else its stripped text."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()
