"""Print the markdown tables of docs/simulation.md ("Fitted parameters") from a
calibrated.json: the fitted parameters, the fixed numbers, the fit per target on seed 0 and
the family summary. Usage: python scripts/params_tables.py [calibrated.json]"""

import json
import sys

from simulators.policies import load_params


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
    path = sys.argv[1] if len(sys.argv) > 1 else None  # default: the packaged file
    try:
        params = load_params(path)
        print(render(params))
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        sys.exit(f"params_tables: {path or 'packaged calibrated.json'}: cannot render it "
                 f"({type(exc).__name__}: {exc}); give a calibrated.json written by dicore calibrate")  # fmt: skip
