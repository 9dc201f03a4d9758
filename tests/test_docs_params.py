"""docs/simulation.md's parameter and fit tables are the packaged calibrated.json's, rendered
by scripts/params_tables.py (so a refit that forgets the docs fails here)."""

import importlib.util
from pathlib import Path

from simulators.policies import load_params

ROOT = Path(__file__).resolve().parents[1]


def _render():
    spec = importlib.util.spec_from_file_location(
        "params_tables", ROOT / "scripts" / "params_tables.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.render


def test_simulation_doc_tables_are_the_packaged_parameters():
    params = load_params()
    tables = _render()(params)
    doc = (ROOT / "docs" / "simulation.md").read_text("utf-8")
    assert tables in doc, "run: python scripts/params_tables.py, paste into docs/simulation.md"


def test_render_shows_every_parameter_and_every_target():
    params = load_params()
    out = _render()(params)
    assert all(f"| {p['name']} |" in out for p in params["parameters"]["table"])
    rows = params["fit"]["seed0"]["rows"]
    lines = out.splitlines()
    assert sum(line.startswith("| TA/NA |") for line in lines) == 30
    families = tuple(f"| {f} |" for f in ("TA/NA", "Figure 4", "genuine", "per-identity"))
    assert sum(line.startswith(families) for line in lines) == len(rows)
    assert all(f"| {r['label']} |" in out for r in rows)
