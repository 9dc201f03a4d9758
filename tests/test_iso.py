"""ISO/IEC 30107-3 gate errors (APCER, BPCER, APCER at BPCER) against NumPy and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_curve

from dicore.core.iso import apcer_at_bpcer, apcer_at_bpcer_jit, apcer_bpcer, apcer_bpcer_jit


def test_known_answer():
    scores = np.array([0.1, 0.4, 0.6, 0.9, 0.2, 0.3, 0.7, 0.05])
    is_fake = np.array([1, 1, 1, 1, 0, 0, 0, 0], bool)
    for fn in (apcer_bpcer, apcer_bpcer_jit):
        e = fn(scores, is_fake, np.array([0.5]))
        # fakes passing (< 0.5): 0.1, 0.4 -> 50%; reals blocked (>= 0.5): 0.7 -> 25%.
        assert float(e.apcer[0]) == 50.0 and float(e.bpcer[0]) == 25.0
    for fn in (apcer_at_bpcer, apcer_at_bpcer_jit):
        e = fn(scores, is_fake, target=0.0)  # no real blocked: threshold just above 0.7
        assert float(e.bpcer) == 0.0 and float(e.apcer) == 75.0 and 0.7 < float(e.threshold) < 0.70001
        e = fn(scores, is_fake, target=25.0)  # one real may be blocked: just above 0.3
        assert float(e.bpcer) == 25.0 and float(e.apcer) == 25.0


@settings(max_examples=30)
@given(st.lists(st.tuples(st.integers(0, 20), st.booleans()), min_size=2, max_size=40),
       st.sampled_from([0.0, 1.0, 5.0, 20.0, 50.0]))
def test_apcer_at_bpcer_matches_sklearn(pairs, target):
    scores = np.array([s / 20 for s, _ in pairs], np.float32)
    is_fake = np.array([f for _, f in pairs])
    if is_fake.all() or not is_fake.any():
        return
    fpr, tpr, _ = roc_curve(is_fake, scores, drop_intermediate=False)
    expected = 100 * (1 - tpr[100 * fpr <= target + 1e-9].max())
    for fn in (apcer_at_bpcer, apcer_at_bpcer_jit):
        e = fn(scores, is_fake, target=target)
        assert float(e.apcer) == pytest.approx(expected, abs=1e-4)
        assert float(e.bpcer) <= target + 1e-4
        again = apcer_bpcer(scores, is_fake, np.array([float(e.threshold)]))
        assert float(again.apcer[0]) == pytest.approx(float(e.apcer), abs=1e-4)
