"""The result store: one SQLite file in WAL mode, one row per completed call.

Calls are keyed by (vendor, backend, item_id, call) with `call` in
`recognize` / `similarity`. Each completed call is committed on its own (or in
a small batch the moment it is drained), so `kill -9` loses only calls still in
flight; WAL makes a torn write impossible. `synchronous=NORMAL` keeps commits
fast: it is durable across a process crash (the WAL lives in the OS's page
cache), though not across a power loss of the last few commits.

Failed calls are stored too (`status='error'`, with the message), so a run
reports them and never aborts; `retryable` errors (throttling, 5xx, network)
are retried on the next run, the others (the vendor refused this image) are not
unless asked.

Over 400 lines because the store file is one format with one home: its schema, its
writes, the resumption queries and its export to the results contract (columnar, see
`Store.result_columns`) read and write the same tables.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path

import numpy as np

from dicore.errors import UserError
from dicore.formats.results import RESULT_COLUMNS, VIDEO_COLUMNS
from dicore.tables import none_if_nan

ITEM_COLUMNS = (
    "item_id",
    "dataset",
    "method",
    "is_fake",
    "target",
    "reference",
    "real_item_id",
    "path",
    "source_video",
    "frame_index",
    "digest",  # sha256 of the image file ('' when unknown, e.g. the cohort)
)
# Compared strictly when an item id comes again; path and digest have their own rule.
_IDENTITY_COLUMNS = ITEM_COLUMNS[:7] + ("source_video", "frame_index")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    item_id TEXT PRIMARY KEY,
    dataset TEXT NOT NULL, method TEXT NOT NULL, is_fake INTEGER NOT NULL,
    target TEXT NOT NULL, reference TEXT NOT NULL DEFAULT '', real_item_id TEXT NOT NULL DEFAULT '',
    path TEXT NOT NULL DEFAULT '', source_video TEXT NOT NULL DEFAULT '', frame_index INTEGER,
    digest TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS calls (
    vendor TEXT NOT NULL, backend TEXT NOT NULL, item_id TEXT NOT NULL, call TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'error')),
    predicted TEXT, confidence REAL, similarity REAL, face_count INTEGER,
    simulated INTEGER NOT NULL DEFAULT 0,
    error TEXT, retryable INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 1, at REAL NOT NULL,
    vendor_ids TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (vendor, backend, item_id, call)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class CallResult:
    vendor: str
    backend: str
    item_id: str
    call: str  # "recognize" or "similarity"
    ok: bool
    predicted: str | None = None
    confidence: float | None = None
    similarity: float | None = None
    face_count: int | None = None
    simulated: bool = False
    error: str | None = None
    retryable: bool = False
    attempts: int = 1
    vendor_ids: tuple[str, ...] = ()  # of the named celebrity: AWS `aws:<Id>` and its Urls

    def as_tuple(self, at: float) -> tuple:
        return (
            self.vendor, self.backend, self.item_id, self.call, "ok" if self.ok else "error",
            self.predicted, self.confidence, self.similarity, self.face_count,
            int(self.simulated), self.error, int(self.retryable), self.attempts, at,
            "|".join(self.vendor_ids),
        )


_CALL_COLUMNS = ("vendor", "backend", "item_id", "call", "status", "predicted", "confidence",
                 "similarity", "face_count", "simulated", "error", "retryable", "attempts", "at")
_INSERT_CALL = (f"INSERT OR REPLACE INTO calls ({', '.join(_CALL_COLUMNS)}) "
                f"VALUES ({','.join('?' * len(_CALL_COLUMNS))})")
_INSERT_CALL_IDS = (f"INSERT OR REPLACE INTO calls ({', '.join(_CALL_COLUMNS)}, vendor_ids) "
                    f"VALUES ({','.join('?' * (len(_CALL_COLUMNS) + 1))})")


class Store:
    """A result store file. Use one writer at a time (the runner's main thread)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(_SCHEMA)
            have = {r[1] for r in self.db.execute("PRAGMA table_info(items)")}
            if "digest" not in have:  # a store from before image digests were kept
                self.db.execute("ALTER TABLE items ADD COLUMN digest TEXT NOT NULL DEFAULT ''")
            have = {r[1] for r in self.db.execute("PRAGMA table_info(calls)")}
            if "vendor_ids" not in have:  # ... or the vendors' celebrity ids
                self.db.execute("ALTER TABLE calls ADD COLUMN vendor_ids TEXT NOT NULL DEFAULT ''")
        except sqlite3.DatabaseError as exc:
            raise UserError(
                f"store {self.path} is not a dicore result store ({exc})",
                hint="pass another --store file; this one was left untouched",
            ) from exc

    # -- context manager ----------------------------------------------------------------
    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- meta -----------------------------------------------------------------------------
    def get_meta(self, key: str, default=None):
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def set_meta(self, key: str, value) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    # -- items ----------------------------------------------------------------------------
    def put_items(self, records: Sequence[dict], *, source: str = "manifest") -> int:
        """Add items; an id already stored with different content is an error (nothing written).

        An item's image is its `digest` (sha256 of the file, when the record has one):
        the same image under a new path (a moved folder) keeps its answers and the path
        is updated; a different image under a stored id is refused, since the stored
        answers are about the old image. Without digests the path must match too.
        """
        index = {c: i for i, c in enumerate(ITEM_COLUMNS)}
        stored = {
            r[0]: r
            for r in self.db.execute(f"SELECT {', '.join(ITEM_COLUMNS)} FROM items")
        }
        new, moved = [], []
        for rec in records:
            t = _item_tuple(rec)
            old = stored.get(t[0])
            if old is None:
                new.append(t)
                continue
            diff = [c for c in _IDENTITY_COLUMNS if old[index[c]] != t[index[c]]]
            old_path, path = old[index["path"]], t[index["path"]]
            old_digest, digest = old[index["digest"]], t[index["digest"]]
            if diff:
                c = diff[0]
                raise self._conflict(source, t[0], f"a different {c} ({old[index[c]]!r}, now {t[index[c]]!r})")
            if old_digest and digest and old_digest != digest:
                raise self._conflict(
                    source, t[0], f"a different image: {old_path} had sha256 {old_digest[:12]}, "
                    f"{path} has sha256 {digest[:12]}; its stored answers are about the old image",
                    hint="give a changed image a new item_id, or use a new --store (or --out); "
                    "the store was left untouched",
                )
            if old_path != path and not (old_digest and old_digest == digest):
                raise self._conflict(
                    source, t[0], f"a different path ({old_path!r}, now {path!r}) and no image "
                    "digest to tell whether it is the same image",
                )
            if old_path != path or (digest and not old_digest):
                moved.append((path, digest or old_digest, t[0]))
        if new or moved:
            with self.transaction():
                self.db.executemany(
                    f"INSERT INTO items VALUES ({','.join('?' * len(ITEM_COLUMNS))})", new
                )
                self.db.executemany("UPDATE items SET path=?, digest=? WHERE item_id=?", moved)
        return len(new)

    def _conflict(self, source: str, item_id: str, what: str, hint: str | None = None) -> UserError:
        return UserError(
            f"{source}: item {item_id!r} is already in store {self.path} with {what}",
            hint=hint or "use a new --store (or --out) for a different data set; "
            "the store was left untouched",
        )

    def item_count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM items").fetchone()[0]

    # -- calls ----------------------------------------------------------------------------
    def transaction(self):
        return _Transaction(self.db)

    def record(self, results: Iterable[CallResult]) -> int:
        """Commit completed calls (one transaction)."""
        now = time.time()
        rows = [r.as_tuple(now) for r in results]
        if rows:
            with self.transaction():
                self.db.executemany(_INSERT_CALL_IDS, rows)
        return len(rows)

    def done(self, vendor: str, backend: str, *, retry_errors: bool = False) -> set[tuple[str, str]]:
        """(item_id, call) pairs that need no new attempt."""
        sql = "SELECT item_id, call FROM calls WHERE vendor=? AND backend=? AND (status='ok'"
        sql += ")" if retry_errors else " OR retryable=0)"
        return set(self.db.execute(sql, (vendor, backend)))

    def state(self) -> list:
        """Changes whenever an item or a call is added or replaced (for output caching)."""
        items = self.db.execute("SELECT COUNT(*), MAX(rowid) FROM items").fetchone()
        calls = self.db.execute("SELECT COUNT(*), MAX(at), TOTAL(at) FROM calls").fetchone()
        return [*items, *calls]

    def vendor_ids(self, *, vendors: Sequence[str] | None = None,
                   backend: str | None = None) -> dict[tuple[str, str], tuple[str, ...]]:
        """(vendor, item_id) -> the vendor ids of its recognize answer, where it had any."""
        sql = ("SELECT vendor, backend, item_id, vendor_ids FROM calls "
               "WHERE call='recognize' AND status='ok' AND vendor_ids != ''")
        return {
            (v, i): tuple(ids.split("|"))
            for v, b, i, ids in self.db.execute(sql)
            if (vendors is None or v in vendors) and (backend is None or b == backend)
        }

    def call_count(self, *, status: str | None = None) -> int:
        if status:
            return self.db.execute("SELECT COUNT(*) FROM calls WHERE status=?", (status,)).fetchone()[0]
        return self.db.execute("SELECT COUNT(*) FROM calls").fetchone()[0]

    def errors(
        self, vendors: Sequence[str] | None = None, *, backend: str | None = None,
        item_ids: Iterable[str] | None = None,
    ) -> list[dict]:
        """Failed calls, filtered like `result_columns` (vendors, backend, items)."""
        sql = "SELECT vendor, backend, item_id, call, error, retryable FROM calls WHERE status='error'"
        out = [
            dict(zip(("vendor", "backend", "item_id", "call", "error", "retryable"), r, strict=False))
            for r in self.db.execute(sql + " ORDER BY vendor, item_id, call")
        ]
        ids = None if item_ids is None else set(item_ids)
        return [
            e for e in out
            if (vendors is None or e["vendor"] in vendors)
            and (backend is None or e["backend"] == backend)
            and (ids is None or e["item_id"] in ids)
        ]

    # -- bulk rows of the results contract (the simulated cohort) ----------------------
    def put_result_columns(
        self, cols: Mapping[str, Sequence], *, simulated: bool, chunk_key: str | None = None
    ) -> None:
        """Store results-contract columns (items + their calls) in one transaction.

        Absent values are None, "" or NaN. `chunk_key`, if given, is marked done in
        the same transaction, so a cohort committed chunk by chunk resumes at the
        first chunk not marked.
        """
        now = time.time()
        n = len(cols["item_id"])
        conf = [_num(x) for x in cols["confidence"]]
        sim = [_num(x) for x in cols["similarity"]]
        sim_flag = int(simulated)
        items: dict[str, dict] = {}
        for i in range(n):
            if cols["item_id"][i] not in items:
                items[cols["item_id"][i]] = {c: cols[c][i] for c in (*RESULT_COLUMNS, *VIDEO_COLUMNS)
                                             if c in cols}
        calls: list[tuple] = [
            (v, b, it, "recognize", "ok", p or None, c, None, None, sim_flag, None, 0, 1, now)
            for v, b, it, p, c in zip(
                cols["vendor"], cols["backend"], cols["item_id"], cols["predicted"], conf, strict=False
            )
        ]
        calls += [
            (v, b, it, "similarity", "ok", None, None, s, None, sim_flag, None, 0, 1, now)
            for v, b, it, s in zip(cols["vendor"], cols["backend"], cols["item_id"], sim, strict=False)
            if s is not None
        ]
        self.put_items(list(items.values()), source=chunk_key or "results")
        with self.transaction():
            self.db.executemany(_INSERT_CALL, calls)
            if chunk_key:
                self.set_meta(f"chunk:{chunk_key}", True)

    def chunk_done(self, chunk_key: str) -> bool:
        return bool(self.get_meta(f"chunk:{chunk_key}", False))

    def result_columns(
        self, *, vendors: Sequence[str] | None = None, backend: str | None = None,
        item_ids: Iterable[str] | None = None,
    ) -> dict[str, list]:
        """Columns of the results contract: one row per (vendor, item) with a successful
        recognize, in vendor then item order. `predicted` is "" when no name; absent
        numbers are None.

        `backend` is "sim" for every answer a dicore simulator gave, also over HTTP
        (a live client pointed at `dicore serve`): simulated is always labelled.
        Items whose recognize call failed are left out (an error is not an
        observation); `errors()` lists them. `similarity` is the fake-vs-paired-real
        similarity when that call succeeded. `source_video` ("" when unknown) and
        `frame_index` (None) follow the contract's columns.
        """
        names = (*RESULT_COLUMNS, *VIDEO_COLUMNS)  # then the optional trailing columns
        # Columnar: the item columns are read once per item (not once per vendor), each
        # (vendor, backend)'s calls in their key order, and the rows are joined and
        # ordered with NumPy index arrays: no SQL sort of wide rows, no Python loop over
        # rows. Every value is the object sqlite3 returned (shared, not copied).
        items, groups = self._export_rows(vendors, backend)
        item = dict(zip(_EXPORT_ITEM_COLUMNS, _object_columns(items, len(_EXPORT_ITEM_COLUMNS)),
                        strict=True))
        rowids = np.asarray(item["rowid"], dtype=np.int64)  # ascending (ORDER BY rowid)
        selected = None
        if item_ids is not None:
            wanted = set(item_ids)
            selected = np.fromiter(map(wanted.__contains__, item["item_id"]), bool, len(items))
        vendor_rank: dict[str, int] = {}
        parts: dict[str, list] = {c: [] for c in ("rank", "vendor", "pos", "backend", "predicted",
                                                   "confidence", "similarity")}
        for v, b, rec, sim in groups:
            rec_rowid, simulated, predicted, confidence = _object_columns(rec, 4)
            pos = np.searchsorted(rowids, np.asarray(rec_rowid, dtype=np.int64))
            sim_rowid, sim_value = _object_columns(sim, 2)
            by_item = np.full(len(items), None, dtype=object)  # the similarity, by item position
            by_item[np.searchsorted(rowids, np.asarray(sim_rowid, dtype=np.int64))] = sim_value
            keep = np.ones(len(pos), bool) if selected is None else selected[pos]
            n = int(keep.sum())
            parts["rank"].append(np.full(n, vendor_rank.setdefault(v, len(vendor_rank))))
            parts["vendor"].append(np.full(n, v, dtype=object))
            parts["pos"].append(pos[keep])
            is_sim = np.asarray(simulated[keep], dtype=np.int64) != 0
            parts["backend"].append(np.array([b, "sim"], dtype=object)[is_sim.astype(np.intp)])
            parts["predicted"].append(predicted[keep])
            parts["confidence"].append(confidence[keep])
            parts["similarity"].append(by_item[pos[keep]])
        if not sum(len(p) for p in parts["pos"]):
            return {c: [] for c in names}
        joined = {c: np.concatenate(p) for c, p in parts.items()}
        # Vendor, then item order; one vendor's backends in name order (the groups'
        # order; lexsort is stable).
        order = np.lexsort((joined["pos"], joined["rank"]))
        pos = joined["pos"][order]
        cols = {c: (joined[c][order] if c in joined else item[c][pos]).tolist() for c in names}
        cols["is_fake"] = (np.asarray(item["is_fake"], dtype=np.int64)[pos] != 0).tolist()
        return cols

    def _export_rows(self, vendors, backend) -> tuple[list[tuple], list[tuple]]:
        """The items' rows, and per (vendor, backend) in name order its successful
        recognize and similarity calls: one read transaction, so all see one snapshot
        even while another connection commits."""
        own = not self.db.in_transaction
        if own:
            self.db.execute("BEGIN")
        try:
            items = self.db.execute(
                f"SELECT {', '.join(_EXPORT_ITEM_COLUMNS)} FROM items ORDER BY rowid").fetchall()
            groups = [
                (v, b, self.db.execute(_EXPORT_RECOGNIZE_SQL, (v, b)).fetchall(),
                 self.db.execute(_EXPORT_SIMILARITY_SQL, (v, b)).fetchall())
                for v, b in self.db.execute(
                    "SELECT DISTINCT vendor, backend FROM calls ORDER BY vendor, backend"
                ).fetchall()
                if (not backend or b == backend) and (not vendors or v in vendors)
            ]
        finally:
            if own:
                self.db.execute("COMMIT")
        return items, groups

_EXPORT_ITEM_COLUMNS = ("rowid", "dataset", "method", "item_id", "is_fake", "real_item_id",
                        "target", "reference", "source_video", "frame_index")
_EXPORT_RECOGNIZE_SQL = (
    "SELECT i.rowid, c.simulated, COALESCE(c.predicted, ''), c.confidence "
    "FROM calls c JOIN items i ON i.item_id = c.item_id "
    "WHERE c.vendor = ? AND c.backend = ? AND c.call = 'recognize' AND c.status = 'ok'"
)
_EXPORT_SIMILARITY_SQL = (
    "SELECT i.rowid, c.similarity FROM calls c JOIN items i ON i.item_id = c.item_id "
    "WHERE c.vendor = ? AND c.backend = ? AND c.call = 'similarity' AND c.status = 'ok'"
)


def _object_columns(rows: list[tuple], width: int) -> list[np.ndarray]:
    """The columns of fetched rows as object arrays (the row tuples' own values)."""
    return [np.fromiter(map(itemgetter(k), rows), dtype=object, count=len(rows))
            for k in range(width)]


class _Transaction:
    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type, *_):
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")


def _num(v) -> float | None:
    return None if v == "" else none_if_nan(v)  # empty and NaN are absent


def _item_tuple(rec) -> tuple:
    get = rec.get if isinstance(rec, dict) else lambda k, d=None: getattr(rec, k, d)
    is_fake = get("is_fake")
    if isinstance(is_fake, str):
        is_fake = is_fake.strip().lower() in ("true", "1", "yes")
    fi = get("frame_index")
    return (
        str(get("item_id")), str(get("dataset")), str(get("method")), int(bool(is_fake)),
        str(get("target") or ""), str(get("reference") or ""), str(get("real_item_id") or ""),
        str(get("path", "") or ""), str(get("source_video", "") or ""),
        None if fi in (None, "") else int(fi), str(get("digest", "") or ""),
    )
