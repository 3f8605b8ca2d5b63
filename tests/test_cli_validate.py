"""`ticketsync validate` through the CLI: exact output and exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import enter_project, invoke
from click.testing import CliRunner

from ticketsync.cli import main

ROOT = Path(__file__).resolve().parent.parent


def test_valid_examples(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT / "examples" / "quickstart")
    result = CliRunner().invoke(main, ["validate"])
    expected = "15 tickets in 3 files OK (12 made by templates)\n"
    assert (result.exit_code, result.output) == (0, expected)


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


@pytest.mark.parametrize("entry", ['"*.yaml"', '"*.y*ml"', "."])
def test_an_entry_that_matches_only_the_config_file_finds_no_ticket_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, entry: str
) -> None:
    # It printed "0 tickets in 0 files OK": the config was dropped after the emptiness check.
    enter_project(tmp_path, monkeypatch)
    (tmp_path / "ticketsync.yaml").write_text(f"tickets: [{entry}]\n", encoding="utf-8")
    name = entry.strip('"')
    assert invoke("validate") == (
        1,
        "",
        f"Error: {name}: no ticket files (*.yaml, *.yml) found: add ticket files there, or "
        "change `tickets:` in ticketsync.yaml\n",
    )


def test_the_config_file_named_on_the_command_line_is_read_as_a_ticket_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Skipped inside folders and globs, but named on purpose: read, never silently dropped.
    enter_project(tmp_path, monkeypatch)
    (tmp_path / "ticketsync.yaml").write_text("tickets: [tickets/]\n", encoding="utf-8")
    assert invoke("validate", "ticketsync.yaml") == (
        1,
        "",
        "ticketsync.yaml:1:10: error: tickets: a list of paths: tickets is a mapping of keys to"
        " tickets (a ticketsync.yaml config lists where ticket files are: name the ticket files"
        " instead)\n",
    )


def test_validate_imports_only_what_it_needs(tmp_path: Path) -> None:
    # Start-up is most of what validating one small file costs (a pre-commit hook, an
    # editor): no other command's module, no schema compiler, no HTTP, no --debug helper.
    unneeded = [
        "ticketsync.cli.apply", "ticketsync.cli.state", "ticketsync.cli.plan",
        "ticketsync.cli.init", "ticketsync.cli.sandbox", "ticketsync.state.file",
        "fastjsonschema", "jsonschema", "requests", "traceback", "difflib",
    ]
    code = (
        "import sys\nfrom ticketsync.cli import main\n"
        "try:\n    main.main(['validate', '.'])\nexcept SystemExit:\n    pass\n"
        f"print(sorted(set({unneeded!r}) & set(sys.modules)))\n"
    )
    (tmp_path / "a.yaml").write_text("tickets:\n  a: {title: A}\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], check=True, cwd=tmp_path, env=env,
        capture_output=True, text=True,
    )
    assert done.stdout == "1 ticket in 1 file OK\n[]\n"


def test_every_command_module_is_registered() -> None:
    import importlib
    import pkgutil

    from ticketsync import cli

    defined = {}
    for info in pkgutil.iter_modules(cli.__path__):
        module = importlib.import_module(f"ticketsync.cli.{info.name}")
        for command in getattr(module, "COMMANDS", []):
            defined[command.name] = info.name
    assert defined == cli.COMMAND_MODULES
    assert list(main.commands) == sorted(defined)
