"""`dicore metrics` and `dicore sweep` start without importing what other commands need
(`dicore record`: vcr and botocore): the CLI imports the named command's module only.
Each check runs a fresh interpreter, whose sys.modules is the evidence."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("vcr", "botocore", "dicore.commands.record", "dicore.backends.cassettes")

PROBE = """
import json, sys
from dicore.cli import main
try:
    code = main(json.loads(sys.argv[1]))
except SystemExit as exc:  # --help exits
    code = exc.code
print(json.dumps({"code": code, "modules": sorted(m for m in sys.modules if m.startswith(("dicore.commands.", "vcr", "botocore", "dicore.backends")))}))
"""


def _modules(argv: list[str]) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", PROBE, json.dumps(argv)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.parametrize("command", ["metrics", "sweep"])
def test_a_command_imports_no_other_commands_module(command):
    got = _modules([command, "--help"])
    assert got["code"] == 0
    assert not [m for m in got["modules"] if m.split(".")[0] in ("vcr", "botocore") or m in HEAVY]
    assert f"dicore.commands.{command}" in got["modules"]


def test_metrics_on_a_results_file_imports_neither_vcr_nor_botocore(tmp_path):
    from dicore.formats.results import write_results
    from simulators.cohort import simulate_cohort_results

    write_results(tmp_path, simulate_cohort_results(scale="small", seed=1))
    got = _modules(["metrics", "--results", str(tmp_path / "results.parquet"),
                    "--out", str(tmp_path / "metrics.json")])
    assert got["code"] == 0 and (tmp_path / "metrics.json").exists()
    assert not [m for m in got["modules"] if m.split(".")[0] in ("vcr", "botocore") or m in HEAVY]


def test_the_top_level_help_still_lists_every_command_with_its_help(capsys):
    from dicore.cli import build_parser
    from dicore.commands import COMMAND_MODULES

    build_parser().print_help()
    text = capsys.readouterr().out
    assert all(name in text for name in COMMAND_MODULES)
    assert "record vendor calls" in text  # record's HELP: its module was imported


def test_a_command_parses_as_in_the_full_parser():
    from dicore.cli import build_parser, command_of

    argv = ["sweep", "--results", "r.csv", "--taus", "70:100:1", "--no-joint"]
    assert command_of(argv) == "sweep" and command_of(["--version"]) is None
    lazy, full = build_parser("sweep").parse_args(argv), build_parser().parse_args(argv)
    assert {k: v for k, v in vars(lazy).items() if k != "_run"} == {
        k: v for k, v in vars(full).items() if k != "_run"}


def _fresh(code: str) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=300, check=True).stdout
    return out.strip().splitlines()


def test_import_dicore_does_not_import_jax_and_keeps_its_names():
    got = _fresh("import sys, dicore; print('jax' in sys.modules)\n"
                 "from dicore import VENDORS, METRICS; print(VENDORS[0], METRICS[0])\n"
                 "from dicore.core import vocab; print(dicore.VENDORS is vocab.VENDORS)")
    assert got == ["False", "aws TA", "True"]


def test_version_imports_neither_jax_nor_a_command():
    got = _fresh("import sys\nfrom dicore.cli import main\n"
                 "try:\n    main(['--version'])\nexcept SystemExit as exc:\n    print(exc.code)\n"
                 "print(sorted(m for m in sys.modules if m == 'jax' or m.startswith('dicore.commands.')))")
    assert got[0].startswith("dicore ") and got[1:] == ["0", "[]"]
