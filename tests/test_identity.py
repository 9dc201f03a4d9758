"""Per-identity means (the paper's Tables 3 and 5): dicore.core.identity against a NumPy
reference, eagerly and under jit; dicore.tables.identity_rows on the cohort."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dicore.core.groups import GroupSizes
from dicore.core.identity import per_identity_means
from dicore.core.observations import Observations

N, N_ID, N_DS = 24, 4, 2
score = st.one_of(st.just(np.nan), st.floats(0.0, 100.0))


@st.composite
def observations(draw):
    ints = lambda hi: st.lists(st.integers(0, hi - 1), min_size=N, max_size=N)  # noqa: E731
    is_fake = np.array(draw(st.lists(st.booleans(), min_size=N, max_size=N)))
    return Observations.from_arrays(
        vendor=draw(ints(3)), dataset=draw(ints(N_DS)), target=draw(ints(N_ID)),
        is_fake=is_fake, predicted=np.zeros(N, int),
        confidence=draw(st.lists(score, min_size=N, max_size=N)),
        paired_row=np.full(N, -1),
        similarity=np.where(is_fake, draw(st.lists(score, min_size=N, max_size=N)), np.nan),
    )


def reference(obs):
    """NumPy: mean over the rows of (group, identity) that have a value, 0 where none."""
    g = np.asarray(obs.dataset) * 3 + np.asarray(obs.vendor)
    fake = np.asarray(obs.is_fake)
    out = {c: np.zeros((N_DS * 3, N_ID)) for c in ("reference", "target", "similarity")}
    for gi in range(N_DS * 3):
        for i in range(N_ID):
            rows = (g == gi) & (np.asarray(obs.target) == i)
            for column, values, keep in (("reference", obs.confidence, ~fake),
                                         ("target", obs.confidence, fake),
                                         ("similarity", obs.similarity, fake)):
                v = np.asarray(values)[rows & keep]
                v = v[~np.isnan(v)]
                out[column][gi, i] = v.mean() if v.size else 0.0
    return out


@pytest.mark.parametrize("mode", ["eager", "jit"])
@settings(max_examples=40, deadline=None)
@given(obs=observations())
def test_per_identity_means_match_numpy(mode, obs):
    sizes = GroupSizes(n_datasets=N_DS, n_identities=N_ID)
    fn = jax.jit(per_identity_means) if mode == "jit" else per_identity_means
    got = fn(obs, sizes=sizes)
    want = reference(obs)
    for column in want:
        np.testing.assert_allclose(np.asarray(getattr(got, column)), want[column], rtol=1e-12,
                                   atol=1e-12)
    fake = np.asarray(obs.is_fake)
    assert int(np.asarray(got.n_real).sum()) == int((~fake).sum())
    assert int(np.asarray(got.n_fake).sum()) == int(fake.sum())


def test_identity_rows_of_the_cohort_follow_the_tables_rule():
    from dicore.formats.results import read_columns
    from dicore.tables import identity_rows
    from simulators.cohort import simulate_cohort_results

    cols = simulate_cohort_results(scale="small", seed=0, datasets=("CelebBlend",))
    obs, vocab = read_columns({k: list(v) for k, v in cols.items()})
    rows = identity_rows(obs, vocab)
    assert {r["vendor"] for r in rows} == {"aws", "azure", "naver"}
    assert len(rows) == 3 * 20  # every CelebBlend identity, per vendor
    naver = [r for r in rows if r["vendor"] == "naver"]
    assert all(r["similarity"] is None for r in naver)  # no similarity call, not a 0
    assert all(r["reference"] > 0 for r in naver)  # Naver always names somebody
    aws = next(r for r in rows if r["vendor"] == "aws")
    conf = np.asarray(cols["confidence"], float)
    mine = (cols["vendor"] == "aws") & ~cols["is_fake"] & (cols["target"] == aws["identity"])
    values = conf[mine][~np.isnan(conf[mine])]
    assert aws["reference"] == pytest.approx(values.mean() if values.size else 0.0, rel=1e-12)
