"""What the CLI tests share: a project folder free of the user's environment, and a runner."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from ticketsync.cli import main

#: Variables that would leak the developer's (or CI's) setup into a test's run.
ENV_VARS = ("STACKONE_ACCOUNT_ID", "STACKONE_BASE_URL", "STACKONE_API_KEY")


def enter_project(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make ``folder`` the working folder, with none of :data:`ENV_VARS` set."""
    monkeypatch.chdir(folder)
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    return folder


def copy_example(source: Path, dest: Path) -> Path:
    """A copy of the example project ``source`` as the repository holds it: without what
    running it in place left behind (the README's first command applies the quickstart
    there, leaving its sandbox state in ``.ticketsync/``)."""
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns(".ticketsync", "__pycache__"))
    return dest


def invoke(*args: str) -> tuple[int, str, str]:
    """Run ``ticketsync ARGS`` in-process: (exit code, stdout, stderr)."""
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr
