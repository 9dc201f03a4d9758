"""The columnar store export (`Store.result_columns`) equals the row-by-row one it
replaced (kept in benchmarks/bench_store.py as the benchmark's baseline), value for value
and in order, on stores with failed calls, absent names, confidences and similarities,
several vendors and backends, simulated and live answers, items stored out of name order,
calls of unknown items, and every filter."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.bench_store import row_by_row_result_columns
from dicore.store import CallResult, Store

VENDORS = ("aws", "azure", "naver")
BACKENDS = ("live", "replay", "sim")
ids = st.text(alphabet="abcXYZ_09é", min_size=1, max_size=4)
text = st.sampled_from(["", "Alice", "Bob", "Zoë", "a,b"])
number = st.one_of(st.none(), st.floats(allow_nan=False, width=64))


@st.composite
def stores(draw):
    item_ids = draw(st.lists(ids, min_size=0, max_size=12, unique=True))  # insertion order = rowid
    items = []
    for k, item_id in enumerate(item_ids):
        fake = draw(st.booleans())
        items.append({
            "item_id": item_id, "dataset": draw(st.sampled_from(["D1", "D2"])),
            "method": "replacement" if fake else "real", "is_fake": fake,
            "target": draw(text), "reference": draw(text) if fake else "",
            "real_item_id": draw(st.sampled_from([*item_ids, ""])) if fake else "",
            "path": f"p{k}.jpg", "source_video": draw(st.sampled_from(["", "v1", "v2"])),
            "frame_index": draw(st.one_of(st.none(), st.integers(0, 2**40))),
        })
    calls = []
    known = [*item_ids, "unknown-item"]  # a call whose item is not stored is left out
    for vendor in draw(st.lists(st.sampled_from(VENDORS), unique=True, max_size=3)):
        for backend in draw(st.lists(st.sampled_from(BACKENDS), unique=True, min_size=1, max_size=2)):
            for item_id in draw(st.lists(st.sampled_from(known), unique=True, max_size=len(known))):
                simulated = draw(st.booleans())
                ok = draw(st.booleans()) or draw(st.booleans())
                calls.append(CallResult(
                    vendor, backend, item_id, "recognize", ok,
                    predicted=draw(st.one_of(st.none(), text)),
                    confidence=draw(number), simulated=simulated,
                    error=None if ok else "BadInputError: no face"))
                similarity = draw(st.sampled_from(["none", "ok", "error"]))
                if similarity != "none":
                    calls.append(CallResult(
                        vendor, backend, item_id, "similarity", similarity == "ok",
                        similarity=draw(number),  # a failed call's value is not used
                        simulated=simulated, error=None if similarity == "ok" else "503"))
    filters = {
        "vendors": draw(st.one_of(st.none(), st.lists(st.sampled_from(VENDORS), unique=True))),
        "backend": draw(st.one_of(st.none(), st.sampled_from(BACKENDS))),
        "item_ids": draw(st.one_of(st.none(), st.lists(st.sampled_from(known), unique=True))),
    }
    return items, calls, filters


def _same(a: dict, b: dict) -> bool:
    """Equal columns, value for value (types too: a float stays a float, -0.0 stays -0.0)."""
    if list(a) != list(b):
        return False
    for c in a:
        if len(a[c]) != len(b[c]):
            return False
        for x, y in zip(a[c], b[c], strict=True):
            if type(x) is not type(y) or x != y:
                return False
            if isinstance(x, float) and math.copysign(1, x) != math.copysign(1, y):
                return False
    return True


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stores())
def test_columnar_export_equals_row_by_row(case):
    items, calls, filters = case
    with Store(":memory:") as store:
        store.put_items(items)
        store.record(calls)
        for f in ({}, filters):
            new = store.result_columns(**f)
            old = row_by_row_result_columns(store, **f)
            assert _same(new, old), (f, new, old)


def test_export_sees_one_snapshot_inside_a_transaction(tmp_path):
    # Called inside a caller's transaction, the export neither commits nor fails.
    with Store(tmp_path / "s.sqlite") as store:
        store.put_items([{"item_id": "r1", "dataset": "D", "method": "real", "is_fake": False,
                          "target": "a"}])
        store.record([CallResult("aws", "sim", "r1", "recognize", True, "a", 90.0)])
        with store.transaction():
            cols = store.result_columns()
        assert cols["item_id"] == ["r1"] and not store.db.in_transaction
