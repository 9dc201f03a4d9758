"""`write_report(out_dir, inputs)`: report.md, a self-contained report.html and the PNGs."""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path
from typing import Any

from dicore import METRICS, paper
from dicore.report import figures, fit, protocol, sections
from dicore.report.model import ReportInputs, vendor_label

SIM_BANNER = ("SIMULATED: these numbers come from dicore's simulated vendors, not from the "
              "real AWS, Azure or Naver APIs.")


def _fmt(x: Any, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def _signed(x: float | None) -> str:
    return "n/a" if x is None else f"{x:+.1f}"


def _tables(inputs: ReportInputs) -> dict[str, tuple[list[str], list[list[str]]]]:
    """Every table of the report as (header, rows of strings), shared by md and html."""
    who = "simulated" if inputs.simulated else "measured"
    comp = [[r.dataset, vendor_label(r.vendor), r.metric, _fmt(r.simulated), _fmt(r.paper),
             _signed(r.difference)] for r in inputs.comparison or []]
    defence = [[str(r.get("dataset")), str(r.get("detector")), _fmt(r.get("detector_acc")),
                vendor_label(str(r.get("vendor"))), str(r.get("attack")),
                _fmt(r.get("asr_before"), 2), _fmt(r.get("asr_after"), 2),
                _fmt(r.get("real_blocked"), 2), str(r.get("source", ""))]
               for r in inputs.defence]
    prov = []
    for key, value in inputs.provenance.items():
        if key == "warnings":  # shown at the top of the report
            continue
        if isinstance(value, dict):
            value = ", ".join(f"{k}: {v}" for k, v in value.items())
        elif isinstance(value, list | tuple):
            value = ", ".join(map(str, value))
        prov.append([str(key), str(value)])
    cell = {(r["dataset"], r["vendor"], r["metric"]): r for r in inputs.metrics}
    metrics = []
    for d in inputs.datasets:
        for v in inputs.vendors:
            row = [d, vendor_label(v)]
            for m in METRICS:
                r = cell.get((d, v, m))
                if r is None or r.get("value") is None:
                    row.append("n/a")
                else:
                    row.append(f"{r['value']:.1f} [{_fmt(r.get('ci_low'))}, "
                               f"{_fmt(r.get('ci_high'))}] n={r.get('n', '?')}")
            metrics.append(row)
    return {
        "comparison": (["dataset", "vendor", "metric", who, "paper", "difference (pp)"], comp),
        "defence": (["dataset", "detector", "detector acc %", "vendor", "attack",
                     "ASR before %", "ASR after %", "real blocked %", "source"], defence),
        "provenance": (["item", "value"], prov),
        "fit": fit.fit_table(inputs),
        "inconsistencies": fit.inconsistencies(),
        "metrics": (["dataset", "vendor", *[f"{m} % [95% CI]" for m in METRICS]], metrics),
        "operating": protocol.operating_table(inputs),
        "impostors": protocol.impostor_table(inputs),
        "iso": protocol.iso_table(inputs),
    }


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    if not rows:
        return "_(no rows)_\n"
    esc = [[c.replace("|", "\\|") for c in r] for r in [header, *rows]]
    lines = ["| " + " | ".join(esc[0]) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in esc[1:]]
    return "\n".join(lines) + "\n"


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    if not rows:
        return "<p><em>(no rows)</em></p>"
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>"
                   for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _summary(inputs: ReportInputs) -> list[str]:
    """A few sentences a reader sees first. A highest value shared by several cells names
    them all (up to 4, then how many more), never one picked arbitrarily."""
    out = []
    for m in ("TA", "NA"):
        rows = [r for r in inputs.metrics if r["metric"] == m and r.get("value") is not None]
        if rows:
            top = max(r["value"] for r in rows)
            tied = [f"{vendor_label(r['vendor'])} on {r['dataset']}" for r in rows
                    if r["value"] == top]
            where = ", ".join(tied[:4]) + (f" and {len(tied) - 4} more" if len(tied) > 4 else "")
            share = f"; {len(tied)} cells tie" if len(tied) > 1 else ""
            out.append(f"Highest {m}: {top:.1f}% ({where}{share}).")
    diffs = [abs(r.difference) for r in inputs.comparison or [] if r.difference is not None]
    if diffs:
        out.append(f"Against the paper's {len(diffs)} TA/NA cells: mean |difference| "
                   f"{sum(diffs) / len(diffs):.1f} pp, max {max(diffs):.1f} pp.")
    return out


SECTIONS = (
    ("figure4.png", "Figure 4: attack metrics",
     "Bars: dicore's value per dataset and vendor with its 95% interval; black diamonds: "
     "the paper's TA/NA values."),
    ("comparison", "TA/NA against the paper",
     "Every TA/NA cell of the paper (Figure 4, as given by Table 2's before-rates) next to "
     "dicore's."),
    ("fit", "Fit to the paper", fit.FIT_NOTE),
    ("inconsistencies", "The paper's known inconsistencies",
     "Where the paper's own numbers disagree with each other, or hold together only through "
     "an effect of one dataset on one vendor (which the simulated vendors, by design, do "
     "not have); the fit table notes each one on the target it bites."),
    ("tradeoff.png", "Trade-off over the reporting threshold",
     "What attack success and genuine recognition (a real image named as its own identity) "
     "would be if the vendor reported names only at confidence >= tau."),
    ("operating", "Operating points",
     "95% intervals: tau and rates by a cluster bootstrap over identities (rates floored by the "
     "cluster-adjusted Wilson interval). A point chosen on the data it is reported on is "
     "optimistic; `--protocol dev-eval` chooses it on a development set of identities."),
    ("impostors", "Zero-effort impostors: genuine vs impostor",
     "Real faces of people the vendor does not know (not celebrities): any name is a false "
     "name. The taus where the false-name rate first falls to 1% / 0.1%, with genuine "
     "recognition and attack success there (three classes)."),
    ("iso", "ISO/IEC 30107-3 and 19795 names", "The standard's names beside the paper's "
     "(docs/metrics.md has the mapping)."),
    ("sweeps.png", "Threshold sweeps", "DHC over beta and DHS over gamma."),
    ("defence", "Defence: a deepfake detector in front of the API",
     "A fake the detector blocks cannot succeed; attack success after the filter is over all "
     "fakes. Source `analytic`: ASR_after = ASR_before x (1 - accuracy); `measured`: from "
     "detector scores; `simulated`: from simulated detector scores."),
    ("metrics", "All metrics", "Values in percent with 95% interval and n."),
    ("provenance", "Provenance", "Where every number comes from."),
)


def write_report(out_dir: str | Path, inputs: ReportInputs) -> dict[str, Path]:
    """Write report.md, report.html (images inlined as base64) and the PNGs into `out_dir`.

    Returns {name: path} of the files written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pngs = figures.all_figures(inputs)
    written: dict[str, Path] = {}
    for name, data in pngs.items():
        (out / name).write_bytes(data)
        written[name] = out / name
    tables = _tables(inputs)
    sim = bool(inputs.simulated)
    title = f"{inputs.title}{' (SIMULATED)' if sim else ''}"
    params = (f"beta = {inputs.beta:g}% (DHC), gamma = {inputs.gamma:g}% (DHS); paper: "
              f"beta = {paper.thresholds()['beta']:g}, gamma = {paper.thresholds()['gamma']:g}.")

    md = [f"# {title}\n"]
    h = ["<!doctype html><html><head><meta charset='utf-8'>",
         f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
         f"<h1 id='top'>{html.escape(title)}</h1>"]
    if sim:
        md.append(f"> **{SIM_BANNER}**\n")
        h.append(f"<div class='sim'>{html.escape(SIM_BANNER)}</div>")
    for warning in inputs.provenance.get("warnings") or []:  # e.g. a name mismatch
        md.append(f"> **Warning:** {warning}\n")
        h.append(f"<div class='warn'><b>Warning:</b> {html.escape(str(warning))}</div>")
    for line in [params, *_summary(inputs), *fit.headlines(inputs)]:
        md.append(f"- {line}")
        h.append(f"<p>{html.escape(line)}</p>")
    md.append("")
    blocks: list[tuple[str, str, list[str], list[str]]] = []  # (anchor, heading, md, html)

    def figure(name: str, heading: str, data: bytes) -> tuple[str, str]:
        b64 = base64.b64encode(data).decode("ascii")
        # Inline (the page is self-contained); a click toggles full size (the PNG is also
        # written beside the page as `name`).
        return (f"![{heading}]({name})\n",
                f"<div class='fig'><img alt='{html.escape(heading)}' title='click: full size "
                f"({html.escape(name)})' onclick=\"this.classList.toggle('full')\" "
                f"src='data:image/png;base64,{b64}'></div>")

    def add(anchor, heading, note, md_parts, html_parts):
        blocks.append((anchor, heading,
                       [f"## {heading}\n", note + "\n" if note else "", *md_parts],
                       [f"<p>{html.escape(note)}</p>" if note else "", *html_parts]))

    for key, heading, note in SECTIONS:
        anchor = key.removesuffix(".png")
        if key == "metrics":  # the breakdown sections come before the full metrics table
            for sec in sections.breakdown_sections(inputs):
                md_parts, html_parts = [], []
                for name, data in sec.pngs.items():
                    (out / name).write_bytes(data)
                    written[name] = out / name
                    m_, h_ = figure(name, sec.heading, data)
                    md_parts.append(m_)
                    html_parts.append(h_)
                for caption, header, rows in sec.tables:
                    md_parts += [f"**{caption}**\n" if caption else "", _md_table(header, rows)]
                    html_parts += [f"<h3>{html.escape(caption)}</h3>" if caption else "",
                                   _html_table(header, rows)]
                for caption, header, rows in sec.details:
                    md_parts += [f"**{caption}**\n", _md_table(header, rows)]
                    html_parts.append(f"<details><summary>{html.escape(caption)} "
                                      f"({len(rows)} rows)</summary>{_html_table(header, rows)}"
                                      "</details>")
                add(sec.key, sec.heading, sec.note, md_parts, html_parts)
        if key.endswith(".png"):
            if key not in pngs:
                continue
            m_, h_ = figure(key, heading, pngs[key])
            add(anchor, heading, note, [m_], [h_])
        elif key == "defence":
            header, rows = tables[key]
            if not rows:
                continue
            best = sections.defence_summary(inputs.defence)
            best_header = ["dataset", "vendor", "attack", "best detector (ties joined by =)",
                           "detector acc %", "ASR before %", "ASR after %", "detectors"]
            add(anchor, heading, note + " Summary: the detector with the lowest attack success "
                "after the filter per dataset, vendor and attack; the full table is below "
                "(collapsed) and in defence.csv.",
                [_md_table(best_header, best), "<details><summary>Full defence table</summary>"
                 "\n\n", _md_table(header, rows), "\n</details>\n"],
                [_html_table(best_header, best),
                 f"<details><summary>Full defence table ({len(rows)} rows; also defence.csv)"
                 f"</summary>{_html_table(header, rows)}</details>"])
        else:
            header, rows = tables[key]
            if not rows and key in ("operating", "defence", "impostors"):
                continue
            add(anchor, heading, note, [_md_table(header, rows)], [_html_table(header, rows)])
    toc = [(a, hd) for a, hd, _, _ in blocks]
    md.append("**Contents:** " + " · ".join(f"[{hd}](#{a})" for a, hd in toc) + "\n")
    h.append("<nav class='toc'><b>Contents</b><ol>" + "".join(
        f"<li><a href='#{html.escape(a)}'>{html.escape(hd)}</a></li>" for a, hd in toc)
        + "</ol></nav>")
    for anchor, heading, md_parts, html_parts in blocks:
        md += md_parts
        h += [f"<h2 id='{html.escape(anchor)}'>{html.escape(heading)} "
              f"<a class='top' href='#top'>&uarr; top</a></h2>", *html_parts]
    if sim:
        md.append(f"\n> **{SIM_BANNER}**\n")
        h.append(f"<div class='sim'>{html.escape(SIM_BANNER)}</div>")
    h.append("</body></html>")
    (out / "report.md").write_text("\n".join(md), encoding="utf-8")
    (out / "report.html").write_text("\n".join(h), encoding="utf-8")
    written["report.md"] = out / "report.md"
    written["report.html"] = out / "report.html"
    return written


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1200px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em}h2{margin-top:1.8em;border-bottom:1px solid #ddd;padding-bottom:.2em}
.sim{background:#C00000;color:#fff;font-weight:bold;padding:.7em 1em;border-radius:4px;
font-size:1.1em;margin:1em 0}
.warn{background:#fff4cc;border:1px solid #e0b000;padding:.6em 1em;border-radius:4px;margin:1em 0}
img{max-width:100%;height:auto;border:1px solid #eee;cursor:zoom-in}
.fig{overflow-x:auto}img.full{max-width:none;cursor:zoom-out}
.toc{background:#f7f7f7;border:1px solid #ddd;border-radius:4px;padding:.4em 1em;margin:1em 0}
.toc ol{margin:.3em 0;columns:2}a.top{font-size:.6em;font-weight:normal;margin-left:.6em}
details{margin:.5em 0}summary{cursor:pointer;font-weight:bold}h3{font-size:1em}
td{font-variant-numeric:tabular-nums}
table{border-collapse:collapse;font-size:.88em;margin:.5em 0}
th,td{border:1px solid #ccc;padding:.25em .55em;text-align:left}
th{background:#f3f3f3}tbody tr:nth-child(even){background:#fafafa}
"""
