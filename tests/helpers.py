"""Helpers shared by the tests' random observation generators."""

from __future__ import annotations

import numpy as np

from dicore import METHODS

SYN = METHODS.index("synthesis")


def pair_rows(rng, *, vendor, dataset, target, reference, method, is_fake):
    """paired_row and ref_paired_row for random rows: each fake is paired with a real row of
    its vendor and dataset (its own target's real 80% of the time, as real data has it); a
    synthesis fake's reference real is the first real row of its reference identity."""
    n = len(vendor)
    paired = np.full(n, -1, np.int32)
    ref_paired = np.full(n, -1, np.int32)
    for i in np.flatnonzero(is_fake):
        same = np.flatnonzero(~is_fake & (vendor == vendor[i]) & (dataset == dataset[i]))
        if len(same):
            own = same[target[same] == target[i]]
            paired[i] = rng.choice(own if len(own) and rng.random() < 0.8 else same)
        if method[i] == SYN:
            refs = same[target[same] == reference[i]]
            ref_paired[i] = refs[0] if len(refs) else -1
    return paired, ref_paired
