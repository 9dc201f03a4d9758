"""`canonical_columns` and `name_mismatches` map each distinct name once (issue 11: no
Python loop over the rows of a store export); they equal the row-by-row versions they
replaced (kept in benchmarks/bench_store.py as the baseline), including the first-spelling rule, vendor ids and
a names file with aliases."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.bench_store import row_by_row_canonical_columns, row_by_row_name_mismatches
from dicore.names import Identity, IdentityMap, canonical_columns, name_mismatches

# Spellings of few people, equal once normalised or not: the first-spelling rule matters.
NAMES = ["", "Emmanuel_Macron", "emmanuel macron", "Émmanuel Macron", "Barack Obama",
         "BARACK  obama", "id1", "Rishi Sunak", "rishi_sunak", "Zoë"]
IDS = [(), ("aws:1",), ("aws:2", "https://www.wikidata.org/wiki/Q76"), ("aws:9",)]
IMAP = IdentityMap.from_identities([
    Identity("id1", "Barack Obama", ("B. Obama",), ("aws:2", "wikidata:Q76")),
    Identity("id0", "Emmanuel Macron", (), ("aws:1",)),
])


@st.composite
def columns(draw):
    n = draw(st.integers(0, 30))
    name = st.sampled_from(NAMES)
    cols = {
        "dataset": draw(st.lists(st.sampled_from(["D1", "D2"]), min_size=n, max_size=n)),
        "vendor": draw(st.lists(st.sampled_from(["aws", "naver"]), min_size=n, max_size=n)),
        "target": draw(st.lists(name.filter(bool), min_size=n, max_size=n)),
        "reference": draw(st.lists(name, min_size=n, max_size=n)),
        "predicted": draw(st.lists(name, min_size=n, max_size=n)),
    }
    ids = draw(st.one_of(st.none(), st.lists(st.sampled_from(IDS), min_size=n, max_size=n)))
    return cols, draw(st.sampled_from([None, IMAP])), ids


@settings(max_examples=300, deadline=None)
@given(columns())
def test_canonical_columns_equal_row_by_row(case):
    cols, imap, ids = case
    assert canonical_columns(cols, imap, ids) == row_by_row_canonical_columns(cols, imap, ids)


@settings(max_examples=300, deadline=None)
@given(columns())
def test_name_mismatches_equal_row_by_row(case):
    cols, imap, ids = case
    out = row_by_row_canonical_columns(cols, imap, ids)
    expected = row_by_row_name_mismatches(out)
    warnings = name_mismatches(out)
    assert len(warnings) == len(expected)
    for w, (d, v, n, said, target) in zip(warnings, expected, strict=True):
        assert w.startswith(f"{d} x {v}: {n} image(s) named")
        assert f"(e.g. {v} said {said!r} for target {target!r})" in w
