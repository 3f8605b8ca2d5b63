"""How CI really ends a job, at random moments of an apply (issue #9, "CI cancellation").

GitHub Actions cancels with SIGINT, then SIGTERM 7.5 s later, then SIGKILL 2.5 s after
that; GitLab and Kubernetes send SIGTERM, then SIGKILL. The CI examples commit the state
file after the step, whatever its exit code, and the next job starts from a fresh
checkout: so the state file written at exit must name every ticket whose answer arrived
before the signal, and a re-run from that file alone must leave one ticket per key.

Each trial: a 150-ticket apply against the sandbox (100 ms latency, its own process), a
signal sequence at a random moment, then everything but the state file is thrown away.
"""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sandbox_helpers import SandboxProcess, spawn_sandbox, stored_tickets
from test_guarantees import (
    API_KEY,
    MARKER,
    apply_until_done,
    assert_one_each,
    start,
    write_project,
)

from ticketsync.state.file import read_state

pytestmark = pytest.mark.slow
COUNT = 150
#: GitHub's and GitLab's sequences: (signal, seconds after the previous one).
SEQUENCES = {
    "github": [(signal.SIGINT, 0.0), (signal.SIGTERM, 7.5), (signal.SIGKILL, 2.5)],
    "gitlab": [(signal.SIGTERM, 0.0), (signal.SIGKILL, 2.5)],
}


@pytest.fixture
def server(tmp_path: Path) -> SandboxProcess:
    with spawn_sandbox(tmp_path / "server.db", "--latency-ms", "100",
                       api_key=API_KEY) as process:
        yield process


def cancel(process: subprocess.Popen[str], sequence: list[tuple[int, float]]) -> float:
    """Send ``sequence`` (stopping once the process has exited); seconds from the first
    signal to the exit. The process's output is left on ``process.output``."""
    first = time.monotonic()
    for sig, delay in sequence:
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.01)
        if process.poll() is not None:
            break
        process.send_signal(sig)
    out, err = process.communicate(timeout=60)
    process.output = out + err  # type: ignore[attr-defined]
    return time.monotonic() - first


@pytest.mark.parametrize("ci", sorted(SEQUENCES))
def test_a_cancelled_ci_job_leaves_a_state_that_names_every_answered_ticket(
    server: SandboxProcess, tmp_path: Path, ci: str
) -> None:
    rng = random.Random(f"cancel-{ci}")
    exits: list[float] = []
    mid_run = 0
    for trial in range(4):
        runner = tmp_path / f"{ci}{trial}"
        keys = write_project(runner, f"{ci[0]}{trial}", COUNT, marker=True)
        (runner / "ticketsync.yaml").write_text(
            (runner / "ticketsync.yaml").read_text().replace("concurrency: 4\n", "")
            + "rate_limit: 3000\n"
        )
        process = start(runner, server.url, "apply", "--yes", "--force")
        time.sleep(rng.uniform(0.6, 3.0))  # start-up and lookup included: any moment
        signalled = datetime.now(UTC)
        exits.append(cancel(process, SEQUENCES[ci]))
        # Every ticket the server answered before the signal is in the state file on disk.
        state = read_state(runner / "ticketsync.state.json")
        answered = {t.custom_field(MARKER): t.id for t in stored_tickets(server.db_path)
                    if t.custom_field(MARKER) in keys
                    and (signalled - datetime.fromisoformat(t.created_at.replace("Z", "+00:00"))
                         ).total_seconds() > 0.25}
        tracked = {key: entry.id for key, entry in state.tickets.items()}
        assert {k: tracked.get(k) for k in answered} == answered
        mid_run += 0 < len(answered) < COUNT
        # A fresh checkout: the committed state file and the ticket files, nothing else.
        fresh = tmp_path / f"{ci}{trial}-fresh"
        fresh.mkdir()
        shutil.copytree(runner / "tickets", fresh / "tickets")
        shutil.copy(runner / "ticketsync.yaml", fresh / "ticketsync.yaml")
        shutil.copy(runner / "ticketsync.state.json", fresh / "ticketsync.state.json")
        apply_until_done(fresh, server.url)
        assert_one_each(server, fresh, keys, marker=True)
    print(f"{ci}: exit after the first signal: max {max(exits):.2f} s over {len(exits)} "
          f"trials, {mid_run} of them mid-run")
    assert max(exits) < 2.5  # the state is written well before any SIGKILL
    assert mid_run >= 2  # the signals really landed while tickets were being created


def test_a_stop_during_a_long_retry_after_wait_ends_the_run_at_once(tmp_path: Path) -> None:
    """StackOne answers 429 with Retry-After: 60; a job cancelled meanwhile must not sit
    out the minute (GitHub's SIGKILL comes 10 s after its SIGINT)."""
    with spawn_sandbox(tmp_path / "server.db", "--fault",
                       "429:op=create,retry_after=60,times=100", api_key=API_KEY) as server:
        runner = tmp_path / "p"
        keys = write_project(runner, "w", 20, marker=True)
        process = start(runner, server.url, "apply", "--yes")
        time.sleep(2.5)  # well into the wait
        assert process.poll() is None
        exit_after = cancel(process, SEQUENCES["github"])
        out = process.output  # type: ignore[attr-defined]
        assert process.returncode == 130, out
        assert "Apply interrupted: 0 created" in out
        assert exit_after < 2.5
        tracked = read_state(runner / "ticketsync.state.json").tickets
        assert not set(tracked) & set(keys)  # nothing was created: a 429 does not act
        assert sum(1 for t in stored_tickets(server.db_path)) == 0
