"""Bounded-memory reading of a results file for `dicore metrics` and `dicore sweep`: the
file is read part by part, its counts added (docs/metrics.md, "Memory model").

Over 400 lines because the three passes share their batch and row-number state here;
splitting them would pass that state across modules.

Every Parquet or CSV results file goes this way (CSV by `pyarrow.csv.open_csv`); only
`--ci bootstrap`, `--by video` and `--group-by` read the whole file. Three passes over
the file, each `BATCH_ROWS` rows at a time (`dicore.formats.results.iter_result_batches`):

0. the names (`StreamVocab`): datasets, identities (canonical, by --names), backends,
   the (dataset, vendor) groups and (dataset, target) pairs, in the order the whole-file
   reader gives them, so every part of the file gets the whole file's ids; and the
   number of real rows;
1. the real (and impostor) rows, parsed and validated once (`parse_reals`) into arrays
   of that size (`RealSide`: 57 bytes and the item id a real row), and a 64-bit hash
   of every row's (vendor, dataset, item) key for the duplicate check;
2. the fakes, batch by batch (`parse_fakes`: every check, paired with the reals read in
   pass 1): each batch with the reals it pairs with becomes one `Observations` of
   `pad_rows` rows (one shape, one compile), the reals in it moved out of every count.

The reals themselves are counted once (genuine and impostor counts), in chunks of the
same shape. Counts add, per (group, identity) for SIC and the bootstrap, per (group,
threshold, identity) for the curves, so the numbers equal the whole-file path's
(tests/test_streaming.py). Problems are gathered over every pass and raised at the end
as the whole-file reader raises them: the first 20 in row order, every one counted.

Memory (docs/metrics.md, "Memory model"): the reals (`RealSide`), one batch of text,
one padded `Observations`, the count totals (added in place); and in pass 1 only, 9
bytes a row for the duplicate check's hashes (17 while they are sorted).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from dicore.core.observations import Vocab

BATCH_ROWS = 200_000
"""Rows read per batch."""
PAD_ROWS = 1 << 18
"""Rows of every `Observations` the counts see (a batch's fakes + their reals, padded)."""

_FALSE = frozenset({"false", "0", "no", "f", "n"})


def _real_mask(batch) -> np.ndarray:
    """Rows that are real images (is_fake false); anything else goes with the fakes, where
    the reader reports what is wrong with it."""
    import pyarrow as pa
    import pyarrow.compute as pc

    col = batch.column("is_fake")
    if pa.types.is_boolean(col.type):
        return ~np.asarray(col.fill_null(True).to_numpy(zero_copy_only=False), bool)
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    text = pc.utf8_lower(pc.utf8_trim_whitespace(pc.cast(col, pa.string()).fill_null("")))
    return np.asarray(pc.is_in(text, value_set=pa.array(sorted(_FALSE))).to_numpy(zero_copy_only=False), bool)


def _arrays(batch, mask=None) -> dict:
    import pyarrow as pa

    if mask is not None:
        batch = batch.filter(pa.array(mask))
    return {c: batch.column(c) for c in batch.schema.names}


class Stream:
    """A results file read in parts (module docstring). `parts()` yields
    `(Observations, file rows)` in the file's ids (`vocab`), every row outside the counts
    (padding, the reals a batch of fakes pairs with) at dataset `len(vocab.datasets)`
    and file row -1; after the last part it raises the file's problems, if any."""

    def __init__(self, path: str | Path, *, identities=None, batch_rows: int | None = None):
        from dicore.errors import UserError
        from dicore.formats import results as rf

        self.path = rf.check_results_path(path)
        self.source = str(self.path)
        self.batch_rows = batch_rows or BATCH_ROWS
        self.problems = rf._Problems(self.source, defer=True)
        # Pass 0: the names, and how many rows are real.
        self._n_real = 0
        self.vocab = rf.stream_vocab(self._counting_reals(self._batches((*rf.VOCAB_COLUMNS, "is_fake"))),
                                     identities)
        if self.vocab.n_rows == 0:
            raise UserError(
                f"{self.path}: no result rows (the file has its columns but no data)",
                "run `dicore run` or `dicore study` first, or pass a results file with rows",
            )
        self.n_rows = self.vocab.n_rows
        self.pad_rows = min(PAD_ROWS, 1 << max(int(self.n_rows - 1).bit_length(), 10))
        # Pass 1: the reals, into arrays of their size, and every row's key hash.
        fields, real_rows = rf.RealSide.allocate(self._n_real, self.n_rows)
        items, filled = [], 0
        hashes = np.zeros(self.n_rows, np.uint64)
        keyed = np.zeros(self.n_rows, bool)
        for batch, offset in self._batches(rf.RESULT_COLUMNS):
            at = np.arange(offset, offset + batch.num_rows, dtype=np.int64)
            if offset + batch.num_rows > self.n_rows:
                raise self._changed()
            hashes[at], keyed[at] = rf.row_keys(batch, self.vocab)
            real = _real_mask(batch)
            k = int(real.sum())
            if k:
                if filled + k > len(real_rows):
                    raise self._changed()
                self.problems.begin(at[real])
                part = rf.parse_reals(_arrays(batch, real), self.vocab, self.problems)
                for c, column in fields.items():
                    column[filled:filled + k] = part[c]
                real_rows[filled:filled + k] = at[real]
                items.append(part["item"])
                filled += k
            del batch
            release_memory()
        if filled != len(real_rows):
            raise self._changed()
        self.reals = rf.RealSide.build(fields, real_rows, items, self.vocab, hashes)
        del fields, real_rows, items
        self._duplicates = _candidates(hashes, keyed)
        del hashes, keyed
        release_memory()

    def _counting_reals(self, batches):
        for batch, offset in batches:
            self._n_real += int(_real_mask(batch).sum())
            yield batch, offset

    def _changed(self):
        from dicore.errors import UserError

        return UserError(f"{self.path}: the file changed while it was read",
                         "run again once whatever writes it has finished")

    def _batches(self, columns):
        from dicore.formats.results import iter_result_batches

        return iter_result_batches(self.path, columns, self.batch_rows)

    # ---- the parts ------------------------------------------------------------

    def parts(self) -> Iterator[tuple]:
        from dicore.formats import results as rf

        n_d = len(self.vocab.datasets)
        r = self.reals.fields
        if not self.problems.count:
            for lo in range(0, self.reals.n, self.pad_rows):
                take = np.arange(lo, min(lo + self.pad_rows, self.reals.n))
                cols = {c: r[c][take] for c in r}
                cols.update(is_fake=np.zeros(len(take), bool), paired_row=np.full(len(take), -1),
                            ref_paired_row=np.full(len(take), -1))
                yield self._padded(cols, self.reals.rows[take])
        texts: dict[int, tuple] = {}
        for batch, offset in self._batches(rf.RESULT_COLUMNS):
            at = np.arange(offset, offset + batch.num_rows, dtype=np.int64)
            dup = self._duplicates[(self._duplicates >= offset) & (self._duplicates < offset + batch.num_rows)]
            if len(dup):
                texts.update(zip(dup.tolist(), rf.key_texts(batch, dup - offset), strict=True))
            fake = ~_real_mask(batch)
            if not fake.any():
                continue
            self.problems.begin(at[fake])
            part = rf.parse_fakes(_arrays(batch, fake), self.reals, self.vocab, self.problems)
            if self.problems.count:
                continue  # keep validating; nothing more is counted
            yield from self._fake_parts(part, at[fake], n_d)
        self._report_duplicates(texts)
        self.problems.raise_if_any(force=True)

    def _fake_parts(self, part: dict, rows: np.ndarray, n_d: int):
        """One padded `Observations` per slice of a batch's fakes: the reals they pair with
        first (out of the counts), then the fakes."""
        paired, ref = part["paired"], part["ref_paired"]
        needed = _distinct_rows(self.reals.n, paired, ref)[0]
        step = len(rows) if len(rows) + len(needed) <= self.pad_rows else max(
            self.pad_rows - len(needed), self.pad_rows // 3)
        r = self.reals.fields
        for lo in range(0, len(rows), step):
            s = slice(lo, lo + step)
            use, at = _distinct_rows(self.reals.n, paired[s], ref[s])
            p, q = at(paired[s]), at(ref[s])
            k = len(use)
            cols = {}
            for c in ("vendor", "method", "target", "reference", "predicted", "confidence", "similarity"):
                cols[c] = np.concatenate([r[c][use], part[c][s]])
            cols["dataset"] = np.concatenate([np.full(k, n_d), part["dataset"][s]])  # reals: out
            cols["is_fake"] = np.concatenate([np.zeros(k, bool), part["is_fake"][s]])
            cols["paired_row"] = np.concatenate([np.full(k, -1), p])
            cols["ref_paired_row"] = np.concatenate([np.full(k, -1), q])
            yield self._padded(cols, np.concatenate([np.full(k, -1), rows[s]]))

    def _padded(self, cols: dict, rows: np.ndarray):
        """`Observations` of `pad_rows` rows: `cols`, then rows outside every count."""
        from dicore.core.observations import Observations

        n, pad = len(rows), self.pad_rows - len(rows)
        fill = {"vendor": 0, "dataset": len(self.vocab.datasets), "method": 0, "target": 0,
                "reference": -1, "predicted": -1, "confidence": np.nan, "similarity": np.nan,
                "is_fake": False, "paired_row": -1, "ref_paired_row": -1}
        out = {}
        for c, v in fill.items():
            dtype = bool if c == "is_fake" else np.float64 if c in ("confidence", "similarity") else np.int32
            col = np.full(self.pad_rows, v, dtype)
            col[:n] = cols[c]
            out[c] = col
        out["item"] = np.zeros(self.pad_rows, np.int32)
        del pad
        return Observations(**out).check(), np.concatenate([rows, np.full(self.pad_rows - n, -1)])

    def _report_duplicates(self, texts: dict) -> None:
        """Rows whose (vendor, dataset, item) an earlier row has (their hashes matched in
        pass 1; confirmed here on the texts): the whole-file reader's message."""
        first: dict[tuple, int] = {}
        for row in sorted(texts):
            vendor, dataset, item, code = texts[row]
            key = (code, dataset, item)
            if key in first:
                self.problems.add_file_row(row, "item_id", f"duplicate ({vendor}, {dataset}, {item}) "
                                           f"also on row {first[key] + 1}", phase=1)
            else:
                first[key] = row


def _distinct_rows(n: int, *indices: np.ndarray):
    """(sorted distinct indices >= 0 into n rows, a map index -> position in them, -1 kept)."""
    mask = np.zeros(n + 1, bool)
    for x in indices:
        mask[x[x >= 0]] = True
    mask[n] = False
    use = np.flatnonzero(mask)
    pos = np.full(n + 1, -1, np.int64)
    pos[use] = np.arange(len(use))
    return use, lambda x: np.where(x >= 0, pos[x], -1)


def _candidates(hashes: np.ndarray, keyed: np.ndarray) -> np.ndarray:
    """File rows (sorted) whose key hash another row shares: possible duplicates. Sorts
    one copy of the hashes (8 bytes a row) to find the repeated values, then finds their
    rows chunk by chunk, so no row-sized index arrays are built."""
    h = hashes[keyed]
    h.sort()
    repeated = np.unique(h[1:][h[1:] == h[:-1]])
    del h
    if not len(repeated):
        return np.zeros(0, np.int64)
    out, step = [], 1 << 20
    for lo in range(0, len(hashes), step):
        part = hashes[lo:lo + step]
        at = np.minimum(np.searchsorted(repeated, part), len(repeated) - 1)
        out.append(lo + np.flatnonzero((repeated[at] == part) & keyed[lo:lo + step]))
    return np.concatenate(out)


_LIBC: list = []


def release_memory() -> None:
    """Give freed memory back to the system between parts: pyarrow's pool and glibc's
    per-thread arenas (NumPy's and XLA's buffers) keep it otherwise: the sweep's peak
    RSS rose by about 200 MB over its batches (docs/metrics.md, "Memory model")."""
    import ctypes
    import ctypes.util

    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    if not _LIBC:
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            _LIBC.append(getattr(libc, "malloc_trim", None))  # glibc only
        except OSError:
            _LIBC.append(None)
    if _LIBC[0] is not None:
        _LIBC[0](0)


# ---- what the commands compute ---------------------------------------------------


class _Mismatches:
    """`dicore.names.name_mismatches_coded` over the parts: per group, named rows, named
    rows naming a target of the data set, the first named row."""

    def __init__(self, vocab, pairs, n_v: int):
        from dicore.names import normalise

        keys = np.unique([normalise(x) for x in vocab.identities] or [""], return_inverse=True)[1]
        self.keys = keys.reshape(-1)
        self.k = int(self.keys.max()) + 1 if len(self.keys) else 1
        pairs = np.asarray(pairs, np.int64).reshape(-1, 2)
        self.target_keys = np.unique(pairs[:, 0] * self.k + self.keys[pairs[:, 1]]) if len(pairs) else np.zeros(0, np.int64)
        g = len(vocab.datasets) * n_v
        self.n_v = n_v
        self.named = np.zeros(g, np.int64)
        self.hits = np.zeros(g, np.int64)
        self.first = np.full(g, np.iinfo(np.int64).max)
        self.example = np.zeros((g, 2), np.int64)  # (predicted, target) of the first named row

    def add(self, obs, rows: np.ndarray) -> None:
        dataset, vendor = np.asarray(obs.dataset, np.int64), np.asarray(obs.vendor, np.int64)
        predicted, target = np.asarray(obs.predicted, np.int64), np.asarray(obs.target, np.int64)
        named = np.flatnonzero((predicted >= 0) & (rows >= 0))
        if not len(named):
            return
        d, v = dataset[named], vendor[named]
        group = d * self.n_v + v
        hit = np.isin(d * self.k + self.keys[predicted[named]], self.target_keys)
        size = len(self.named)
        self.named += np.bincount(group, minlength=size)[:size]
        self.hits += np.bincount(group, weights=hit, minlength=size)[:size].astype(np.int64)
        # counted rows come in file order within a part: a group's first is its first row
        order = np.argsort(group, kind="stable")
        starts = np.flatnonzero(np.r_[True, group[order][1:] != group[order][:-1]])
        for g, i in zip(group[order][starts].tolist(), named[order][starts].tolist(), strict=True):
            if rows[i] < self.first[g]:
                self.first[g] = rows[i]
                self.example[g] = (predicted[i], target[i])

    def warnings(self, vocab) -> list[str]:
        out = []
        for g in np.argsort(self.first, kind="stable"):
            if not self.named[g] or self.hits[g]:
                continue
            d, v = vocab.datasets[g // self.n_v], vocab.vendors[g % self.n_v]
            said, tgt = (vocab.identities[int(x)] for x in self.example[g])
            out.append(
                f"{d} x {v}: {int(self.named[g])} image(s) named, but never with a name among the data "
                f"set's targets (e.g. {v} said {said!r} for target {tgt!r}): almost certainly a name "
                "mismatch, so TA and SIC read 0. Fix: map identities with --names FILE "
                "(draft one with `dicore names suggest --store STORE --out names.csv`, review it)."
            )
        return out


def _vocab(stream):
    from dicore.core.observations import Vocab

    v = stream.vocab
    return Vocab(datasets=v.datasets, identities=v.identities, items=(), backends=v.backends)


def stream_metrics(path: str | Path, *, identities=None, beta: float, gamma: float,
                   level: float = 0.95, batch_rows: int | None = None
                   ) -> tuple[list[dict], Vocab, int, list[str]]:
    """(metrics.json rows, the file's Vocab (no items), rows read, name-mismatch warnings)
    of a results file in bounded memory (module docstring); Wilson intervals, the rows
    `dicore.tables.metrics_table` gives on the whole file."""
    import jax
    import jax.numpy as jnp

    from dicore.core import impostors, intervals
    from dicore.core.groups import GroupSizes
    from dicore.core.metrics import Counts
    from dicore.tables import metrics_from_counts

    stream = Stream(path, identities=identities, batch_rows=batch_rows)
    vocab = _vocab(stream)
    sizes = GroupSizes.of(vocab)
    n_v, G, n_i = sizes.n_vendors, sizes.n_groups, sizes.n_identities
    identity_tallies = jax.jit(intervals.identity_tallies)
    genuine_impostor = jax.jit(impostors.genuine_impostor_counts)
    num = np.zeros((6, G, n_i), np.int64)
    den = np.zeros_like(num)
    gi = np.zeros((2, 2, G), np.int64)
    present, with_impostors = np.zeros(G, bool), np.zeros(G, bool)
    mismatches = _Mismatches(vocab, stream.vocab.pairs, n_v)
    b, g = jnp.float64(beta), jnp.float64(gamma)
    for obs, rows in stream.parts():
        c = identity_tallies(obs, sizes=sizes, beta=b, gamma=g)
        num += np.asarray(c.numerator)
        den += np.asarray(c.denominator)
        x = genuine_impostor(obs, sizes=sizes)
        gi += np.stack([np.asarray(x.numerator), np.asarray(x.denominator)])
        counted = rows >= 0
        groups = np.asarray(obs.dataset, np.int64)[counted] * n_v + np.asarray(obs.vendor, np.int64)[counted]
        impostor = np.asarray(obs.method)[counted] == impostors.IMPOSTOR
        present |= np.bincount(groups[~impostor], minlength=G)[:G] > 0
        with_impostors |= np.bincount(groups[impostor], minlength=G)[:G] > 0
        mismatches.add(obs, rows)
        del c, x, obs
        release_memory()
    # The tallies add over parts; SIC per identity (and so per group) only from their sums.
    clusters = intervals.clusters_from_tallies(Counts(jnp.asarray(num), jnp.asarray(den)))
    counts = Counts(jnp.sum(clusters.numerator, -1, dtype=jnp.int32),
                    jnp.sum(clusters.denominator, -1, dtype=jnp.int32))
    gi_counts = Counts(jnp.asarray(gi[0], jnp.int32), jnp.asarray(gi[1], jnp.int32))
    rows_out = metrics_from_counts(vocab, counts, gi_counts, present, with_impostors, level=level)
    return rows_out, vocab, stream.n_rows, mismatches.warnings(vocab)


def stream_sweeps(path: str | Path, *, betas, gammas, taus=None, attack: str = "TA",
                  genuine_target: float, joint: bool = True, protocol: str = "all",
                  dev_fraction: float = 0.5, split_seed: int = 0, n_resamples: int = 1000,
                  batch_rows: int | None = None, check_taus=None) -> tuple[dict, Vocab, int, dict | None]:
    """(the sweeps.json parts {"sweeps", "joint", "tradeoffs"}, the file's Vocab, rows read,
    the protocol record or None) of a results file in bounded memory: the curves'
    counts (`dicore.tables.curve_counts`) summed over the parts, then the curves, points
    and intervals exactly as `dicore sweep` computes them on the whole file.
    `check_taus(vendors) -> {vendor: grid}` chooses (and checks) the replay grids."""
    from dicore import paper, tables
    from dicore.core.groups import GroupSizes

    stream = Stream(path, batch_rows=batch_rows)
    vocab = _vocab(stream)
    sizes = GroupSizes.of(vocab)
    present = np.asarray(stream.vocab.groups, np.int64)
    n_v = sizes.n_vendors
    vendors = [vocab.vendors[v] for v in sorted({int(g) % n_v for g in present})]
    grids = check_taus(vendors)
    floors = paper.reporting_floors()
    chosen = tables.tradeoff_taus(present, vocab, floors, grids)
    dev_of, record = _protocol(stream.vocab, vocab, protocol, dev_fraction, split_seed)
    n_c = max(stream.vocab.n_targets, 1)
    total: dict | None = None
    n_dev = 0
    for obs, rows in stream.parts():
        target = np.asarray(obs.target)
        dev = None if dev_of is None else dev_of[np.clip(target, 0, len(dev_of) - 1)]
        if dev is not None:
            n_dev += int((dev & (rows >= 0)).sum())
        c = tables.curve_counts(obs, sizes, cids=np.clip(target, 0, n_c - 1), n_clusters=n_c,
                                betas=betas, gammas=gammas,
                                taus=None if chosen is None else chosen[3], dev_rows=dev, joint=joint)
        total = _add(total, c, stream.n_rows)
        del c, obs
        release_memory()
    assert total is not None
    n_rows = stream.n_rows
    del stream  # the reals: not needed to finish the curves, the largest thing held
    release_memory()
    if record is not None:
        record["n_dev_rows"], record["n_eval_rows"] = n_dev, n_rows - n_dev
    kw = dict(floors=floors, taus=grids, attack=attack, genuine_keep=genuine_target,
              n_resamples=n_resamples)
    trade = [] if chosen is None else (
        tables.tradeoff_curves_from(total, present, vocab, pooled=False, **kw)
        + tables.tradeoff_curves_from(total, present, vocab, pooled=True, **kw))
    parts = {
        "sweeps": tables.sweep_curves_from(total, vocab, betas, gammas),
        "joint": tables.joint_grids_from(total, present, vocab, betas, gammas) if joint else None,
        "tradeoffs": trade,
    }
    return parts, vocab, n_rows, record


def _add(total, counts, n_rows: int):
    """`total` + `counts`, added in place (the totals are the sweep's largest arrays: no
    second copy). int32, the core's count dtype, holds any count of a file under 2^31
    rows (a count never exceeds the rows); int64 beyond."""
    import jax

    if total is None:
        dtype = np.int32 if n_rows < 2**31 else np.int64
        return jax.tree.map(lambda x: np.array(x, dtype), counts)
    jax.tree.map(lambda t, x: np.add(t, x, out=t), total, counts)
    return total


def _protocol(svocab, vocab, protocol: str, dev_fraction: float, split_seed: int):
    """(dev side of each target id or None, the protocol record) for --protocol, by
    `dicore.stages.protocol_split`'s rule on the file's (dataset, target) pairs."""
    from dicore.stages import protocol_record

    if protocol == "all":
        return None, None
    pairs = np.asarray(svocab.pairs, np.int64).reshape(-1, 2)
    dev, record = protocol_record(pairs[:, 0], pairs[:, 1], vocab, protocol, dev_fraction, split_seed)
    side = np.zeros(max(len(vocab.identities), 1), bool)
    side[pairs[:, 1]] = dev
    return side, record
