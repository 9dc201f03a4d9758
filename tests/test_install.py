"""Install hygiene (issue 10): `dicore --version`, and one OpenCV build only."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

import dicore
from dicore.cli import main

ROOT = Path(__file__).resolve().parent.parent


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith(f"dicore {dicore.__version__} (Python ")


def test_one_opencv_build_and_the_other_refused():
    """insightface requires opencv-python; dicore listed opencv-python-headless too, and the
    two overwrite one cv2/. Now: only opencv-python, and constraints.txt (used by every
    install script) makes the headless build unsatisfiable."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(r) for extra in project["optional-dependencies"].values() for r in extra
            if not r.startswith("dicore[")] + [Requirement(r) for r in project["dependencies"]]
    names = {r.name for r in reqs}
    assert "opencv-python" in names and "opencv-python-headless" not in names
    constraints = [Requirement(line.split("#")[0]) for line in
                   (ROOT / "constraints.txt").read_text().splitlines()
                   if line.split("#")[0].strip()]
    (headless,) = [c for c in constraints if c.name == "opencv-python-headless"]
    for version in ("0.0.0", "0.0.0.dev0", "4.10.0.84", "5.0.0.93", "99"):
        assert not headless.specifier.contains(version, prereleases=True)
    for script in ("scripts/test.sh", "scripts/demo.sh", "noxfile.py"):
        text = (ROOT / script).read_text()
        assert "constraints.txt" in text, script
