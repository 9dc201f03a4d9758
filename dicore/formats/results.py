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
            names = pq.read_schema(path).names
            absent = [c for c in RESULT_COLUMNS if c not in names]
            if absent:
                raise UserError(
                    f"{path}: missing column(s) {', '.join(absent)}",
                    f"the results file needs the columns {', '.join(RESULT_COLUMNS)}",
                )
            return pq.read_table(path, columns=list(RESULT_COLUMNS))
        except (OSError, ValueError) as exc:  # pyarrow.ArrowInvalid is a ValueError
            raise UserError(
                f"{path}: not a readable Parquet file ({str(exc).splitlines()[0]})",
                "write results as .parquet with pyarrow, or use a .csv name for a CSV file",
            ) from exc
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            header = next(csv.reader(fh), [])
    except (UnicodeDecodeError, csv.Error) as exc:
        raise UserError(
            f"{path}: not a readable UTF-8 CSV file ({exc})",
            "results files are UTF-8 CSV with a header row, or .parquet",
        ) from exc
    absent = [c for c in RESULT_COLUMNS if c not in header]
    if absent:
        raise UserError(
            f"{path}: missing column(s) {', '.join(absent)}",
            f"the results file needs the columns {', '.join(RESULT_COLUMNS)}",
        )
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

    Checks add whole masks (`add_rows`); only the rows that will be shown are formatted,
    so a file with a million bad rows costs no million messages."""

    def __init__(self, source: str | None):
        self.source = source
        self.items: list[str] = []
        self.count = 0
        # (phase, row, check order, message maker) of the first rows of each check
        self._rows: list[tuple[int, int, int, Any]] = []
        self._checks = 0

    def add(self, row: int | None, field: str, message: str) -> None:
        where = "" if row is None else f"row {row}, "
        self.items.append(f"{where}{field}: {message}")
        self.count += 1

    def add_rows(self, mask, field: str, message, *, phase: int = 0) -> None:
        """A problem on every row where `mask` holds; `message(i)` (0-based row) says it."""
        rows = np.flatnonzero(mask)
        self._checks += 1
        if not len(rows):
            return
        self.count += len(rows)
        order = self._checks
        for i in rows[:MAX_REPORTED_PROBLEMS]:
            self._rows.append((phase, int(i), order, lambda i=int(i): f"row {i + 1}, {field}: {message(i)}"))

    def raise_if_any(self) -> None:
        if not self.count:
            return
        shown = self.items[:MAX_REPORTED_PROBLEMS]
        for *_, make in sorted(self._rows, key=lambda r: r[:3])[: MAX_REPORTED_PROBLEMS - len(shown)]:
            shown.append(make())
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
    return pc.utf8_trim_whitespace(arr.fill_null(""))


def _codes(text, names: Sequence[str]):
    """Index of each (lower-cased) value in `names`; -1 where unknown."""
    import pyarrow as pa
    import pyarrow.compute as pc

    idx = pc.index_in(pc.utf8_lower(text), value_set=pa.array(list(names), pa.string()))
    return np.asarray(idx.fill_null(-1), np.int32)



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


def _parse(arrays: Mapping[str, Any], n: int, problems: _Problems) -> Loaded:
    """Validate and encode the columns, all checks as masks over the rows."""
    import pyarrow as pa
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
        f"{text['item_id'][i].as_py()}) also on row {first_of[i] + 1}"), phase=1)

    # The paired real row of each fake: same vendor and dataset, item = real_item_id.
    real_item = np.asarray(pc.index_in(text["real_item_id"], value_set=pa.array(items, pa.string()))
                           .fill_null(-1), np.int64)
    wants = is_fake & valid & ~empty["real_item_id"]
    real_key = (vendor.astype(np.int64) * n_d + dataset) * n_i + real_item
    pos = np.clip(np.searchsorted(keys, real_key), 0, len(keys) - 1)
    found = wants & (real_item >= 0) & (keys[pos] == real_key)
    j = np.where(found, first[pos], -1)
    missing = wants & ~found
    problems.add_rows(missing, "real_item_id", lambda i: (
        f"paired real item {text['real_item_id'][i].as_py()!r} has no row for vendor "
        f"{text['vendor'][i].as_py()} in dataset {text['dataset'][i].as_py()}"), phase=2)
    pair_fake = found & is_fake[np.maximum(j, 0)]
    problems.add_rows(pair_fake, "real_item_id", lambda i: (
        f"paired item {text['real_item_id'][i].as_py()!r} is a fake (row {j[i] + 1})"), phase=2)
    pair_impostor = found & ~pair_fake & (method[np.maximum(j, 0)] == METHODS.index("impostor"))
    problems.add_rows(pair_impostor, "real_item_id", lambda i: (
        f"paired item {text['real_item_id'][i].as_py()!r} is an impostor (row {j[i] + 1}), "
        "not a real image of the fake's target"), phase=2)
    pair_fake = pair_fake | pair_impostor
    other_person = found & ~pair_fake & (target[np.maximum(j, 0)] != target)
    problems.add_rows(other_person, "real_item_id", lambda i: (
        f"paired real item {text['real_item_id'][i].as_py()!r} is of "
        f"{text['target'][int(j[i])].as_py()!r} (row {j[i] + 1}), not of the fake's target "
        f"{text['target'][i].as_py()!r}"), phase=2)
    paired_row = np.where(found & ~pair_fake & ~other_person, j, -1).astype(np.int32)

    # First real row (by item id) of each (vendor, dataset, identity): a synthesis
    # blend's reference source.
    ref_paired_row = np.full(n, -1, np.int32)
    synth = is_fake & valid & (method == METHODS.index("synthesis")) & (reference >= 0)
    if synth.any():
        rank = np.empty(len(items), np.int64)
        rank[np.argsort(np.asarray(items, dtype=object), kind="stable")] = np.arange(len(items))
        reals = np.flatnonzero(~is_fake & valid)
        n_t = max(len(identities), 1)
        group = (vendor[reals].astype(np.int64) * n_d + dataset[reals]) * n_t + target[reals]
        order = np.lexsort((rank[item[reals]], group))
        g_sorted = group[order]
        starts = np.flatnonzero(np.r_[True, g_sorted[1:] != g_sorted[:-1]])
        g_keys, g_rows = g_sorted[starts], reals[order][starts]
        want = (vendor[synth].astype(np.int64) * n_d + dataset[synth]) * n_t + reference[synth]
        at = np.clip(np.searchsorted(g_keys, want), 0, max(len(g_keys) - 1, 0))
        hit = (len(g_keys) > 0) & (g_keys[at] == want) if len(g_keys) else np.zeros(len(want), bool)
        ref_paired_row[synth] = np.where(hit, g_rows[at] if len(g_keys) else -1, -1)

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
