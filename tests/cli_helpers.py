"""What the CLI tests share: a project folder free of the user's environment, and a runner."""

from __future__ import annotations

import shutil
import textwrap
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


def write(path: Path, text: str) -> None:
    """Write the dedented ``text`` at ``path``, making its folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")


def enter_sandbox_project(folder: Path, url: str, api_key: str, account: str,
                          monkeypatch: pytest.MonkeyPatch) -> Path:
    """``folder`` (made and entered) as a project that talks to the sandbox server at
    ``url`` as ``account``, with ``api_key`` in the environment."""
    folder.mkdir(parents=True, exist_ok=True)
    enter_project(folder, monkeypatch)
    monkeypatch.setenv("STACKONE_API_KEY", api_key)
    monkeypatch.setenv("STACKONE_ACCOUNT_ID", account)
    monkeypatch.setenv("STACKONE_BASE_URL", url)
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


def traceback_of_ours(err: str) -> bool:
    """Whether ``err`` holds a traceback through ticketsync's own code.

    A signal sent while Python itself is still starting (its ``site`` module, before a line
    of ticketsync runs) makes the interpreter print its own traceback: no code of ours can
    catch that, so tests that signal at random moments only hold ticketsync to the rule.
    """
    return "Traceback" in err and any(
        "/ticketsync/" in line for line in err.splitlines() if line.lstrip().startswith("File "))
