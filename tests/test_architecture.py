"""The floor plan of docs/ARCHITECTURE.md, checked on the import graph (ast, not grep).

- no import cycle among dicore's modules (a package's `__init__` counts as a module, so a
  package and a submodule importing each other is a cycle);
- `dicore.core` imports nothing outside `dicore.core` but the standard library, NumPy and JAX;
- only `dicore/cli.py` (and the commands themselves) import `dicore.commands`;
- a module over 400 lines says in its docstring why it is that long.

Every `import` statement counts, also those inside functions (lazy imports are still
dependencies); `from pkg import name` is an edge to `pkg.name` when that is a module, else
to `pkg`.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "dicore"
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str, path: Path) -> set[str]:
    """Absolute names of everything `path` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for a in node.names:
                full = f"{base}.{a.name}"
                out.add(full if full in MODULES else base)
    return out


GRAPH = {name: {i for i in imports_of(name, path) if i in MODULES and i != name}
         for name, path in MODULES.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_graph_sees_the_modules_and_their_imports():
    assert {"dicore", "dicore.core.metrics", "dicore.formats.results", "dicore.cli"} <= set(MODULES)
    assert "dicore.core.kernel" in GRAPH["dicore.core.metrics"]
    assert "dicore.commands" in GRAPH["dicore.cli"]


def test_the_cycle_finder_finds_a_package_and_submodule_cycle():
    graph = {"p": {"p.a"}, "p.a": {"p"}, "q": set()}
    assert find_cycle(graph) == ["p", "p.a", "p"]
    assert find_cycle({"p": {"p.a"}, "p.a": set()}) is None


def test_no_import_cycle_in_dicore():
    assert find_cycle(GRAPH) is None, " -> ".join(find_cycle(GRAPH) or [])


def test_the_core_imports_only_the_core_numpy_jax_and_the_standard_library():
    allowed_roots = {"numpy", "jax", "__future__"} | set(sys.stdlib_module_names)
    bad = {}
    for name, path in MODULES.items():
        if not name.startswith("dicore.core"):
            continue
        outside = sorted(i for i in imports_of(name, path)
                         if not (i == "dicore.core" or i.startswith("dicore.core."))
                         and i.split(".")[0] not in allowed_roots)
        if outside:
            bad[name] = outside
    assert not bad, bad


def test_only_the_cli_imports_the_commands():
    bad = sorted(name for name, deps in GRAPH.items()
                 if any(d == "dicore.commands" or d.startswith("dicore.commands.") for d in deps)
                 and name != "dicore.cli" and not name.startswith("dicore.commands"))
    assert not bad, bad


@pytest.mark.parametrize("root", ["dicore", "simulators"])
def test_long_modules_say_why(root):
    unexplained = []
    for path in sorted((ROOT / root).rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") <= MAX_LINES:
            continue
        doc = ast.get_docstring(ast.parse(text)) or ""
        if "lines" not in doc.lower():
            unexplained.append(f"{path.relative_to(ROOT)} ({text.count(chr(10))} lines)")
    assert not unexplained, unexplained


def test_shared_constants_have_one_home():
    """The defaults the core, commands and simulators use are the paper's and the
    package's own single definitions."""
    import simulators
    from dicore import RESULT_COLUMNS, paper
    from dicore.core import vocab
    from dicore.formats import results
    from dicore.store import RESULT_COLUMNS as store_columns
    from simulators import vendor

    assert (vocab.DEFAULT_BETA, vocab.DEFAULT_GAMMA) == tuple(paper.thresholds().values())
    assert RESULT_COLUMNS is results.RESULT_COLUMNS is store_columns
    assert simulators.SIMULATED_LABEL is vocab.SIMULATED_LABEL
    assert vendor.VENDORS is vocab.VENDORS
