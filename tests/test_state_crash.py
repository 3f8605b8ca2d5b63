"""State commands and the journal agree whatever instant the process dies (issue #9).

`state mv` / `state rm` write the state, then compact the journal. Killed in between, the
next run used to replay the journal's `created OLD` record: `mv` left OLD and NEW tracking
one ticket, and `rm` was silently undone. Each test runs the real command in a process of
its own and ends it with os._exit (no cleanup, like kill -9) at each write it makes:
before or after the state file is replaced, before the journal is compacted.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cli_helpers import ENV_VARS

from ticketsync.model import StateEntry
from ticketsync.state.file import new_state, read_state, with_entry, write_state
from ticketsync.state.journal import Journal, journal_path_for

ACCOUNT = "acc-crash"
BODY = {"title": "A ticket", "project_id": "p-1"}


def crashed_apply(folder: Path) -> Path:
    """A project whose last apply was killed after creating OLD (journaled, as apply writes
    it: after a base line) while KEPT was already in the state file."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ticketsync.yaml").write_text(f"account_id: {ACCOUNT}\n")
    state_path = folder / "ticketsync.state.json"
    state = write_state(state_path, with_entry(
        new_state(ACCOUNT), "kept", StateEntry("id-kept", None, "2026-01-01T00:00:00Z", BODY)))
    with Journal(journal_path_for(state_path), base=(state.lineage, state.serial)) as journal:
        journal.record_intent("old", BODY, at=datetime.now(UTC))
        journal.record_created("old", "id-old", "R-1", BODY)
        journal.record_intent("open", BODY, at=datetime.now(UTC))  # still uncertain
    return state_path


def run_dying(folder: Path, args: list[str], *, die_in: str, call: int) -> int:
    """Run ``ticketsync ARGS``, ending the process (os._exit) on entering the ``call``-th
    call of ``ticketsync.run.workspace.<die_in>`` (``write_state`` or ``compact``)."""
    script = textwrap.dedent(f"""
        import os, sys
        import ticketsync.run.workspace as workspace
        real = getattr(workspace, {die_in!r})
        calls = 0
        def dying(*args, **kwargs):
            global calls
            calls += 1
            if calls == {call}:
                os._exit(137)
            return real(*args, **kwargs)
        setattr(workspace, {die_in!r}, dying)
        from ticketsync.cli import run
        sys.argv = ["ticketsync", *{args!r}]
        run()
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=folder, env=_env(),
                          capture_output=True, text=True, timeout=60, check=False)
    return done.returncode


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ENV_VARS}


def ticketsync(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ticketsync", *args], cwd=folder, env=_env(),
                          capture_output=True, text=True, timeout=60, check=False)


def tracked(folder: Path) -> dict[str, str]:
    """What every command sees: `state list` (state file and journal, folded)."""
    done = ticketsync(folder, "state", "list")
    assert done.returncode == 0, done.stderr
    rows = [line.split("\t") for line in done.stdout.splitlines()]
    return {row[0]: row[3] for row in rows}  # key -> StackOne id


# Each way to die: (function, which call). The session folds the crashed run's journal
# first (write_state #1, compact #1), then the edit (write_state #2, compact #2).
DEATHS = [("write_state", 1), ("compact", 1), ("write_state", 2), ("compact", 2)]


@pytest.mark.parametrize(("die_in", "call"), DEATHS, ids=[f"{f}-{n}" for f, n in DEATHS])
def test_a_killed_state_mv_is_never_half_undone(tmp_path: Path, die_in: str, call: int) -> None:
    crashed_apply(tmp_path)
    assert run_dying(tmp_path, ["state", "mv", "old", "new"], die_in=die_in, call=call) == 137
    after = tracked(tmp_path)
    # Either the move happened or it did not: never both keys on one ticket.
    assert after in ({"kept": "id-kept", "old": "id-old"}, {"kept": "id-kept", "new": "id-old"})
    if "old" in after:  # not done: doing it again now works
        assert ticketsync(tmp_path, "state", "mv", "old", "new").returncode == 0
    assert tracked(tmp_path) == {"kept": "id-kept", "new": "id-old"}
    # Later commands (which write the state again) never bring OLD back either.
    assert ticketsync(tmp_path, "state", "rm", "kept").returncode == 0
    assert tracked(tmp_path) == {"new": "id-old"}
    assert read_state(tmp_path / "ticketsync.state.json").tickets.keys() == {"new"}


@pytest.mark.parametrize(("die_in", "call"), DEATHS, ids=[f"{f}-{n}" for f, n in DEATHS])
def test_a_killed_state_rm_is_never_silently_undone(
    tmp_path: Path, die_in: str, call: int
) -> None:
    crashed_apply(tmp_path)
    assert run_dying(tmp_path, ["state", "rm", "old"], die_in=die_in, call=call) == 137
    after = tracked(tmp_path)
    assert after in ({"kept": "id-kept", "old": "id-old"}, {"kept": "id-kept"})
    if "old" in after:  # the rm never happened: the user sees it and runs it again
        assert ticketsync(tmp_path, "state", "rm", "old").returncode == 0
    assert tracked(tmp_path) == {"kept": "id-kept"}
    assert ticketsync(tmp_path, "state", "mv", "kept", "kept2").returncode == 0
    assert tracked(tmp_path) == {"kept2": "id-kept"}
    # The uncertain create the crashed run left is still looked up by the next apply.
    journal = journal_path_for(tmp_path / "ticketsync.state.json").read_text()
    assert '"key": "open"' in journal
