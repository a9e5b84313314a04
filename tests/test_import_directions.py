"""The package's rooms import each other in one direction only, and no module imports itself back.

An AST walk (nothing is imported, so this runs without TensorFlow) collects every import in
shared/jax2tfjs, module level and function-local alike: a function-local import still makes the
dependency, it only delays it. Each module belongs to a room (its first name under `jax2tfjs`);
ROOMS says which rooms each room may import. Intended layers, top to bottom: api → sources →
checkpoints → prepare → lowering → export, each importing only layers below it; doctor and verify
are leaves nothing imports; the base modules import nothing above them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import ROOT

PACKAGE = ROOT / "shared" / "jax2tfjs"
ROOT_PACKAGE = "jax2tfjs"

# Base modules: anything may import them; they import only each other (listed per module).
BASE = {
    "errors": set(),
    "taxonomy": {"errors"},
    "atomic": {"faults"},
    "hashing": {"errors"},
    "tables": set(),
    "provenance": set(),
    "lean_imports": set(),
    "compare": {"errors"},
    "keypaths": set(),
    "signature": set(),  # an export's named inputs and outputs, as plain data
    "faults": set(),  # test-only kill points
    "locks": {"errors"},
    "jobargs": {"errors"},
    "memguard": {"atomic", "errors", "faults", "jobargs"},
    "jobkit": {"atomic", "errors", "faults", "jobargs", "locks", "memguard"},
}
_BASE = set(BASE)

# The conversion's layers, top to bottom: each may import the layers below it.
LAYERS = ["api", "sources", "checkpoints", "prepare", "lowering", "export"]


def below(layer: str) -> set[str]:
    return set(LAYERS[LAYERS.index(layer) + 1 :])


# room → the rooms it may import (besides itself and the base modules).
ROOMS: dict[str, set[str]] = {
    **BASE,
    # The package's facade: `to_tensorflowjs` imported on first use, so the train env (no TF) can
    # import the package; lean_imports is installed at import when a job asks for it.
    ROOT_PACKAGE: {"api"},
    **{layer: below(layer) for layer in LAYERS},
    "sources": below("sources") | {"models"},
    "checkpoints": below("checkpoints") | {"models", "checkpoint_files"},
    "checkpoint_files": set(),  # the file record of a saved step (sizes, sha256)
    "models": set(),  # the model registry
    "data": set(),
    "training": {"checkpoints", "data", "models"},
    "tfjs_runtime": set(),  # runs an export in Node
    "browser": {"tfjs_runtime"},  # runs an export in headless Chromium (the Node runtime's TF.js bundles)
    # Leaves: they may use any room below api; no room may import them.
    "doctor": below("api") | {"models", "tfjs_runtime"},
    "verify": below("api") | {"models", "tfjs_runtime", "browser"},
    "node": set(),
}
LEAVES = {"doctor", "verify"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _absolute(module: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join([*base, *([node.module] if node.module else [])])


def imports_of(module: str, path: Path, known: set[str]) -> set[str]:
    """The package modules `module` imports, anywhere in its file. `from a import b` counts as an
    import of a.b when that is a module, else of a."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(module, path, node)
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        found |= {t for t in targets if t == ROOT_PACKAGE or t.startswith(ROOT_PACKAGE + ".")}
    return found - {module}


def import_graph() -> dict[str, set[str]]:
    modules = package_modules()
    known = set(modules)
    return {module: imports_of(module, path, known) for module, path in modules.items()}


def room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ROOT_PACKAGE


def forbidden_edges(graph: dict[str, set[str]]) -> list[str]:
    bad = []
    for module, targets in sorted(graph.items()):
        here = room(module)
        allowed = ROOMS.get(here, set()) | {here}
        if here not in BASE:
            allowed |= _BASE
        for target in sorted(targets):
            there = room(target)
            if target == ROOT_PACKAGE and module != ROOT_PACKAGE:
                bad.append(f"{module} → {target} (import the module you need, not the package facade)")
            elif there in LEAVES and there != here:
                bad.append(f"{module} → {target} ({there} is a leaf: nothing imports it)")
            elif there not in allowed:
                bad.append(f"{module} → {target} ({here} may import only {sorted(allowed - {here})})")
    return bad


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each import cycle once, as the modules along it (depth-first search, three colours)."""
    found: list[list[str]] = []
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(module: str) -> None:
        state[module] = "open"
        stack.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                found.append([*stack[stack.index(target) :], target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module)
    return found


def test_the_walk_sees_module_level_and_function_local_imports():
    graph = import_graph()
    assert "jax2tfjs.prepare.trees" in graph["jax2tfjs.prepare.keys"]  # module level
    assert "jax2tfjs.api" in graph[ROOT_PACKAGE]  # inside __getattr__
    assert len(graph) > 40


def test_every_module_sits_in_a_room_of_the_table():
    unknown = sorted({room(m) for m in import_graph()} - set(ROOMS))
    assert not unknown, f"new rooms {unknown}: add each to ROOMS with the rooms it may import"


def test_no_import_goes_against_the_allowed_directions():
    bad = forbidden_edges(import_graph())
    assert not bad, "imports against the allowed directions:\n" + "\n".join(bad)


def test_no_import_cycles_between_modules():
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" → ".join(c) for c in found)


def test_no_import_cycles_between_rooms():
    """A cycle through several modules of two rooms (the old `diagnose` mixed conversion with doctor,
    which imported the conversion back) is a knot even when no single module closes it."""
    rooms: dict[str, set[str]] = {}
    for module, targets in import_graph().items():
        rooms.setdefault(room(module), set()).update(room(t) for t in targets if room(t) != room(module))
    assert cycles(rooms) == []


def test_the_table_itself_allows_no_cycle():
    allowed = {name: deps | (set() if name in BASE else _BASE) for name, deps in ROOMS.items()}
    allowed = {name: deps - {name} for name, deps in allowed.items()}
    assert cycles(allowed) == []


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"jax2tfjs.prepare.keys": {"jax2tfjs.sources"}}, "prepare may import only"),
        ({"jax2tfjs.sources": {"jax2tfjs.doctor.checks"}}, "doctor is a leaf"),
        ({"jax2tfjs.api": {"jax2tfjs"}}, "not the package facade"),
    ],
)
def test_a_forbidden_edge_is_reported(graph, expected):
    bad = forbidden_edges(graph)
    assert len(bad) == 1 and expected in bad[0]


def test_a_cycle_is_reported():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c", "a"]]
