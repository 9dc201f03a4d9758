"""`dicore metrics` end to end on results.parquet files of 10^5, 10^6 and 10^7 rows, vs the
vectorised pandas reference (`benchmarks/pandas_reference.py`) in the same run (issue 11).

Each side is a fresh process; wall time and peak RSS (the child's own `ru_maxrss`) are
recorded, and the counts are compared (every (dataset, vendor, metric) numerator and n
of metrics.json against pandas'). Goals: at 10^6 at least 3x faster than pandas and at
most half its peak memory; at 10^7 within 1.5 GB and time growing no faster than
linearly. Quick mode: 10^5 only. The data: 3 vendors x 5 datasets, a real and a fake
per identity pair, names, confidences and similarities drawn at random (no synthesis).
Run: `python -m benchmarks results_io [--quick]`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

NAME = "results_io"
ROOT = Path(__file__).resolve().parents[1]
MEMORY_BOUND_MB = 1536


def make_results(path: Path, n_rows: int, seed: int = 0) -> int:
    """A valid results.parquet of about `n_rows` rows; returns the row count."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from dicore.formats.results import RESULT_COLUMNS

    rng = np.random.default_rng(seed)
    pairs = max(1, n_rows // 6)  # 3 vendors x (real + fake)
    k = np.arange(pairs)
    dataset = k % 5
    ident = (k // 5) % 200
    names = pc.binary_join_element_wise(
        pa.array(np.char.add("D", dataset.astype(str)).astype(object)), "_P",
        pa.array(ident).cast(pa.string()), "")
    real_ids = pc.binary_join_element_wise("r", pa.array(k).cast(pa.string()), "")
    fake_ids = pc.binary_join_element_wise("f", pa.array(k).cast(pa.string()), "")
    ds = pc.binary_join_element_wise("D", pa.array(dataset).cast(pa.string()), "")
    tables = []
    for vendor in ("aws", "azure", "naver"):
        for fake in (False, True):
            u = rng.random(pairs)
            named = u < 0.75
            other = u < 0.1
            predicted = pc.if_else(pa.array(named), names, "")
            predicted = pc.if_else(pa.array(other), "Someone Else", predicted)
            conf = np.where(named, np.round(rng.uniform(50, 100, pairs), 3), np.nan)
            sim = np.where(fake & ~named & (vendor != "naver"),
                           np.round(rng.uniform(0, 100, pairs), 2), np.nan)
            cols = {
                "vendor": pa.array([vendor] * pairs), "backend": pa.array(["sim"] * pairs),
                "dataset": ds, "method": pa.array(["replacement" if fake else "real"] * pairs),
                "item_id": fake_ids if fake else real_ids, "is_fake": pa.array(np.full(pairs, fake)),
                "real_item_id": real_ids if fake else pa.nulls(pairs, pa.string()),
                "target": names, "reference": pa.nulls(pairs, pa.string()),
                "predicted": pc.if_else(pc.equal(predicted, ""), pa.scalar(None, pa.string()), predicted),
                "confidence": pa.array(conf, from_pandas=True),
                "similarity": pa.array(sim, from_pandas=True),
            }
            tables.append(pa.table({c: cols[c] for c in RESULT_COLUMNS}))
    table = pa.concat_tables(tables)
    pq.write_table(table, path, row_group_size=1 << 20)
    return table.num_rows


def make_study_results(path: Path, n_rows: int) -> int:
    """A results.parquet of `n_rows` rows: the default study's results (paper scale, 7% real
    rows, synthesis fakes included) repeated, item ids and paired real ids suffixed '~k'
    in copy k (vectorised), 1M-row row groups. Files above `dicore.streaming.STREAM_ROWS`
    rows like this one are streamed by `dicore metrics`."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from dicore.formats.results import RESULT_COLUMNS, _arrow_table
    from simulators.cohort import simulate_cohort_results

    base = _arrow_table(simulate_cohort_results(scale="paper", seed=0))
    item, real = RESULT_COLUMNS.index("item_id"), RESULT_COLUMNS.index("real_item_id")
    written, k = 0, 0
    with pq.ParquetWriter(path, base.schema) as writer:
        while written < n_rows:
            block = []
            while sum(b.num_rows for b in block) < 1_000_000 and written + sum(b.num_rows for b in block) < n_rows:
                suffix = f"~{k}"
                k += 1
                t = base.set_column(item, "item_id", pc.binary_join_element_wise(base["item_id"], suffix, ""))
                block.append(t.set_column(real, "real_item_id",
                                          pc.binary_join_element_wise(base["real_item_id"], suffix, "")))
            table = pa.concat_tables(block)
            table = table.slice(0, min(table.num_rows, n_rows - written))  # the tail: fakes only
            writer.write_table(table, row_group_size=1_000_000)
            written += table.num_rows
    return written


def _timed(args: list[str]) -> tuple[float, float, str]:
    """(wall s, peak RSS MB, stdout) of one fresh process (its own rusage, via a wrapper)."""
    wrapper = (
        "import os, subprocess, sys, json, time\n"
        "t0 = time.perf_counter()\n"
        "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)\n"
        "pid, status, ru = os.wait4(p.pid, 0)\n"
        "out, err = p.stdout.read(), p.stderr.read()\n"
        "print(json.dumps({'wall': time.perf_counter() - t0, 'rss_mb': ru.ru_maxrss / 1024, "
        "'status': status, 'out': out, 'err': err[-3000:]}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "120"}
    proc = subprocess.run([sys.executable, "-c", wrapper, sys.executable, *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=1800)
    r = json.loads(proc.stdout)
    if r["status"] != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({r['status']}):\n{r['err']}")
    return r["wall"], r["rss_mb"], r["out"]


def _agree(metrics_json: Path, pandas_out: str) -> bool:
    ref = json.loads(pandas_out)
    rows = json.loads(metrics_json.read_text())["rows"]
    ours = {}
    for r in rows:
        if r["n"]:
            num = round((r["value"] or 0) * r["n"] / 100)
            ours[f"{r['dataset']}|{r['vendor']}|{r['metric']}"] = [num, r["n"]]
    theirs = {k: v for k, v in ref.items() if v[1]}
    # metrics.json also has rows pandas does not compute (IAPMR, FNMR, FMR): compare the six.
    return set(theirs) <= set(ours) and {k: ours[k] for k in theirs} == theirs


def run(quick: bool, gpu: bool = False) -> dict:
    """`gpu`: the full `dicore metrics` at 10^7 rows with JAX on the accelerator (the
    reading stays on the CPU), against pandas on the CPU."""
    sizes = [10**5] if quick else [10**5, 10**6, 10**7]
    if gpu:
        import jax

        if jax.default_backend() == "cpu":
            return {"figures": {"gpu_skipped": "jax backend is cpu; pip install -e '.[gpu]'"}}
        sizes = [10**7]
    figures: dict = {"sizes": sizes, "load_average_before": list(os.getloadavg())}
    baselines, ratios, targets = {}, {}, {}
    from benchmarks.harness import target

    with tempfile.TemporaryDirectory(prefix="dicore-bench-results-io-") as tmp_s:
        tmp = Path(tmp_s)
        per_row = {}
        for n in sizes:
            path = tmp / f"results_{n}.parquet"
            rows = make_results(path, n)
            tag = f"{n:.0e}".replace("+0", "")
            out = tmp / f"metrics_{n}.json"
            ours_s, ours_mb, _ = _timed(["-m", "dicore", "metrics", "--results", str(path),
                                         "--out", str(out)])
            pd_s, pd_mb, pd_out = _timed(["-m", "benchmarks.pandas_reference", str(path)])
            agree = _agree(out, pd_out)
            per_row[n] = ours_s / rows
            figures.update({f"rows_{tag}": rows, f"dicore_metrics_{tag}_s": ours_s,
                            f"dicore_metrics_{tag}_peak_rss_mb": ours_mb,
                            f"counts_equal_to_pandas_{tag}": agree})
            baselines.update({f"pandas_{tag}_s": pd_s, f"pandas_{tag}_peak_rss_mb": pd_mb})
            ratios.update({f"speed_vs_pandas_{tag}": pd_s / ours_s,
                           f"memory_vs_pandas_{tag}": ours_mb / pd_mb})
            targets[f"counts_equal_to_pandas_{tag}"] = target(float(agree), 1.0)
            if n == 10**6:
                targets["1e6_at_least_3x_faster_than_pandas"] = target(pd_s / ours_s, 3.0)
                targets["1e6_at_most_half_pandas_memory"] = target(ours_mb / pd_mb, 0.5, better="lower")
            if n == 10**7:
                targets["1e7_peak_rss_within_1.5GB (MB)"] = target(ours_mb, MEMORY_BOUND_MB, better="lower")
                # Time per row at 10^7 over time per row at 10^6: <= 1 is linear or better.
                ratios["time_per_row_1e7_over_1e6"] = per_row[10**7] / per_row[10**6]
                targets["1e7_time_at_most_linear (per-row ratio)"] = target(
                    per_row[10**7] / per_row[10**6], 1.1, better="lower")
        if not quick and not gpu:
            _study_points(tmp, figures, baselines, ratios, targets, target)
    figures["load_average_after"] = list(os.getloadavg())
    return {"figures": figures, "baselines": baselines, "ratios": ratios, "targets": targets}


def _study_points(tmp: Path, figures, baselines, ratios, targets, target) -> None:
    """The default study replicated to 10^6 (read whole) and 10^7 rows (streamed,
    dicore.streaming): the bounded-memory goal on data shaped like a study."""
    per_row = {}
    for n in (10**6, 10**7):
        path = tmp / f"study_{n}.parquet"
        rows = make_study_results(path, n)
        tag = f"{n:.0e}".replace("+0", "")
        out = tmp / f"study_metrics_{n}.json"
        ours_s, ours_mb, _ = _timed(["-m", "dicore", "metrics", "--results", str(path), "--out", str(out)])
        per_row[n] = ours_s / rows
        figures.update({f"study_rows_{tag}": rows, f"study_dicore_metrics_{tag}_s": ours_s,
                        f"study_dicore_metrics_{tag}_peak_rss_mb": ours_mb,
                        f"study_load_average_1min_{tag}": os.getloadavg()[0]})
        if n == 10**6:
            pd_s, pd_mb, pd_out = _timed(["-m", "benchmarks.pandas_reference", str(path)])
            agree = _agree(out, pd_out)
            baselines.update({f"study_pandas_{tag}_s": pd_s, f"study_pandas_{tag}_peak_rss_mb": pd_mb})
            ratios.update({f"study_speed_vs_pandas_{tag}": pd_s / ours_s,
                           f"study_memory_vs_pandas_{tag}": ours_mb / pd_mb})
            targets[f"study_counts_equal_to_pandas_{tag}"] = target(float(agree), 1.0)
        else:
            targets["study_1e7_streamed_peak_rss_within_1.5GB (MB)"] = target(
                ours_mb, MEMORY_BOUND_MB, better="lower")
            ratios["study_time_per_row_1e7_over_1e6"] = per_row[n] / per_row[10**6]
            targets["study_1e7_time_at_most_linear (per-row ratio)"] = target(
                per_row[n] / per_row[10**6], 1.1, better="lower")
        path.unlink()


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
