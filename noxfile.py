"""nox sessions: each installs what it needs itself."""

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.default_venv_backend = "venv"


@nox.session
def tests(session: nox.Session) -> None:
    """The README's test suite."""
    session.install("-c", "constraints.txt", "-e", ".[test]")
    session.run("pytest", "-q", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.6")
    session.run("ruff", "check", "dicore", "simulators", "tests", "benchmarks", "noxfile.py")


@nox.session
def typecheck(session: nox.Session) -> None:
    session.install("-c", "constraints.txt", "-e", ".", "mypy>=1.10")
    session.run("mypy", "dicore/")


@nox.session
def bench(session: nox.Session) -> None:
    """Every benchmark; writes benchmarks/results/<name>.json (figures, baselines, ratios)."""
    session.install("-c", "constraints.txt", "-e", ".[test]")
    session.run("python", "-m", "benchmarks", *session.posargs)


@nox.session
def demo(session: nox.Session) -> None:
    """The main job on its embedded default (paper-scale synthetic cohort, simulated vendors)."""
    session.install("-c", "constraints.txt", "-e", ".[all]")
    session.run("dicore", "study", *session.posargs)


@nox.session
def calibration(session: nox.Session) -> None:
    """Full calibration check: simulated TA/NA vs the paper's 30 cells at paper scale."""
    session.install("-c", "constraints.txt", "-e", ".[test]")
    session.run("pytest", "-q", "-m", "slow", "tests", *session.posargs)
