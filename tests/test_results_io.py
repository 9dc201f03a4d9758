"""The columnar results reader (issue 11) and the results-file defects of issue 10: each
refused with one clear error naming file, row and field (exit 2 from the CLI)."""

from __future__ import annotations

import csv

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dicore.cli import main
from dicore.errors import UserError
from dicore.formats.results import RESULT_COLUMNS, read_results_file, read_rows

REAL = ["aws", "sim", "D", "real", "r1", "false", "", "Alice", "", "Alice", "99", ""]
FAKE = ["aws", "sim", "D", "replacement", "f1", "true", "r1", "Alice", "", "Alice", "95", ""]


def write_csv(path, rows):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(RESULT_COLUMNS)
        w.writerows(rows)
    return path


def columns(rows):
    return {c: [r[i] for r in rows] for i, c in enumerate(RESULT_COLUMNS)}


def refused(path, capsys, *needles):
    out = tmp_out = path.with_suffix(".json")
    assert main(["metrics", "--results", str(path), "--out", str(tmp_out)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    assert not out.exists()


def test_header_only_csv_is_one_clear_error(tmp_path, capsys):
    refused(write_csv(tmp_path / "r.csv", []), capsys, "no result rows")


def test_zero_row_parquet_is_one_clear_error(tmp_path, capsys):
    path = tmp_path / "r.parquet"
    pq.write_table(pa.table({c: pa.array([], pa.string()) for c in RESULT_COLUMNS}), path)
    refused(path, capsys, "no result rows")


def test_binary_target_column_is_refused_not_read_as_b_quote(tmp_path, capsys):
    cols = columns([REAL, FAKE])
    cols["target"] = [b"Alice", b"Alice"]
    path = tmp_path / "r.parquet"
    pq.write_table(pa.table(cols), path)
    refused(path, capsys, "row 1, target: b'Alice' is binary")


def test_fake_paired_with_a_real_image_of_another_person_is_refused(tmp_path, capsys):
    bob = REAL[:7] + ["Bob", "", "Bob", "99", ""]
    refused(write_csv(tmp_path / "r.csv", [bob, FAKE]), capsys,
            "row 2, real_item_id: paired real item 'r1' is of 'Bob' (row 1)")


def test_underscore_number_is_not_95(tmp_path, capsys):
    fake = FAKE[:10] + ["9_5", ""]
    refused(write_csv(tmp_path / "r.csv", [REAL, fake]), capsys,
            "row 2, confidence: '9_5' is not a number")


def test_csv_and_parquet_read_alike_and_match_the_row_reader(tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    for k in range(40):
        t = f"P{k % 7}"
        name = t if rng.random() < 0.7 else ""
        conf = f"{rng.uniform(0, 100):.3f}" if name else ""
        rows.append(["azure", "sim", f"D{k % 3}", "real", f"r{k}", "false", "", t, "", name, conf, ""])
        fname = t if rng.random() < 0.5 else ""
        fconf = f"{rng.uniform(0, 100):.3f}" if fname else ""
        sim = f"{rng.uniform(0, 100):.2f}" if not fname else ""
        rows.append(["azure", "sim", f"D{k % 3}", "reenactment", f"f{k}", "true", f"r{k}", t, "",
                     fname, fconf, sim])
    csv_path = write_csv(tmp_path / "r.csv", rows)
    pq.write_table(pa.table(columns(rows)), tmp_path / "r.parquet")
    a = read_results_file(csv_path)
    b = read_results_file(tmp_path / "r.parquet")
    c = read_rows([dict(zip(RESULT_COLUMNS, r, strict=True)) for r in rows])
    for other in (b, c):
        assert other.vocab == a.vocab
        for f in a.obs.__dataclass_fields__:
            np.testing.assert_array_equal(getattr(other.obs, f), getattr(a.obs, f), err_msg=f)
    assert (np.asarray(a.obs.paired_row)[1::2] == np.arange(0, 80, 2)).all()


def test_many_bad_rows_list_the_first_20_in_row_order_and_count_all():
    rows = [dict(zip(RESULT_COLUMNS, REAL[:4] + [f"r{i}"] + REAL[5:10] + ["250", ""], strict=True))
            for i in range(5000)]
    with pytest.raises(UserError) as info:
        read_rows(rows, source="big.csv")
    lines = str(info.value).splitlines()
    assert lines[0] == "big.csv: 5000 invalid result(s):"
    assert lines[1] == "  row 1, confidence: 250 is outside 0..100 (percent)"
    assert lines[20].startswith("  row 20, confidence") and lines[21] == "  ... and 4980 more"


def test_name_mismatch_warnings_from_ids_equal_the_row_by_row_ones():
    from dicore.formats.results import read_columns
    from dicore.names import name_mismatches, name_mismatches_coded

    rows = []
    for k, (d, v, said) in enumerate([("D1", "aws", "Alice"), ("D1", "azure", "alice smith"),
                                      ("D2", "aws", "Bob X"), ("D2", "naver", "bob"),
                                      ("D1", "azure", ""), ("D2", "aws", "Carol")]):
        t = "Alice" if d == "D1" else "Bob"
        rows.append([v, "sim", d, "real", f"r{k}", "false", "", t, "", said, "90" if said else "", ""])
    cols = columns(rows)
    obs, vocab = read_columns(cols)
    expected = name_mismatches(cols)
    assert len(expected) == 2 and name_mismatches_coded(obs, vocab) == expected
