"""`ticketsync validate` through the CLI: exact output and exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ticketsync.cli import main

ROOT = Path(__file__).resolve().parent.parent


def test_valid_examples(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT / "examples" / "quickstart")
    result = CliRunner().invoke(main, ["validate"])
    assert (result.exit_code, result.output) == (0, "5 tickets in 2 files OK\n")


def test_errors_go_to_stderr_and_exit_1(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(main, ["validate", "tests/fixtures/invalid/bad-priority.yaml"])
    assert result.exit_code == 1
    assert result.stderr == (
        "tests/fixtures/invalid/bad-priority.yaml:4:15: error: tickets.prod-outage.priority:"
        " 'urgent' is not one of lowest, low, medium, high, highest\n"
    )


def test_github_format(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(
        main, ["validate", "--format", "github", "tests/fixtures/invalid/bad-priority.yaml"]
    )
    assert result.exit_code == 1
    assert result.stdout == (
        "::error file=tests/fixtures/invalid/bad-priority.yaml,line=4,col=15::"
        "tickets.prod-outage.priority: 'urgent' is not one of lowest, low, medium, high, highest\n"
    )


def test_bad_option_is_usage_error() -> None:
    result = CliRunner().invoke(main, ["validate", "--format", "xml"])
    assert result.exit_code == 64


def test_validate_never_imports_requests(tmp_path: Path) -> None:
    code = (
        "import sys\nfrom ticketsync.cli import main\n"
        "try:\n    main.main(['validate', '.'])\nexcept SystemExit:\n    pass\n"
        "assert 'requests' not in sys.modules, 'requests imported'\n"
        "assert 'jsonschema' not in sys.modules, 'jsonschema imported on the valid path'\n"
    )
    (tmp_path / "a.yaml").write_text("tickets:\n  a: {title: A}\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "1 ticket in 1 file OK\n"
