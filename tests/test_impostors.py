"""Zero-effort impostors: the results file marks them (method `impostor`), the core counts
false names over tau and the genuine miss, against NumPy references, eagerly and under jit."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from dicore.core import impostors
from dicore.core.groups import GroupSizes
from dicore.errors import UserError
from dicore.formats.results import read_rows

ROWS = [  # vendor, dataset, method, item, is_fake, real, target, reference, predicted, conf
    ("aws", "D", "real", "r1", "false", "", "alice", "", "alice", "99"),
    ("aws", "D", "real", "r2", "false", "", "bob", "", "", ""),
    ("aws", "D", "replacement", "f1", "true", "r1", "alice", "bob", "alice", "95"),
    ("aws", "D", "impostor", "i1", "false", "", "person-1", "", "Some Celebrity", "60"),
    ("aws", "D", "impostor", "i2", "false", "", "person-2", "", "", ""),
    ("aws", "D", "impostor", "i3", "false", "", "person-3", "", "Other Celebrity", "80"),
    ("naver", "D", "impostor", "i1", "false", "", "person-1", "", "NAV star", "5"),
    ("naver", "D", "real", "r1", "false", "", "alice", "", "NAV star", "40"),
]
KEYS = ("vendor", "dataset", "method", "item_id", "is_fake", "real_item_id", "target",
        "reference", "predicted", "confidence")


def rows(data=ROWS):
    return [{**dict(zip(KEYS, r, strict=True)), "backend": "sim", "similarity": ""} for r in data]


def test_results_file_marks_impostors_with_method_impostor():
    obs, vocab = read_rows(rows())
    assert [vocab.methods[m] for m in np.asarray(obs.method)].count("impostor") == 4
    assert not np.asarray(obs.is_fake)[np.asarray(obs.method) == impostors.IMPOSTOR].any()


@pytest.mark.parametrize("bad, message", [
    (("aws", "D", "impostor", "i9", "true", "r1", "x", "", "", ""), "contradicts method 'impostor'"),
    (("aws", "D", "replacement", "f9", "true", "i1", "person-1", "", "", ""), "is an impostor"),
])
def test_results_file_refuses_impostor_misuse(bad, message):
    with pytest.raises(UserError, match=message):
        read_rows(rows([*ROWS, bad]))


def np_false_names(obs, taus, n_groups, n_vendors):
    g = np.asarray(obs.dataset) * n_vendors + np.asarray(obs.vendor)
    imp = np.asarray(obs.method) == impostors.IMPOSTOR
    named = imp & (np.asarray(obs.predicted) >= 0)
    conf = np.asarray(obs.confidence)
    num = np.array([[np.sum(named & (g == k) & (conf >= t)) for t in taus] for k in range(n_groups)])
    den = np.array([np.sum(imp & (g == k)) for k in range(n_groups)])
    return num, den


def test_false_name_counts_and_tau_at_rate_match_numpy_eager_and_jit():
    obs, vocab = read_rows(rows())
    sizes = GroupSizes.of(vocab)
    taus = np.array([0.0, 5.0, 50.0, 60.0, 70.0, 80.0, 90.0])
    num, den = np_false_names(obs, taus, sizes.n_groups, sizes.n_vendors)
    for fn in (impostors.false_name_counts, jax.jit(impostors.false_name_counts)):
        c = fn(obs, taus, sizes=sizes)
        np.testing.assert_array_equal(np.asarray(c.numerator), num)
        np.testing.assert_array_equal(np.asarray(c.denominator), np.broadcast_to(den[:, None], num.shape))
    rate = np.where(den[:, None] > 0, 100.0 * num / np.maximum(den[:, None], 1), np.nan)
    for fn in (impostors.tau_at_rate, jax.jit(impostors.tau_at_rate)):
        p = fn(taus, rate, target=34.0)  # aws: 2 of 3 named until 60, then 1 of 3 (33.3%) to 80
        aws = 0
        assert float(p.tau[aws]) == 70.0 and float(p.rate[aws]) == pytest.approx(100 / 3)
        naver = 2
        assert float(p.tau[naver]) == 50.0 and float(p.rate[naver]) == 0.0
        assert not bool(p.found[1])  # azure: no rows


def test_genuine_impostor_counts_match_numpy():
    obs, vocab = read_rows(rows())
    sizes = GroupSizes.of(vocab)
    for fn in (impostors.genuine_impostor_counts, jax.jit(impostors.genuine_impostor_counts)):
        c = fn(obs, sizes=sizes)
        # aws: bob's real unnamed (1 of 2 missed), 2 of 3 impostors named; naver: alice named as
        # someone else (1 of 1 missed), its one impostor named.
        np.testing.assert_array_equal(np.asarray(c.numerator)[:, [0, 2]], [[1, 1], [2, 1]])
        np.testing.assert_array_equal(np.asarray(c.denominator)[:, [0, 2]], [[2, 1], [3, 1]])


def test_metrics_table_fmr_rows_and_genuine_recognition_excludes_impostors():
    from dicore.core.tradeoff import replay_counts
    from dicore.tables import metrics_table

    obs, vocab = read_rows(rows())
    table = {(r["vendor"], r["metric"]): r for r in metrics_table(obs, vocab)}
    assert table["aws", "FMR"]["value"] == pytest.approx(200 / 3) and table["aws", "FMR"]["n"] == 3
    assert table["aws", "FNMR"]["value"] == 50.0 and table["naver", "FNMR"]["value"] == 100.0
    assert table["aws", "IAPMR"] == {**table["aws", "TA"], "metric": "IAPMR"}
    rep = replay_counts(obs, np.array([55.0]), sizes=GroupSizes.of(vocab))
    assert int(rep.genuine.denominator[0, 0]) == 2  # the 2 real images, not the impostors
