"""The manifest format: round trips, and errors that name file, row and field."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from dicore.datasets.manifest import (
    COLUMNS,
    ManifestError,
    ManifestRow,
    read_manifest,
    write_manifest,
)


def _rows() -> list[ManifestRow]:
    return [
        ManifestRow("r1", "img/a.jpg", False, "D", "real", "alice"),
        ManifestRow("r2", "img/b.jpg", False, "D", "real", "bob"),
        ManifestRow("f1", "img/c.jpg", True, "D", "replacement", "alice", "bob", "r1",
                    "v/x.mp4", 12),
        ManifestRow("f2", "img/c.jpg", True, "D", "synthesis", "bob", "alice", "r2"),
    ]


def _tree(tmp_path: Path) -> Path:
    for name in "abc":
        (tmp_path / "img").mkdir(parents=True, exist_ok=True)
        (tmp_path / "img" / f"{name}.jpg").write_bytes(b"x")
    return tmp_path


def _write_csv(path: Path, records: list[dict]) -> Path:
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(records[0]))
        w.writeheader()
        w.writerows(records)
    return path


def _records() -> list[dict]:
    recs = []
    for r in _rows():
        d = r.as_record()
        d["is_fake"] = "true" if r.is_fake else "false"
        d["frame_index"] = "" if r.frame_index is None else str(r.frame_index)
        recs.append(d)
    return recs


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_round_trip(tmp_path, suffix):
    root = _tree(tmp_path)
    path = write_manifest(root / f"m{suffix}", _rows())
    m = read_manifest(path)
    assert m.rows == tuple(_rows())
    assert m.resolve(m.rows[0]) == root / "img" / "a.jpg"
    assert m.by_id()["f1"].frame_index == 12


def test_csv_header_is_the_documented_columns(tmp_path):
    path = write_manifest(_tree(tmp_path) / "m.csv", _rows())
    assert path.read_text().splitlines()[0].split(",") == list(COLUMNS)


def test_optional_columns_may_be_absent_and_booleans_are_lenient(tmp_path):
    root = _tree(tmp_path)
    recs = [{k: v for k, v in r.items() if k not in ("source_video", "frame_index")}
            for r in _records()]
    recs[0]["is_fake"] = "0"
    recs[2]["is_fake"] = "Yes"
    m = read_manifest(_write_csv(root / "m.csv", recs))
    assert [r.is_fake for r in m.rows] == [False, False, True, True]


@pytest.mark.parametrize(
    "mutate, row, field, words",
    [
        (lambda r: r[2].update(path="img/missing.jpg"), 3, "path", "file not found"),
        (lambda r: r[2].update(method="faceswap"), 3, "method", "unknown method 'faceswap'"),
        (lambda r: r[2].update(real_item_id=""), 3, "real_item_id", "no paired real"),
        (lambda r: r[2].update(real_item_id="nope"), 3, "real_item_id", "not an item_id"),
        (lambda r: r[2].update(real_item_id="f2"), 3, "real_item_id", "is a fake"),
        (lambda r: r[2].update(real_item_id="r2"), 3, "real_item_id", "not the target"),
        (lambda r: r[3].update(item_id="r1"), 4, "item_id", "duplicate id 'r1'"),
        (lambda r: r[1].update(is_fake="maybe"), 2, "is_fake", "not true/false"),
        (lambda r: r[0].update(method="replacement"), 1, "method", "is_fake=false"),
        (lambda r: r[0].update(target=""), 1, "target", "empty"),
        (lambda r: r[2].update(frame_index="-3"), 3, "frame_index", "non-negative"),
        (lambda r: r[3].update(reference=""), 4, "reference", "second source"),
    ],
)
def test_errors_name_row_and_field(tmp_path, mutate, row, field, words):
    root = _tree(tmp_path)
    recs = _records()
    mutate(recs)
    path = _write_csv(root / "m.csv", recs)
    with pytest.raises(ManifestError) as info:
        read_manifest(path)
    msg = str(info.value)
    assert f"{path} row {row}, field {field!r}" in msg
    assert words in msg
    assert info.value.hint


def test_all_problems_counted(tmp_path):
    root = _tree(tmp_path)
    recs = _records()
    recs[0]["method"] = "x"
    recs[1]["method"] = "y"
    with pytest.raises(ManifestError, match=r"row 1.*\(and 1 more problem"):
        read_manifest(_write_csv(root / "m.csv", recs))


def test_missing_columns_and_files(tmp_path):
    with pytest.raises(ManifestError, match="does not exist"):
        read_manifest(tmp_path / "nope.csv")
    (tmp_path / "m.csv").write_text("item_id,path\nx,y\n")
    with pytest.raises(ManifestError, match="missing column.*is_fake"):
        read_manifest(tmp_path / "m.csv")
    (tmp_path / "m.json").write_text("{}")
    with pytest.raises(ManifestError, match="unknown format"):
        read_manifest(tmp_path / "m.json")
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(ManifestError, match="cannot read manifest"):
        read_manifest(tmp_path / "bad.parquet")


def test_check_files_off_accepts_absent_images(tmp_path):
    path = write_manifest(tmp_path / "m.csv", _rows())  # no image files
    assert len(read_manifest(path, check_files=False)) == 4
    with pytest.raises(ManifestError, match="file not found"):
        read_manifest(path)


# --- adversarial manifests (issue 10, section 5) ---------------------------------------


def test_list_typed_target_in_parquet_is_refused(tmp_path):
    """A list column became "['Emmanuel Macron']" and never matched; a binary one "b'..'"."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = _tree(tmp_path)
    base = {"item_id": ["r1"], "path": ["img/a.jpg"], "is_fake": [False], "dataset": ["D"],
            "method": ["real"]}
    for target in (pa.array([["Emmanuel Macron"]]), pa.array([b"Alice"], pa.binary())):
        pq.write_table(pa.table({**base, "target": target}), root / "m.parquet")
        with pytest.raises(ManifestError, match=r"column 'target' has Parquet type .*single text"):
            read_manifest(root / "m.parquet")


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink"])
def test_paths_outside_the_manifest_folder_need_allow_outside_paths(tmp_path, kind):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.jpg").write_bytes(b"x")
    root = _tree(tmp_path / "data")
    path = {"dotdot": "../elsewhere/secret.jpg", "absolute": str(outside / "secret.jpg"),
            "symlink": "img/link.jpg"}[kind]
    if kind == "symlink":
        (root / "img" / "link.jpg").symlink_to(outside / "secret.jpg")
    recs = _records()
    recs[1]["path"] = path
    m = _write_csv(root / "m.csv", recs)
    with pytest.raises(ManifestError, match=r"1 image path\(s\) point outside .*row 2 \(") as info:
        read_manifest(m)
    assert "--allow-outside-paths" in info.value.hint
    assert len(read_manifest(m, allow_outside_paths=True)) == 4


def test_cli_refuses_outside_paths_and_names_the_flag(tmp_path, capsys):
    from dicore.cli import main

    (tmp_path / "x.jpg").write_bytes(b"x")
    root = tmp_path / "data"
    root.mkdir()
    m = write_manifest(root / "m.csv", [ManifestRow("r1", "../x.jpg", False, "D", "real", "a")])
    code = main(["run", "--manifest", str(m), "--store", str(tmp_path / "s.sqlite")])
    err = capsys.readouterr().err
    assert code == 2 and "outside the manifest's folder" in err and "Traceback" not in err
    assert not (tmp_path / "s.sqlite").exists()


def test_frame_index_beyond_sqlite_integer_is_a_row_error(tmp_path):
    root = _tree(tmp_path)
    recs = _records()
    recs[2]["frame_index"] = str(2**63)
    with pytest.raises(ManifestError, match=r"row 3, field 'frame_index'"):
        read_manifest(_write_csv(root / "m.csv", recs))


@pytest.mark.parametrize("frame", ["9_5", "\u00b2", "+3", "0x10", "1e3"])
def test_frame_index_is_plain_ascii_digits(tmp_path, frame):
    """int() reads "9_5" as 95 and "²" fails only later: every such cell is a row error."""
    root = _tree(tmp_path)
    recs = _records()
    recs[2]["frame_index"] = frame
    with pytest.raises(ManifestError, match=r"row 3, field 'frame_index'"):
        read_manifest(_write_csv(root / "m.csv", recs))


def test_control_characters_in_cells_are_refused(tmp_path):
    root = _tree(tmp_path)
    recs = _records()
    recs[0]["target"] = "Al\x00ice"
    with pytest.raises(ManifestError, match=r"row 1, field 'target': .*control character"):
        read_manifest(_write_csv(root / "m.csv", recs))
