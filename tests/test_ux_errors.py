"""Mistakes users make, found in a UX review: each one gets one clear line, never a traceback."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from cli_helpers import enter_project, invoke

from ticketsync.cli import main
from ticketsync.state.file import StateEntry, new_state, with_entry, write_state


@pytest.fixture(autouse=True)
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    enter_project(tmp_path, monkeypatch)
    return tmp_path


def test_an_os_error_no_command_foresaw_is_one_line_not_a_traceback(project: Path) -> None:
    (project / ".ticketsync").write_text("a file where the sandbox's folder goes\n")
    code, out, err = invoke("init", "--sandbox")
    assert (code, out) == (1, "")
    assert err == (
        "Error: .ticketsync: File exists: check that the path exists and is "
        "writable by you (--debug shows where it happened)\n"
    )


def test_debug_shows_the_traceback_of_an_os_error(project: Path) -> None:
    (project / ".ticketsync").write_text("")
    code, _, err = invoke("--debug", "init", "--sandbox")
    assert code == 1
    assert "Traceback (most recent call last)" in err
    assert err.endswith("(--debug shows where it happened)\n")


def test_sandbox_with_an_unusable_database_says_so(project: Path) -> None:
    (project / "data").mkdir()
    code, out, err = invoke("sandbox", "--port", "0", "--db", "data/")
    assert (code, out) == (64, "")  # a folder: click refuses the option itself
    (project / "blocker").write_text("")
    code, out, err = invoke("sandbox", "--port", "0", "--db", "blocker/sandbox.db")
    assert (code, out) == (1, "")
    assert err == (
        "Error: blocker: cannot create the sandbox data: File exists; "
        "choose another place with --db FILE\n"
    )


def test_sandbox_database_that_sqlite_cannot_open(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    import ticketsync.sandbox

    def refuse(*args: object, **kwargs: object) -> None:
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(ticketsync.sandbox, "start_sandbox", refuse)
    code, out, err = invoke("sandbox", "--port", "0", "--db", "x.db")
    assert (code, out, err) == (
        1,
        "",
        "Error: x.db: cannot open the sandbox database (unable to open database file); "
        "choose another place with --db FILE\n",
    )


def test_state_mv_onto_itself_is_a_usage_error_not_advice_to_rm(project: Path) -> None:
    entry = StateEntry("tkt-a", None, "2024-05-01T12:00:00Z", {"title": "A"})
    write_state(project / "ticketsync.state.json", with_entry(new_state(None), "a", entry))
    code, out, err = invoke("state", "mv", "a", "a")
    assert (code, out) == (64, "")
    assert err.endswith(
        "Error: Invalid value for NEW: 'a' is OLD itself: nothing to move "
        "(NEW is the key's new name)\n"
    )
    assert "state rm" not in err


def test_state_messages_show_paths_as_typed_like_the_other_commands(project: Path) -> None:
    assert invoke("state", "list") == (
        1,
        "",
        "Error: no state file at ticketsync.state.json: run `ticketsync init` first for a new "
        "project, or restore the file from git (a lost state must not re-create every ticket)\n",
    )
    (project / "ticketsync.state.json").write_text("{bad", encoding="utf-8")
    _code, _, err = invoke("state", "list")
    assert err.startswith("Error: ticketsync.state.json: the state file is corrupt")


def test_state_path_that_is_a_folder(project: Path) -> None:
    (project / "ticketsync.yaml").write_text("state: tickets\n", encoding="utf-8")
    (project / "tickets").mkdir()
    assert invoke("state", "list") == (
        1,
        "",
        "Error: tickets: cannot read the state file: Is a directory; check the `state` "
        "setting of ticketsync.yaml\n",
    )


def test_a_read_only_state_folder_names_the_lock_and_the_cause(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    write_state(project / "ticketsync.state.json", new_state(None))
    real_open = os.open

    def read_only(path: object, flags: int, *args: object) -> int:
        if str(path).endswith(".lock"):
            raise OSError(30, "Read-only file system", str(path))
        return real_open(path, flags, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", read_only)
    assert invoke("state", "rm", "a") == (
        1,
        "",
        "Error: ticketsync.state.json.lock: cannot create the lock file: Read-only file "
        "system; the state's folder must be writable\n",
    )


def test_init_sandbox_twice_points_at_the_sandbox_state(project: Path) -> None:
    assert invoke("init", "--sandbox")[0] == 0
    assert invoke("init", "--sandbox") == (
        1,
        "",
        "Error: .ticketsync/sandbox.state.json already exists: refusing to overwrite a state "
        "file (it records the tickets already created); `ticketsync state list --sandbox` "
        "shows what it tracks\n",
    )


def _all_commands() -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = [("ticketsync", main)]
    for name, command in main.commands.items():
        found.append((f"ticketsync {name}", command))
        if isinstance(command, click.Group):
            found += [(f"ticketsync {name} {sub}", c) for sub, c in command.commands.items()]
    return found


@pytest.mark.parametrize("path,command", _all_commands(), ids=str)
def test_help_examples_are_never_wrapped_mid_command(path: str, command: click.Command) -> None:
    """A wrapped example (`store-then-` / `drop:nth=3`) breaks when pasted into a shell."""
    args = [*path.split()[1:], "--help"]
    code, out, _ = invoke(*args)
    assert code == 0
    lines = out.splitlines()
    example = [i for i, line in enumerate(lines) if line.strip().startswith("Example:")]
    assert len(example) == 1, out
    assert lines[example[0] + 1].strip() == "", f"{path}: the example wraps:\n{out}"
    assert "[PATHS]" not in out and " TEXT " not in out and "INTEGER" not in out
