"""The names file (`--names FILE`): a data set's identities, their display names, aliases
and vendor ids. One home for reading and writing it; the matching rule is `dicore.names`.

CSV with a header row, UTF-8:

| column | required | meaning |
|---|---|---|
| `identity` | yes | the id the data set uses as `target` / `reference` (e.g. Celeb-DF's `id0`) |
| `name` | yes | display name (what results files show; e.g. `Emmanuel Macron`) |
| `aliases` | no | other spellings, `|`-separated (`Macron|E. Macron`) |
| `vendor_ids` | no | `|`-separated: `aws:<celebrity Id>`, a URL the vendor gives (IMDb, Wikidata), `wikidata:Q3052772` |

Other columns (such as the evidence `dicore names suggest` writes) are ignored.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from dicore.errors import UserError
from dicore.formats.atomic import write_atomic
from dicore.names import Identity, IdentityMap, Suggestion

COLUMNS = ("identity", "name", "aliases", "vendor_ids")
SUGGEST_COLUMNS = (*COLUMNS, "count", "of", "by_vendor")
HINT = ("a names file is a CSV with columns identity,name[,aliases,vendor_ids] "
        "(docs/study.md); draft one with `dicore names suggest`")


def _split(cell: str | None) -> tuple[str, ...]:
    return tuple(x.strip() for x in (cell or "").split("|") if x.strip())


def read_names(path: str | Path) -> IdentityMap:
    """Read and check a names file; UserError names the file, row and field."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"names file {path} not found", HINT)
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip() for h in reader.fieldnames or []]
            missing = [c for c in ("identity", "name") if c not in header]
            if missing:
                raise UserError(f"names file {path}: missing column(s) {', '.join(missing)}", HINT)
            records: list[dict[str, str]] = []
            for raw in reader:
                if None in raw:
                    raise UserError(f"names file {path} row {len(records) + 1}: more cells than "
                                    "header columns", HINT)
                records.append({(k or "").strip(): (v or "").strip() for k, v in raw.items()})
    except (UnicodeDecodeError, csv.Error, OSError) as exc:
        raise UserError(f"names file {path}: cannot read it ({exc})", HINT) from exc
    identities = []
    for i, rec in enumerate(records, start=1):
        for col in ("identity", "name"):
            if not rec.get(col):
                raise UserError(f"names file {path} row {i}, field {col!r}: empty", HINT)
        identities.append(Identity(rec["identity"], rec["name"], _split(rec.get("aliases")),
                                   _split(rec.get("vendor_ids"))))
    if not identities:
        raise UserError(f"names file {path}: no rows", HINT)
    try:
        return IdentityMap.from_identities(identities, source=str(path))
    except ValueError as exc:
        raise UserError(f"names file {path}: {exc}",
                        "each name, alias and vendor id may belong to one identity only") from exc


def write_suggestions(path: str | Path, suggestions: Sequence[Suggestion]) -> Path:
    """A names file drafted from vendor answers, with the evidence, for review."""

    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(SUGGEST_COLUMNS)
            for s in suggestions:
                w.writerow([s.identity, s.name, "", "|".join(s.vendor_ids), s.count, s.of,
                            s.vendors])

    return write_atomic(Path(path), write)
