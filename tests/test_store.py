"""The SQLite result store: WAL, keys, resumption semantics, conflicts, the results view."""

from __future__ import annotations

import sqlite3

import pytest

from dicore.errors import UserError
from dicore.store import RESULT_COLUMNS, CallResult, Store

ITEMS = [
    {"item_id": "r1", "dataset": "D", "method": "real", "is_fake": False, "target": "a"},
    {"item_id": "f1", "dataset": "D", "method": "replacement", "is_fake": True, "target": "a",
     "reference": "b", "real_item_id": "r1"},
]


def test_wal_and_results_view(tmp_path):
    with Store(tmp_path / "s.sqlite") as s:
        assert s.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert s.put_items(ITEMS) == 2
        assert s.put_items(ITEMS) == 0  # idempotent
        s.record([
            CallResult("aws", "sim", "r1", "recognize", True, "a", 99.5, simulated=True),
            CallResult("aws", "sim", "f1", "recognize", True, None, None),
            CallResult("aws", "sim", "f1", "similarity", True, similarity=85.25),
            CallResult("naver", "sim", "f1", "recognize", True, "b", 0.01),
            CallResult("naver", "sim", "r1", "recognize", False, error="BadInputError: no face"),
        ])
        cols = s.result_columns()
    assert list(cols) == [*RESULT_COLUMNS, "source_video", "frame_index"]  # optional trailing
    rows = list(zip(*cols.values(), strict=False))
    assert [(r[0], r[4]) for r in rows] == [("aws", "r1"), ("aws", "f1"), ("naver", "f1")]
    aws_f1 = dict(zip(RESULT_COLUMNS, rows[1], strict=False))
    assert aws_f1["predicted"] == "" and aws_f1["confidence"] is None
    assert aws_f1["similarity"] == 85.25 and aws_f1["is_fake"] is True
    assert aws_f1["real_item_id"] == "r1" and aws_f1["reference"] == "b"


def test_done_skips_ok_and_refused_but_not_retryable(tmp_path):
    with Store(tmp_path / "s.sqlite") as s:
        s.put_items(ITEMS)
        s.record([
            CallResult("aws", "sim", "r1", "recognize", True, "a", 90.0),
            CallResult("aws", "sim", "f1", "recognize", False, error="refused", retryable=False),
            CallResult("aws", "sim", "f1", "similarity", False, error="503", retryable=True),
        ])
        assert s.done("aws", "sim") == {("r1", "recognize"), ("f1", "recognize")}
        assert s.done("aws", "sim", retry_errors=True) == {("r1", "recognize")}
        assert s.done("aws", "live") == set()  # backends are kept apart
        assert len(s.errors()) == 2
        # A later success replaces the error under the same key.
        s.record([CallResult("aws", "sim", "f1", "similarity", True, similarity=10.0)])
        assert s.call_count() == 3 and s.call_count(status="error") == 1


def test_conflicting_item_is_refused_and_nothing_written(tmp_path):
    with Store(tmp_path / "s.sqlite") as s:
        s.put_items(ITEMS)
        changed = [dict(ITEMS[0], item_id="new"), dict(ITEMS[1], target="zzz")]
        with pytest.raises(UserError, match=r"item 'f1' is already in store .* different target"):
            s.put_items(changed)
        assert s.item_count() == 2  # "new" was not added either


def test_chunks_commit_with_their_rows(tmp_path):
    cols = {c: [] for c in RESULT_COLUMNS}
    for v in ("aws", "naver"):
        for r, pred, conf, sim in (("r1", "a", 95.0, float("nan")), ("f1", "", None, 81.0)):
            item = next(i for i in ITEMS if i["item_id"] == r)
            row = {**{c: "" for c in RESULT_COLUMNS}, **item, "vendor": v, "backend": "sim",
                   "predicted": pred, "confidence": conf, "similarity": sim}
            for c in RESULT_COLUMNS:
                cols[c].append(row[c])
    path = tmp_path / "s.sqlite"
    with Store(path) as s:
        assert not s.chunk_done("D")
        s.put_result_columns(cols, simulated=True, chunk_key="D")
        assert s.chunk_done("D")
        state = s.state()
    with Store(path) as s:  # reopened: everything is there
        out = s.result_columns(vendors=["naver"])
        assert out["item_id"] == ["r1", "f1"] and out["similarity"] == [None, 81.0]
        assert s.state() == state


def test_not_a_store(tmp_path):
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(UserError, match="not a dicore result store"):
        Store(bad)
    assert bad.read_bytes() == b"this is not sqlite" * 100


def test_readable_by_plain_sqlite(tmp_path):
    with Store(tmp_path / "s.sqlite") as s:
        s.put_items(ITEMS)
        s.record([CallResult("aws", "sim", "r1", "recognize", True, "a", 90.0)])
        db = sqlite3.connect(tmp_path / "s.sqlite")  # a second reader while open (WAL)
        assert db.execute("SELECT predicted FROM calls").fetchall() == [("a",)]
        db.close()


def test_errors_are_filtered_like_the_results(tmp_path):
    with Store(tmp_path / "s.sqlite") as s:
        s.put_items(ITEMS)
        s.record([
            CallResult("aws", "sim", "r1", "recognize", False, error="BadInputError: no face"),
            CallResult("aws", "replay", "f1", "recognize", False, error="ReplayMissError: x"),
            CallResult("naver", "sim", "f1", "recognize", False, error="BadInputError: y"),
        ])
        every = {(e["vendor"], e["backend"], e["item_id"]) for e in s.errors()}
        assert len(every) == 3
        assert [(e["vendor"], e["item_id"]) for e in s.errors(["aws"], backend="sim")] == [
            ("aws", "r1")]
        assert [e["vendor"] for e in s.errors(backend="sim", item_ids=["f1"])] == ["naver"]


def test_changed_image_under_a_stored_id_is_refused_moved_image_is_kept(tmp_path):
    """Issue 10: changing an item's image path was not detected (7 of 10 columns compared),
    so stale answers were reused. The image digest decides: same image moved -> path
    updated, answers kept; another image -> refused."""
    from dicore.datasets.manifest import ManifestRow, read_manifest, write_manifest

    data = tmp_path / "data"
    data.mkdir()
    (data / "a.jpg").write_bytes(b"image a")
    (data / "b.jpg").write_bytes(b"image b")

    def manifest(path):
        rows = [ManifestRow("r1", path, False, "D", "real", "Alice")]
        return read_manifest(write_manifest(data / "m.csv", rows))

    with Store(tmp_path / "s.sqlite") as s:
        s.put_items(manifest("a.jpg").item_records())
        s.record([CallResult("aws", "sim", "r1", "recognize", True, "Alice", 99.0)])
        with pytest.raises(UserError, match=r"item 'r1' .* different image: a\.jpg had sha256"):
            s.put_items(manifest("b.jpg").item_records())
        assert s.db.execute("SELECT path FROM items").fetchone()[0] == "a.jpg"
        (data / "sub").mkdir()
        (data / "a.jpg").rename(data / "sub" / "a.jpg")
        assert s.put_items(manifest("sub/a.jpg").item_records()) == 0
        assert s.db.execute("SELECT path FROM items").fetchone()[0] == "sub/a.jpg"
        assert s.call_count() == 1  # the answers about that image are kept
        # Without digests a new path cannot be checked: refused.
        with pytest.raises(UserError, match="different path"):
            s.put_items([{**ITEMS[0], "item_id": "r1", "target": "Alice", "path": "elsewhere.jpg"}])


def test_store_without_digest_column_is_upgraded(tmp_path):
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript("""CREATE TABLE items (item_id TEXT PRIMARY KEY, dataset TEXT NOT NULL,
        method TEXT NOT NULL, is_fake INTEGER NOT NULL, target TEXT NOT NULL,
        reference TEXT NOT NULL DEFAULT '', real_item_id TEXT NOT NULL DEFAULT '',
        path TEXT NOT NULL DEFAULT '', source_video TEXT NOT NULL DEFAULT '', frame_index INTEGER);
        INSERT INTO items VALUES ('r1','D','real',0,'a','','','x.jpg','',NULL);""")
    db.commit()
    db.close()
    with Store(path) as s:
        assert s.put_items([{**ITEMS[0], "path": "x.jpg", "digest": "ab" * 32}]) == 0
        assert s.db.execute("SELECT digest FROM items").fetchone()[0] == "ab" * 32
