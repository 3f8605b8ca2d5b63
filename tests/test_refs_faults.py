"""References (README: "References between tickets") under faults: kill -9 and SIGTERM
on the fill-in path.

A cycle of references is created with a placeholder, then filled in by a PATCH journaled
like every write (``updating``, then ``updated``). The apply is stopped the moment the
journal shows the first create (the cycle half made), the fill-in's intent (its PATCH in
flight, or not sent yet) or its outcome;
one re-run must leave one ticket per key, every text resolved, and a plan with nothing to do.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from sandbox_helpers import count_by_marker, spawn_sandbox, stored_tickets
from test_guarantees import API_KEY, MARKER, TIMEOUT, run, start, write_project

from ticketsync.state.file import read_state
from ticketsync.state.journal import journal_path_for

pytestmark = pytest.mark.slow

TICKETS = """\
defaults:
  project_id: project-001
tickets:
  x: {title: "X, see {ref:y}", description: "Cycle with {ref:y.url}"}
  y: {title: "Y, see {ref:x}"}
  a: {title: "A"}
  b: {title: "Follow-up of {ref:a}"}
"""


def _stop_at(process_args: tuple[Path, str], record: bytes, sig: int) -> str:
    """Run apply and send ``sig`` once the journal holds ``record``; what it printed."""
    folder, url = process_args
    journal = journal_path_for(folder / "ticketsync.state.json")
    process = start(folder, url, "apply", "--yes")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if record in journal.read_bytes():
                break
        except FileNotFoundError:
            pass
        time.sleep(0.001)
    assert process.poll() is None, "the run ended before the moment to stop it"
    process.send_signal(sig)
    out, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode != 0
    return out + err


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "sigterm"])
@pytest.mark.parametrize("record", [b'"op": "created"', b'"op": "updating"', b'"op": "updated"'],
                         ids=["between-the-creates", "at-the-fill-in", "after-the-fill-in"])
def test_a_run_stopped_on_the_fill_in_converges_in_one_rerun_without_duplicates(
    tmp_path: Path, sig: int, record: bytes
) -> None:
    with spawn_sandbox(tmp_path / "server.db", "--latency-ms", "40",
                       api_key=API_KEY) as server:
        folder = tmp_path / "p"
        write_project(folder, "unused", 0, marker=True)
        (folder / "tickets" / "tickets.yaml").write_text(TICKETS)
        stopped = _stop_at((folder, server.url), record, sig)
        assert "Traceback" not in stopped

        done = run(folder, server.url, "apply", "--yes")
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Traceback" not in done.stdout + done.stderr
        plan = run(folder, server.url, "plan")
        assert (plan.returncode, plan.stdout) == (0, "No changes.\n"), plan.stderr

        assert count_by_marker(server.db_path, MARKER) == {"x": 1, "y": 1, "a": 1, "b": 1}
        state = read_state(folder / "ticketsync.state.json").tickets
        titles = {t.id: t.title for t in stored_tickets(server.db_path)}
        number = {key: entry.ticket_number for key, entry in state.items()}
        assert titles[state["x"].id] == f"X, see {number['y']}"
        assert titles[state["y"].id] == f"Y, see {number['x']}"
        assert titles[state["b"].id] == f"Follow-up of {number['a']}"
