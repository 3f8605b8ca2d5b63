"""`ticketsync state list|show|rm|mv`: exact output, locked atomic writes, clear errors."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cli_helpers import enter_project, invoke
from click.testing import CliRunner

from ticketsync.cli import main
from ticketsync.state.file import StateEntry, new_state, read_state, with_entry, write_state
from ticketsync.state.journal import Intent, Journal, journal_path_for
from ticketsync.state.lock import StateLock

A = StateEntry("tkt-a", "PROJ-1", "2024-05-01T12:00:00Z", {"title": "A"})
B = StateEntry("tkt-b", None, "2024-05-02T12:00:00Z", {"title": "B"})


@pytest.fixture(autouse=True)
def state_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    enter_project(tmp_path, monkeypatch)
    path = tmp_path / "ticketsync.state.json"
    write_state(path, with_entry(with_entry(new_state("acc-1"), "b", B), "a", A))
    return path


def test_list() -> None:
    # Before a read-back only the provider's id is known (a version 1 state, say).
    assert invoke("state", "list") == (
        0, "a\tPROJ-1\t-\ttkt-a\t-\nb\t-\t-\ttkt-b\t-\n", "")


def test_list_shows_numbers_statuses_and_links_once_read_back(
    state_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ticketsync.cli import apply as apply_cli
    from ticketsync.state.file import read_state

    state = read_state(state_path)
    entry = StateEntry("tkt-c", "10042", "2024-05-03T12:00:00Z", {"title": "C"},
                       ticket_number="PLAT-42", ticket_url="https://jira.example/PLAT-42",
                       status={"id": "s", "name": "In Review", "type": "in-progress"},
                       closed=True)
    write_state(state_path, with_entry(state, "c", entry))
    line = invoke("state", "list")[1].splitlines()[2]
    assert line == ("c\tPLAT-42\tIn Review (closed by ticketsync)\ttkt-c\t"
                    "https://jira.example/PLAT-42")
    monkeypatch.setattr(apply_cli, "is_terminal", lambda stream: True)
    line = invoke("state", "list")[1].splitlines()[2]
    assert line.startswith("c\t\x1b]8;;https://jira.example/PLAT-42\x1b\\PLAT-42\x1b]8;;")


def test_show() -> None:
    code, out, _ = invoke("state", "show", "a")
    assert code == 0
    assert json.loads(out) == {"key": "a", "id": "tkt-a", "remote_id": "PROJ-1",
                               "created_at": "2024-05-01T12:00:00Z", "applied": {"title": "A"}}


def test_rm_writes_a_new_serial(state_path: Path) -> None:
    assert invoke("state", "rm", "a") == (
        0, "Removed a (id tkt-a) from the state; the remote ticket is untouched.\n", ""
    )
    state = read_state(state_path)
    assert (dict(state.tickets), state.serial) == ({"b": B}, 2)


def test_mv_moves_the_entry(state_path: Path) -> None:
    assert invoke("state", "mv", "a", "a2") == (0, "Moved a to a2 in the state.\n", "")
    assert dict(read_state(state_path).tickets) == {"a2": A, "b": B}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("show", "nope"), "Error: 'nope' is not in the state (see `ticketsync state list`)\n"),
        (("rm", "nope"), "Error: 'nope' is not in the state (see `ticketsync state list`)\n"),
        (("mv", "nope", "x"), "Error: 'nope' is not in the state (see `ticketsync state list`)\n"),
        (("mv", "a", "b"), "Error: 'b' is already in the state: `ticketsync state rm b` first "
                           "if that entry is wrong\n"),
    ],
)
def test_unknown_or_taken_keys_are_errors_and_change_nothing(
    state_path: Path, args: tuple[str, ...], message: str
) -> None:
    before = state_path.read_bytes()
    assert invoke("state", *args) == (1, "", message)
    assert state_path.read_bytes() == before


def test_an_invalid_new_key_is_a_usage_error(state_path: Path) -> None:
    code, _, err = invoke("state", "mv", "a", "bad key!")
    assert code == 64 and "'bad key!' is not a valid key" in err


@pytest.mark.parametrize("args", [
    ("mv", "a", "zz\n"), ("import", "zz\n", "t-1"), ("import", "a", "t-1", "\nb", "t-2"),
])
def test_a_key_ending_in_a_newline_is_refused_everywhere(
    state_path: Path, args: tuple[str, ...]
) -> None:
    """Defect #9.2: `state mv z $'zz\\n'` used to pass the key check (match with `$`), then
    every command called the state corrupt. One check (fullmatch) everywhere: refused as a
    usage error, and the state file is left as it was."""
    before = state_path.read_bytes()
    code, _, err = invoke("state", *args)
    assert code == 64 and "is not a valid key (letters, digits" in err
    assert state_path.read_bytes() == before


def test_missing_arguments_are_usage_errors() -> None:
    assert invoke("state", "rm")[0] == 64
    assert invoke("state", "nope")[0] == 64


def test_a_held_lock_refuses_writes_at_once(state_path: Path) -> None:
    before = state_path.read_bytes()
    with StateLock(state_path, command="ticketsync apply"):
        code, out, err = invoke("state", "rm", "a")
        # Reads do not need the lock.
        assert invoke("state", "list")[0] == 0
    assert (code, out) == (1, "")
    assert err.startswith("Error: the state ticketsync.state.json is locked by pid ")
    assert "(ticketsync apply)" in err
    assert state_path.read_bytes() == before


def test_a_foreign_or_corrupt_state_is_never_rewritten(
    state_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = state_path.read_bytes()
    monkeypatch.setenv("STACKONE_ACCOUNT_ID", "acc-other")
    code, _, err = invoke("state", "rm", "a")
    assert code == 1 and "belongs to account acc-1, not acc-other" in err
    assert state_path.read_bytes() == before
    monkeypatch.delenv("STACKONE_ACCOUNT_ID")
    state_path.write_bytes(b"{")
    assert invoke("state", "mv", "a", "c")[0] == 1
    assert state_path.read_bytes() == b"{"


def test_a_missing_state_says_to_run_init(state_path: Path) -> None:
    state_path.unlink()
    code, _, err = invoke("state", "list")
    assert code == 1
    assert err.startswith("Error: no state file at ") and "run `ticketsync init`" in err


def test_a_stale_lock_is_taken_over_with_a_warning(state_path: Path) -> None:
    lock = state_path.with_name(state_path.name + ".lock")
    lock.write_text('{"pid": 999999, "host": "gone", "since": "2024-01-01T00:00:00Z"}\n',
                    encoding="utf-8")
    code, out, err = invoke("state", "rm", "a")
    assert code == 0 and out.startswith("Removed a")
    assert err == (
        "Warning: took over a stale lock from pid 999999 (gone, since 2024-01-01T00:00:00Z): "
        "that process ended without releasing it\n"
    )
    assert not lock.exists()


def test_rm_folds_a_crashed_applys_journal_so_the_ticket_does_not_come_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A crashed apply journaled two creates; `state rm` of one must not let the journal
    # resurrect it, and must not lose the other.
    from ticketsync.state.file import new_state, write_state
    from ticketsync.state.journal import Journal, journal_path_for
    from ticketsync.state.recovery import recover

    monkeypatch.chdir(tmp_path)
    state_path = tmp_path / "ticketsync.state.json"
    write_state(state_path, new_state(None))
    with Journal(journal_path_for(state_path)) as journal:
        for key in ("kept", "removed"):
            journal.record_intent(key, {"title": key}, at=datetime.now(UTC))
            journal.record_created(key, f"id-{key}", None, {"title": key})
    result = CliRunner().invoke(main, ["state", "rm", "removed"])
    assert result.exit_code == 0, result.output
    assert not journal_path_for(state_path).exists()
    folded = recover(read_state(state_path), journal_path_for(state_path))[0]
    assert sorted(folded.tickets) == ["kept"]


def crashed_apply(state_path: Path, tracked: str, uncertain: str) -> Intent:
    """A state tracking ``tracked``, beside the journal of an apply that died while creating
    ``uncertain`` (its intent is open: the ticket may or may not exist remotely)."""
    entry = StateEntry(f"id-{tracked}", None, "2024-05-01T12:00:00Z", {"title": tracked})
    write_state(state_path, with_entry(new_state(None), tracked, entry))
    with Journal(journal_path_for(state_path)) as journal:
        return journal.record_intent(uncertain, {"title": uncertain}, at=datetime.now(UTC))


def test_mv_onto_a_key_with_an_uncertain_create_is_refused(state_path: Path) -> None:
    # `new` was being created when an apply died: it may exist remotely. Moving `old` onto
    # it would leave that ticket untracked; the state and journal must stay as they are.
    crashed_apply(state_path, "old", "new")
    before = (state_path.read_bytes(), journal_path_for(state_path).read_bytes())
    result = CliRunner().invoke(main, ["state", "mv", "old", "new"])
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: new: an interrupted apply left a create of it whose outcome is unknown: "
        "run `ticketsync apply` first to settle it, then try again\n"
    )
    assert (state_path.read_bytes(), journal_path_for(state_path).read_bytes()) == before


def test_state_commands_date_the_state_no_later_than_an_open_intent(state_path: Path) -> None:
    # CI commits the state without the journal: a state written by `state rm` while a
    # create is uncertain must not claim to be newer than that create.
    intent = crashed_apply(state_path, "a", "b")
    time.sleep(1.1)  # the state's times have a resolution of one second
    result = CliRunner().invoke(main, ["state", "rm", "a"])
    assert result.exit_code == 0, result.output
    written = read_state(state_path).written_at
    assert written <= intent.at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert journal_path_for(state_path).exists()  # the open intent is kept
