"""`groups.json`: every metric per group of a column (a manifest column carried into the
results file, or a results column such as `method`), and how often predicted names repeat.

`{"beta", "gamma", "simulated", "columns": [names], "rows": [{"column", "group", "vendor",
"metric", "value", "ci_low", "ci_high", "n"}], "name_repeats": [{"column", "group", "vendor",
"named_fakes", "distinct_names", "top_name", "top_count", "names_at_top_count", "top_share",
"top5_share", "repeats_per_name"}]}`. Rows are metrics.json rows with `group` in place of
`dataset` (datasets pooled); shares in percent. Written by `dicore metrics --group-by COLUMN`
and the study (`dicore.breakdowns.group_metric_rows`, `name_repeat_rows`).
"""

from __future__ import annotations

from pathlib import Path

from dicore.formats.atomic import read_json, write_json


def write_groups_json(path: str | Path, rows: list[dict], name_repeats: list[dict], *,
                      columns: list[str], beta: float, gamma: float, simulated: bool) -> Path:
    return write_json(path, {"beta": float(beta), "gamma": float(gamma),
                             "simulated": bool(simulated), "columns": list(columns),
                             "rows": rows, "name_repeats": name_repeats})


def read_groups_json(path: str | Path) -> dict:
    from dicore.errors import UserError

    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("rows"), list):
        raise UserError(f"{path}: expected an object with 'rows'",
                        "rewrite it with `dicore metrics --group-by COLUMN --out groups.json`")
    return data
