"""The names every layer shares: vendors, methods, metrics, and the paper's labels."""

VENDORS = ("aws", "azure", "naver")
"""Vendor ids used everywhere (the paper calls them AWS, MS and NAV)."""

PAPER_VENDOR_NAMES = {"aws": "AWS", "azure": "MS", "naver": "NAV"}
"""Vendor id -> the paper's label."""

METHODS = ("replacement", "reenactment", "synthesis", "real")
"""Deepfake methods, and `real` for genuine images."""

METRICS = ("TA", "NA", "DHF", "DHC", "DHS", "SIC")
"""Metric order of every (6, G) array of `dicore.core.metrics` and of metrics.json."""

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
