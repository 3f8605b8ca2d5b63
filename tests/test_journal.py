"""The write-ahead journal: what survives a crash, what is uncertain, and compaction."""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ticketsync.declare.config import Config
from ticketsync.errors import StateError
from ticketsync.run.workspace import Workspace
from ticketsync.state import journal as journal_module
from ticketsync.state.file import State, StateEntry, new_state, with_entry, write_state
from ticketsync.state.journal import Journal, body_digest, journal_path_for
from ticketsync.state.recovery import compact, read_records, recover

BODY = {"title": "Outage", "project_id": "project-001"}


@pytest.fixture
def state() -> State:
    return new_state("acc-1")


@pytest.fixture
def jpath(tmp_path: Path) -> Path:
    return journal_path_for(tmp_path / "ticketsync.state.json")


def test_journal_lives_beside_the_state(tmp_path: Path) -> None:
    assert journal_path_for(tmp_path / "s.json") == tmp_path / "s.json.journal"


def test_created_records_fold_into_the_state(state: State, jpath: Path) -> None:
    with Journal(jpath) as journal:
        intent = journal.record_intent("a", BODY, at=datetime.now(UTC))
        journal.record_created("a", "id-1", "R-1", {**BODY, "parent_id": None})
    folded, uncertain = recover(state, jpath)
    assert uncertain == []
    entry = folded.tickets["a"]
    assert (entry.id, entry.remote_id) == ("id-1", "R-1")
    assert entry.applied == {**BODY, "parent_id": None}
    assert intent.digest == body_digest(BODY)
    assert intent.title == "Outage" and intent.project_id == "project-001"
    assert state.tickets == {}  # recover never mutates its input


def test_an_intent_without_outcome_is_uncertain(state: State, jpath: Path) -> None:
    with Journal(jpath) as journal:
        journal.record_intent("a", BODY, at=datetime.now(UTC))
        journal.record_intent("b", BODY, at=datetime.now(UTC))
        journal.record_failed("b", "422: refused")
        journal.record_intent("c", BODY, at=datetime.now(UTC))
        journal.record_created("c", "id-3", None, BODY)
    folded, uncertain = recover(state, jpath)
    assert [intent.key for intent in uncertain] == ["a"]
    assert set(folded.tickets) == {"c"}
    assert uncertain[0].at.tzinfo is not None


def test_a_later_intent_supersedes_an_earlier_one(state: State, jpath: Path) -> None:
    # What was sent last is looked for; but the lookup reaches back to the first send with
    # no outcome in between, whose ticket may exist too.
    first = datetime(2024, 1, 1, tzinfo=UTC)
    with Journal(jpath) as journal:
        journal.record_intent("a", BODY, at=first)
        journal.record_intent("a", {**BODY, "title": "Edited"}, at=first + timedelta(seconds=5))
        journal.record_intent("b", BODY, at=first)
        journal.record_failed("b", "422: refused")
        journal.record_intent("b", BODY, at=first + timedelta(seconds=9))
    _, uncertain = recover(state, jpath)
    assert [(i.key, i.title, i.at) for i in uncertain] == [
        ("a", "Edited", first),
        ("b", "Outage", first + timedelta(seconds=9)),  # an outcome closed the first one
    ]


def test_an_intent_for_a_tracked_key_was_settled_elsewhere(state: State, jpath: Path) -> None:
    # e.g. `state import KEY ID` after an ambiguous reconciliation
    tracked = with_entry(state, "a", StateEntry("id-9", None, "2024-01-01T00:00:00Z", {}))
    with Journal(jpath) as journal:
        journal.record_intent("a", BODY, at=datetime.now(UTC))
    folded, uncertain = recover(tracked, jpath)
    assert uncertain == [] and folded.tickets["a"].id == "id-9"


def test_updated_records_replace_applied(state: State, jpath: Path) -> None:
    tracked = with_entry(state, "a", StateEntry("id-1", None, "2024-01-01T00:00:00Z", BODY))
    with Journal(jpath) as journal:
        journal.record_updated("a", "id-1", {**BODY, "title": "New"})
        journal.record_updated("gone", "id-2", BODY)  # not tracked: ignored
    folded, _ = recover(tracked, jpath)
    assert folded.tickets["a"].applied["title"] == "New"
    assert "gone" not in folded.tickets


def test_no_journal_means_no_change(state: State, jpath: Path) -> None:
    assert recover(state, jpath) == (state, [])


def test_a_torn_last_line_is_ignored_then_cut_before_appending(
    state: State, jpath: Path
) -> None:
    with Journal(jpath) as journal:
        journal.record_intent("a", BODY, at=datetime.now(UTC))
        journal.record_created("a", "id-1", None, BODY)
    with jpath.open("ab") as handle:  # a kill -9 in the middle of writing a record
        handle.write(b'{"op": "created", "key": "b", "id": "id-')
    folded, uncertain = recover(state, jpath)
    assert set(folded.tickets) == {"a"} and uncertain == []
    with Journal(jpath) as journal:
        journal.record_intent("b", BODY, at=datetime.now(UTC))
    lines = jpath.read_bytes().splitlines()
    assert len(lines) == 3 and all(json.loads(line) for line in lines)
    assert [i.key for i in recover(state, jpath)[1]] == ["b"]


def test_a_whole_record_torn_before_its_newline_is_kept_not_cut(
    state: State, jpath: Path
) -> None:
    # Read, it counts (the created ticket is tracked); opening the journal to append must
    # not then cut it, or the state written at the end of that run would lose it.
    with Journal(jpath) as journal:
        journal.record_intent("a", BODY, at=datetime.now(UTC))
    record = {"op": "created", "key": "a", "id": "id-1", "remote_id": None,
              "created_at": "2024-01-01T00:00:00Z", "applied": BODY}
    with jpath.open("ab") as handle:
        handle.write(json.dumps(record).encode())  # no newline: torn just before it
    assert set(recover(state, jpath)[0].tickets) == {"a"}
    with Journal(jpath) as journal:
        journal.record_intent("b", BODY, at=datetime.now(UTC))
    folded, uncertain = recover(state, jpath)
    assert folded.tickets["a"].id == "id-1" and [i.key for i in uncertain] == ["b"]
    assert all(json.loads(line) for line in jpath.read_bytes().splitlines())


def test_a_file_that_is_only_a_torn_line_is_emptied(jpath: Path) -> None:
    jpath.write_bytes(b'{"op": "inte')
    with Journal(jpath) as journal:
        journal.record_intent("a", BODY, at=datetime.now(UTC))
    assert len(jpath.read_bytes().splitlines()) == 1


def test_a_corrupt_line_before_the_end_is_refused(state: State, jpath: Path) -> None:
    jpath.write_bytes(b'not json\n{"op": "intent", "key": "a", "at": "2024-01-01T00:00:00Z"}\n')
    with pytest.raises(StateError, match=r"journal:1: the journal is corrupt; move it aside"):
        recover(state, jpath)


def count_syncs(monkeypatch: pytest.MonkeyPatch, *, delay: float = 0.0) -> list[int]:
    """Count the journal's fdatasync calls (one element per call), each taking ``delay``."""
    calls: list[int] = []
    real = os.fdatasync

    def counting(fd: int) -> None:
        calls.append(fd)
        real(fd)
        time.sleep(delay)

    monkeypatch.setattr(journal_module.os, "fdatasync", counting)
    return calls


def test_group_commit_shares_fsyncs_between_threads(
    jpath: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A slow disk: while the leader syncs, the others queue up behind it.
    syncs = count_syncs(monkeypatch, delay=0.002)
    threads, per_thread = 16, 40
    with Journal(jpath) as journal:

        def work(n: int) -> None:
            for i in range(per_thread):
                journal.record_intent(f"k{n}-{i}", BODY, at=datetime.now(UTC))

        workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert journal.write_seconds > 0
    records = list(read_records(jpath))
    assert len(records) == threads * per_thread
    assert len({r["key"] for r in records}) == threads * per_thread
    # While one leader syncs, the others' records pile up and share the next fsync.
    assert 1 <= len(syncs) < threads * per_thread / 2


def test_each_record_is_durable_before_the_call_returns(
    jpath: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced_sizes: list[int] = []
    real = os.fdatasync

    def spy(fd: int) -> None:
        real(fd)
        synced_sizes.append(os.fstat(fd).st_size)

    monkeypatch.setattr(journal_module.os, "fdatasync", spy)
    with Journal(jpath) as journal:
        journal.record_intent("a", BODY, at=datetime.now(UTC))
        assert synced_sizes and synced_sizes[-1] == jpath.stat().st_size


def test_a_failed_write_breaks_the_journal_for_good(
    jpath: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_space(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(journal_module.os, "fdatasync", no_space)
    with Journal(jpath) as journal:
        with pytest.raises(StateError, match="No space left on device"):
            journal.record_intent("a", BODY, at=datetime.now(UTC))
        monkeypatch.undo()
        with pytest.raises(StateError, match="run apply again"):
            journal.record_intent("b", BODY, at=datetime.now(UTC))


def test_a_closed_journal_refuses_records(jpath: Path) -> None:
    journal = Journal(jpath)
    journal.close()
    journal.close()  # twice is harmless
    with pytest.raises(StateError, match="closed"):
        journal.record_failed("a", "x")


def test_compaction_keeps_only_uncertain_intents(state: State, jpath: Path) -> None:
    with Journal(jpath) as journal:
        journal.record_intent("a", BODY, at=datetime.now(UTC))
        journal.record_created("a", "id-1", None, BODY)
        journal.record_intent("b", BODY, at=datetime.now(UTC))
    folded, uncertain = recover(state, jpath)
    compact(jpath, folded, uncertain)
    records = list(read_records(jpath))
    assert [r["op"] for r in records] == ["base", "intent"] and records[1]["key"] == "b"
    assert (records[0]["lineage"], records[0]["serial"]) == (folded.lineage, folded.serial)
    again, still = recover(folded, jpath)
    assert again == folded and still == uncertain


def test_compaction_removes_an_empty_journal(state: State, jpath: Path) -> None:
    with Journal(jpath) as journal:
        journal.record_intent("a", BODY, at=datetime.now(UTC))
        journal.record_created("a", "id-1", None, BODY)
    compact(jpath, state, recover(state, jpath)[1])
    assert not jpath.exists()
    compact(jpath, state, [])  # nothing to remove: fine


def test_effective_state_overlays_the_journal(tmp_path: Path, state: State) -> None:
    state_path = tmp_path / "ticketsync.state.json"
    write_state(state_path, state)
    before = state_path.read_bytes()
    with Journal(journal_path_for(state_path)) as journal:
        journal.record_intent("a", BODY, at=datetime.now(UTC))
        journal.record_created("a", "id-1", None, BODY)
    config = Config(root=tmp_path, account_id="acc-1")
    effective = Workspace(config).read()
    assert effective.tickets["a"].id == "id-1"
    assert state_path.read_bytes() == before  # read-only


def test_queued_records_wait_for_one_sync(
    state: State, jpath: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    syncs = count_syncs(monkeypatch)
    with Journal(jpath) as journal:
        for key in "abc":
            journal.record_intent(key, BODY, wait=False, at=datetime.now(UTC))
        assert len(syncs) == 0 and list(read_records(jpath)) == []  # queued, not yet written
        journal.sync()
        assert len(syncs) == 1 and len(list(read_records(jpath))) == 3
        journal.sync()  # nothing queued: no fsync
        assert len(syncs) == 1
        journal.record_created("a", "id-1", None, BODY, wait=False)
    # Closing makes what is still queued durable.
    assert len(syncs) == 2
    assert [i.key for i in recover(state, jpath)[1]] == ["b", "c"]


def test_the_journal_works_where_there_is_no_fdatasync(
    state: State, jpath: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defect #9.5: macOS has no os.fdatasync; the journal falls back to os.fsync."""
    import os

    monkeypatch.delattr(os, "fdatasync")
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    with Journal(jpath, base=(state.lineage, state.serial)) as journal:
        journal.record_intent("a", BODY, at=datetime.now(UTC))
        journal.record_created("a", "id-1", None, BODY)
    assert synced  # every record was made durable with fsync
    assert recover(state, jpath)[0].tickets["a"].id == "id-1"
