"""The pytest plugin, tested as a user's project would use it (pytester)."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import boto3  # noqa: F401
import pytest

# pytester forgets the modules an in-process run imported; C extensions (numpy,
# onnxruntime) cannot be imported twice, so they are imported here, before it looks.
import dicore.backends.replay  # noqa: F401
import simulators.servers  # noqa: F401
import simulators.vendor  # noqa: F401

pytest_plugins = ("pytester",)
ROOT = Path(__file__).resolve().parents[1]
PLUGIN = "dicore.testing.pytest_plugin"


@pytest.fixture(scope="module")
def models_loaded():
    """Load the recognizer (insightface, onnx, protobuf) before pytester takes its snapshot
    of sys.modules: those extensions abort the process if imported a second time."""
    from simulators.vendor import default_vendor

    default_vendor("aws")


@pytest.fixture
def run(models_loaded, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    # Only this plugin in the inner run, however the environment's entry points stand.
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")

    def go(source: str, *args: str) -> pytest.RunResult:
        pytester.makepyfile(test_user=source)
        return pytester.runpytest_inprocess("-p", PLUGIN, "-q", *args)

    return go


def test_the_entry_point_is_declared():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert meta["project"]["entry-points"]["pytest11"] == {"dicore": PLUGIN}


def test_simulators_and_the_boto3_client(run):
    result = run('''
import pytest, requests
from pathlib import Path
import simulators
PHOTO = (Path(simulators.__file__).parent / "photos" / "obama.jpg").read_bytes()

def test_rekognition(dicore_rekognition, dicore_aws):
    out = dicore_rekognition.recognize_celebrities(Image={"Bytes": PHOTO})
    assert out["CelebrityFaces"][0]["Name"] == "Barack Obama"
    assert dicore_aws.url.startswith("http://127.0.0.1:")

def test_azure(dicore_azure):
    r = requests.post(dicore_azure.url + "/vision/v3.2/models/celebrities/analyze", data=PHOTO,
                      headers={"Ocp-Apim-Subscription-Key": "k",
                               "Content-Type": "application/octet-stream"}, timeout=30)
    assert r.json()["result"]["celebrities"][0]["name"] == "Barack Obama"

@pytest.mark.dicore(key="secret")
def test_naver_with_a_key(dicore_naver):
    url = dicore_naver.url + "/vision/v1/celebrity"
    ok = requests.post(url, files={"image": PHOTO}, timeout=30,
                       headers={"X-NCP-APIGW-API-KEY-ID": "i", "X-NCP-APIGW-API-KEY": "secret"})
    assert ok.json()["faces"][0]["celebrity"]["value"] == "Barack Obama"
    bad = requests.post(url, files={"image": PHOTO}, timeout=30,
                        headers={"X-NCP-APIGW-API-KEY-ID": "i", "X-NCP-APIGW-API-KEY": "x"})
    assert bad.status_code == 401
''')
    result.assert_outcomes(passed=3)


def test_faults_marker_and_factory(run):
    result = run('''
import pytest, requests

@pytest.mark.dicore(faults="throttle=1", seed=3)
def test_throttled(dicore_rekognition, dicore_aws):
    with pytest.raises(dicore_rekognition.exceptions.ClientError) as info:
        dicore_rekognition.get_celebrity_info(Id="abc")
    assert info.value.response["Error"]["Code"] in (
        "ThrottlingException", "ProvisionedThroughputExceededException")
    assert dicore_aws.injected == {"throttle": 1}

def test_factory(dicore_simulator):
    a = dicore_simulator("azure", faults="server-error=1")
    b = dicore_simulator("azure")
    h = {"Ocp-Apim-Subscription-Key": "k"}
    assert requests.post(a.url + "/face/v1.0/verify", data=b"{}", headers=h, timeout=30).status_code == 500
    assert requests.post(b.url + "/face/v1.0/verify", data=b"{}", headers=h, timeout=30).status_code == 400

@pytest.mark.dicore(policy="naver")
def test_another_policy(dicore_aws):
    assert dicore_aws.app.vendor.policy.vendor == "naver"

@pytest.mark.dicore(colour="red")
def test_unknown_option_is_a_usage_error(dicore_aws):
    pass
''')
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(["*unknown option(s)*colour*"])


def test_cassette_marker_replays_offline(run, pytester):
    shutil.copytree(ROOT / "cassettes" / "aws", pytester.path / "cassettes" / "aws")
    result = run('''
import pytest
from pathlib import Path
import simulators
PHOTOS = Path(simulators.__file__).parent / "photos"

@pytest.mark.dicore_cassette("cassettes/aws/simulator_photos.yaml")
def test_replay(dicore_cassette):
    rec = dicore_cassette.recognize((PHOTOS / "obama.jpg").read_bytes())
    assert rec.predicted == "Barack Obama" and rec.simulated

def test_marker_needed(dicore_cassette):
    pass
''')
    result.assert_outcomes(passed=1, errors=1)
