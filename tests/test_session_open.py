"""A session opening after a crash reads and folds the journal once, and commits what it
holds: the crashed run's creates recorded, its open intents kept for the lookup."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ticketsync.declare.config import Config
from ticketsync.model import StateEntry
from ticketsync.run import workspace
from ticketsync.state import recovery
from ticketsync.state.file import new_state, read_state, with_entry, write_state
from ticketsync.state.journal import Journal, journal_path_for

BODY = {"title": "T"}


def test_the_journal_is_read_once_when_a_session_opens(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    config = Config(root=tmp_path, account_id="acc")
    state = write_state(config.state_path, with_entry(
        new_state("acc"), "kept", StateEntry("id-kept", None, "2026-01-01T00:00:00Z", BODY)))
    journal_path = journal_path_for(config.state_path)
    with Journal(journal_path, base=(state.lineage, state.serial)) as journal:
        journal.record_intent("old", BODY, at=datetime.now(UTC))
        journal.record_created("old", "id-old", "R-1", BODY)
        journal.record_intent("open", BODY, at=datetime.now(UTC))  # still uncertain
    reads: list[Path] = []
    real = recovery.read_records

    def counted(path: Path) -> Any:
        reads.append(path)
        return real(path)

    monkeypatch.setattr(recovery, "read_records", counted)
    monkeypatch.setattr(workspace, "read_records", counted)
    with workspace.Workspace(config).session() as session:
        assert reads == [journal_path]
        assert sorted(session.state.tickets) == ["kept", "old"]
        assert [intent.key for intent in session.uncertain] == ["open"]
    on_disk = read_state(config.state_path, account_id="acc")
    assert (sorted(on_disk.tickets), on_disk.serial) == (["kept", "old"], state.serial + 1)
    assert [r.get("op") for r in real(journal_path)] == ["base", "intent"]
