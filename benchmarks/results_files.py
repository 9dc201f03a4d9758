"""Large valid results.parquet files for the results_io benchmark (and anyone measuring
`dicore metrics` / `dicore sweep` at scale). Two shapes:

- `study`: the default `dicore study` results (the simulated cohort at the paper's
  scale: 52,362 rows, 7.2% real, replacement/reenactment/synthesis fakes, 228
  identities) replicated, copy k with its item ids and paired real ids suffixed `~k`
  so every item id is unique. Data shaped like a real study: what issue 11 measured
  (its table: this file at ~10^6 rows).
- `stress`: 3 vendors x 5 datasets, one real and one fake per pair (50% real), 1,000
  identities, names, confidences and similarities drawn at random. Seven times the real
  share of a study: the side every fake pairs with (held in memory while streaming) is
  as large as the fakes, the hard case for bounded memory.

Both are written with 1M-row row groups, without a Python loop over rows.

`python -m benchmarks.results_files {study,stress} N OUT.parquet` writes about N rows
(study: exactly N; stress: N rounded down to a multiple of 6) and prints the count.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROW_GROUP = 1 << 20
VENDORS = ("aws", "azure", "naver")


def make_stress_results(path: Path, n_rows: int, seed: int = 0) -> int:
    """The 50%-real synthetic file of about `n_rows` rows; returns the row count."""
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
    with pq.ParquetWriter(path, _stress_schema(RESULT_COLUMNS)) as writer:
        for vendor in VENDORS:
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
                writer.write_table(pa.table({c: cols[c] for c in RESULT_COLUMNS},
                                            schema=writer.schema), row_group_size=ROW_GROUP)
    return 6 * pairs


def _stress_schema(columns):
    import pyarrow as pa

    types = {"is_fake": pa.bool_(), "confidence": pa.float64(), "similarity": pa.float64()}
    return pa.schema([(c, types.get(c, pa.string())) for c in columns])


def study_base():
    """The default study's results (`simulators.cohort`, paper scale, seed 0) as an Arrow
    table in the results-file columns."""
    from dicore.formats.results import _arrow_table
    from simulators.cohort import simulate_cohort_results

    return _arrow_table(simulate_cohort_results(scale="paper", seed=0))


def make_study_results(path: Path, n_rows: int, base=None) -> int:
    """The default study replicated to exactly `n_rows` rows (see the module docstring);
    returns the row count. The last copy is cut after its first rows; the study lists each
    (dataset, vendor)'s reals before its fakes, so every kept fake keeps its real."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from dicore.formats.results import RESULT_COLUMNS

    base = study_base() if base is None else base
    item, real = RESULT_COLUMNS.index("item_id"), RESULT_COLUMNS.index("real_item_id")
    written, copy = 0, 0
    with pq.ParquetWriter(path, base.schema) as writer:
        while written < n_rows:
            block, size = [], 0
            while size < ROW_GROUP and written + size < n_rows:
                suffix = f"~{copy}"
                copy += 1
                t = base.set_column(item, "item_id", pc.binary_join_element_wise(base["item_id"], suffix, ""))
                block.append(t.set_column(real, "real_item_id",
                                          pc.binary_join_element_wise(base["real_item_id"], suffix, "")))
                size += base.num_rows
            table = pa.concat_tables(block)
            table = table.slice(0, min(table.num_rows, n_rows - written))
            writer.write_table(table, row_group_size=ROW_GROUP)
            written += table.num_rows
    return written


MAKERS = {"study": make_study_results, "stress": make_stress_results}


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] not in MAKERS or not argv[1].isdigit():
        print(f"usage: python -m benchmarks.results_files {{{','.join(MAKERS)}}} N OUT.parquet",
              file=sys.stderr)
        return 2
    print(MAKERS[argv[0]](Path(argv[2]), int(argv[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
