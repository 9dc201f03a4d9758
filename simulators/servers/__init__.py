"""HTTP simulators that speak each vendor's wire format (see docs/servers.md).

``make_app(vendor)`` builds the response layer over a ``SimulatedVendor``;
``simulators.servers.transport`` serves it (``SimulatorServer``, ``serve_in_thread``);
``simulators.servers.urls`` routes requests to it.
"""

from __future__ import annotations

from typing import Any

from simulators.servers.common import SIMULATED_HEADER
from simulators.servers.transport import SimulatorServer, serve_in_thread

__all__ = ["SIMULATED_HEADER", "SimulatorServer", "make_app", "serve_in_thread"]


def make_app(
    vendor: str, sim_vendor: Any = None, *, faults: Any = None, seed: int = 0, **options: Any
) -> Any:
    """The wire-format app for ``vendor`` (aws, azure, naver).

    ``sim_vendor``: a ``SimulatedVendor`` (default: a new one with the default
    gallery). ``options`` go to the app: Azure ``key``, ``face_ttl_s``, ``clock``;
    Naver ``key_id``, ``key``. ``faults`` (a ``FaultSpec`` or its text) wraps the app
    in ``FaultyApp``: the vendor's own throttling and server errors, seeded by ``seed``.
    """
    from simulators.vendor import VENDORS, SimulatedVendor

    if vendor not in VENDORS:
        raise ValueError(f"vendor must be one of {VENDORS}, not {vendor!r}")
    sim_vendor = sim_vendor or SimulatedVendor(vendor)
    app: Any
    if vendor == "aws":
        from simulators.servers.aws import AwsApp

        app = AwsApp(sim_vendor, **options)
    elif vendor == "azure":
        from simulators.servers.azure import AzureApp

        app = AzureApp(sim_vendor, **options)
    else:
        from simulators.servers.naver import NaverApp

        app = NaverApp(sim_vendor, **options)
    if faults is None:
        return app
    from simulators.faults import FaultInjector, FaultSpec
    from simulators.servers.common import FaultyApp

    spec = faults if isinstance(faults, FaultSpec) else FaultSpec.parse(faults)
    return FaultyApp(app, FaultInjector(spec, seed)) if spec.active else app
