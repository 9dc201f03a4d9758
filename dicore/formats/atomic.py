"""Atomic file writes (and the JSON read that names the file), shared by `dicore.formats`.

A file is written to `NAME.tmp` beside it and renamed over it, so a reader (or a crash)
never sees half a file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path


def write_atomic(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call `write(tmp)` then rename tmp over `path` (parent folders are created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)
    return path


def write_json(path: str | Path, payload, *, indent: int | None = 2) -> Path:
    """JSON with no NaN (strict JSON: absent numbers are null), atomically."""
    text = json.dumps(payload, indent=indent, allow_nan=False) + "\n"
    return write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def read_json(path: str | Path, *, hint: str = "rewrite it with the command that made it"):
    """Parse a JSON file; `UserError` naming the file and line when it is not valid JSON."""
    from dicore.errors import UserError

    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})", hint) from exc


def write_csv_rows(path: str | Path, rows, columns) -> Path:
    """CSV with a header of `columns`, one line per row dict (empty cell for None;
    floats written shortest-exact by `repr`), atomically."""
    import csv

    columns = list(columns)

    def write(tmp: Path) -> None:
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(columns)
            for r in rows:
                w.writerow(["" if r.get(c) is None else r.get(c) for c in columns])

    return write_atomic(path, write)


def read_csv_rows(path: str | Path, *, columns, numbers=(), integers=(), booleans=()) -> list[dict]:
    """Rows of a CSV written by `write_csv_rows`: empty cells None, the named columns
    parsed; `UserError` naming the file and row when a column or a number is wrong."""
    import csv

    from dicore.errors import UserError

    path = Path(path)
    out = []
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise UserError(f"{path}: missing column(s) {', '.join(missing)}",
                            "rewrite it with the command that made it")
        for i, r in enumerate(reader, start=1):
            row: dict = dict(r)
            for c in (*numbers, *integers, *booleans):
                text = r.get(c)
                try:
                    row[c] = (None if text in (None, "") else float(text) if c in numbers
                              else int(text) if c in integers else text == "True")
                except ValueError as exc:
                    raise UserError(f"{path}: row {i}, {c}: {text!r} is not a number",
                                    "rewrite it with the command that made it") from exc
            out.append(row)
    return out
