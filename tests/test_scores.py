"""The score model: naming and confidence as one noisy evidence, genuine recognition over tau,
real photos through the ArcFace path, and the cohort's noise draws."""

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import special

from simulators import cohort
from simulators.policies import POLICIES
from simulators.simulate import NO_NAME, decide

PHOTOS = Path(__file__).resolve().parents[1] / "simulators" / "photos"


@pytest.mark.parametrize("vendor", ["aws", "azure", "naver"])
@given(cos=st.floats(-1, 1), z=st.floats(-5, 5))
def test_named_exactly_when_confidence_reaches_the_floor(vendor, cos, z):
    pol = POLICIES[vendor]
    r = decide(pol, np.array([[cos]]), np.array([True]), np.array([-np.inf]), np.array([0]),
               image_noise=np.array([z]))  # fmt: skip
    conf = float(pol.confidence(cos, z * np.sqrt(1 - pol.identity_share)))
    if pol.always_reports:
        assert r.index[0] == 0 and r.confidence[0] == pytest.approx(conf)
    elif 100 * special.expit(float(pol.evidence(cos, z))) >= pol.floor + 1e-9:
        assert r.index[0] == 0 and r.confidence[0] >= pol.floor
    elif 100 * special.expit(float(pol.evidence(cos, z))) < pol.floor - 1e-9:
        assert r.index[0] == NO_NAME and np.isnan(r.confidence[0])


@pytest.mark.parametrize("vendor", ["aws", "azure", "naver"])
@given(a=st.floats(-1, 1), b=st.floats(-1, 1), z=st.floats(-4, 4))
def test_confidence_monotone_in_cosine_and_in_noise(vendor, a, b, z):
    pol = POLICIES[vendor]
    lo, hi = min(a, b), max(a, b)
    assert pol.confidence(lo, z) <= pol.confidence(hi, z)
    assert pol.confidence(lo, z - 0.5) <= pol.confidence(lo, z)


def test_noise_draws_are_fixed_by_seed_and_shared_by_a_pool():
    a = cohort.score_noise("aws", "CelebDF", "small", 0)
    b = cohort.score_noise("aws", "CelebDF", "small", 0)
    c = cohort.score_noise("aws", "CelebDF", "small", 1)
    assert np.array_equal(a.image, b.image) and not np.array_equal(a.image, c.image)
    # CelebFOM holds CelebDF's people: the same celebrity effects, other images
    f = cohort.score_noise("aws", "CelebFOM", "small", 0)
    assert np.array_equal(a.identity, f.identity) and not np.array_equal(a.image[:50], f.image[:50])
    assert not np.array_equal(a.image, cohort.score_noise("azure", "CelebDF", "small", 0).image)


def test_lookalike_is_one_draw_per_celebrity():
    # an unknown celebrity's images (real and fake) meet the same look-alike in the gallery:
    # the distractor effect is the celebrity's, shared by its reals and its fakes (target)
    dr = cohort.draw("CelebDF", "small", 0)
    noise = cohort.score_noise("naver", "CelebDF", "small", 0)
    r, f = noise.split(dr)
    assert len(r["distractor_noise"]) == dr.spec.n_real and len(f["distractor_noise"]) == dr.spec.n_fake
    for i in range(dr.spec.n_identities):
        vals = np.concatenate([r["distractor_noise"][dr.real_identity == i],
                               f["distractor_noise"][dr.fake_target == i]])  # fmt: skip
        assert np.all(vals == noise.lookalike[i])
    assert not np.array_equal(noise.lookalike, noise.identity)
    # the same people in CelebFOM: the same look-alikes
    assert np.array_equal(noise.lookalike, cohort.score_noise("naver", "CelebFOM", "small", 0).lookalike)


@pytest.mark.parametrize("share", [0.0, 0.4])
def test_celebrity_share_moves_per_celebrity_spread_only_with_share(share):
    # with a celebrity share of the noise, per-celebrity Naver means spread out (Table 3's
    # Naver Reference has sd 16.8 across celebrities) and Reference and Target correlate
    from simulators import calibration, targets
    from simulators.policies import load_params

    p = load_params()
    p["scores"]["identity_share"] = share
    st = calibration.Engine("paper", (0,)).stats(p, ("naver",))["CelebDF", "naver"][0]
    ref, tgt = st["identity"]["reference"], st["identity"]["target"]
    rho = float(np.corrcoef(ref, tgt)[0, 1])
    if share == 0.0:
        assert abs(rho) < 0.45
    else:
        assert rho > 0.5 and tgt.std() > 5.0
    assert targets.per_identity()["CelebDF", "naver", "target"].std() > 10.0


@pytest.fixture(scope="module")
def cols():
    return cohort.simulate_cohort_results(scale="small", seed=0)


@pytest.fixture(scope="module")
def paper_reals():
    """(vendor -> (real SimResults, draws)) at paper scale, seeds 0-2 (the fast engine: the
    same decisions as the cohort, tabulated distractor maxima)."""
    from simulators import calibration
    from simulators.policies import load_params

    eng = calibration.Engine("paper", (0, 1, 2))
    out: dict = {}
    for (_s, _d, v), (dr, real, _fake, _sim) in eng.results(load_params()).items():
        out.setdefault(v, []).append((dr, real))
    return out


def genuine(items, tau):
    """Genuine recognition: real images named as their own identity with confidence >= tau."""
    ok = n = 0
    for dr, real in items:
        own = real.index == dr.real_identity
        ok += int(np.sum(own & (np.nan_to_num(real.confidence) >= tau)))
        n += len(real.index)
    return ok, n


@pytest.mark.parametrize("vendor", ["aws", "azure", "naver"])
def test_genuine_recognition_falls_with_tau(vendor, paper_reals):
    # real images are not all at 99.9999%: raising tau from the floor to 99 loses genuine
    # recognitions, by more than sampling noise (3 binomial SE of the share lost)
    items = paper_reals[vendor]
    at_floor, _n = genuine(items, POLICIES[vendor].floor)
    at_90, _ = genuine(items, 90.0)
    at_99, _ = genuine(items, 99.0)
    assert at_floor > 0
    lost = (at_floor - at_99) / at_floor
    se = np.sqrt(max(lost, 1e-3) * (1 - lost) / at_floor)
    assert lost >= 3 * se, (vendor, at_floor, at_99)
    assert at_99 <= at_90 <= at_floor  # a curve, not a step at 100


def test_reported_confidences_spread_like_the_papers_tables(cols):
    # Tables 3 and 5: AWS and MS real images average about 94-97% (never all at 100), Naver's
    # 34-44%
    for vendor, lo, hi in (("aws", 85.0, 99.9), ("naver", 20.0, 55.0)):
        real = (cols["vendor"] == vendor) & ~cols["is_fake"] & (cols["predicted"] != "")
        mean = float(np.mean(cols["confidence"][real]))
        assert lo <= mean <= hi, (vendor, mean)


@pytest.mark.xfail(
    strict=True,
    reason="fit regression with the fame model (issue 9): Azure's named real images average "
    "99.95% at small scale (main before it: 99.85), above the 99.9 bound; Table 3's MS "
    "Reference averages 97.1. Azure's genuine recognition is nearly flat in tau (W1 of the "
    "MS CelebDF Reference group 5.0 pp); see docs/simulation.md",
)
def test_azure_real_confidences_are_not_all_saturated(cols):
    real = (cols["vendor"] == "azure") & ~cols["is_fake"] & (cols["predicted"] != "")
    assert 88.0 <= float(np.mean(cols["confidence"][real])) <= 99.9


def photo(name: str) -> bytes:
    return (PHOTOS / name).read_bytes()


@pytest.mark.parametrize("vendor", ["aws", "azure", "naver"])
def test_real_photos_use_the_same_mapping(vendor):
    # the ArcFace path: a gallery person's photo is named with high confidence, and that
    # confidence is the policy's mapping of the photo's cosine (a median image: z = 0)
    from simulators.vendor import default_vendor

    sim = default_vendor(vendor)
    for file, name in [("obama.jpg", "Barack Obama"), ("macron_2025.jpg", "Emmanuel Macron")]:
        (face,) = sim.recognize_image(photo(file)).faces
        assert face.name == name
        g = list(sim.gallery.names).index(name)
        cos = float(np.dot(face.embedding, sim.gallery.templates[g]))
        assert face.confidence == pytest.approx(float(sim.policy.confidence(cos)), rel=1e-5)
        assert face.confidence >= 90.0
    # different people: the cosine between two gallery people maps below the naming floor
    names = list(sim.gallery.names)
    t = sim.gallery.templates
    other = max(float(t[i] @ t[j]) for i in range(len(names)) for j in range(len(names)) if i != j)
    if not sim.policy.always_reports:
        assert sim.policy.confidence(other) < sim.policy.floor
    else:
        assert sim.policy.confidence(other) < 50.0
