"""The import graph stays one-way and start-up stays lean.

Each module is imported on its own in a fresh interpreter (as pip-tools does), so a cycle
that only works in one import order fails here.
"""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import ticketsync

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(ticketsync.__path__, prefix="ticketsync.")
    if not info.name.endswith("__main__")
)


@pytest.mark.parametrize("module", MODULES)
def test_each_module_imports_on_its_own(module: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        check=False, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr


# The data flows one way (docs/design.md, "Layout"), and the folders show it: each package of
# ticketsync (and each module at its top) has a layer, lowest first. A module may import, anywhere
# in its code (function-level imports included), the packages of lower layers, and the
# modules of its own package, which import each other without a cycle. So no two packages
# import each other, and packages of one layer import neither the other. A new package or
# top-level module must be placed here.
LAYERS: dict[str, int] = {
    # values and the exception-free helpers everything uses (times: the one parser and
    # formatter); the validators generated from schemas/, which import nothing else
    "ticketsync": 0, "ticketsync.model": 0, "ticketsync.cancel": 0, "ticketsync.times": 0,
    "ticketsync.compiled_schemas": 0,
    # the one exception tree; beside it the sandbox, a StackOne of its own served over
    # loopback, which imports nothing of ticketsync but its times
    "ticketsync.errors": 1, "ticketsync.sandbox": 1,
    # what a project declares, read and checked offline: config, projects, ticket files,
    # YAML, the JSON schemas, templates, names through the directory file
    "ticketsync.declare": 2,
    # StackOne's API: the seam, the HTTP client with its pace, clock and retries, a ticket
    # as read back, the matching of remote tickets to keys
    "ticketsync.stackone": 3,
    # what survives between runs and through a crash: the state file, the journal, the
    # recovery that folds one into the other, the lock
    "ticketsync.state": 4,
    # the pure plan, saved and rendered; the other way round, the account written as files
    # (export, directory pull)
    "ticketsync.plan": 5, "ticketsync.account": 5,
    # a run: the workspace's order (lock, read, fold, read back, plan, apply, commit), the
    # applier and the sender
    "ticketsync.run": 6,
    # the faces: the command line, the only place that prints or exits; the CI steps, which
    # run the command in a subprocess
    "ticketsync.cli": 7, "ticketsync.ci": 7,
    "ticketsync.__main__": 8,
}


def _package(module: str) -> str:
    """The entry of :data:`LAYERS` that holds ``module``: its package, or itself at the top."""
    return ".".join(module.split(".")[:2])


def _imports(path: Path) -> set[str]:
    """Every ticketsync module ``path`` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and (
            node.module == "ticketsync" or node.module.startswith("ticketsync.")
        ):
            found.add(node.module)
            for alias in node.names:  # `from ticketsync.declare import schema` names a module
                candidate = f"{node.module}.{alias.name}"
                if candidate in ALL:
                    found.add(candidate)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("ticketsync"))
    return found


ROOT = Path(ticketsync.__file__).parent
ALL = {"ticketsync", *MODULES, "ticketsync.__main__"}


def _module_path(module: str) -> Path:
    relative = Path(*module.split(".")[1:])
    package = ROOT / relative / "__init__.py"
    return package if package.exists() else (ROOT / relative).with_suffix(".py")


def test_every_module_has_a_layer() -> None:
    packages = {_package(m) for m in ALL}
    assert sorted(packages - LAYERS.keys()) == [], "place each in LAYERS"
    assert sorted(LAYERS.keys() - packages) == [], "no such package or module any more"


@pytest.mark.parametrize("module", sorted(ALL))
def test_modules_import_only_lower_layers(module: str) -> None:
    own = _package(module)
    above = sorted(
        dep for dep in _imports(_module_path(module))
        if _package(dep) != own and LAYERS[_package(dep)] >= LAYERS[own]
    )
    assert above == [], f"{module} ({own}, layer {LAYERS[own]}) imports its layer or above: {above}"


def _package_modules(package: str) -> dict[str, set[str]]:
    """The modules of ``package`` but its ``__init__``, each with those of them it imports.

    A package's ``__init__`` is left out: it may import its modules (the sandbox hands them
    on) and they it (the CLI's exit codes, the generated validators' exceptions)."""
    modules = {m for m in MODULES if m.startswith(f"{package}.")}
    return {m: _imports(_module_path(m)) & modules - {m} for m in modules}


PACKAGES = sorted(p for p in LAYERS if p != "ticketsync" and _module_path(p).name == "__init__.py")


@pytest.mark.parametrize("package", PACKAGES)
def test_no_cycle_inside_a_package(package: str) -> None:
    graph = _package_modules(package)
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, f"a cycle: {' -> '.join((*path[path.index(module):], module))}"
        if module not in done:
            for dep in sorted(graph[module]):
                visit(dep, (*path, module))
            done.add(module)

    for module in sorted(graph):
        visit(module, ())


def test_library_modules_never_import_click() -> None:
    # Only the CLI prints and exits; a library module importing click is a layering slip.
    library = [m for m in MODULES if not m.startswith("ticketsync.cli")]
    code = (
        "import sys, importlib\n"
        f"for m in {library!r}: importlib.import_module(m)\n"
        "print('click' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "False"
