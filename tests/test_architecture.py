"""The package's shape, checked from the source: import direction, no cycles, module size and
the one place where ``model.kind`` is dispatched (README "Architecture")."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "tfpose"

# Lower layers first: a module may import its own package and the packages before it, never
# one after it. ``tfpose`` itself (the version) counts as core for its importers; its own
# imports are the public face's: it re-exports ``tfpose.api`` (``tfpose.load``) and nothing else.
LAYERS = ("core", "config", "viz", "codecs", "datasets", "metrics", "input", "models", "tasks",
          "evaluation", "training", "serving", "api")
ROOT_EXPORTS = {"tfpose.api"}
MAX_LINES = 500


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(name: str, known) -> str:
    """The module an imported name lives in: ``tfpose.a.b.X`` -> ``tfpose.a.b``."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name


def imports_of(name: str, path: Path, known) -> set:
    """Every tfpose module ``name`` imports, at the top or inside functions."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(_resolve(a.name, known) for a in node.names if a.name.startswith("tfpose"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            if base.split(".")[0] != "tfpose":
                continue
            for alias in node.names:
                found.add(_resolve(f"{base}.{alias.name}", known))
    found.discard(name)
    found.discard("")
    return found


def import_graph() -> dict:
    known = modules()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def layer(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 1:
        return 0
    top = parts[1]
    if top not in LAYERS:
        raise AssertionError(f"{module}: package {top!r} has no layer; add it to LAYERS")
    return LAYERS.index(top)


def find_cycle(graph: dict):
    """One import cycle as a list of modules, or None (depth-first search with colours)."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return stack[stack.index(target):] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_graph_sees_imports_inside_functions():
    graph = import_graph()
    # cli-facing code imports lazily; those edges must be in the graph too.
    assert "tfpose.core.zoo" in graph["tfpose.serving.predict"]
    assert graph["tfpose.training.train"], "the trainer imports something"


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycles():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_imports_point_down_the_layers():
    graph = import_graph()
    assert graph["tfpose"] == ROOT_EXPORTS, "the package root re-exports the API only"
    wrong = [f"{source} -> {target}" for source, targets in graph.items() if source != "tfpose"
             for target in sorted(targets) if layer(target) > layer(source)]
    assert not wrong, "imports against the layer order " + " < ".join(LAYERS) + ":\n" + "\n".join(wrong)


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: module_name(p))
def test_modules_stay_short(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path}: {lines} lines; split it by concern (limit {MAX_LINES})"


def model_kind_reads(path: Path) -> list:
    """Line numbers where ``<...>.model.kind`` is read (an attribute access, not prose)."""
    return [node.lineno for node in ast.walk(ast.parse(path.read_text(), str(path)))
            if isinstance(node, ast.Attribute) and node.attr == "kind"
            and isinstance(node.value, ast.Attribute) and node.value.attr == "model"]


def test_model_kind_reads_are_found():
    assert model_kind_reads(PACKAGE / "tasks" / "__init__.py"), "the registry reads cfg.model.kind"


def test_model_kind_is_dispatched_in_the_task_registry_only():
    outside = [f"{path.relative_to(PACKAGE)}:{line}" for path in sorted(PACKAGE.rglob("*.py"))
               if path.parent.name != "tasks" for line in model_kind_reads(path)]
    assert not outside, "cfg.model.kind read outside tfpose/tasks: " + ", ".join(outside)
