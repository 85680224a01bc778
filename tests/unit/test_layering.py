"""The package's imports follow one layering, with no circles: a module imports only from its
own layer or the ones below it. Imports inside functions count (a lazy import is still an
import); so do those under `if TYPE_CHECKING:`. A new module must be placed in LAYERS."""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import chaos_layer
from chaos_layer.faults import FAULT_TYPES

PACKAGE = Path(chaos_layer.__file__).parent
# Lowest first: settings -> contract -> pipeline and faults -> blast radius -> config ->
# sources -> decorator -> wrapper; then the operator's side, one folder per layer: operator
# API -> experiments -> Chaos Toolkit -> CLI.
FUNCTION_SIDE: list[set[str]] = [
    {"constants", "settings", "exceptions", "_clones", "once", "_sweep"},
    {"contract", "_patches", "regex"},
    {"events"},
    {"faults"},  # the fault types, their mechanics, the registry and the pipeline
    {"blast_radius"},
    {"config"},
    {"source"},
    {"guardrails"},
    {"observability", "control_group"},
    {"durable"},  # durable functions' rules, which the decorator hands their invocations to
    {"decorator"},
    {"__init__"},  # the public API
    {"wrapper"},
]
OPERATOR_SIDE: list[set[str]] = [
    {"control"},  # the operator API, its errors, and where it keeps configs (one store per source)
    {"experiment"},  # `run`: the experiment file, checks, statistics, the runner, journal, report
    {"ctk"},  # the Chaos Toolkit extension
    {"fis"},  # the AWS FIS template: the Automation document, its step scripts, the roles
    {"cli"},
]
LAYERS = FUNCTION_SIDE + OPERATOR_SIDE
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> str:
    """`chaos_layer.faults.latency` is in the layer of `faults`; the package itself is `__init__`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imported(module: str) -> Iterator[str]:
    """The package's modules that `module` imports, wherever the import statement is."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    [*package.split(".")[: len(package.split(".")) - node.level + 1], *filter(None, [base])]
                )
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:  # `import chaos_layer.faults.x` imports that module
                target = target.rpartition(".")[0] if target.startswith("chaos_layer.") else ""
            if target and target != module:
                yield target


GRAPH = {module: sorted(set(imported(module))) for module in MODULES}
# The registry imports each fault type's module by name, when it is first used.
GRAPH["chaos_layer.faults"] = sorted({*GRAPH["chaos_layer.faults"], *(f"chaos_layer.faults.{k}" for k in FAULT_TYPES)})


def test_every_module_has_a_layer() -> None:
    unplaced = sorted({layer(module) for module in MODULES} - RANK.keys())
    assert not unplaced, f"place these in LAYERS: {unplaced}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_down_the_layers(module: str) -> None:
    upward = [target for target in GRAPH[module] if RANK[layer(target)] > RANK[layer(module)]]
    assert not upward, f"{module} imports from a higher layer: {upward}"


def test_there_are_no_import_circles() -> None:
    done: set[str] = set()
    path: list[str] = []

    def visit(module: str) -> None:
        if module in path:
            raise AssertionError("import circle: " + " -> ".join([*path[path.index(module) :], module]))
        if module in done:
            return
        path.append(module)
        for target in GRAPH[module]:
            visit(target)
        path.pop()
        done.add(module)

    for module in MODULES:
        visit(module)


def test_the_walk_sees_lazy_imports_and_submodules() -> None:
    """The walk itself: an import inside a function, and `from package import submodule`."""
    assert "chaos_layer.faults._dependency" in GRAPH["chaos_layer.faults.dependency"]
    assert "chaos_layer.faults.base" in GRAPH["chaos_layer.faults"]
    assert "chaos_layer.decorator" in GRAPH["chaos_layer"]


def _layer_build() -> Any:
    """layer/build.py, which is a script rather than a package module."""
    spec = importlib.util.spec_from_file_location("layer_build", PACKAGE.parent / "layer" / "build.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_operator_side_is_exactly_the_folders_the_layer_leaves_out() -> None:
    """Each operator layer is a folder of its own, and the layer build ships every other folder
    it knows as the function side: a new folder must be placed on one side or the other."""
    folders = {path.name for path in PACKAGE.iterdir() if (path / "__init__.py").is_file()}
    operator = {name for names in OPERATOR_SIDE for name in names}
    assert operator <= folders, f"operator layers that are not folders: {sorted(operator - folders)}"
    assert folders - operator == set(_layer_build().FUNCTION_SIDE_FOLDERS)


def test_the_function_side_imports_nothing_from_the_operator_side() -> None:
    operator = {name for names in OPERATOR_SIDE for name in names}
    reached = {
        module: [target for target in GRAPH[module] if layer(target) in operator]
        for module in MODULES
        if layer(module) not in operator
    }
    assert not {module: targets for module, targets in reached.items() if targets}
