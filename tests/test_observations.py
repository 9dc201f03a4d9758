"""Observations: reading the results contract, validation messages, pytree behaviour."""

from __future__ import annotations

import csv

import jax
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dicore import METHODS, VENDORS
from dicore.core.observations import Observations
from dicore.errors import UserError
from dicore.formats.results import RESULT_COLUMNS, read_columns, read_results_file, read_rows


def row(
    vendor="aws",
    item="r1",
    fake=False,
    real="",
    target="A",
    pred="A",
    conf="99",
    sim="",
    method=None,
    ref="",
    dataset="CelebDF",
    backend="sim",
):
    return {
        "vendor": vendor,
        "backend": backend,
        "dataset": dataset,
        "method": method or ("replacement" if fake else "real"),
        "item_id": item,
        "is_fake": "true" if fake else "false",
        "real_item_id": real,
        "target": target,
        "reference": ref,
        "predicted": pred,
        "confidence": conf,
        "similarity": sim,
    }


def good_rows():
    return [
        row(item="r2", target="B", pred="", conf=""),
        row(item="r1"),
        row(item="r0", target="B", pred="B", conf="80"),  # B's first real by item id
        row(item="f1", fake=True, real="r1", pred="Zed", conf="55.5", sim=""),
        row(item="f2", fake=True, real="r1", pred="", conf="", sim="81.25"),
        row(item="f3", fake=True, real="r1", method="synthesis", ref="B", pred="B", conf="91"),
        row(vendor="naver", item="r1", pred="A", conf="1"),
        row(vendor="naver", item="f1", fake=True, real="r1", pred="B", conf="0.01"),
    ]


def test_from_rows_maps_names_and_pairs():
    obs, vocab = read_rows(good_rows())
    assert vocab.datasets == ("CelebDF",) and vocab.backends == ("sim",) and vocab.simulated
    assert (
        vocab.identities[:2] == ("B", "A") and vocab.identities[-1] == "Zed"
    )  # API-only name last
    names = lambda ids: [vocab.identities[i] if i >= 0 else None for i in np.asarray(ids)]  # noqa: E731
    assert names(obs.predicted) == [None, "A", "B", "Zed", None, "B", "A", "B"]
    assert names(obs.reference) == [None] * 5 + ["B", None, None]
    assert np.asarray(obs.paired_row).tolist() == [-1, -1, -1, 1, 1, 1, -1, 6]
    assert np.asarray(obs.ref_paired_row).tolist() == [-1, -1, -1, -1, -1, 2, -1, -1]
    assert [VENDORS[v] for v in np.asarray(obs.vendor)] == ["aws"] * 6 + ["naver"] * 2
    assert [METHODS[m] for m in np.asarray(obs.method)][3:6] == [
        "replacement",
        "replacement",
        "synthesis",
    ]
    conf = np.asarray(obs.confidence)
    assert np.isnan(conf[0]) and conf[3] == 55.5 and conf.dtype == np.float64
    assert np.asarray(obs.similarity)[4] == 81.25 and np.isnan(
        np.asarray(obs.similarity)[3]
    )
    assert [vocab.items[i] for i in np.asarray(obs.item)][:3] == ["r2", "r1", "r0"]


def test_is_a_pytree_of_equal_length_arrays_and_jits():
    obs, vocab = read_rows(good_rows())
    leaves = jax.tree_util.tree_leaves(obs)
    assert len(leaves) == 12 and all(np.shape(x) == (8,) for x in leaves)
    doubled = jax.jit(lambda o: jax.tree_util.tree_map(lambda x: x, o))(obs)
    assert isinstance(doubled, Observations)
    np.testing.assert_array_equal(np.asarray(doubled.paired_row), np.asarray(obs.paired_row))


BAD_CASES = [
    ("name without confidence", {"pred": "A", "conf": ""}, "confidence", "without a confidence"),
    ("confidence without name", {"pred": "", "conf": "50"}, "predicted", "without a name"),
    ("confidence above 100", {"conf": "100.5"}, "confidence", "outside 0..100"),
    ("confidence negative", {"conf": "-1"}, "confidence", "outside 0..100"),
    ("confidence not a number", {"conf": "high"}, "confidence", "not a number"),
    ("confidence nan", {"conf": "nan"}, "confidence", "outside 0..100"),
    ("similarity out of range", {"sim": "180"}, "similarity", "outside 0..100"),
    (
        "fake without paired real",
        {"fake": True, "real": ""},
        "real_item_id",
        "needs its paired real",
    ),
    (
        "paired real missing for vendor",
        {"fake": True, "real": "only_on_azure"},
        "real_item_id",
        "no row for vendor aws",
    ),
    ("paired item is a fake", {"fake": True, "real": "f9"}, "real_item_id", "is a fake"),
    ("unknown vendor", {"vendor": "google"}, "vendor", "unknown vendor"),
    ("unknown method", {"method": "faceswap"}, "method", "unknown method"),
    ("method contradicts is_fake", {"method": "reenactment"}, "is_fake", "contradicts"),
    ("empty target", {"target": ""}, "target", "is empty"),
    ("duplicate vendor item", {"item": "r1"}, "item_id", "duplicate"),
]


@pytest.mark.parametrize("name,change,field,message", BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_row_named_by_row_and_field(name, change, field, message):
    rows = [
        row(item="r1"),
        row(vendor="azure", item="only_on_azure"),
        row(item="f9", fake=True, real="r1"),
        row(**{"item": "x5", **change}),  # the bad row is row 4
    ]
    with pytest.raises(UserError) as info:
        read_rows(rows, source="results.csv")
    text = str(info.value)
    assert text.startswith("results.csv: 1 invalid result(s)")
    assert f"row 4, {field}: " in text and message in text
    assert info.value.hint


def test_is_fake_must_be_boolean():
    bad = row(item="x")
    bad["is_fake"] = "maybe"
    with pytest.raises(UserError, match=r"row 2, is_fake: 'maybe' is not a boolean"):
        read_rows([row(), bad])
    typed = row(item="x")
    typed["is_fake"] = False  # typed values (Parquet) are accepted
    assert read_rows([row(), typed]).obs.n == 2


def test_all_problems_reported_at_once_capped_at_20():
    rows = [row(item=f"r{i}", conf="200") for i in range(25)] + [row(item="z", vendor="x")]
    with pytest.raises(UserError) as info:
        read_rows(rows)
    text = str(info.value)
    assert "26 invalid result(s)" in text and "... and 6 more" in text
    assert "row 1, confidence" in text and "row 20, confidence" in text and "row 21," not in text


def test_mismatched_column_lengths_and_missing_columns():
    cols = {c: [v] for c, v in row().items()}
    cols["confidence"] = ["99", "98"]
    with pytest.raises(UserError, match="mismatched column lengths"):
        read_columns(cols)
    del cols["confidence"]
    with pytest.raises(UserError, match="columns: missing confidence"):
        read_columns(cols)
    partial = row()
    del partial["similarity"]
    with pytest.raises(UserError, match="row 1, similarity: missing"):
        read_rows([partial])


def test_from_arrays_shape_error_names_shapes():
    with pytest.raises(ValueError, match=r"'dataset': \(2,\)"):
        Observations.from_arrays(
            vendor=[0, 0, 0],
            dataset=[0, 0],
            target=[0, 0, 0],
            is_fake=[0, 0, 0],
            predicted=[0, 0, 0],
            confidence=[1, 1, 1],
            paired_row=[-1, -1, -1],
        )


def write_csv(path, rows):
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=RESULT_COLUMNS)
        w.writeheader()
        w.writerows(rows)


def test_results_file_csv_and_parquet_agree(tmp_path):
    csv_path = tmp_path / "results.csv"
    write_csv(csv_path, good_rows())
    a, va = read_results_file(csv_path)
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    cols = {c: [r[c] for r in good_rows()] for c in RESULT_COLUMNS}
    cols["is_fake"] = [r["is_fake"] == "true" for r in good_rows()]
    cols["confidence"] = [float(v) if v else None for v in cols["confidence"]]
    cols["similarity"] = [float(v) if v else None for v in cols["similarity"]]
    pq.write_table(pa.table(cols), tmp_path / "results.parquet")
    b, vb = read_results_file(tmp_path / "results.parquet")
    assert va == vb
    for f in a.__dataclass_fields__:
        np.testing.assert_array_equal(
            np.asarray(getattr(a, f)), np.asarray(getattr(b, f)), err_msg=f
        )


def test_results_file_errors_name_the_file(tmp_path):
    with pytest.raises(UserError, match="not found"):
        read_results_file(tmp_path / "nope.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("vendor,dataset\naws,CelebDF\n")
    with pytest.raises(UserError, match=r"bad.csv: missing column\(s\) backend"):
        read_results_file(bad)
    rows = good_rows()
    rows[3]["confidence"] = "101"
    write_csv(bad, rows)
    with pytest.raises(UserError, match=r"bad.csv: 1 invalid.*\n  row 4, confidence"):
        read_results_file(bad)


@st.composite
def valid_rows(draw):
    """Random valid result rows: per vendor, reals of some identities and fakes paired to them."""
    rows = []
    n_ids = draw(st.integers(1, 4))
    for vendor in draw(st.sets(st.sampled_from(VENDORS), min_size=1)):
        for t in range(n_ids):
            named = draw(st.booleans())
            rows.append(
                row(
                    vendor=vendor,
                    item=f"real{t}",
                    target=f"id{t}",
                    pred=f"id{t}" if named else "",
                    conf="70" if named else "",
                )
            )
        for k in range(draw(st.integers(0, 6))):
            t = draw(st.integers(0, n_ids - 1))
            pred = draw(st.sampled_from(["", "id0", f"id{t}", "outsider"]))
            rows.append(
                row(
                    vendor=vendor,
                    item=f"fake{k}",
                    fake=True,
                    real=f"real{t}",
                    target=f"id{t}",
                    pred=pred,
                    conf=str(draw(st.floats(0, 100))) if pred else "",
                    sim=draw(st.sampled_from(["", "0", "80", "100"])),
                )
            )
    order = draw(st.permutations(range(len(rows))))
    return [rows[i] for i in order]


@given(valid_rows())
def test_round_trip_recovers_every_field(rows):
    obs, vocab = read_rows(rows)
    for i, r in enumerate(rows):
        assert VENDORS[int(obs.vendor[i])] == r["vendor"]
        assert vocab.items[int(obs.item[i])] == r["item_id"]
        assert vocab.identities[int(obs.target[i])] == r["target"]
        p = int(obs.predicted[i])
        assert (vocab.identities[p] if p >= 0 else "") == r["predicted"]
        assert bool(obs.is_fake[i]) == (r["is_fake"] == "true")
        j = int(obs.paired_row[i])
        if r["is_fake"] == "true":
            assert rows[j]["item_id"] == r["real_item_id"] and rows[j]["vendor"] == r["vendor"]
        else:
            assert j == -1
        c = float(obs.confidence[i])
        assert np.isnan(c) if r["confidence"] == "" else c == float(r["confidence"])
