"""The columnar observations record: one row per API call (vendor x item).

`Observations` is a frozen dataclass registered as a JAX pytree; every leaf is a
1-D array of the same length N. Names (vendors, datasets, identities, items) are
mapped to integer ids *outside* `jit` and kept in a `Vocab` returned alongside:

    obs, vocab = dicore.formats.results.read_results_file("results.csv")

Columns (all shape (N,)):

- vendor: int32, index into `dicore.VENDORS` (aws, azure, naver).
- dataset: int32, index into `vocab.datasets`.
- method: int32, index into `dicore.METHODS` (replacement, reenactment, synthesis, real,
  impostor: a real image of a person the vendor does not know).
- item: int32, index into `vocab.items`.
- is_fake: bool.
- paired_row: int32, row of the fake's paired real image X_T for the same vendor
  and dataset; -1 for real rows.
- ref_paired_row: int32, row of the reference source's real image for synthesis
  fakes (the real row of the same vendor and dataset whose target is the
  reference identity, first by item id); -1 otherwise or when there is none.
- target: int32, identity id (index into `vocab.identities`).
- reference: int32, identity id or -1.
- predicted: int32, identity id or -1 when the API named nobody. A name that is
  not a dataset identity gets its own id (appended to `vocab.identities`).
- confidence: float64 percent 0..100, NaN when absent.
- similarity: float64 percent 0..100, NaN when absent (stored on the fake's row:
  similarity between the fake and its paired real).

Scores are float64, exactly the values of results.csv / results.parquet, so every
comparison the core makes (conf > beta, conf(fake) > conf(real), conf >= tau) is the
one float64 arithmetic makes on the file (docs/metrics.md, "Exactness").

Reading and validating the results file is `dicore.formats.results`' job (this
module reads no files); `Observations.from_arrays` builds a record from id arrays.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import numpy as np

from dicore.core.vocab import METHODS, VENDORS

FIELDS = (
    "vendor",
    "dataset",
    "method",
    "item",
    "is_fake",
    "paired_row",
    "ref_paired_row",
    "target",
    "reference",
    "predicted",
    "confidence",
    "similarity",
)
_INT_FIELDS = frozenset(FIELDS) - {"is_fake", "confidence", "similarity"}


@dataclasses.dataclass(frozen=True)
class Vocab:
    """Integer id -> name for each id column of an `Observations` (kept outside jit)."""

    datasets: tuple[str, ...]
    identities: tuple[str, ...]
    items: tuple[str, ...]
    backends: tuple[str, ...] = ()
    vendors: tuple[str, ...] = VENDORS
    methods: tuple[str, ...] = METHODS

    @property
    def simulated(self) -> bool:
        """True when any row came from the simulated backend (`sim`)."""
        return "sim" in self.backends


@dataclasses.dataclass(frozen=True, eq=False)
class Observations:
    """Columnar record of API calls; see the module docstring for each column.

    No checks run in `__init__` (JAX rebuilds pytrees with tracers or
    placeholders); call `check()` or use a `from_*` constructor.
    """

    vendor: Any
    dataset: Any
    method: Any
    item: Any
    is_fake: Any
    paired_row: Any
    ref_paired_row: Any
    target: Any
    reference: Any
    predicted: Any
    confidence: Any
    similarity: Any

    @property
    def n(self) -> int:
        return int(np.shape(self.vendor)[0])

    def check(self) -> Observations:
        """Raise ValueError naming the shapes unless every column is 1-D of one length, and
        unless the scores are float64 (a float32 score would tie values the file keeps apart)."""
        shapes = {f: tuple(np.shape(getattr(self, f))) for f in FIELDS}
        n = shapes["vendor"][0] if len(shapes["vendor"]) == 1 else None
        if n is None or any(s != (n,) for s in shapes.values()):
            raise ValueError(f"Observations columns must all have shape (N,), got {shapes}")
        for name in ("confidence", "similarity"):
            dtype = np.dtype(getattr(self, name).dtype)
            if dtype != np.float64:
                raise ValueError(
                    f"Observations.{name} is {dtype.name}; dicore compares scores in float64 "
                    "(JAX's 64-bit mode must be on: importing dicore.core turns it on, "
                    "jax.config.update('jax_enable_x64', False) turns it off)"
                )
        return self

    @classmethod
    def from_arrays(
        cls,
        *,
        vendor,
        dataset,
        target,
        is_fake,
        predicted,
        confidence,
        paired_row,
        method=None,
        item=None,
        ref_paired_row=None,
        reference=None,
        similarity=None,
    ) -> Observations:
        """Build from integer/float arrays (already ids), with dtypes fixed and shapes checked.

        Defaults: method = replacement for fakes and real for reals, item = row
        number, ref_paired_row = reference = -1, similarity = NaN.
        Raises ValueError (naming the shapes) on columns of unequal length.
        """
        is_fake = np.asarray(is_fake, bool)
        n = is_fake.shape[0] if is_fake.ndim == 1 else -1
        if method is None:
            method = np.where(is_fake, METHODS.index("replacement"), METHODS.index("real"))
        fill = {
            "item": np.arange(max(n, 0)),
            "ref_paired_row": np.full(max(n, 0), -1),
            "reference": np.full(max(n, 0), -1),
            "similarity": np.full(max(n, 0), np.nan),
        }
        given = dict(
            vendor=vendor,
            dataset=dataset,
            method=method,
            item=item,
            is_fake=is_fake,
            paired_row=paired_row,
            ref_paired_row=ref_paired_row,
            target=target,
            reference=reference,
            predicted=predicted,
            confidence=confidence,
            similarity=similarity,
        )
        cols = {}
        for name, value in given.items():
            value = fill[name] if value is None else value
            if name in _INT_FIELDS:
                cols[name] = np.asarray(value, np.int32)
            elif name == "is_fake":
                cols[name] = np.asarray(value, bool)
            else:
                cols[name] = np.asarray(value, np.float64)
        return cls(**cols).check()



jax.tree_util.register_dataclass(Observations, data_fields=list(FIELDS), meta_fields=[])


class Loaded(NamedTuple):
    """What the results readers (`dicore.formats.results`) return: the arrays and the names behind their ids."""

    obs: Observations
    vocab: Vocab

