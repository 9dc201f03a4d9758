"""The `dicore` command line: a thin dispatcher over `dicore.commands.*`."""

from __future__ import annotations

import argparse
import importlib
import sys

from dicore.commands import COMMAND_MODULES
from dicore.errors import UserError


def build_parser(command: str | None = None, *, names_only: bool = False) -> argparse.ArgumentParser:
    """The whole command line; with `command`, only that command's module is imported and
    the others are listed by name: `dicore metrics` then starts without what other
    commands import (`dicore record` imports vcr and botocore, about 0.4 s). `names_only`
    imports no command (`dicore --version` then starts without JAX)."""
    parser = argparse.ArgumentParser(
        prog="dicore",
        description="Measure face-recognition APIs under deepfake impersonation attacks "
        "(offline simulators by default; live APIs with keys).",
        formatter_class=argparse.RawDescriptionHelpFormatter,  # --version keeps its lines
    )
    parser.add_argument("--version", action="version", version=version_text())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        if names_only or (command is not None and name != command):
            sub.add_parser(name)  # its options and help are read when it is the command
            continue
        module = importlib.import_module(f"dicore.commands.{name}")
        cmd = sub.add_parser(
            module.NAME,
            help=module.HELP,
            description=module.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


def version_text() -> str:
    """`dicore --version`: dicore's and Python's versions, and a clash of OpenCV builds."""
    import importlib.metadata as md
    import platform

    from dicore import __version__

    text = f"dicore {__version__} (Python {platform.python_version()})"
    installed = []
    for dist in ("opencv-python", "opencv-python-headless"):
        try:
            md.version(dist)
        except md.PackageNotFoundError:
            continue
        installed.append(dist)
    if len(installed) == 2:
        text += ("\nwarning: opencv-python and opencv-python-headless are both installed and "
                 "share cv2/; fix: pip uninstall -y opencv-python-headless opencv-python && "
                 "pip install -c constraints.txt -e '.[all]' (see constraints.txt)")
    return text


def command_of(argv: list[str]) -> str | None:
    """The command `argv` names first (None: top-level options or no known command)."""
    return argv[0] if argv and argv[0] in COMMAND_MODULES else None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # `dicore --version` exits at its first argument: no command's module is needed.
    parser = build_parser(command_of(argv), names_only=argv[:1] == ["--version"])
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except UserError as exc:
        print(f"dicore {args.command}: error: {exc}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"dicore {args.command}: interrupted; completed work is kept.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
