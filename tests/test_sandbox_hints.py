"""Every hint printed under --sandbox names --sandbox: followed as printed, it must act on
the sandbox, never on the real project."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import enter_project, invoke, write

from ticketsync.cli.common import sandbox_hints


def test_hints_of_commands_that_take_sandbox_get_it() -> None:
    assert sandbox_hints(
        "run `ticketsync init` first; see `ticketsync state list`; "
        "`ticketsync state rm old` then `ticketsync apply --plan p.json`; "
        "`ticketsync directory pull`; `ticketsync validate`; `ticketsync plan --sandbox`"
    ) == (
        "run `ticketsync init --sandbox` first; see `ticketsync state list --sandbox`; "
        "`ticketsync state rm old --sandbox` then `ticketsync apply --plan p.json --sandbox`; "
        "`ticketsync directory pull --sandbox`; `ticketsync validate`; "
        "`ticketsync plan --sandbox`")


def test_an_error_under_sandbox_names_the_sandbox_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    enter_project(tmp_path, monkeypatch)
    assert invoke("state", "list", "--sandbox") == (
        1, "", "Error: no state file at .ticketsync/sandbox.state.json: run `ticketsync init "
        "--sandbox` first for a new project, or restore the file from git (a lost state must "
        "not re-create every ticket)\n")


def test_a_saved_sandbox_plan_is_applied_with_sandbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    enter_project(tmp_path, monkeypatch)
    write(tmp_path / "tickets" / "t.yaml", "tickets:\n  a: {title: A}\n")
    code, _, err = invoke("plan", "--sandbox", "--out", "p.json")
    assert code == 0
    assert err.endswith("Saved the plan to p.json: apply it with `ticketsync apply --plan "
                        "p.json --sandbox`.\n")


def test_a_hint_in_an_apply_line_under_sandbox_names_the_sandbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lines apply prints as it goes (a failure, a note) carry hints too."""
    enter_project(tmp_path, monkeypatch)
    write(tmp_path / "tickets" / "t.yaml", "tickets:\n  a: {title: A}\n")
    assert invoke("init", "--sandbox")[0] == 0
    assert invoke("apply", "--sandbox", "--yes")[0] == 0
    assert invoke("sandbox", "delete", "a")[0] == 0  # a person deletes it in the tracker
    write(tmp_path / "tickets" / "t.yaml", "tickets:\n  a: {title: A renamed}\n")
    code, out, _ = invoke("apply", "--sandbox", "--yes")
    assert code == 1
    failed = [line for line in out.splitlines() if line.startswith("failed to update a")]
    assert len(failed) == 1 and failed[0].endswith(
        "`ticketsync state rm a --sandbox` to create it again"), out
