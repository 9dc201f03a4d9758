"""The names every layer shares: vendors, methods, metrics, and the paper's labels."""

VENDORS = ("aws", "azure", "naver")
"""Vendor ids used everywhere (the paper calls them AWS, MS and NAV)."""

PAPER_VENDOR_NAMES = {"aws": "AWS", "azure": "MS", "naver": "NAV"}
"""Vendor id -> the paper's label."""

METHODS = ("replacement", "reenactment", "synthesis", "real", "impostor")
"""Deepfake methods, `real` for genuine images of the study's identities, and `impostor` for
real images of people the vendor does not know (zero-effort impostors, not celebrities;
`is_fake` false). Indices are stable: new methods are appended."""

REAL_METHODS = ("real", "impostor")
"""Methods of real (not fake) images."""

METRICS = ("TA", "NA", "DHF", "DHC", "DHS", "SIC")
"""Metric order of every (6, G) array of `dicore.core.metrics` and of metrics.json."""

ISO_METRICS = ("IAPMR", "FNMR", "FMR")
"""ISO/IEC 30107-3 / 19795 names that metrics.json also carries (docs/metrics.md, mapping):
IAPMR = TA (targeted attack success, impostor attack presentation match rate); FNMR
analogue = genuine miss rate (a real image of a study identity not named as itself);
FMR analogue = false-name rate of zero-effort impostors (a person the vendor does not
know named as anyone)."""

ALL_METRICS = METRICS + ISO_METRICS
"""Every metric name a metrics.json row of the metrics may hold."""

BREAKDOWN_METRICS = ("NA_AS_TARGET", "NA_AS_REFERENCE", "NA_AS_OTHER", "TA_VIDEO_ANY",
                     "TA_VIDEO_MAJORITY", "NA_VIDEO_ANY", "NA_VIDEO_MAJORITY")
"""metrics.json extra rows of the study's breakdowns (docs/metrics.md, Breakdowns): where a
non-targeted hit lands (share of named fakes; key `count`) and video-level TA/NA (key
`rule`, `frames`)."""
DEFAULT_BETA = 90.0
"""The paper's DHC confidence threshold beta, percent (`dicore.paper.thresholds()`; a test
checks they agree)."""

DEFAULT_GAMMA = 80.0
"""The paper's DHS similarity threshold gamma, percent (`dicore.paper.thresholds()`)."""

DEFAULT_GENUINE_KEEP = 90.0
"""The operating-point rule's share, percent: keep this much of the genuine recognition a
vendor has at its reporting floor (docs/thresholds.md; `dicore sweep --genuine-target`)."""

SIMULATED_LABEL = "SIMULATED (dicore offline simulator; not the real vendor API)"
"""How every output of a simulated vendor is labelled (results provenance, cassettes)."""

SIMULATED_HEADER = "X-Dicore-Simulated"
"""The response header every dicore simulator sends (value "true")."""
