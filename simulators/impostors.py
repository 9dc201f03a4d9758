"""Zero-effort impostors for the synthetic cohort: real faces of people no vendor knows.

`NonCelebrities`: `SIZES[scale]` people (not celebrities: in no vendor's gallery), each
with `IMAGES_PER_PERSON` real images, rows of method `impostor` (is_fake false) whose
target is the person's own label. A vendor can only name such a face as one of its
distractor celebrities (look-alikes), so its false-name rate comes from the same policy
the cohort uses (`simulators.cohort.distractor_draws`, `simulators.simulate.decide`):
the best distractor's cosine follows the exact law of the maximum of the vendor's
`n_distractors` random cosines, the calibrated number that sets how often an unknown
face gets a name. A person's images share that look-alike (one draw per person) and the
celebrity effect of the score noise; the image noise is per image.

Everything here is simulated (`simulators.SIMULATED_LABEL`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simulators.cohort import RESULT_COLUMNS, _key, _resolve, distractor_draws
from simulators.simulate import decide
from simulators.wire import reported

IMPOSTOR_DATASET = "NonCelebrities"
SIZES = {"paper": 1000, "small": 100}  # people
IMAGES_PER_PERSON = 2


def person_names(n: int) -> list[str]:
    return [f"noncelebrity-{i:04d}" for i in range(n)]


def simulate_impostor_results(
    *,
    scale: str = "paper",
    seed: int = 0,
    vendors: tuple[str, ...] = ("aws", "azure", "naver"),
    params: dict[str, Any] | None = None,
) -> dict[str, np.ndarray]:
    """Results-contract columns of the impostor set for the simulated vendors (backend sim)."""
    if scale not in SIZES:
        raise ValueError(f"scale must be one of {tuple(SIZES)}, got {scale!r}")
    _, policies = _resolve(params)
    n_people = SIZES[scale]
    n = n_people * IMAGES_PER_PERSON
    person = np.repeat(np.arange(n_people), IMAGES_PER_PERSON)
    names = np.asarray(person_names(n_people), dtype=object)
    items = np.asarray([f"{IMPOSTOR_DATASET}-{i:05d}" for i in range(n)], dtype=object)
    cols: dict[str, list[np.ndarray]] = {c: [] for c in RESULT_COLUMNS}
    for vendor in vendors:
        pol = policies[vendor]
        dmax, darg = distractor_draws(pol, IMPOSTOR_DATASET, scale, seed, n_people)
        rng = np.random.default_rng(_key(seed, "impostor-noise", vendor, scale))
        image, celebrity = rng.standard_normal(n), rng.standard_normal(n_people)
        res = decide(pol, np.zeros((n, 0)), np.zeros(0, bool), dmax[person], darg[person],
                     image_noise=image, distractor_noise=celebrity[person])
        predicted = np.full(n, "", dtype=object)
        for i in np.flatnonzero(res.index >= 0):
            predicted[i] = pol.distractor_name(int(res.index[i]))
        empty = np.full(n, "", dtype=object)
        cols["vendor"].append(np.full(n, vendor, dtype=object))
        cols["backend"].append(np.full(n, "sim", dtype=object))
        cols["dataset"].append(np.full(n, IMPOSTOR_DATASET, dtype=object))
        cols["method"].append(np.full(n, "impostor", dtype=object))
        cols["item_id"].append(items)
        cols["is_fake"].append(np.zeros(n, bool))
        cols["real_item_id"].append(empty)
        cols["target"].append(names[person])
        cols["reference"].append(empty)
        cols["predicted"].append(predicted)
        cols["confidence"].append(reported(vendor, "confidence", res.confidence))
        cols["similarity"].append(np.full(n, np.nan))
    return {c: np.concatenate(v) if v else np.array([]) for c, v in cols.items()}
