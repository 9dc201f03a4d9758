"""The streaming path of `dicore metrics` (dicore.streaming) gives exactly the whole-file
path's metrics.json rows, and names the file's rows in its errors. Memory and time are
measured by benchmarks/bench_results_io.py, not here."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from dicore import streaming
from dicore.errors import UserError
from dicore.formats.results import _arrow_table, read_results_file
from dicore.tables import metrics_table
from simulators.cohort import simulate_cohort_results


@pytest.fixture(scope="module")
def parquet(tmp_path_factory):
    path = tmp_path_factory.mktemp("stream") / "results.parquet"
    pq.write_table(_arrow_table(simulate_cohort_results(scale="small", seed=5)), path, row_group_size=1000)
    return path


def test_streamed_metrics_equal_the_whole_file_metrics(parquet, monkeypatch):
    monkeypatch.setattr(streaming, "BATCH_ROWS", 1500)  # several batches of fakes
    monkeypatch.setattr(streaming, "STREAM_ROWS", 10)
    assert streaming.should_stream(parquet)
    obs, vocab = read_results_file(parquet)
    rows, svocab, n, _ = streaming.stream_metrics(parquet, beta=90.0, gamma=80.0)
    assert n == obs.n > 3 * 1500 and svocab.datasets == vocab.datasets
    assert rows == metrics_table(obs, vocab, beta=90.0, gamma=80.0)


def test_streamed_errors_name_the_files_row(parquet, tmp_path, monkeypatch):
    monkeypatch.setattr(streaming, "BATCH_ROWS", 1500)
    table = pq.read_table(parquet)
    conf = table["confidence"].to_pylist()
    bad = max(i for i, f in enumerate(table["is_fake"].to_pylist()) if f and conf[i] is not None)
    conf[bad] = 250.0
    path = tmp_path / "bad.parquet"
    pq.write_table(table.set_column(table.schema.get_field_index("confidence"), "confidence",
                                    __import__("pyarrow").array(conf)), path, row_group_size=1000)
    with pytest.raises(UserError, match=rf"bad.parquet: 1 invalid.*\n  row {bad + 1}, confidence: 250"):
        streaming.stream_metrics(path, beta=90.0, gamma=80.0)
