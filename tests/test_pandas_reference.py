"""The vectorised pandas reference of the results_io benchmark (benchmarks/pandas_reference.py)
counts what dicore counts on study-shaped data: the small default cohort, whose CelebBlend
synthesis fakes are sometimes named as their reference (docs/metrics.md's synthesis rule
of TA, which the reference once left out: CelebBlend TA and SIC disagreed)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.pandas_reference import counts
from dicore.formats.results import read_results_file, write_results
from dicore.tables import metrics_table
from simulators.cohort import simulate_cohort_results

SIX = ("TA", "NA", "DHF", "DHC", "DHS", "SIC")


@pytest.fixture(scope="module")
def study_files(tmp_path_factory):
    cols = simulate_cohort_results(scale="small", seed=0)
    method, predicted, reference = (np.asarray(cols[c]) for c in ("method", "predicted", "reference"))
    named_as_reference = (method == "synthesis") & (reference != "") & (predicted == reference)
    assert named_as_reference.sum() >= 10  # the rule matters on these data
    return write_results(tmp_path_factory.mktemp("study"), cols)


def _dicore_counts(path) -> dict:
    obs, vocab = read_results_file(path)
    out = {}
    for r in metrics_table(obs, vocab):
        if r["metric"] in SIX and r["n"]:
            out[f"{r['dataset']}|{r['vendor']}|{r['metric']}"] = [round(r["value"] * r["n"] / 100), r["n"]]
    return out


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_pandas_reference_counts_equal_dicore_with_synthesis(study_files, kind):
    path = study_files[0] if kind == "csv" else study_files[1]
    theirs = {k: v for k, v in counts(str(path)).items() if v[1]}
    ours = _dicore_counts(path)
    assert any(k.startswith("CelebBlend|") for k in theirs)
    assert theirs == ours
