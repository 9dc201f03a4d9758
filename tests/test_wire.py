"""Wire precision: each simulated vendor reports scores as its JSON carries them, and dicore
converts wire -> percent with one function per vendor, so the in-process backend, the cohort
and a client over HTTP hold the same float64 percent."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dicore.backends.wire import aws_percent, azure_percent, naver_percent, to_percent
from simulators import wire

PHOTOS = Path(__file__).resolve().parents[1] / "simulators" / "photos"
SCORES = [(v, k) for (v, k) in wire.QUANTISERS]
percents = st.floats(0.0, 100.0, allow_nan=False)


@given(percents, st.sampled_from(SCORES))
def test_reported_is_a_fixed_point_and_the_wire_value_round_trips_through_json(p, score):
    vendor, kind = score
    r = wire.reported(vendor, kind, p)
    assert wire.reported(vendor, kind, r) == r
    # What a server writes for the stored percent is the wire value of the model's percent,
    # and a client reading that JSON gets the stored percent back, bit for bit.
    on_wire = wire.on_wire(vendor, kind, r)
    assert on_wire == wire.on_wire(vendor, kind, p)
    assert to_percent(vendor, json.loads(json.dumps(on_wire))) == r
    assert 0.0 <= r <= 100.0


@given(percents, percents, st.sampled_from(SCORES))
def test_quantising_keeps_order(a, b, score):
    lo, hi = sorted((a, b))
    assert wire.reported(*score, lo) <= wire.reported(*score, hi)


@given(percents)
def test_each_vendor_has_its_own_precision(p):
    assert np.float32(wire.reported("aws", "confidence", p)) == wire.reported("aws", "confidence", p)
    naver = wire.on_wire("naver", "confidence", p)
    assert naver == round(naver, 6) and wire.reported("naver", "confidence", p) == round(naver * 100, 4)
    azure = wire.on_wire("azure", "confidence", p)
    assert azure == round(azure, 9)
    assert wire.on_wire("azure", "similarity", p) == round(wire.on_wire("azure", "similarity", p), 5)


def test_ties_happen_where_the_vendors_would():
    near_top = np.array([99.9999993, 99.9999998])  # the example of lost precision
    assert len(set(wire.reported("aws", "confidence", near_top))) == 1  # one float32 (100.0)
    assert len(set(wire.reported("azure", "confidence", near_top))) == 2  # nine decimals of 0..1
    assert len(set(wire.reported("naver", "confidence", near_top))) == 1  # six decimals


def test_unit_to_percent_moves_the_decimal_point_exactly():
    assert 0.57 * 100 == 56.99999999999999  # the float product a naive client would store
    assert naver_percent(0.57) == 57.0 and azure_percent(0.9) == 90.0
    assert naver_percent(0.856215) == 85.6215 and azure_percent(0.999028444) == 99.9028444
    assert aws_percent(99.99589538574219) == 99.99589538574219
    out = naver_percent(np.array([0.0001, np.nan, 1.0]))
    assert out.dtype == np.float64 and out[0] == 0.01 and np.isnan(out[1]) and out[2] == 100.0
    with pytest.raises(ValueError, match="unknown vendor"):
        to_percent("acme", 0.5)
    with pytest.raises(ValueError, match="no similarity"):
        wire.on_wire("naver", "similarity", 50.0)


def test_the_cohort_reports_at_wire_precision():
    from simulators.cohort import simulate_cohort_results

    cols = simulate_cohort_results(scale="small", seed=0, datasets=("CelebBlend",))
    for vendor in ("aws", "azure", "naver"):
        rows = cols["vendor"] == vendor
        for kind in ("confidence", "similarity"):
            x = np.asarray(cols[kind][rows], float)
            x = x[~np.isnan(x)]
            if vendor == "naver" and kind == "similarity":
                assert x.size == 0
                continue
            assert x.size and np.array_equal(wire.reported(vendor, kind, x), x), (vendor, kind)


# -- the same image over HTTP and in process -------------------------------------------



@pytest.fixture(scope="module")
def servers():
    pytest.importorskip("onnxruntime")
    from contextlib import ExitStack

    from simulators.servers import make_app, serve_in_thread

    with ExitStack() as stack:
        yield {v: stack.enter_context(serve_in_thread(make_app(v))) for v in ("aws", "azure", "naver")}


@pytest.mark.parametrize("vendor", ["aws", "azure", "naver"])
def test_http_and_in_process_give_the_identical_percent(servers, vendor):
    from dicore.backends import make_backend

    live = make_backend(vendor, "live", endpoint=servers[vendor].url, placeholder_credentials=True)
    sim = make_backend(vendor, "sim")
    for real, other in (("obama.jpg", "obama.jpg"), ("ardern_2018.jpg", "ardern_2022.jpg"),
                        ("macron_2014.jpg", "macron_2025.jpg")):
        a, b = (PHOTOS / real).read_bytes(), (PHOTOS / other).read_bytes()
        over_http, in_process = live.recognize(a), sim.recognize(a)
        assert over_http.simulated and in_process.simulated
        assert (over_http.predicted, over_http.confidence) == (in_process.predicted, in_process.confidence)
        assert over_http.confidence is None or type(over_http.confidence) is float
        if vendor != "naver":
            s_http, s_sim = live.similarity(a, b), sim.similarity(a, b)
            assert s_http is not None and s_http == s_sim  # float64 equality, not approx
            assert wire.reported(vendor, "similarity", s_http) == s_http


def test_the_vendors_own_sdks_read_the_same_wire_values(servers):
    """boto3 and Azure's Computer Vision SDK see the wire value whose percent dicore holds."""
    pytest.importorskip("boto3")
    import boto3
    from azure.cognitiveservices.vision.computervision import ComputerVisionClient
    from botocore.config import Config
    from msrest.authentication import CognitiveServicesCredentials

    from dicore.backends import make_backend

    image = (PHOTOS / "obama.jpg").read_bytes()
    rek = boto3.client(
        "rekognition", endpoint_url=servers["aws"].url, region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="not-a-secret",
        config=Config(retries={"max_attempts": 0}),
    )
    celeb = rek.recognize_celebrities(Image={"Bytes": image})["CelebrityFaces"][0]
    assert aws_percent(celeb["MatchConfidence"]) == make_backend("aws", "sim").recognize(image).confidence

    cv = ComputerVisionClient(servers["azure"].url, CognitiveServicesCredentials("test-key"))
    raw = cv.analyze_image_by_domain_in_stream("celebrities", io.BytesIO(image), raw=True)
    sdk_conf = raw.output.result["celebrities"][0]["confidence"]
    assert azure_percent(sdk_conf) == make_backend("azure", "sim").recognize(image).confidence
