"""The sweep's trade-off kernels compile once for the per-dataset and the pooled calls
(issue 11: a cold `dicore sweep` spent ~2 s of XLA on a second bootstrap program)."""

from __future__ import annotations

import jax
import numpy as np

from dicore import tables
from dicore.formats.results import read_rows

FLOORS = {"aws": 55.0, "azure": 70.0, "naver": 0.01}
TAUS = {"aws": np.array([55.0, 70.0, 90.0])}
KERNELS = ("_bootstrap_points", "_min_attack_point", "_equal_error_point", "_tau_at_rate",
           "_cluster_wilson")


def _rows():
    """Two datasets, so pooling changes the group count; per identity a real named as
    itself and two fakes named as the target."""
    out = []
    for dataset, conf in (("D", "60"), ("E", "80")):
        for i in range(3):
            who = f"{dataset}{i}"
            out.append(dict(vendor="aws", backend="sim", dataset=dataset, method="real",
                            item_id=f"{who}-r", is_fake="false", real_item_id="", target=who,
                            reference="", predicted=who, confidence="99", similarity=""))
            for k in range(2):
                out.append(dict(vendor="aws", backend="sim", dataset=dataset,
                                method="reenactment", item_id=f"{who}-f{k}", is_fake="true",
                                real_item_id=f"{who}-r", target=who, reference="",
                                predicted=who, confidence=conf, similarity=""))
    return out


def test_pooled_and_per_dataset_curves_share_one_program_per_kernel():
    obs, vocab = read_rows(_rows())
    for name in KERNELS:
        getattr(tables, name).clear_cache()
    per_dataset = tables.tradeoff_curves(obs, vocab, floors=FLOORS, taus=TAUS, pooled=False,
                                         n_resamples=20)
    pooled = tables.tradeoff_curves(obs, vocab, floors=FLOORS, taus=TAUS, pooled=True, n_resamples=20)
    assert len(per_dataset) == 2 and len(pooled) == 1
    assert {name: getattr(tables, name)._cache_size() for name in KERNELS} == dict.fromkeys(
        KERNELS, 1)


def test_threefry_draws_are_keyed_by_element_index():
    # The pooled bootstrap repeats its row to the per-dataset shape; its draws stay the
    # same only if the random bits of row 0 do not depend on the array's shape.
    assert jax.config.jax_threefry_partitionable
