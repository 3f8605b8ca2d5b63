"""Quality gates that run with the suite: ruff and mypy (strict) on the package."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_is_clean() -> None:
    ruff = shutil.which("ruff")
    assert ruff, "ruff is part of the test extras: pip install -e '.[test]'"
    result = subprocess.run(
        [ruff, "check", "ticketsync", "tests", "bench"],
        check=False, cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_is_clean() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy"], check=False, cwd=ROOT, capture_output=True,
        text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
