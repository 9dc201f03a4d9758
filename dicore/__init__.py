"""dicore: measure face-recognition web APIs under deepfake impersonation attacks.

The pure JAX core (observations, metrics, intervals, threshold sweeps, policy
replay, defence, cost) lives in this package's top-level modules; I/O lives at
the edges (`datasets`, `backends`, `runner`, `store`, `report`, `cli`).
"""

__version__ = "0.1.0"

VENDORS = ("aws", "azure", "naver")
"""Vendor ids used everywhere (the paper calls them AWS, MS and NAV)."""

PAPER_VENDOR_NAMES = {"aws": "AWS", "azure": "MS", "naver": "NAV"}
METHODS = ("replacement", "reenactment", "synthesis", "real")

RESULT_COLUMNS = (
    "vendor", "backend", "dataset", "method", "item_id", "is_fake", "real_item_id",
    "target", "reference", "predicted", "confidence", "similarity",
)
"""Columns of results.csv / results.parquet, in order (docs/ARCHITECTURE.md)."""
