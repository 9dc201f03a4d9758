"""The precision of each vendor's wire format, for the simulated vendors' scores.

A simulated vendor reports a confidence or a similarity at the precision its JSON
carries, so that ties happen where the vendor's would (many AWS confidences near 100
are the same float32) and so that the in-process backend, the synthetic cohort and the
HTTP servers give the same numbers:

| vendor, field | on the wire | quantiser |
|---|---|---|
| AWS `MatchConfidence`, `Similarity` (and face `Confidence`) | float32 percent: the service prints float32 values (`99.99589538574219` in the API reference is float32(99.9959)) | `aws` |
| Azure celebrities `confidence` | 0..1, nine decimals (the spec example `0.999028444`) | `azure_confidence` |
| Azure Face verify `confidence` | 0..1, five decimals (the spec examples show 0.9 and 0.8; five is the simulator's choice) [I] | `azure_similarity` |
| Naver CFR `confidence` | 0..1, six decimals (`0.856215`) | `naver_confidence` |

Each quantiser takes percent (array or float) and returns the wire value (NumPy,
vectorised). `reported(vendor, kind, percent)` is what dicore ends up holding: the wire
value converted back with the vendor's one client-side conversion
(`dicore.backends.wire.to_percent`), i.e. exactly the float64 percent a dicore client
reads from the simulator over HTTP. The servers serialise the wire value of that percent
(`on_wire`), which round-trips: `to_percent(on_wire(reported(p))) == reported(p)`.
"""

from __future__ import annotations

import numpy as np

from dicore.backends.wire import to_percent

KINDS = ("confidence", "similarity")


def aws(percent):
    """Rekognition: the nearest float32 of the percent (returned as float64)."""
    out = np.asarray(np.asarray(percent, np.float64).astype(np.float32), np.float64)
    return float(out) if np.ndim(percent) == 0 else out


def _decimals(percent, places: int):
    # round(k) / 10**places is the float64 nearest to a decimal with `places` decimals.
    out = np.round(np.asarray(percent, np.float64) / 100.0, places)
    return float(out) if np.ndim(percent) == 0 else out


def azure_confidence(percent):
    """Azure celebrities: 0..1 with nine decimals."""
    return _decimals(percent, 9)


def azure_similarity(percent):
    """Azure Face verify: 0..1 with five decimals."""
    return _decimals(percent, 5)


def naver_confidence(percent):
    """Naver CFR: 0..1 with six decimals."""
    return _decimals(percent, 6)


QUANTISERS = {
    ("aws", "confidence"): aws,
    ("aws", "similarity"): aws,
    ("azure", "confidence"): azure_confidence,
    ("azure", "similarity"): azure_similarity,
    ("naver", "confidence"): naver_confidence,
}
"""(vendor, kind) -> percent-to-wire quantiser. Naver has no similarity call."""


def on_wire(vendor: str, kind: str, percent):
    """The value the vendor's JSON carries for `percent` (a `kind` score)."""
    try:
        quantise = QUANTISERS[(vendor, kind)]
    except KeyError:
        raise ValueError(f"{vendor} reports no {kind} on the wire") from None
    return quantise(percent)


def reported(vendor: str, kind: str, percent):
    """The float64 percent a dicore client gets for `percent`: wire value, then the
    vendor's wire-to-percent conversion. NaN stays NaN."""
    return to_percent(vendor, on_wire(vendor, kind, percent))
