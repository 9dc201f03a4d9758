"""One module per `dicore` subcommand.

Each module defines `NAME`, `HELP`, `add_arguments(parser)` and `run(args) -> int`.
"""

COMMAND_MODULES = (
    "study",
    "run",
    "manifest",
    "metrics",
    "sweep",
    "defend",
    "cost",
    "report",
    "serve",
    "record",
    "calibrate",
    "names",
    "cassettes",
)
