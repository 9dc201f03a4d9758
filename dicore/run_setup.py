"""Setting up a run over a manifest: its backends (`make_backends`: replay cassettes,
the sim backend's gallery) and, for billed live calls, the confirmation with calls, cost
and duration at the rates the runner will use (`confirm_live`)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from dicore.errors import UserError


def make_backends(vendors: Sequence[str], kind: str, cassette: Path | None = None,
                  gallery: Path | None = None, faults: str | None = None) -> dict:
    from dicore.backends import make_backend

    if gallery is not None and kind != "sim":
        raise UserError(f"--gallery is for --backend sim, not --backend {kind}",
                        hint="a live or replayed vendor knows its own people")
    if faults is not None:
        if kind != "sim":
            raise UserError(f"--faults is for --backend sim, not --backend {kind}",
                            hint="to test a live client, run `dicore serve VENDOR --faults ...` "
                            "and point the live backend at it")
        from simulators.faults import FaultSpec

        try:
            FaultSpec.parse(faults)
        except ValueError as exc:
            raise UserError(f"--faults {faults}: {exc}",
                            hint="e.g. --faults throttle=0.05,server-error=0.02,seed=1") from None
    known = None
    if gallery is not None:
        from dicore.backends.sim import load_gallery

        known = load_gallery(gallery)  # once: the vendors share it
    backends = {}
    for v in vendors:
        options = {}
        if known is not None:
            options["gallery"] = known
        if faults is not None:
            options["faults"] = faults
        if kind == "replay":
            if cassette is None:
                raise UserError(
                    "--backend replay needs --cassette FILE_OR_DIR",
                    hint="a file, a folder of <vendor>.yaml, or a path with {vendor} in it",
                )
            if "{vendor}" in str(cassette):
                options["cassette"] = Path(str(cassette).replace("{vendor}", v))
            elif cassette.is_dir():
                options["cassette"] = cassette / f"{v}.yaml"
            else:
                options["cassette"] = cassette
        backends[v] = make_backend(v, kind, **options)
    return backends


def confirm_live(tasks, backends, *, yes: bool, console, rates=None) -> None:
    """Show call counts, cost and duration of a live run; ask unless --yes. The duration is
    at the rates the runner will use (`dicore.ratelimit.live_rates`: defaults or --rate)."""
    from collections import Counter

    from rich.table import Table

    counts = Counter((t.vendor, t.call) for t in tasks)
    calls = {v: (counts[(v, "recognize")], counts[(v, "similarity")]) for v in backends}
    table = Table(title="live API calls about to be made")
    for c in ("vendor", "recognition", "similarity", "USD (est.)", "time at rate limit"):
        table.add_column(c, justify="right" if c != "vendor" else "left")
    try:
        import datetime as dt

        from dicore import paper
        from dicore.core.cost import format_duration, study_cost, total_row
        from dicore.ratelimit import live_rates

        tps, sources = live_rates(list(calls), rates)
        rows = study_cost(calls, pricing=paper.pricing(), tps=tps, tps_source=sources,
                          start=dt.datetime.now(dt.UTC))
        for r in rows:
            at = "no limit" if r.tps == float("inf") else f"{format_duration(r.seconds)} at {r.tps:g}/s"
            table.add_row(r.vendor, str(r.recognition_calls), str(r.similarity_calls),
                          f"{r.usd:,.2f}", at)
        tot = total_row(rows)
        table.add_row("total", str(tot["recognition_calls"]), str(tot["similarity_calls"]),
                      f"{tot['usd']:,.2f}", format_duration(tot["seconds"]))
    except ImportError:  # cost module absent: counts only
        for v, (rec, sim) in calls.items():
            table.add_row(v, str(rec), str(sim), "?", "?")
    console.print(table)
    if yes:
        return
    if not sys.stdin.isatty():
        raise UserError(
            "a live run needs confirmation and stdin is not a terminal",
            hint="pass --yes to accept the calls and cost shown above",
        )
    from rich.prompt import Confirm

    if not Confirm.ask("Make these calls (they are billed by the vendors)?", console=console):
        raise UserError("cancelled; nothing was sent", hint="pass --yes to skip this question")
