"""Bounded-memory `dicore metrics` for large Parquet results files: row groups streamed.

The whole-file reader (`dicore.formats.results.read_results_file`) holds every row; at
10^7 rows that is several GB. Here the file is read twice in batches of `BATCH_ROWS`
(`pyarrow.parquet.ParquetFile.iter_batches`):

1. the real rows (the small side: every fake pairs with one; 7% of the default study)
   are kept, as Arrow columns;
2. the fakes, batch by batch: each batch with all the reals goes through the ordinary
   reader (`read_columns`, every check of docs/metrics.md, row numbers of the file), and
   its per-(group, identity) counts (`dicore.core.intervals.identity_counts`) are added to
   running totals, keyed by dataset and identity *name* (each batch has its own ids).

Counts of fakes add; SIC is rebuilt from the summed per-identity counts; FNMR/FMR count
the reals (and impostors), computed once from the reals. So the numbers equal the
whole-file path's (tests/test_streaming.py). Memory: the reals + one batch through the
reader + (5, groups, identities) int64 totals; see docs/metrics.md ("Memory").

Not done here (the whole-file path does them): `--ci bootstrap` (it needs the rows),
duplicates of a (vendor, dataset, item) whose two rows are fakes in different batches,
and the count of all problems (an invalid batch stops the read, listing its first 20).
"""

from __future__ import annotations

import re
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from dicore.core import impostors, intervals
from dicore.core.groups import GroupSizes
from dicore.core.metrics import Counts
from dicore.core.observations import Observations, Vocab
from dicore.core.vocab import VENDORS
from dicore.errors import UserError

STREAM_ROWS = 2_000_000
"""Parquet files with more rows than this are streamed by `dicore metrics`..."""
REAL_SHARE = 0.25
"""... when at most this share of their rows are real (the side every batch carries)."""
BATCH_ROWS = 250_000
"""Rows read per batch (fakes of a batch go through the reader with all the reals)."""

_identity_counts = jax.jit(intervals.identity_counts)
_genuine_impostor = jax.jit(impostors.genuine_impostor_counts)
_FALSE = frozenset({"false", "0", "no", "f", "n"})


def should_stream(path: str | Path) -> bool:
    """True for a readable Parquet file of more than `STREAM_ROWS` rows of which at most
    `REAL_SHARE` are real (reading its is_fake column only)."""
    path = Path(path)
    if path.suffix.lower() != ".parquet" or not path.is_file():
        return False
    try:
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
        n = pf.metadata.num_rows
        if n <= STREAM_ROWS:
            return False
        return int(_real_mask(pf.read(columns=["is_fake"])).sum()) <= REAL_SHARE * n
    except Exception:  # noqa: BLE001 - the ordinary reader reports an unreadable file
        return False


def _real_mask(batch) -> np.ndarray:
    """Rows that are real images (is_fake false); anything else goes with the fakes, where
    the reader reports what is wrong with it."""
    import pyarrow as pa
    import pyarrow.compute as pc

    col = batch.column("is_fake")
    if pa.types.is_boolean(col.type):
        return ~np.asarray(col.fill_null(True).to_numpy(zero_copy_only=False), bool)
    text = pc.utf8_lower(pc.utf8_trim_whitespace(pc.cast(col, pa.string()).fill_null("")))
    return np.asarray(pc.is_in(text, value_set=pa.array(sorted(_FALSE))).to_numpy(zero_copy_only=False), bool)


def _read(columns: dict, rows: np.ndarray, source: str, identities):
    """`read_columns` on a batch, its problems named by the file's row numbers."""
    from dicore.formats.results import read_columns

    try:
        return read_columns(columns, source=source, identities=identities)
    except UserError as exc:
        text = re.sub(r"\brow (\d+)\b", lambda m: f"row {int(rows[int(m.group(1)) - 1]) + 1}", str(exc))
        raise UserError(text, exc.hint) from None


def _padded(obs: Observations, n_rows: int) -> Observations:
    """`obs` with copies of its first row (a real row) appended up to `n_rows`: one shape,
    one compile; a real row adds nothing to the counts of fakes."""
    cols = {f: np.asarray(getattr(obs, f)) for f in obs.__dataclass_fields__}
    pad = n_rows - obs.n
    if pad > 0:
        cols = {f: np.concatenate([v, np.repeat(v[:1], pad)]) for f, v in cols.items()}
        cols["is_fake"][obs.n:] = False
        cols["paired_row"][obs.n:] = -1
        cols["ref_paired_row"][obs.n:] = -1
    return Observations(**cols)


def stream_metrics(path: str | Path, *, identities=None, beta: float, gamma: float,
                   level: float = 0.95) -> tuple[list[dict], Vocab, int, list[str]]:
    """(metrics.json rows, a Vocab of datasets / identities / backends, rows read, name
    mismatch warnings judged on the real images) of a Parquet results file, in bounded
    memory (module docstring). Wilson intervals."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from dicore.formats.results import RESULT_COLUMNS
    from dicore.tables import _wilson, metrics_rows, percent

    path = Path(path)
    source = str(path)
    pf = pq.ParquetFile(path)
    absent = [c for c in RESULT_COLUMNS if c not in pf.schema_arrow.names]
    if absent:
        raise UserError(f"{path}: missing column(s) {', '.join(absent)}",
                        f"the results file needs the columns {', '.join(RESULT_COLUMNS)}")
    n_rows = pf.metadata.num_rows

    def batches():
        offset = 0
        for batch in pf.iter_batches(batch_size=BATCH_ROWS, columns=list(RESULT_COLUMNS)):
            yield batch, np.arange(offset, offset + batch.num_rows, dtype=np.int64)
            offset += batch.num_rows

    # Pass 1: the reals, and the datasets in order of first appearance in the file.
    real_parts, real_rows = [], []
    datasets: dict[str, int] = {}
    for batch, rows in batches():
        for d in pc.unique(pc.utf8_trim_whitespace(pc.cast(batch.column("dataset"), pa.string()))).to_pylist():
            if d:
                datasets.setdefault(d, len(datasets))
        real = _real_mask(batch)
        real_parts.append(batch.filter(pa.array(real)))
        real_rows.append(rows[real])
    reals = pa.Table.from_batches(real_parts, schema=real_parts[0].schema) if real_parts else None
    real_rows_all = np.concatenate(real_rows) if real_rows else np.zeros(0, np.int64)
    del real_parts
    if reals is None or reals.num_rows == 0:
        raise UserError(f"{path} has no real rows", "every fake needs its paired real image")
    n_v = len(VENDORS)
    real_obs, real_vocab = _read({c: reals[c] for c in RESULT_COLUMNS}, real_rows_all, source, identities)

    # FNMR / FMR count the reals and impostors: once, from the reals.
    gsize = lambda n_d: n_d * n_v  # noqa: E731
    g_map = lambda vocab: np.array(  # noqa: E731
        [datasets[d] * n_v + v for d in vocab.datasets for v in range(n_v)], np.int64)
    gi = _genuine_impostor(real_obs, sizes=GroupSizes.of(real_vocab))
    G = gsize(len(datasets))
    gi_num, gi_den = np.zeros((2, G), np.int64), np.zeros((2, G), np.int64)
    gm = g_map(real_vocab)
    gi_num[:, gm] += np.asarray(gi.numerator, np.int64)
    gi_den[:, gm] += np.asarray(gi.denominator, np.int64)
    groups = np.asarray(real_obs.dataset, np.int64) * n_v + np.asarray(real_obs.vendor, np.int64)
    impostor_row = np.asarray(real_obs.method) == impostors.IMPOSTOR
    present = np.zeros(G, bool)
    present[gm[np.unique(groups[~impostor_row])]] = True
    with_impostors = np.zeros(G, bool)
    with_impostors[gm[np.unique(groups[impostor_row])]] = True

    # Pass 2: the fakes, batch by batch with all the reals; per-identity counts add.
    names: dict[str, int] = {name: i for i, name in enumerate(real_vocab.identities)}
    num = np.zeros((5, G, max(len(names), 1)), np.int64)
    den = np.zeros_like(num)
    backends = dict.fromkeys(real_vocab.backends)
    n_reals = reals.num_rows
    for batch, rows in batches():
        fake = ~_real_mask(batch)
        if not fake.any():
            continue
        chunk = pa.concat_tables([reals, pa.Table.from_batches([batch.filter(pa.array(fake))])])
        obs, vocab = _read({c: chunk[c] for c in RESULT_COLUMNS},
                           np.concatenate([real_rows_all, rows[fake]]), source, identities)
        backends.update(dict.fromkeys(vocab.backends))
        n_ids = 1 << max(len(vocab.identities) - 1, 0).bit_length()  # few shapes, few compiles
        sizes = GroupSizes(len(vocab.datasets), n_v, max(n_ids, 1))
        c = _identity_counts(_padded(obs, n_reals + BATCH_ROWS), sizes=sizes,
                             beta=jnp.float64(beta), gamma=jnp.float64(gamma))
        ids = np.array([names.setdefault(x, len(names)) for x in vocab.identities], np.int64)
        if len(names) > num.shape[2]:
            grow = ((0, 0), (0, 0), (0, len(names) - num.shape[2]))
            num, den = np.pad(num, grow), np.pad(den, grow)
        gm = g_map(vocab)
        k = len(vocab.identities)
        cn = np.asarray(c.numerator[:5], np.int64)[:, :, :k]
        cd = np.asarray(c.denominator[:5], np.int64)[:, :, :k]
        num[:, gm[:, None], ids[None, :]] += cn  # groups and identities distinct: no repeats
        den[:, gm[:, None], ids[None, :]] += cd
        fake_groups = np.asarray(obs.dataset, np.int64) * n_v + np.asarray(obs.vendor, np.int64)
        present[gm[np.unique(fake_groups)]] = True

    has_fake = den[0] > 0
    numerator = np.concatenate([num.sum(axis=-1), np.sum((num[0] > 0) & has_fake, axis=-1)[None]])
    denominator = np.concatenate([den.sum(axis=-1), has_fake.sum(axis=-1)[None]])
    values = percent(numerator, denominator)
    low, high = (np.asarray(x, np.float64) for x in
                 _wilson(jnp.asarray(numerator), jnp.asarray(denominator), level=level))
    low, high = np.fmin(low, values), np.fmax(high, values)
    vocab = Vocab(datasets=tuple(datasets), identities=tuple(names), items=(),
                  backends=tuple(b for b in backends if b))
    rows_out = metrics_rows(vocab, values, low, high, denominator,
                            Counts(jnp.asarray(gi_num), jnp.asarray(gi_den)), present, with_impostors,
                            level=level)
    from dicore.names import name_mismatches_coded

    return rows_out, vocab, n_rows, name_mismatches_coded(real_obs, real_vocab)
