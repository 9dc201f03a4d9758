"""A vectorised pandas reference for `dicore metrics` (issue 11's baseline): what a user
would write instead. Reads a results file, merges each fake with its paired real row
(same vendor and dataset), and counts TA, NA, DHF, DHC, DHS and SIC per (dataset,
vendor) with groupby, by the rules of docs/metrics.md, the synthesis rule of TA included
(a synthesis fake named as its reference R counts when R's real image, the first real
row of R in the vendor's dataset by item id, is named R), and SIC counting the identity
each TA fake impersonates (its target, or that reference) out of the identities a fake
could impersonate (targets, and synthesis fakes' references).

`python -m benchmarks.pandas_reference RESULTS [BETA GAMMA]` prints
{"dataset|vendor|metric": [numerator, n]} as JSON.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd


def counts(path: str, beta: float = 90.0, gamma: float = 80.0) -> dict:
    cols = ["vendor", "dataset", "method", "item_id", "is_fake", "real_item_id", "target",
            "reference", "predicted", "confidence", "similarity"]
    if path.endswith(".parquet"):
        df = pd.read_parquet(path, columns=cols)
    else:
        df = pd.read_csv(path, usecols=cols, keep_default_na=False, na_values={"confidence": [""], "similarity": [""]})
    for c in ("predicted", "reference"):  # empty text is null in Parquet
        df[c] = df[c].fillna("")
    fake_flag = df["is_fake"]
    if fake_flag.dtype != bool:
        fake_flag = fake_flag.astype(str).str.lower().isin(["true", "1", "yes", "t", "y"])
    reals = df.loc[~fake_flag, ["vendor", "dataset", "item_id", "predicted", "confidence", "target"]]
    fakes = df.loc[fake_flag]
    m = fakes.merge(reals, left_on=["vendor", "dataset", "real_item_id"],
                    right_on=["vendor", "dataset", "item_id"], suffixes=("", "_real"))
    # A synthesis blend's reference R: the first real row of R (by item id) in its vendor
    # and dataset.
    first_real = (reals.sort_values("item_id", kind="stable")
                  .drop_duplicates(["vendor", "dataset", "target"])
                  .rename(columns={"target": "reference", "predicted": "predicted_ref"}))
    m = m.merge(first_real[["vendor", "dataset", "reference", "predicted_ref"]],
                on=["vendor", "dataset", "reference"], how="left")
    named = m["predicted"] != ""
    by_reference = (named & (m["method"] == "synthesis") & (m["reference"] != "")
                    & (m["predicted"] == m["reference"]) & (m["predicted_ref"] == m["reference"]))
    by_target = named & (m["predicted"] == m["target"]) & (m["predicted_real"] == m["target"])
    ta = by_target | by_reference
    real_conf = m["confidence_real"].where(m["predicted_real"] != "", 0.0).fillna(0.0)
    out = pd.DataFrame({
        "dataset": m["dataset"], "vendor": m["vendor"], "target": m["target"],
        "TA": ta, "NA": named,
        "DHF": named & (m["confidence"] > real_conf),
        "DHC": named & (m["confidence"] > beta),
        "DHS": ~named & (m["similarity"] > gamma),
        "named": named, "has_sim": ~named & m["similarity"].notna(),
    })
    g = out.groupby(["dataset", "vendor"], sort=False)
    agg = g.agg(TA=("TA", "sum"), NA=("NA", "sum"), DHF=("DHF", "sum"), DHC=("DHC", "sum"),
                DHS=("DHS", "sum"), fakes=("TA", "size"), named=("named", "sum"),
                has_sim=("has_sim", "sum"))
    # SIC: identities impersonated (a TA fake's target, or the reference it was named as)
    # / identities impersonable (fakes' targets and synthesis fakes' references).
    key = ["dataset", "vendor", "identity"]
    impersonated = pd.concat([
        m.loc[by_target, ["dataset", "vendor", "target"]].set_axis(key, axis=1),
        m.loc[by_reference & ~by_target, ["dataset", "vendor", "reference"]].set_axis(key, axis=1),
    ]).drop_duplicates()
    synthesis = (m["method"] == "synthesis") & (m["reference"] != "")
    impersonable = pd.concat([
        m[["dataset", "vendor", "target"]].set_axis(key, axis=1),
        m.loc[synthesis, ["dataset", "vendor", "reference"]].set_axis(key, axis=1),
    ]).drop_duplicates()
    sic_num = impersonated.groupby(["dataset", "vendor"]).size()
    sic_den = impersonable.groupby(["dataset", "vendor"]).size()
    result = {}
    for (d, v), r in agg.iterrows():
        result[f"{d}|{v}|TA"] = [int(r.TA), int(r.fakes)]
        result[f"{d}|{v}|NA"] = [int(r.NA), int(r.fakes)]
        result[f"{d}|{v}|DHF"] = [int(r.DHF), int(r.fakes)]
        result[f"{d}|{v}|DHC"] = [int(r.DHC), int(r.named)]
        result[f"{d}|{v}|DHS"] = [int(r.DHS), int(r.has_sim)]
        result[f"{d}|{v}|SIC"] = [int(sic_num.get((d, v), 0)), int(sic_den[(d, v)])]
    return result


if __name__ == "__main__":
    args = sys.argv[1:]
    beta, gamma = (float(args[1]), float(args[2])) if len(args) >= 3 else (90.0, 80.0)
    print(json.dumps(counts(args[0], beta, gamma)))
    np.seterr(all="ignore")
