"""The dev/eval protocol: split identities into a development and an evaluation set.

Operating points chosen on the data they are reported on are optimistic. The protocol
of Bob's `bob vuln` and of ISO/IEC 19795 evaluations: choose thresholds on a development
set and report them on a disjoint evaluation set. The unit is the target identity (all
of a person's real images, fakes and, for impostors, images go to one side), stratified
by dataset: within each dataset (in vocab order) the identities not yet assigned are
shuffled (seeded by `seed` and the dataset's index) and round(dev_fraction x n) of the
dataset's identities go to dev. An identity that appears in several datasets (CelebDF
and CelebFOM share people) keeps the side its first dataset gave it, so no person is on
both sides.

NumPy (the split is a concrete, seeded assignment made once, outside `jit`).
"""

from __future__ import annotations

import numpy as np


def split_identities(
    dataset, target, *, dev_fraction: float, seed: int
) -> np.ndarray:
    """(N,) bool: True for rows whose target identity is in the development set."""
    if not 0.0 < float(dev_fraction) < 1.0:
        raise ValueError(f"dev_fraction must lie in (0, 1), got {dev_fraction}")
    dataset = np.asarray(dataset, np.int64)
    target = np.asarray(target, np.int64)
    if dataset.shape != target.shape or dataset.ndim != 1:
        raise ValueError(f"dataset {dataset.shape} and target {target.shape} must be (N,)")
    side: dict[int, bool] = {}
    for d in np.unique(dataset):
        ids = np.unique(target[dataset == d])
        wanted = int(round(dev_fraction * len(ids)))
        have = sum(side.get(int(i), False) for i in ids)
        free = np.array([i for i in ids if int(i) not in side], np.int64)
        rng = np.random.default_rng([int(seed), int(d)])
        free = free[rng.permutation(len(free))]
        take = max(0, min(len(free), wanted - have))
        for k, i in enumerate(free):
            side[int(i)] = k < take
    lookup = np.zeros(int(target.max()) + 1 if target.size else 0, bool)
    for i, dev in side.items():
        lookup[i] = dev
    return lookup[target] if target.size else np.zeros(0, bool)
