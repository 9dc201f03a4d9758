"""dicore: measure face-recognition web APIs under deepfake impersonation attacks.

The pure JAX core (observations, metrics, intervals, threshold sweeps, trade-offs,
defence, cost) lives in `dicore.core`; one module per file format in `dicore.formats`;
I/O at the edges (`datasets`, `backends`, `runner`, `store`, `study`, `report`, `cli`).
"""

from dicore.core.vocab import METHODS, METRICS, PAPER_VENDOR_NAMES, VENDORS

__version__ = "0.1.0"

__all__ = ["METHODS", "METRICS", "PAPER_VENDOR_NAMES", "RESULT_COLUMNS", "VENDORS", "__version__"]


def __getattr__(name: str):
    # RESULT_COLUMNS lives with the results format; imported on first use so that
    # `import dicore` (every CLI start) does not import JAX.
    if name == "RESULT_COLUMNS":
        from dicore.formats.results import RESULT_COLUMNS

        return RESULT_COLUMNS
    raise AttributeError(f"module 'dicore' has no attribute {name!r}")
