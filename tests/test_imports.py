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


# Lower layers must not import higher ones: the data flows one way (STYLE.md). Every module
# of the package has a layer here (a new one must be placed), and may import, anywhere in
# its code (function-level imports included), only modules of lower layers. Two packages
# are one unit each: the CLI (its package registers the command modules, which use its
# exit codes) and the generated validators (which share their package's helpers).
LAYERS: dict[str, int] = {
    # values, the tools of the sandbox, the generated validators
    "ticketsync": 0, "ticketsync.model": 0, "ticketsync.cancel": 0,
    "ticketsync.sandbox.faults": 0, "ticketsync.sandbox.store": 0,
    "ticketsync.compiled_schemas": 0,
    "ticketsync.errors": 1, "ticketsync.sandbox.shapes": 1, "ticketsync.sandbox.directory": 1,
    # leaves that talk to one library or one concern
    "ticketsync.api": 2, "ticketsync.schema": 2, "ticketsync.yamlio": 2, "ticketsync.clock": 2,
    "ticketsync.retry": 2, "ticketsync.limiter": 2, "ticketsync.sandbox.server": 2,
    # the state, the config, the read shape
    "ticketsync.state": 3, "ticketsync.config": 3, "ticketsync.remote": 3,
    "ticketsync.sandbox": 3, "ticketsync.templates": 3, "ticketsync.directory": 3,
    # the pure planner and matcher; the journal and the lock; the HTTP client
    "ticketsync.plan": 4, "ticketsync.reconcile": 4, "ticketsync.journal": 4,
    "ticketsync.lock": 4,
    "ticketsync.discovery": 4, "ticketsync.client": 4,
    "ticketsync.names": 4, "ticketsync.completion": 4,
    "ticketsync.planfile": 5, "ticketsync.recovery": 5, "ticketsync.loader": 5,
    "ticketsync.sender": 5, "ticketsync.pull": 5, "ticketsync.explain": 5, "ticketsync.export": 5,
    "ticketsync.render": 6,
    "ticketsync.apply": 6,
    "ticketsync.workspace": 7,
    # CI: the projects of a repository (the CLI's --projects uses them); the pull-request
    # comment over a forge's REST API; the steps of the GitHub Action and the GitLab example,
    # which run the command in a subprocess and may use anything
    "ticketsync.ci": 0, "ticketsync.ci.projects": 4, "ticketsync.ci.forges": 2,
    "ticketsync.ci.steps": 8, "ticketsync.ci.github": 10, "ticketsync.ci.gitlab": 10,
    "ticketsync.cli": 9, "ticketsync.__main__": 10,
}


UNITS = ("ticketsync.cli", "ticketsync.compiled_schemas")


def _unit(module: str) -> str:
    return next((u for u in UNITS if module == u or module.startswith(f"{u}.")), module)


def _layer(module: str) -> int:
    return LAYERS[_unit(module)]


def _imports(path: Path) -> set[str]:
    """Every ticketsync module ``path`` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and (
            node.module == "ticketsync" or node.module.startswith("ticketsync.")
        ):
            found.add(node.module)
            for alias in node.names:  # `from ticketsync import schema` names a module
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
    assert sorted(m for m in ALL if _unit(m) not in LAYERS) == []


@pytest.mark.parametrize("module", sorted(ALL))
def test_modules_import_only_lower_layers(module: str) -> None:
    own = _layer(module)
    above = sorted(
        dep for dep in _imports(_module_path(module)) - {module}
        if _layer(dep) >= own and _unit(dep) != _unit(module)
        and not dep.startswith(f"{module}.")  # a package imports its own modules
    )
    assert above == [], f"{module} (layer {own}) imports a layer at or above its own: {above}"


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
