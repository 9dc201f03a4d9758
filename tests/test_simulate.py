"""The pure simulation: policy invariants (hypothesis), vectorisation, any gallery size."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulators.policies import POLICIES
from simulators.simulate import (
    NO_NAME,
    decide,
    make_distractors,
    names_for,
    random_unit,
    recognize,
    similarity,
)

DIM = 16  # the rules do not depend on the dimension; small vectors keep hypothesis fast


@st.composite
def scene(draw):
    seed = draw(st.integers(0, 2**31 - 1))
    g = draw(st.integers(0, 6))
    d = draw(st.integers(0, 5))
    n = draw(st.integers(1, 12))
    rng = np.random.default_rng(seed)
    gallery = random_unit(rng, g, DIM)
    known = rng.random(g) < 0.6
    distractors = random_unit(rng, d, DIM)
    # queries near gallery members as well as random ones, to cover high cosines
    queries = random_unit(rng, n, DIM)
    if g:
        near = gallery[rng.integers(0, g, n)] + rng.uniform(0, 0.8) * queries
        queries = np.where(rng.random((n, 1)) < 0.5, near / np.linalg.norm(near, axis=1, keepdims=True), queries)
    return gallery, known, distractors, queries


@given(scene())
def test_aws_and_azure_never_report_below_their_floor(s):
    gallery, known, distractors, queries = s
    for vendor, floor in (("aws", 55.0), ("azure", 70.0)):
        r = recognize(POLICIES[vendor], gallery=gallery, known=known, distractors=distractors, queries=queries)
        named = r.index != NO_NAME
        assert np.all(r.confidence[named] >= floor - 1e-9)
        assert np.all(np.isnan(r.confidence[~named]))
        assert np.all(r.cosine[named] >= POLICIES[vendor].threshold)
        # a name is only ever a known celebrity or a distractor
        idx = r.index[named]
        assert np.all(known[idx[idx < len(gallery)]])


@given(scene())
def test_naver_always_reports_a_name(s):
    gallery, known, distractors, queries = s
    if not known.any() and len(distractors) == 0:
        distractors = random_unit(np.random.default_rng(0), 1, DIM)
    r = recognize(POLICIES["naver"], gallery=gallery, known=known, distractors=distractors, queries=queries)
    assert np.all(r.index != NO_NAME)
    assert np.all(r.confidence >= 0.01) and np.all(r.confidence <= 100)


@pytest.mark.parametrize("vendor", ["aws", "azure", "naver"])
@given(cos=st.lists(st.floats(-1, 1, allow_nan=False), min_size=2, max_size=30))
def test_reported_confidence_monotone_in_top_cosine(vendor, cos):
    pol = POLICIES[vendor]
    cos = np.sort(np.asarray(cos))
    n = len(cos)
    r = decide(pol, cos[:, None], np.array([True]), np.full(n, -np.inf), np.zeros(n, int))
    named = r.index != NO_NAME
    # once named, always named at higher cosine; confidence non-decreasing
    assert np.all(np.diff(named.astype(int)) >= 0)
    assert np.all(np.diff(r.confidence[named]) >= 0)


@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 8))
def test_similarity_symmetric_in_range_and_nan_for_naver(seed, n):
    rng = np.random.default_rng(seed)
    a, b = random_unit(rng, n, DIM), random_unit(rng, n, DIM)
    for vendor in ("aws", "azure"):
        s1, s2 = similarity(POLICIES[vendor], a, b), similarity(POLICIES[vendor], b, a)
        np.testing.assert_allclose(s1, s2)
        assert np.all((s1 >= 0) & (s1 <= 100))
        assert np.all(similarity(POLICIES[vendor], a, a) > 95)  # the same face
    assert np.all(np.isnan(similarity(POLICIES["naver"], a, b)))


@given(scene())
def test_vectorised_equals_per_row_loop(s):
    gallery, known, distractors, queries = s
    for pol in POLICIES.values():
        if pol.always_reports and not known.any() and len(distractors) == 0:
            continue
        full = recognize(pol, gallery=gallery, known=known, distractors=distractors, queries=queries)
        for i, q in enumerate(queries):
            one = recognize(pol, gallery=gallery, known=known, distractors=distractors, queries=q[None])
            assert one.index[0] == full.index[i]
            np.testing.assert_allclose(one.confidence[0], full.confidence[i], equal_nan=True)


def test_four_identity_gallery_and_names():
    rng = np.random.default_rng(0)
    gallery = random_unit(rng, 4, 512)
    known = np.array([True, True, False, True])
    # a query close to each gallery member (real-photo-like cosine 0.8)
    noise = random_unit(rng, 4, 512)
    queries = 0.8 * gallery + 0.6 * noise
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    for vendor, pol in POLICIES.items():
        names, dis = make_distractors(pol, seed=1)
        r = recognize(pol, gallery=gallery, known=known, distractors=dis, queries=queries)
        assert list(r.index[[0, 1, 3]]) == [0, 1, 3]  # known and close: named correctly
        assert r.index[2] != 2  # an unknown celebrity is never named as itself
        out = names_for(r.index, ["a", "b", "c", "d"], pol)
        assert list(out[[0, 1, 3]]) == ["a", "b", "d"]
        if r.index[2] >= 4:
            assert out[2] == names[r.index[2] - 4]
        elif r.index[2] == NO_NAME:
            assert out[2] == "" and vendor != "naver"


def test_make_distractors_seeded_unit_vectors():
    pol = POLICIES["azure"]
    n1, v1 = make_distractors(pol, dim=64, seed=4)
    n2, v2 = make_distractors(pol, dim=64, seed=4)
    _, v3 = make_distractors(pol, dim=64, seed=5)
    assert n1 == n2 and np.array_equal(v1, v2) and not np.array_equal(v1, v3)
    np.testing.assert_allclose(np.linalg.norm(v1, axis=1), 1.0)
    assert n1[0] == "Simulated Celebrity MS-" + "0" * (len(n1[0]) - len("Simulated Celebrity MS-"))
