"""graphnn/frontend's modules form no import cycle and import no private name of each other.

Every ``import`` statement counts, lazy ones inside functions too: a cycle there works only
while the lazy import stays lazy, and a private name imported across modules is one module's
detail another leans on (the fx and export frontends share theirs through replay.py and
source.py instead)."""
import ast
from pathlib import Path

FRONTEND = Path(__file__).resolve().parent.parent / "graphnn" / "frontend"


def _module_name(path: Path) -> str:
    parts = path.relative_to(FRONTEND.parent.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in FRONTEND.rglob("*.py")}


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) of each import statement; ``from package import module`` names the package."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module, [alias.name for alias in node.names]))
    return found


def _edges() -> dict[str, set[str]]:
    return {name: {module for module, _ in _imports(path) if module in MODULES} for name, path in MODULES.items()}


def _cycle_from(start: str, edges: dict[str, set[str]]) -> list[str]:
    """A path start -> ... -> start, or [] when there is none."""
    stack, seen = [(start, [start])], set()
    while stack:
        name, path = stack.pop()
        for target in sorted(edges[name]):
            if target == start:
                return path + [start]
            if target not in seen:
                seen.add(target)
                stack.append((target, path + [target]))
    return []


def test_the_frontend_modules_import_each_other_without_a_cycle():
    edges = _edges()
    cycles = [cycle for cycle in map(lambda name: _cycle_from(name, edges), sorted(edges)) if cycle]
    assert not cycles, cycles


def test_the_cycle_check_sees_a_cycle_through_a_package_and_a_lazy_import(tmp_path):
    edges = {"pkg": {"pkg.a"}, "pkg.a": {"pkg.b"}, "pkg.b": {"pkg"}, "pkg.c": set()}
    assert _cycle_from("pkg", edges) == ["pkg", "pkg.a", "pkg.b", "pkg"]
    assert _cycle_from("pkg.c", edges) == []
    lazy = tmp_path / "lazy.py"
    lazy.write_text("import os\n\ndef f():\n    from graphnn.frontend import aten\n")
    assert _imports(lazy) == [("os", []), ("graphnn.frontend", ["aten"])]


def test_no_frontend_module_imports_a_private_name_of_another():
    private = [(name, module, imported) for name, path in MODULES.items()
               for module, names in _imports(path) if module.startswith("graphnn.frontend") and module != name
               for imported in names if imported.startswith("_")]
    assert not private, private
