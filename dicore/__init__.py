"""dicore: measure face-recognition web APIs under deepfake impersonation attacks.

The pure JAX core (observations, metrics, intervals, threshold sweeps, trade-offs,
defence, cost) lives in `dicore.core`; one module per file format in `dicore.formats`;
I/O at the edges (`datasets`, `backends`, `runner`, `store`, `study`, `report`, `cli`).
"""

__version__ = "0.1.0"

__all__ = ["METHODS", "METRICS", "PAPER_VENDOR_NAMES", "RESULT_COLUMNS", "VENDORS", "__version__"]


_VOCAB = ("METHODS", "METRICS", "PAPER_VENDOR_NAMES", "VENDORS")


def __getattr__(name: str):
    # Imported on first use so that `import dicore` (every CLI start, `dicore --version`)
    # does not import JAX: dicore.core.vocab is inside dicore.core, whose __init__ imports
    # JAX and turns on x64 (the core's one place for it).
    if name in _VOCAB:
        from dicore.core import vocab

        return getattr(vocab, name)
    if name == "RESULT_COLUMNS":
        from dicore.formats.results import RESULT_COLUMNS

        return RESULT_COLUMNS
    raise AttributeError(f"module 'dicore' has no attribute {name!r}")
