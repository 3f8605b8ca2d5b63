"""The state file: strict reads that never repair, deterministic and atomic writes."""

from __future__ import annotations

import difflib
import json
import multiprocessing
import os
import signal
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ticketsync.errors import StateError
from ticketsync.state.file import (
    MAX_CLOCK_SKEW,
    STATE_VERSION,
    State,
    StateEntry,
    dump_state,
    new_state,
    project_of,
    read_state,
    renamed,
    with_entry,
    without,
    write_state,
)
from ticketsync.times import parse_time

LINEAGE = "0b7a3c3e-5d1c-4a53-9f55-3b6c1a2d9e10"
ENTRY = StateEntry("tkt-1", "PROJ-1", "2024-05-01T12:00:00Z", {"title": "First"})


def make_state(**tickets: StateEntry) -> State:
    return State(3, LINEAGE, 3, "2024-05-01T12:00:00Z", "acc-1", tickets)


def test_dump_is_sorted_indented_and_ends_with_a_newline() -> None:
    text = dump_state(replace(make_state(b=ENTRY, a=ENTRY), project="ticketsync.yaml"))
    assert text == (
        "{\n"
        '  "account_id": "acc-1",\n'
        '  "lineage": "0b7a3c3e-5d1c-4a53-9f55-3b6c1a2d9e10",\n'
        '  "project": "ticketsync.yaml",\n'
        '  "refreshed_at": null,\n'
        '  "serial": 3,\n'
        '  "tickets": {\n'
        '    "a": {\n'
        '      "applied": {\n'
        '        "title": "First"\n'
        "      },\n"
        '      "created_at": "2024-05-01T12:00:00Z",\n'
        '      "id": "tkt-1",\n'
        '      "remote_id": "PROJ-1"\n'
        "    },\n"
        '    "b": {\n'
        '      "applied": {\n'
        '        "title": "First"\n'
        "      },\n"
        '      "created_at": "2024-05-01T12:00:00Z",\n'
        '      "id": "tkt-1",\n'
        '      "remote_id": "PROJ-1"\n'
        "    }\n"
        "  },\n"
        '  "version": 3,\n'
        '  "written_at": "2024-05-01T12:00:00Z"\n'
        "}\n"
    )


def test_write_then_read_round_trips_and_bumps_the_serial(tmp_path: Path) -> None:
    path = tmp_path / "ticketsync.state.json"
    written = write_state(path, make_state(a=ENTRY))
    assert written.serial == 4
    assert written.written_at == make_state(a=ENTRY).written_at  # dated by the caller
    assert read_state(path) == written
    assert path.read_text(encoding="utf-8") == dump_state(written)
    assert [p.name for p in tmp_path.iterdir()] == ["ticketsync.state.json"]  # no temp left


def test_new_state_is_empty_valid_and_fresh(tmp_path: Path) -> None:
    state = new_state("acc-9")
    assert (state.version, state.serial, state.account_id, dict(state.tickets)) == (
        STATE_VERSION, 0, "acc-9", {}
    )
    assert new_state(None).lineage != state.lineage
    path = tmp_path / "s.json"
    write_state(path, state)
    assert read_state(path, account_id="acc-9").lineage == state.lineage


def test_a_new_state_is_dated_an_hour_before_this_machine_s_clock() -> None:
    """Issue #17 item 12: a state fresh from ``init`` never talked to StackOne, whose clock
    may be up to an hour behind: its ``written_at`` must be earlier than StackOne's time
    whatever the skew, or the first apply's lookup misses what a killed run created."""
    before = datetime.now(UTC).replace(microsecond=0)
    written = parse_time(new_state(None).written_at)
    after = datetime.now(UTC)
    assert MAX_CLOCK_SKEW.total_seconds() == 3600
    assert before - MAX_CLOCK_SKEW <= written <= after - MAX_CLOCK_SKEW


def test_project_of_is_the_config_relative_to_the_state_folder(tmp_path: Path) -> None:
    assert project_of(tmp_path / "s.json", tmp_path / "ticketsync.yaml") == "ticketsync.yaml"
    assert project_of(tmp_path / "shared.json", tmp_path / "p1" / "ticketsync.yaml") == (
        "p1/ticketsync.yaml")
    assert project_of(tmp_path / "p1" / "s.json", tmp_path / "p2" / "ci.yaml") == (
        "../p2/ci.yaml")
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert project_of(tmp_path / "link" / "s.json", tmp_path / "real" / "ticketsync.yaml") == (
        "ticketsync.yaml")


def test_a_state_of_another_project_is_refused_by_name_and_left_byte_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "shared.state.json"
    write_state(path, replace(new_state("acc-1"), project="p1/ticketsync.yaml"))
    raw = path.read_bytes()
    assert read_state(path, project="p1/ticketsync.yaml").project == "p1/ticketsync.yaml"
    with pytest.raises(StateError) as caught:
        read_state(path, project="p2/ticketsync.yaml")
    assert str(caught.value) == (
        "state file shared.state.json belongs to the project of p1/ticketsync.yaml, not "
        "p2/ticketsync.yaml: give each project a `state:` file of its own in its config (if "
        'that config was moved here, set "project": "p2/ticketsync.yaml" in the state file); '
        "it was left as it is"
    )
    assert path.read_bytes() == raw
    # Not bound yet (an older state): any project reads it (its first write binds it).
    write_state(path, new_state("acc-1"))
    assert read_state(path, project="p2/ticketsync.yaml").project is None


def test_one_new_ticket_is_a_few_added_lines() -> None:
    before = dump_state(make_state(a=ENTRY)).splitlines()
    after = dump_state(make_state(a=ENTRY, b=ENTRY)).splitlines()
    diff = [d for d in difflib.ndiff(before, after) if d[:1] in "+-"]
    # The new entry's 9 lines, and at most the comma after the previous entry's brace.
    assert len([d for d in diff if d.startswith("-")]) <= 1
    assert len([d for d in diff if d.startswith("+")]) <= 10


def test_a_write_keeps_the_mode_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    write_state(path, make_state())
    assert path.stat().st_mode & 0o777 == 0o644
    path.chmod(0o640)
    write_state(path, make_state())
    assert path.stat().st_mode & 0o777 == 0o640


def test_missing_state_says_to_run_init(tmp_path: Path) -> None:
    with pytest.raises(StateError, match=r"no state file at .*s\.json: run `ticketsync init`"):
        read_state(tmp_path / "s.json")


def _valid() -> dict[str, Any]:
    return make_state(a=ENTRY).to_json()


BAD_FILES: dict[str, tuple[bytes, str]] = {
    "truncated": (b'{"version": 1, "lineage"', r"corrupt \(not JSON: .* line 1"),
    "not utf-8": (b"\xff\xfe{}", r"corrupt \(not UTF-8"),
    "a list": (b"[]", r"corrupt \(\(top level\): \[\] is not of type 'object'"),
    "no tickets": (
        json.dumps({k: v for k, v in _valid().items() if k != "tickets"}).encode(),
        r"corrupt \(\(top level\): 'tickets' is a required property",
    ),
    "entry without id": (
        json.dumps({**_valid(), "tickets": {"a": {"remote_id": None, "created_at": "x",
                                                  "applied": {}}}}).encode(),
        r"corrupt \(tickets\.a: 'id' is a required property",
    ),
    "bad key": (
        json.dumps({**_valid(), "tickets": {"-a": ENTRY.to_json()}}).encode(),
        r"corrupt \(tickets",
    ),
    "newer version": (
        json.dumps({**_valid(), "version": 4, "future": True}).encode(),
        r"written by a newer ticketsync \(state version 4, this one reads 3\): upgrade",
    ),
    "other account": (
        json.dumps({**_valid(), "account_id": "acc-other"}).encode(),
        r"belongs to account acc-other, not acc-1",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_state_is_refused_by_name_and_left_byte_identical(
    tmp_path: Path, case: str
) -> None:
    raw, message = BAD_FILES[case]
    path = tmp_path / "ticketsync.state.json"
    path.write_bytes(raw)
    with pytest.raises(StateError, match=message) as caught:
        read_state(path, account_id="acc-1")
    assert str(path) in str(caught.value)
    assert path.read_bytes() == raw


def test_a_state_without_account_is_usable_with_any(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    write_state(path, new_state(None))
    assert read_state(path, account_id="acc-1").account_id is None


def test_helpers_return_new_states() -> None:
    state = make_state(a=ENTRY)
    grown = with_entry(state, "b", ENTRY)
    assert sorted(grown.tickets) == ["a", "b"] and sorted(state.tickets) == ["a"]
    assert sorted(without(grown, "a").tickets) == ["b"]
    assert renamed(state, "a", "z").tickets == {"z": ENTRY}
    with pytest.raises(StateError, match=r"'nope' is not in the state"):
        without(state, "nope")
    with pytest.raises(StateError, match=r"'nope' is not in the state"):
        renamed(state, "nope", "x")
    with pytest.raises(StateError, match=r"'b' is already in the state"):
        renamed(grown, "a", "b")


# --- a kill -9 between writing the temp file and renaming it ---------------------------


def _write_and_hang(path: str, ready: Any) -> None:  # runs in the child process
    import time

    import ticketsync.state.file as state_module

    def hang_instead_of_renaming(src: str, dst: str) -> None:
        ready.set()  # the temp file is written and fsync'd: the worst instant to die
        time.sleep(60)

    state_module.os.replace = hang_instead_of_renaming  # type: ignore[assignment]
    big = make_state(**{f"k{i}": ENTRY for i in range(500)})
    state_module.write_state(Path(path), big)


def test_kill_9_between_write_and_rename_leaves_the_old_file_intact(tmp_path: Path) -> None:
    path = tmp_path / "ticketsync.state.json"
    write_state(path, make_state(a=ENTRY))
    before = path.read_bytes()
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    child = ctx.Process(target=_write_and_hang, args=(str(path), ready))
    child.start()
    try:
        assert ready.wait(30), "the child never reached the rename"
        temps = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
        assert len(temps) == 1 and temps[0].stat().st_size > len(before)
    finally:
        os.kill(child.pid or 0, signal.SIGKILL)
        child.join(30)
    assert child.exitcode == -signal.SIGKILL
    assert path.read_bytes() == before
    assert read_state(path).tickets == {"a": ENTRY}


def test_a_version_1_state_is_read_and_upgraded_on_the_next_write(tmp_path: Path) -> None:
    """docs/design.md, "The state file": older states are read and upgraded; the version is written
    as 3 only when the file is written again."""
    path = tmp_path / "ticketsync.state.json"
    old = {
        "version": 1, "lineage": LINEAGE, "serial": 7, "written_at": "2024-05-01T12:00:00Z",
        "account_id": "acc-1",
        "tickets": {"a": {"id": "tkt-1", "remote_id": None, "created_at": "2024-05-01T12:00:00Z",
                          "applied": {"title": "First"}}},
    }
    raw = json.dumps(old, indent=2).encode()
    path.write_bytes(raw)
    state = read_state(path)
    assert (state.version, state.refreshed_at, state.tickets["a"].remote) == (3, None, {})
    assert state.project is None  # bound by the next commit of a session (test_binding.py)
    assert path.read_bytes() == raw  # reading changes nothing
    written = write_state(path, state)
    assert json.loads(path.read_text())["version"] == 3 and read_state(path) == written


def test_what_was_read_back_survives_a_round_trip_and_defaults_stay_out(tmp_path: Path) -> None:
    path = tmp_path / "ticketsync.state.json"
    full = StateEntry("tkt-2", "PROJ-2", "2024-05-01T12:00:00Z", {"title": "T", "status": "Done"},
                      ticket_number="PROJ-2", ticket_url="https://jira.example/PROJ-2",
                      status={"id": "s3", "name": "Done", "type": "closed"},
                      remote={"title": "T (edited)"}, pending={"title": "T"}, closed=True)
    written = write_state(path, make_state(a=ENTRY, b=full))
    assert read_state(path) == written
    doc = json.loads(path.read_text())
    assert sorted(doc["tickets"]["a"]) == ["applied", "created_at", "id", "remote_id"]
    assert doc["tickets"]["b"]["closed"] is True and "deleted" not in doc["tickets"]["b"]
