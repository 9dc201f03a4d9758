"""The streaming path of `dicore metrics` and `dicore sweep` (dicore.streaming) gives
exactly the whole-file path's numbers, and the whole-file reader's errors (file row,
field, message, count) on hostile files. Memory and time are measured by
benchmarks/bench_results_io.py, not here."""

from __future__ import annotations

import dataclasses

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dicore import streaming
from dicore.commands import sweep
from dicore.core.kernel import UniformGrid
from dicore.errors import UserError
from dicore.formats.results import _arrow_table, read_results_file
from dicore.names import canonical_columns, name_mismatches_coded
from dicore.tables import metrics_table
from simulators.cohort import simulate_cohort_results

BATCH = 700  # several batches of the small cohort


@pytest.fixture(scope="module")
def table():
    from simulators.cohort import DATASETS

    return _arrow_table(simulate_cohort_results(scale="small", seed=5,
                                                datasets=(*DATASETS, "NonCelebrities")))


@pytest.fixture(scope="module")
def parquet(tmp_path_factory, table):
    path = tmp_path_factory.mktemp("stream") / "results.parquet"
    pq.write_table(table, path, row_group_size=1000)
    return path


def _shuffled(table, seed=0):
    """The rows in a random order: fakes before their reals, reals in every batch."""
    return table.take(pa.array(np.random.default_rng(seed).permutation(table.num_rows)))


def _write(table, path):
    if path.suffix == ".parquet":
        pq.write_table(table, path, row_group_size=500)
    else:
        pa_csv.write_csv(table, path)
    return path


def test_the_cohort_has_what_the_rules_need(table):
    methods = set(table["method"].to_pylist())
    assert {"synthesis", "impostor", "real"} <= methods and table.num_rows > 5 * BATCH
    # blends named as their reference: SIC credits the reference (issue 9), over batches
    method, predicted, reference = (np.asarray(table[c].to_pylist(), object)
                                    for c in ("method", "predicted", "reference"))
    assert ((method == "synthesis") & (reference != "") & (predicted == reference)).sum() >= 10


@pytest.mark.parametrize("suffix,shuffle", [(".parquet", False), (".parquet", True), (".csv", True)])
def test_streamed_metrics_equal_the_whole_file_metrics(table, tmp_path, suffix, shuffle):
    path = _write(_shuffled(table) if shuffle else table, tmp_path / f"results{suffix}")
    obs, vocab = read_results_file(path)
    rows, svocab, n, warnings = streaming.stream_metrics(path, beta=90.0, gamma=80.0, batch_rows=BATCH)
    assert n == obs.n and svocab.datasets == vocab.datasets and svocab.identities == vocab.identities
    assert rows == metrics_table(obs, vocab, beta=90.0, gamma=80.0)
    assert warnings == name_mismatches_coded(obs, vocab)


def test_streamed_metrics_map_names_as_the_whole_file_reader(table, tmp_path):
    # Vendors spell targets differently (case, underscores): canonical names by one mapping.
    cols = table.to_pydict()
    cols["predicted"] = [p.upper().replace(" ", "_") if p and i % 3 == 0 else p
                         for i, p in enumerate(cols["predicted"])]
    path = _write(_shuffled(_arrow_table(cols), 1), tmp_path / "names.parquet")

    def identities(c):
        return canonical_columns(c, None)

    obs, vocab = read_results_file(path, identities=identities)
    rows, svocab, _, warnings = streaming.stream_metrics(path, identities=identities, beta=90.0,
                                                         gamma=80.0, batch_rows=BATCH)
    assert svocab.identities == vocab.identities
    assert rows == metrics_table(obs, vocab, beta=90.0, gamma=80.0)
    assert warnings == name_mismatches_coded(obs, vocab)


def test_name_mismatch_warnings_are_the_whole_file_ones(table, tmp_path):
    cols = table.to_pydict()
    cols["predicted"] = [("Nobody " + p) if p and v == "azure" else p
                         for p, v in zip(cols["predicted"], cols["vendor"], strict=True)]
    path = _write(_shuffled(_arrow_table(cols), 2), tmp_path / "mismatch.parquet")
    obs, vocab = read_results_file(path)
    _, _, _, warnings = streaming.stream_metrics(path, beta=90.0, gamma=80.0, batch_rows=BATCH)
    assert warnings and warnings == name_mismatches_coded(obs, vocab)


@pytest.mark.parametrize("protocol", ["all", "dev-eval"])
def test_streamed_sweeps_equal_the_whole_file_sweeps(table, tmp_path, protocol):
    from dicore.stages import protocol_split

    path = _write(_shuffled(table, 3), tmp_path / "sweep.parquet")
    obs, vocab = read_results_file(path)
    betas, gammas = UniformGrid.from_range(0.0, 100.0, 5.0), np.array([0.0, 50.0, 80.0, 95.5])
    dev, record = protocol_split(obs, vocab, protocol, 0.5, 3)
    whole = sweep.compute(obs, vocab, betas=betas, gammas=gammas, dev_rows=dev, n_resamples=50)
    parts, _, n, srecord = streaming.stream_sweeps(
        path, betas=betas, gammas=gammas, genuine_target=90.0, protocol=protocol, dev_fraction=0.5,
        split_seed=3, n_resamples=50, batch_rows=BATCH, check_taus=lambda v: sweep.check_taus(v))
    assert n == obs.n and srecord == record
    for key in ("sweeps", "joint", "tradeoffs"):
        assert [dataclasses.asdict(x) for x in parts[key]] == [dataclasses.asdict(x) for x in whole[key]], key
    assert any(c.operating_points[0].tau is not None for c in parts["tradeoffs"])


# ---- hostile files: the whole-file reader's error, from the streaming path ----------


def _same_error(path, *needles):
    with pytest.raises(UserError) as whole:
        read_results_file(path)
    with pytest.raises(UserError) as streamed:
        streaming.stream_metrics(path, beta=90.0, gamma=80.0, batch_rows=BATCH)
    assert str(streamed.value) == str(whole.value)
    for needle in needles:
        assert needle in str(streamed.value)
    return str(streamed.value)


def _edit(table, column, edits):
    values = table[column].to_pylist()
    for i, v in edits.items():
        values[i] = v
    field = table.schema.field(column)
    return table.set_column(table.schema.get_field_index(column), field,
                            pa.array(values, field.type))


def _rows(table, fake: bool, method=None):
    f, m = table["is_fake"].to_pylist(), table["method"].to_pylist()
    return [i for i in range(table.num_rows) if f[i] == fake and (method is None or m[i] == method)]


def test_an_invalid_value_in_a_late_batch_names_the_files_row(table, tmp_path):
    conf = table["confidence"].to_pylist()
    bad = max(i for i in _rows(table, True) if conf[i] is not None)
    path = _write(_edit(table, "confidence", {bad: 250.0}), tmp_path / "bad.parquet")
    message = _same_error(path, f"row {bad + 1}, confidence: 250")
    assert "bad.parquet: 1 invalid" in message


def test_problems_in_many_batches_are_listed_and_counted_as_a_whole(table, tmp_path):
    fakes, reals = _rows(table, True), _rows(table, False)
    edits = {i: "acme" for i in fakes[5::40] + reals[3::30]}
    path = _write(_edit(table, "vendor", edits), tmp_path / "vendors.csv")
    # every bad vendor counted, and the fakes paired with a real of a bad vendor too
    message = _same_error(path, "unknown vendor 'acme'", "... and")
    assert int(message.split(": ")[1].split()[0]) > len(edits)


def test_a_duplicate_across_batches_is_named_with_its_first_row(table, tmp_path):
    fakes = _rows(table, True)
    first, late = fakes[1], fakes[-2]
    items = table["item_id"].to_pylist()
    t = _edit(table, "item_id", {late: items[first]})
    t = _edit(t, "vendor", {late: table["vendor"][first].as_py()})
    t = _edit(t, "dataset", {late: table["dataset"][first].as_py()})
    path = _write(t, tmp_path / "dup.parquet")
    _same_error(path, f"row {late + 1}, item_id: duplicate", f"also on row {first + 1}")


def test_a_fake_and_a_real_of_one_key_is_a_duplicate(table, tmp_path):
    real, fake = _rows(table, False, "real")[0], _rows(table, True)[-1]
    t = table
    for c in ("vendor", "dataset", "item_id"):
        t = _edit(t, c, {fake: table[c][real].as_py()})
    _same_error(_write(t, tmp_path / "dup2.parquet"), "duplicate", f"also on row {real + 1}")


def test_pairing_errors_name_the_real_row(table, tmp_path):
    fakes = _rows(table, True, "replacement")
    impostor = _rows(table, False, "impostor")[0]
    reals = _rows(table, False, "real")
    targets = table["target"].to_pylist()
    items = table["item_id"].to_pylist()
    vendor, dataset = table["vendor"].to_pylist(), table["dataset"].to_pylist()
    other = next(r for r in reals if targets[r] != targets[fakes[-1]]
                 and vendor[r] == vendor[fakes[-1]] and dataset[r] == dataset[fakes[-1]])
    imp_fake = next(f for f in fakes[1:-1] if vendor[f] == vendor[impostor])
    t = _edit(table, "real_item_id", {fakes[0]: "nowhere", fakes[-1]: items[other],
                                      imp_fake: items[impostor]})
    t = _edit(t, "dataset", {imp_fake: dataset[impostor]})
    message = _same_error(_write(_shuffled(t, 4), tmp_path / "pairs.parquet"), "3 invalid",
                          "'nowhere' has no row", "is an impostor", "not of the fake's target")
    assert "row" in message


def test_an_empty_file_and_a_missing_column_are_clear_errors(table, tmp_path):
    empty = tmp_path / "empty.parquet"
    pq.write_table(table.slice(0, 0), empty)
    with pytest.raises(UserError, match="no result rows"):
        streaming.stream_metrics(empty, beta=90.0, gamma=80.0)
    partial = tmp_path / "partial.csv"
    pa_csv.write_csv(table.drop_columns(["similarity"]), partial)
    with pytest.raises(UserError, match="missing column.*similarity"):
        streaming.stream_metrics(partial, beta=90.0, gamma=80.0)


def test_the_key_hash_matches_equal_keys_only():
    from dicore.formats.results import key_hash

    text = pa.array(["a", "", "ab", "ba", "a", "é", "a\x00", "x" * 300], pa.string())
    vendor = np.array([0, 0, 0, 0, 1, 0, 0, 0])
    h = key_hash(vendor, np.zeros(8), text)
    assert len(set(h.tolist())) == 8  # every key differs: vendor, order, length, bytes
    again = key_hash(vendor[[4, 0]], np.zeros(2), pa.array(["a", "a"]).slice(0, 2))
    assert again.tolist() == [h[4], h[0]]


# ---- the bounded-memory helpers ---------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.booleans()), max_size=60))
def test_duplicate_candidates_are_the_rows_whose_key_hash_another_keyed_row_shares(rows):
    hashes = np.array([np.uint64(2**63 + h) for h, _ in rows], np.uint64)
    keyed = np.array([k for _, k in rows], bool)
    want = [i for i, (h, k) in enumerate(rows)
            if k and sum(1 for g, kk in rows if kk and g == h) > 1]
    assert streaming._candidates(hashes, keyed).tolist() == want


def test_duplicate_candidates_search_every_chunk():
    n = (1 << 20) + 10  # past one search chunk
    hashes = np.arange(n, dtype=np.uint64)
    hashes[[3, n - 1]] = 7
    keyed = np.ones(n, bool)
    assert streaming._candidates(hashes, keyed).tolist() == [3, 7, n - 1]


def test_sweep_totals_add_in_place_as_int32():
    parts = [{"a": np.array([[1, 2], [3, 4]], np.int32), "b": (np.array([5], np.int32),)} for _ in range(3)]
    total = streaming._add(None, parts[0], n_rows=10)
    assert total["a"].dtype == np.int32 and total["a"] is not parts[0]["a"]
    for p in parts[1:]:
        assert streaming._add(total, p, n_rows=10) is total
    assert total["a"].tolist() == [[3, 6], [9, 12]] and total["b"][0].tolist() == [15]
    assert parts[0]["a"].tolist() == [[1, 2], [3, 4]]  # the first part is copied, not reused
    assert streaming._add(None, parts[0], n_rows=2**31)["a"].dtype == np.int64


def test_release_memory_runs():
    streaming.release_memory()
    streaming.release_memory()


def test_a_file_that_changes_between_passes_is_a_clear_error(parquet, monkeypatch):
    counted = streaming.Stream._counting_reals

    def one_real_less(self, batches):
        yield from counted(self, batches)
        self._n_real -= 1

    monkeypatch.setattr(streaming.Stream, "_counting_reals", one_real_less)
    with pytest.raises(UserError, match="changed while it was read"):
        streaming.stream_metrics(parquet, beta=90.0, gamma=80.0, batch_rows=BATCH)
