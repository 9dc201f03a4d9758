"""The image manifest: one row per image to query, as CSV or Parquet.

Columns (see docs/study.md):

| column | meaning |
|---|---|
| `item_id` | unique id of the image (any text without line breaks) |
| `path` | image file, relative to the manifest's folder (or absolute) |
| `is_fake` | `true`/`false` (also `1`/`0`, `yes`/`no`) |
| `dataset` | dataset name, e.g. `CelebDF` |
| `method` | `replacement`, `reenactment`, `synthesis` (fakes) or `real` |
| `target` | identity shown (real) or impersonated (fake) |
| `reference` | fakes: the other identity (driver, face-swap destination, second blend source) |
| `real_item_id` | fakes: the `item_id` of a real image of `target` (the X_T of the paper) |
| `source_video` | optional: video the frame came from |
| `frame_index` | optional: frame number in `source_video` |

Reading validates every row and raises `ManifestError` naming the file, row
(1-based, header excluded) and field of the first problem, with a count of the rest.

Image paths must stay inside the manifest's folder (after following `..` and
symlinks): a manifest from elsewhere must not make dicore read, and with
`--backend live` upload, files it was not meant to. `allow_outside_paths=True`
(`--allow-outside-paths`) lifts this; the refusal names the rows.
"""

from __future__ import annotations

import csv
import os
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from dataclasses import field as dataclass_field
from pathlib import Path

from dicore import METHODS
from dicore.core.vocab import REAL_METHODS
from dicore.errors import UserError

COLUMNS = (
    "item_id",
    "path",
    "is_fake",
    "dataset",
    "method",
    "target",
    "reference",
    "real_item_id",
    "source_video",
    "frame_index",
)
REQUIRED = ("item_id", "path", "is_fake", "dataset", "method", "target")
FAKE_METHODS = tuple(m for m in METHODS if m not in REAL_METHODS)
FRAME_INDEX_MAX = 2**63 - 1  # SQLite's INTEGER
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


class ManifestError(UserError):
    """A manifest is unreadable or invalid; the message names file, row and field."""


@dataclass(frozen=True)
class ManifestRow:
    item_id: str
    path: str  # as written in the manifest
    is_fake: bool
    dataset: str
    method: str
    target: str
    reference: str = ""
    real_item_id: str = ""
    source_video: str = ""
    frame_index: int | None = None

    def as_record(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Manifest:
    path: Path | None  # the file it came from (None when built in memory)
    rows: tuple[ManifestRow, ...]
    # Columns beyond COLUMNS (e.g. gender, compression): {column: values aligned with rows}.
    # They travel into the study's results file, for `dicore metrics --group-by COLUMN`.
    extra: dict[str, tuple[str, ...]] = dataclass_field(default_factory=dict)

    @property
    def root(self) -> Path:
        return self.path.parent if self.path else Path.cwd()

    def resolve(self, row: ManifestRow) -> Path:
        p = Path(row.path)
        return p if p.is_absolute() else self.root / p

    def by_id(self) -> dict[str, ManifestRow]:
        return {r.item_id: r for r in self.rows}

    def item_records(self) -> list[dict]:
        """The rows as store items, each with the sha256 `digest` of its image file, so
        that a store notices an item whose image changed (or merely moved)."""
        out = []
        for r in self.rows:
            path = self.resolve(r)
            try:
                digest = _file_sha256(path)
            except OSError as exc:
                raise ManifestError(f"{self.path} item {r.item_id!r}: cannot read {path} "
                                    f"({exc.strerror or exc})") from exc
            out.append({**r.as_record(), "digest": digest})
        return out

    def __len__(self) -> int:
        return len(self.rows)


def _file_sha256(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _parse_bool(text: str) -> bool | None:
    t = text.strip().lower()
    return True if t in _TRUE else False if t in _FALSE else None


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value != value:  # NaN from Parquet/pandas
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _check_parquet_types(path: Path, schema) -> None:
    """Cells are scalars: a list, struct or binary column would become its Python repr
    (`"['Emmanuel Macron']"`, `"b'Alice'"`) and never match a vendor's answer."""
    import pyarrow as pa

    def scalar(t) -> bool:
        if pa.types.is_dictionary(t):
            return scalar(t.value_type)
        return (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_boolean(t)
                or pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_null(t))

    for name in schema.names:
        if name in COLUMNS and not scalar(schema.field(name).type):
            raise ManifestError(
                f"manifest {path}: column {name!r} has Parquet type {schema.field(name).type}; "
                "manifest cells are single text values",
                hint="one identity (or path, id) per row as a string column; "
                "list-valued targets are not supported",
            )


def _read_records(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        raise ManifestError(
            f"manifest {path} does not exist",
            hint="build one with `dicore manifest LAYOUT ROOT --out FILE` (see docs/study.md)",
        )
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            table = pq.read_table(path)
            columns = table.column_names
            _check_parquet_types(path, table.schema)
            data = table.to_pydict()
            records = [
                {c: _cell(data[c][i]) for c in columns} for i in range(table.num_rows)
            ]
        elif suffix in (".csv", ".tsv", ".txt"):
            with open(path, newline="", encoding="utf-8-sig") as fh:
                reader = csv.DictReader(fh, delimiter="\t" if suffix == ".tsv" else ",")
                columns = [c.strip() for c in (reader.fieldnames or [])]
                records = []
                for raw in reader:
                    if None in raw:
                        raise ManifestError(
                            f"{path} row {len(records) + 1}: more cells than header columns"
                        )
                    records.append({k.strip(): _cell(v) for k, v in raw.items()})
        else:
            raise ManifestError(
                f"manifest {path}: unknown format {suffix!r}", hint="use .csv or .parquet"
            )
    except ManifestError:
        raise
    except (OSError, UnicodeDecodeError, csv.Error, ValueError) as exc:
        raise ManifestError(f"cannot read manifest {path}: {exc}") from exc
    except Exception as exc:  # pyarrow's errors have no common importable base
        raise ManifestError(f"cannot read manifest {path}: {exc}") from exc
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise ManifestError(
            f"manifest {path}: missing column(s) {', '.join(missing)}",
            hint=f"the columns are: {', '.join(COLUMNS)}",
        )
    return records


def validate_records(
    records: Sequence[dict[str, str]], *, source: str, root: Path | None, check_files: bool,
    allow_outside_paths: bool = True,
) -> tuple[ManifestRow, ...]:
    """Rows from string records; raise ManifestError listing the first problem."""
    problems: list[str] = []
    outside: list[str] = []  # rows whose image resolves outside `root`
    real_root = root.resolve() if root is not None else None

    def bad(i: int, field: str, msg: str) -> None:
        problems.append(f"{source} row {i + 1}, field {field!r}: {msg}")

    rows: list[ManifestRow] = []
    seen: dict[str, int] = {}
    for i, rec in enumerate(records):
        get = lambda k, rec=rec: rec.get(k, "") or ""  # noqa: E731
        item_id = get("item_id")
        if not item_id:
            bad(i, "item_id", "empty")
        elif item_id in seen:
            bad(i, "item_id", f"duplicate id {item_id!r} (first at row {seen[item_id] + 1})")
        else:
            seen[item_id] = i
        is_fake = _parse_bool(get("is_fake"))
        if is_fake is None:
            bad(i, "is_fake", f"{get('is_fake')!r} is not true/false")
        method = get("method").lower()
        if method not in METHODS:
            bad(i, "method", f"unknown method {get('method')!r} (one of {', '.join(METHODS)})")
        elif is_fake is not None and is_fake != (method not in REAL_METHODS):
            bad(
                i,
                "method",
                f"method {method!r} with is_fake={str(is_fake).lower()}: real rows use "
                "method 'real' (or 'impostor': a person the vendor does not know), fakes one of "
                + ", ".join(FAKE_METHODS),
            )
        for field in ("dataset", "target", "path"):
            if not get(field):
                bad(i, field, "empty")
        for field in COLUMNS:
            if any(unicodedata.category(c) == "Cc" for c in get(field)):
                bad(i, field, f"{get(field)!r} contains a control character (NUL, line break, ...)")
        frame = get("frame_index")
        frame_index = None
        if frame:
            try:
                if not (frame.isascii() and frame.isdigit()):  # int() takes "9_5", "²", " 7"
                    raise ValueError
                frame_index = int(frame)
                if not 0 <= frame_index <= FRAME_INDEX_MAX:
                    raise ValueError
            except ValueError:
                frame_index = None
                bad(i, "frame_index", f"{frame!r} is not a non-negative integer below 2^63")
        if check_files and get("path"):
            p = Path(get("path"))
            full = p if p.is_absolute() or root is None else root / p
            if not full.is_file():
                bad(i, "path", f"file not found: {full}")
            elif real_root is not None and not allow_outside_paths:
                resolved = full.resolve()
                if not resolved.is_relative_to(real_root):
                    outside.append(f"row {i + 1} ({get('path')} -> {resolved})")
        rows.append(
            ManifestRow(
                item_id=item_id,
                path=get("path"),
                is_fake=bool(is_fake),
                dataset=get("dataset"),
                method=method,
                target=get("target"),
                reference=get("reference"),
                real_item_id=get("real_item_id"),
                source_video=get("source_video"),
                frame_index=frame_index,
            )
        )
    # Pairing: every fake needs a real image of its target in the same dataset.
    by_id = {r.item_id: r for r in rows}
    for i, r in enumerate(rows):
        if not r.is_fake:
            if r.real_item_id and r.real_item_id != r.item_id:
                bad(i, "real_item_id", "must be empty on a real row")
            continue
        if not r.real_item_id:
            bad(i, "real_item_id", f"fake {r.item_id!r} has no paired real item")
            continue
        real = by_id.get(r.real_item_id)
        if real is None:
            bad(i, "real_item_id", f"{r.real_item_id!r} is not an item_id in this manifest")
        elif real.is_fake:
            bad(i, "real_item_id", f"{r.real_item_id!r} is a fake, not a real image")
        elif real.target != r.target or real.dataset != r.dataset:
            bad(
                i,
                "real_item_id",
                f"{r.real_item_id!r} shows {real.target!r} in {real.dataset!r}, "
                f"not the target {r.target!r} in {r.dataset!r}",
            )
        if r.method == "synthesis" and not r.reference:
            bad(i, "reference", "a synthesis (blend) fake needs its second source")
    if outside and not problems:
        shown = "; ".join(outside[:5]) + (f"; and {len(outside) - 5} more" if len(outside) > 5 else "")
        raise ManifestError(
            f"{source}: {len(outside)} image path(s) point outside the manifest's folder "
            f"{real_root}: {shown}",
            hint="pass --allow-outside-paths if these are the images you mean to use (with "
            "--backend live they are uploaded to the vendor); nothing was queried or stored",
        )
    if problems:
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise ManifestError(
            problems[0] + more,
            hint="fix the manifest (format: docs/study.md); nothing was queried or stored",
        )
    if not rows:
        raise ManifestError(f"{source}: no rows", hint="a manifest lists one image per row")
    return tuple(rows)


def read_manifest(path: str | os.PathLike, *, check_files: bool = True,
                  allow_outside_paths: bool = False) -> Manifest:
    """Read and validate a CSV or Parquet manifest; paths resolve from its folder and must
    stay inside it unless `allow_outside_paths`."""
    path = Path(path)
    records = _read_records(path)
    rows = validate_records(records, source=str(path), root=path.parent, check_files=check_files,
                            allow_outside_paths=allow_outside_paths)
    extra = [c for c in (records[0] if records else {}) if c not in COLUMNS and c]
    return Manifest(path=path, rows=rows,
                    extra={c: tuple(str(r.get(c, "")) for r in records) for c in extra})


def write_manifest(path: str | os.PathLike, rows: Iterable[ManifestRow]) -> Path:
    """Write rows as CSV or Parquet (by suffix), atomically."""
    path = Path(path)
    rows = list(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    records = [
        {
            **r.as_record(),
            "is_fake": "true" if r.is_fake else "false",
            "frame_index": "" if r.frame_index is None else r.frame_index,
        }
        for r in rows
    ]
    if path.suffix.lower() == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        cols = {c: [rec[c] for rec in records] for c in COLUMNS}
        cols["is_fake"] = [r.is_fake for r in rows]
        cols["frame_index"] = [r.frame_index for r in rows]
        schema = pa.schema(
            [(c, pa.bool_() if c == "is_fake" else pa.int64() if c == "frame_index" else pa.string())
             for c in COLUMNS]
        )
        pq.write_table(pa.table(cols, schema=schema), tmp)
    else:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=COLUMNS)
            w.writeheader()
            w.writerows(records)
    os.replace(tmp, path)
    return path


assert tuple(f.name for f in fields(ManifestRow)) == COLUMNS
