"""ISO/IEC 30107-3 gate errors (APCER, BPCER, APCER at BPCER) of `dicore.core.detection`
against known answers and scikit-learn, eagerly and under jit."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_curve

from dicore.core.detection import apcer_at_bpcer, error_curve

apcer_at_bpcer_jit = jax.jit(apcer_at_bpcer)


def test_known_answer():
    scores = np.array([0.1, 0.4, 0.6, 0.9, 0.2, 0.3, 0.7, 0.05])
    is_fake = np.array([1, 1, 1, 1, 0, 0, 0, 0], bool)
    for fn in (error_curve, jax.jit(error_curve)):
        c = fn(scores, is_fake)
        i = int(np.flatnonzero(np.asarray(c.thresholds) == 0.6)[0])
        # blocked when score >= 0.6: fakes passing 0.1, 0.4 -> 50%; reals blocked 0.7 -> 25%.
        assert float(c.apcer[i]) == 0.5 and float(c.bpcer[i]) == 0.25
    for fn in (apcer_at_bpcer, apcer_at_bpcer_jit):
        op = fn(scores, is_fake, 0.0)  # no real blocked: block from 0.9 up
        assert float(op.bpcer) == 0.0 and float(op.apcer) == 0.75 and float(op.threshold) == 0.9
        op = fn(scores, is_fake, 0.25)  # one real may be blocked: block from 0.4 up
        assert float(op.bpcer) == 0.25 and float(op.apcer) == 0.25


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.booleans()), min_size=2, max_size=40),
       st.sampled_from([0.0, 0.01, 0.05, 0.2, 0.5]))
def test_apcer_at_bpcer_matches_sklearn(pairs, bpcer_max):
    scores = np.array([s / 20 for s, _ in pairs])
    is_fake = np.array([f for _, f in pairs])
    if is_fake.all() or not is_fake.any():
        return
    fpr, tpr, _ = roc_curve(is_fake, scores, drop_intermediate=False)
    expected = 1 - tpr[fpr <= bpcer_max + 1e-9].max()
    for fn in (apcer_at_bpcer, apcer_at_bpcer_jit):
        op = fn(scores, is_fake, bpcer_max)
        assert float(op.apcer) == pytest.approx(expected, abs=1e-9)
        assert float(op.bpcer) <= bpcer_max + 1e-9
