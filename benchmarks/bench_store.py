"""The store's export to the results contract (`Store.result_columns`), issue 11.

A synthetic store shaped like a study's (3 vendors, one recognize call per item and
vendor, a similarity call for most fakes, ~1% failed recognitions, absent names and
confidences), 10^6 exported rows (10^5 with --quick). Timed in the same run, each the
min of a few calls:

- columnar: `Store.result_columns` as built (items read once, each (vendor, backend)'s
  calls in key order, joined and ordered with NumPy index arrays);
- baseline: `row_by_row_result_columns` below, the implementation it replaced (one SQL
  join sorted by SQLite, then Python lists built from the row tuples);
- floor: the baseline's bare `SELECT ... fetchall()` (no columns built at all): what any
  export through one sqlite3 query of the same rows pays.

Both exports must give equal columns (checked, a figure). Also reported: the same two
exports followed by writing results.parquet (`dicore.formats.results`), the whole path
from the store to the results file; and the manifest path's export,
`dicore.runner.result_columns` (identities in canonical form, `dicore.names`: each
distinct name mapped once) and its name-mismatch warnings, against the row-by-row
versions kept below.
Run: `python -m benchmarks store [--quick]`.
"""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

NAME = "store"
VENDORS = ("aws", "azure", "naver")
DATASETS = ("CelebDF", "FF++", "CelebBlend")

# The old export's query (dicore/store.py before issue 11's columnar export).
OLD_EXPORT_SQL = """
    SELECT c.vendor, CASE WHEN c.simulated THEN 'sim' ELSE c.backend END, i.dataset, i.method,
           i.item_id, i.is_fake, i.real_item_id, i.target, i.reference,
           COALESCE(c.predicted, ''), c.confidence, s.similarity, i.source_video, i.frame_index
    FROM calls c JOIN items i ON i.item_id = c.item_id
    LEFT JOIN calls s ON s.vendor = c.vendor AND s.backend = c.backend
         AND s.item_id = c.item_id AND s.call = 'similarity' AND s.status = 'ok'
    WHERE c.call = 'recognize' AND c.status = 'ok'
    """


def row_by_row_result_columns(store, *, vendors=None, backend=None, item_ids=None) -> dict[str, list]:
    """The store export as it was before the columnar one (kept as the baseline here and
    as the reference of tests/test_store_export.py): row tuples into Python lists."""
    from dicore.formats.results import RESULT_COLUMNS, VIDEO_COLUMNS

    sql = OLD_EXPORT_SQL
    params: list = []
    if backend:
        sql += " AND c.backend = ?"
        params.append(backend)
    if vendors:
        sql += f" AND c.vendor IN ({','.join('?' * len(vendors))})"
        params += list(vendors)
    sql += " ORDER BY c.vendor, i.rowid"
    rows = store.db.execute(sql, params).fetchall()
    if item_ids is not None:
        ids = set(item_ids)
        rows = [r for r in rows if r[4] in ids]
    names = (*RESULT_COLUMNS, *VIDEO_COLUMNS)
    cols = {c: list(v) for c, v in zip(names, zip(*rows, strict=False), strict=False)} if rows else {
        c: [] for c in names
    }
    cols["is_fake"] = [bool(x) for x in cols["is_fake"]]
    return cols


def row_by_row_canonical_columns(cols, imap=None, predicted_ids=None):
    """`dicore.names.canonical_columns` as it was: one call per row and column."""
    from dicore.names import Canonical

    canon = Canonical(imap)
    out = {c: list(v) for c, v in cols.items()}
    out["target"] = [canon(t) for t in cols["target"]]
    out["reference"] = [canon(r) if r else r for r in cols["reference"]]
    ids = predicted_ids or [()] * len(cols["predicted"])
    out["predicted"] = [canon(p, i) if p else p for p, i in zip(cols["predicted"], ids, strict=True)]
    return out


def row_by_row_name_mismatches(cols):
    """`dicore.names.name_mismatches` as it was, row by row: (dataset, vendor, named
    count, example said, example target) of each warning."""
    from collections import Counter

    from dicore.names import normalise

    targets: dict[str, set] = {}
    for d, t in zip(cols["dataset"], cols["target"], strict=True):
        targets.setdefault(d, set()).add(normalise(t))
    named: Counter = Counter()
    hits: Counter = Counter()
    example: dict = {}
    for d, v, t, p in zip(cols["dataset"], cols["vendor"], cols["target"], cols["predicted"], strict=True):
        if not p:
            continue
        named[(d, v)] += 1
        hits[(d, v)] += normalise(p) in targets[d]
        example.setdefault((d, v), (p, t))
    return [(d, v, n, *example[(d, v)]) for (d, v), n in named.items() if not hits[(d, v)]]


def make_store(path: Path, rows: int, seed: int = 0):
    """A store with about `rows` exportable rows (setup, not timed)."""
    from dicore.store import ITEM_COLUMNS, Store

    rng = random.Random(seed)
    n_items = round(rows / len(VENDORS) / 0.99)
    store = Store(path)
    items = []
    for k in range(n_items):
        fake = k % 4 != 0  # three fakes after each real image, of its person, same dataset
        group = k // 4
        items.append((
            f"item{k:08d}", DATASETS[group % 3], "replacement" if fake else "real", int(fake),
            f"person{group % 600}", f"person{(group + 1) % 600}" if fake else "",
            f"item{group * 4:08d}" if fake else "", f"img/{k}.jpg", f"video{k // 10}",
            k % 10, "",
        ))
    calls = []
    for vendor in VENDORS:
        for it in items:
            ok = rng.random() > 0.01
            named = rng.random() < 0.6
            calls.append((vendor, "sim", it[0], "recognize", "ok" if ok else "error",
                          it[4] if named else None, rng.random() * 100 if named else None,
                          None, None, 1, None if ok else "BadInputError: no face", 0, 1, 1.0))
            if it[3] and rng.random() < 0.9:
                calls.append((vendor, "sim", it[0], "similarity", "ok", None, None,
                              rng.random() * 100, None, 1, None, 0, 1, 1.0))
    with store.transaction():
        store.db.executemany(f"INSERT INTO items VALUES ({','.join('?' * len(ITEM_COLUMNS))})", items)
        store.db.executemany(
            "INSERT INTO calls (vendor, backend, item_id, call, status, predicted, confidence, "
            "similarity, face_count, simulated, error, retryable, attempts, at) "
            f"VALUES ({','.join('?' * 14)})", calls)
    return store


def _best(fn, repeat: int) -> tuple[float, object]:
    out, best = None, float("inf")
    for _ in range(repeat):
        out = None  # the previous result freed before the next call
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def run(quick: bool) -> dict:
    from benchmarks.harness import target
    from dicore.formats.results import write_results_parquet

    rows = 100_000 if quick else 1_000_000
    repeat = 3
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="dicore-bench-store-") as tmp:
        store = make_store(Path(tmp) / "store.sqlite", rows)
        floor_sql = OLD_EXPORT_SQL + " ORDER BY c.vendor, i.rowid"
        store.db.execute(floor_sql).fetchall()  # warm the page cache for every side alike
        # Interleaved, so a change of load hits every side alike.
        times: dict[str, float] = {"columnar": float("inf"), "row_by_row": float("inf"),
                                   "floor": float("inf")}
        new = old = None
        for _ in range(repeat):
            t, new = _best(store.result_columns, 1)
            times["columnar"] = min(times["columnar"], t)
            t, old = _best(lambda: row_by_row_result_columns(store), 1)
            times["row_by_row"] = min(times["row_by_row"], t)
            t, _ = _best(lambda: store.db.execute(floor_sql).fetchall(), 1)
            times["floor"] = min(times["floor"], t)
        equal = new == old
        n_rows = len(new["item_id"])
        del new, old
        # The manifest path (`dicore run`, a manifest study): identities in canonical form
        # (dicore.runner.result_columns) and the name-mismatch warnings.
        from dicore.names import name_mismatches
        from dicore.runner import result_columns

        def old_runner_export():
            cols = row_by_row_result_columns(store)
            ids = store.vendor_ids()
            row_ids = [ids.get((v, i), ()) for v, i in zip(cols["vendor"], cols["item_id"], strict=True)]
            return row_by_row_canonical_columns(cols, None, row_ids)

        canonical_new, canon = _best(lambda: result_columns(store), repeat)
        canonical_old, canon_old = _best(old_runner_export, repeat)
        canonical_equal = canon == canon_old
        del canon_old
        mismatches_new, warnings = _best(lambda c=canon: name_mismatches(c), repeat)
        mismatches_old, warnings_old = _best(lambda c=canon: row_by_row_name_mismatches(c), repeat)
        del canon
        out = Path(tmp) / "results.parquet"
        to_file_new, _ = _best(lambda: write_results_parquet(out, store.result_columns()), repeat)
        to_file_old, _ = _best(lambda: write_results_parquet(out, row_by_row_result_columns(store)),
                               repeat)
        store.close()
    load_after = os.getloadavg()[0]
    figures = {
        "rows": n_rows, "columnar_s": times["columnar"], "equal_to_row_by_row": equal,
        "to_parquet_columnar_s": to_file_new,
        "runner_export_canonical_s": canonical_new, "runner_export_equal": canonical_equal,
        "name_mismatches_s": mismatches_new, "name_mismatch_warnings": len(warnings),
        "name_mismatch_warnings_row_by_row": len(warnings_old),
        "load_average_1min_before": round(load_before, 2),
        "load_average_1min_after": round(load_after, 2),
    }
    baselines = {"row_by_row_s": times["row_by_row"], "select_fetchall_floor_s": times["floor"],
                 "to_parquet_row_by_row_s": to_file_old,
                 "runner_export_canonical_row_by_row_s": canonical_old,
                 "name_mismatches_row_by_row_s": mismatches_old}
    ratios = {
        "export_vs_row_by_row": times["row_by_row"] / times["columnar"],
        "export_vs_select_floor": times["floor"] / times["columnar"],
        "to_parquet_vs_row_by_row": to_file_old / to_file_new,
        "runner_export_vs_row_by_row": canonical_old / canonical_new,
        "name_mismatches_vs_row_by_row": mismatches_old / mismatches_new,
    }
    targets = {
        # Faster than the implementation it replaced, and equal to it.
        "export_faster_than_row_by_row": target(ratios["export_vs_row_by_row"], 1.0),
        "export_equal_to_row_by_row": {"ratio": float(equal), "goal": 1.0, "met": bool(equal),
                                       "better": "higher"},
        "runner_export_faster_than_row_by_row": target(ratios["runner_export_vs_row_by_row"], 1.0),
        "runner_export_equal_to_row_by_row": {"ratio": float(canonical_equal), "goal": 1.0,
                                              "met": bool(canonical_equal), "better": "higher"},
    }
    return {"figures": figures, "baselines": baselines, "ratios": ratios, "targets": targets}


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
