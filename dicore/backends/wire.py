"""Wire value -> percent: the one conversion per vendor that every path uses.

dicore keeps confidence and similarity in percent (0..100). Each vendor's JSON carries
them differently (docs/metrics.md, "Exactness"; `simulators.wire` for the precisions):

- AWS Rekognition sends percent already (`MatchConfidence`, `Similarity`): the percent is
  the JSON number itself, as a float64 (`aws_percent`, the identity).
- Azure and Naver send 0..1. The percent is 100 x the decimal the vendor wrote, rounded
  once to the nearest float64 (`azure_percent`, `naver_percent`): the decimal point moves
  two places in exact decimal arithmetic, so Naver's 0.57 is 57.0, not 0.57 * 100 =
  56.99999999999999 (which would fail a `confidence >= 57` policy). The decimal is
  the shortest one that reads back as the parsed float (Python's `repr`), which is the
  JSON text itself for up to 15 significant digits.

The live clients (`dicore.backends.aws`, `azure`, `naver`), the in-process simulator
backend and the synthetic cohort all call these, so a score is the same float64 whether
it came over HTTP or not. Vectorised: arrays in, float64 arrays out (NaN stays NaN);
Python floats in, Python floats out.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np


def _unit_to_percent(x: float) -> float:
    # repr: the shortest decimal that reads back as x; scaleb(2): x 100, exact in decimal.
    return float(Decimal(repr(float(x))).scaleb(2))


_unit_to_percent_array = np.frompyfunc(_unit_to_percent, 1, 1)


def _apply(fn, value):
    if np.ndim(value) == 0:
        return fn(value)
    return np.asarray(_unit_to_percent_array(np.asarray(value, np.float64)), np.float64)


def aws_percent(value):
    """Rekognition's percent (MatchConfidence, Similarity) as float64: the number itself."""
    if np.ndim(value) == 0:
        return float(value)
    return np.asarray(value, np.float64)


def azure_percent(value):
    """Azure's 0..1 (celebrities confidence, Face verify confidence) -> percent."""
    return _apply(_unit_to_percent, value)


def naver_percent(value):
    """Naver CFR's 0..1 celebrity confidence -> percent."""
    return _apply(_unit_to_percent, value)


PERCENT = {"aws": aws_percent, "azure": azure_percent, "naver": naver_percent}
"""vendor -> its wire-to-percent conversion (the same for confidence and similarity)."""


def to_percent(vendor: str, value):
    """`PERCENT[vendor](value)`; ValueError for an unknown vendor."""
    try:
        return PERCENT[vendor](value)
    except KeyError:
        raise ValueError(f"unknown vendor {vendor!r}; known: {', '.join(PERCENT)}") from None
