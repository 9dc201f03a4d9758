"""pytest plugin: simulated vendor APIs for contract tests in your own project.

Installed with dicore (entry point ``pytest11`` named ``dicore``), so its fixtures
and markers are there in any project that has ``dicore[sim]`` installed; turn it
off with ``-p no:dicore``. See docs/pytest_plugin.md.

Fixtures (each starts a **simulated** vendor in-process on a free loopback port,
stops it after the test, and yields a ``Simulator``: ``.url``, ``.vendor``,
``.injected`` fault counts):

- ``dicore_aws``, ``dicore_azure``, ``dicore_naver``; options from the marker
  ``@pytest.mark.dicore(gallery=..., faults=..., seed=..., key=..., policy=...)``.
- ``dicore_simulator``: a factory, ``dicore_simulator("aws", faults="throttle=0.1")``,
  for several simulators or options per call.
- ``dicore_rekognition``: a boto3 Rekognition client pointed at ``dicore_aws``
  (placeholder credentials, botocore retries off).
- ``dicore_cassette``: the replay backend of the cassette named by
  ``@pytest.mark.dicore_cassette("cassettes/aws/x.yaml", vendor="aws")`` (a relative
  path is relative to the test file); nothing goes to the network.

Nothing heavy is imported until a fixture is used: the plugin loads in every
pytest run of an environment that has dicore.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

VENDORS = ("aws", "azure", "naver")
OPTIONS = ("gallery", "faults", "seed", "key", "policy", "face_ttl_s")


@dataclass
class Simulator:
    """A running simulated vendor API. Every answer it gives is simulated."""

    vendor: str
    url: str
    app: Any = field(repr=False)

    @property
    def injected(self) -> dict[str, int]:
        """Faults answered so far, by kind (empty without ``faults``)."""
        injector = getattr(self.app, "injector", None)
        return dict(injector.injected) if injector else {}

    def __str__(self) -> str:
        return self.url


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "dicore(gallery=None, faults=None, seed=0, key=None, policy=None): options of the "
        "dicore_aws / dicore_azure / dicore_naver simulators",
    )
    config.addinivalue_line(
        "markers",
        "dicore_cassette(path, vendor=None): replay this dicore cassette in the dicore_cassette "
        "fixture",
    )


def _gallery(gallery, recognizer):
    from simulators.gallery import Gallery

    if gallery is None or isinstance(gallery, Gallery):
        return gallery
    path = Path(gallery)
    if path.is_dir():
        return Gallery.from_folder(path, recognizer)
    if path.suffix == ".npz":
        return Gallery.load(path, expected_model_id=recognizer.model_id)
    raise ValueError(f"dicore gallery {path}: not a folder <name>/*.jpg or a .npz file")


def _policy(policy):
    if policy is None or not isinstance(policy, str):
        return policy
    from simulators.policies import POLICIES

    if policy not in POLICIES:
        raise ValueError(f"dicore policy {policy!r}: use one of {sorted(POLICIES)}")
    return POLICIES[policy]


@contextlib.contextmanager
def simulator(vendor: str, **options: Any) -> Iterator[Simulator]:
    """Serve a simulated ``vendor`` on a free loopback port for the ``with`` block."""
    if vendor not in VENDORS:
        raise ValueError(f"dicore: vendor must be one of {VENDORS}, not {vendor!r}")
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ValueError(f"dicore: unknown option(s) {unknown}; use {list(OPTIONS)}")
    from simulators.servers import make_app, serve_in_thread
    from simulators.vendor import SimulatedVendor, default_vendor

    seed = int(options.get("seed") or 0)
    gallery, policy = options.get("gallery"), _policy(options.get("policy"))
    if gallery is None and policy is None and seed == 0:
        sim = default_vendor(vendor)  # one model load for the whole session
    else:
        from simulators.recognizer import default_recognizer

        recognizer = default_recognizer()
        sim = SimulatedVendor(vendor, gallery=_gallery(gallery, recognizer),
                              recognizer=recognizer, seed=seed, policy=policy)
    app_options: dict[str, Any] = {}
    if vendor in ("azure", "naver") and options.get("key") is not None:
        app_options["key"] = options["key"]
    if vendor == "azure" and options.get("face_ttl_s") is not None:
        app_options["face_ttl_s"] = options["face_ttl_s"]
    app = make_app(vendor, sim, faults=options.get("faults"), seed=seed, **app_options)
    with serve_in_thread(app) as server:
        yield Simulator(vendor, server.url, app)


def _marker_options(request: pytest.FixtureRequest) -> dict[str, Any]:
    marker = request.node.get_closest_marker("dicore")
    return dict(marker.kwargs) if marker else {}


@pytest.fixture
def dicore_simulator() -> Iterator[Callable[..., Simulator]]:
    """Factory: ``dicore_simulator(vendor, **options)`` -> a running ``Simulator``."""
    with contextlib.ExitStack() as stack:
        yield lambda vendor, **options: stack.enter_context(simulator(vendor, **options))


@pytest.fixture
def dicore_aws(request: pytest.FixtureRequest) -> Iterator[Simulator]:
    """Simulated AWS Rekognition (RecognizeCelebrities, CompareFaces, GetCelebrityInfo)."""
    with simulator("aws", **_marker_options(request)) as sim:
        yield sim


@pytest.fixture
def dicore_azure(request: pytest.FixtureRequest) -> Iterator[Simulator]:
    """Simulated Azure Computer Vision v3.2 celebrities and Face detect/verify."""
    with simulator("azure", **_marker_options(request)) as sim:
        yield sim


@pytest.fixture
def dicore_naver(request: pytest.FixtureRequest) -> Iterator[Simulator]:
    """Simulated Naver CLOVA CFR celebrity endpoint."""
    with simulator("naver", **_marker_options(request)) as sim:
        yield sim


@pytest.fixture
def dicore_rekognition(dicore_aws: Simulator):
    """A boto3 Rekognition client for ``dicore_aws`` (retries off: each call is one request)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "rekognition", region_name="us-east-1", endpoint_url=dicore_aws.url,
        aws_access_key_id="dicore-test", aws_secret_access_key="dicore-test",
        config=Config(retries={"total_max_attempts": 1}),
    )


@pytest.fixture
def dicore_cassette(request: pytest.FixtureRequest):
    """The replay backend of ``@pytest.mark.dicore_cassette(path, vendor=...)``."""
    marker = request.node.get_closest_marker("dicore_cassette")
    if marker is None or not marker.args:
        raise ValueError(
            "the dicore_cassette fixture needs @pytest.mark.dicore_cassette(path, vendor=...)"
        )
    path = Path(marker.args[0])
    if not path.is_absolute():
        path = Path(request.node.path).parent / path
    vendor = marker.kwargs.get("vendor") or _vendor_of(path)
    from dicore.backends import make_backend

    return make_backend(vendor, "replay", cassette=path)


def _vendor_of(path: Path) -> str:
    for part in reversed(path.parts[:-1]):
        if part in VENDORS:
            return part
    raise ValueError(
        f"dicore_cassette {path}: say which vendor, e.g. "
        "@pytest.mark.dicore_cassette(path, vendor='aws')"
    )
