"""The import graph stays one-way and start-up stays lean.

Each module is imported on its own in a fresh interpreter (as pip-tools does), so a cycle
that only works in one import order fails here.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys

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


# Lower layers must not import higher ones: the data flows one way (STYLE.md).
LAYERS: dict[str, set[str]] = {
    "ticketsync.model": set(),
    "ticketsync.errors": {"ticketsync.model"},
    "ticketsync.api": {"ticketsync.model"},
}


@pytest.mark.parametrize("module", sorted(LAYERS))
def test_lower_layers_import_nothing_above_them(module: str) -> None:
    code = (
        "import sys, importlib; before = set(sys.modules); "
        f"importlib.import_module({module!r}); "
        "print('\\n'.join(sorted(m for m in set(sys.modules) - before "
        "if m.startswith('ticketsync.'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = set(result.stdout.split()) - {module}
    assert loaded <= LAYERS[module], f"{module} pulls in {sorted(loaded - LAYERS[module])}"


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
