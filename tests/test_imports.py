"""graphnn's modules import each other without cycles: every ``import`` statement counts,
also those inside functions (a lazy import hides a cycle from Python, not from a reader,
who must still understand both modules at once to change either).

``graphnn/__init__.py`` may import the API lazily (the pytest plugin must not import torch),
and is the one module nothing inside graphnn may import: ``from graphnn import errors``
imports the module ``graphnn.errors``, not the package's ``__init__``.
"""
import ast
import os

import networkx as nx
from tests.conftest import ROOT

PACKAGE = os.path.join(ROOT, "graphnn")


def _module_files() -> dict[str, str]:
    """Dotted module name -> file, for every module of graphnn/ (packages by their __init__)."""
    files = {}
    for folder, _, names in os.walk(PACKAGE):
        for name in names:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                dotted = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                files[dotted.removesuffix(".__init__")] = path
    return files


def _imported(statement: ast.AST, package: str, modules: dict) -> list[str]:
    """The graphnn modules one import statement loads (the most specific module named)."""
    if isinstance(statement, ast.Import):
        return [alias.name for alias in statement.names if alias.name in modules]
    if not isinstance(statement, ast.ImportFrom):
        return []
    base = statement.module or ""
    if statement.level:
        parts = package.split(".")[: len(package.split(".")) - statement.level + 1]
        base = ".".join(parts + ([base] if base else []))
    found = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in statement.names]
    return [name for name in found if name in modules]


def import_graph() -> nx.DiGraph:
    modules = _module_files()
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in modules.items():
        package = name if path.endswith("__init__.py") else name.rsplit(".", 1)[0]
        with open(path) as f:
            tree = ast.parse(f.read(), path)
        for statement in ast.walk(tree):
            for target in _imported(statement, package, modules):
                if target != name:
                    graph.add_edge(name, target)
    return graph


def test_the_walk_sees_the_imports():
    graph = import_graph()
    assert graph.has_edge("graphnn.frontend.rules", "graphnn.ir")
    assert len(graph) > 80


def test_no_import_cycles():
    cycles = sorted(" -> ".join(cycle) for cycle in nx.simple_cycles(import_graph()))
    assert not cycles, "import cycles:\n" + "\n".join(cycles[:20])


def test_nothing_inside_graphnn_imports_the_package_itself():
    graph = import_graph()
    assert list(graph.predecessors("graphnn")) == []
