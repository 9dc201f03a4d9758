"""Print the markdown tables of docs/simulation.md ("Fitted parameters") from a
calibrated.json: the fitted parameters, the fixed numbers, the fit per target on seed 0 and
the family summary. Usage: python scripts/params_tables.py [calibrated.json]"""

import json
import sys
from pathlib import Path

DEFAULT = Path(__file__).resolve().parents[1] / "simulators" / "params" / "calibrated.json"


def _value(x) -> str:
    if isinstance(x, float) and abs(x) >= 1e4:
        return f"{x:.3g}"
    return str(x)


def render(params: dict) -> str:
    out = ["| # | parameter | value | kind | meaning |", "|---:|---|---:|---|---|"]
    for i, p in enumerate(params["parameters"]["table"], 1):
        out.append(f"| {i} | {p['name']} | {_value(p['value'])} | {p['kind']} | {p['meaning']} |")
    out += ["", "| fixed | value | source |", "|---|---:|---|"]
    out += [
        f"| {f['name']} | {f['value']} | {f['source']} |" for f in params["parameters"]["fixed"]
    ]
    out += ["", "| family | target | ours | paper | diff | tol | met |",
            "|---|---|---:|---:|---:|---:|---|"]  # fmt: skip
    for r in params["fit"]["seed0"]["rows"]:
        met = "yes" if r["met"] else "**no**"
        if "w1" in r:
            met += f" (W1 {r['w1']:.1f})"
        out.append(f"| {r['family']} | {r['label']} | {r['simulated']:.1f} | {r['paper']:.1f} | "
                   f"{r['difference']:+.1f} | {r['tolerance']:.1f} | {met} |")  # fmt: skip
    out.append("")
    out += [f"- {k}: {v}" for k, v in params["fit"]["seed0"]["summary"].items()]
    return "\n".join(out)


if __name__ == "__main__":
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    print(render(json.loads(path.read_text(encoding="utf-8"))))
