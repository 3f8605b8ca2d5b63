"""docs/design.md, "The guarantees", attacked end to end: the real CLI in child processes, the real
sandbox server.

Every test here runs ``python -m ticketsync apply`` as a separate process against
``ticketsync sandbox`` in another separate process over loopback, so that kill -9 hits a
real apply (never the server), and the server's SQLite file is the ground truth: after
whatever was done to the runs, it must hold exactly one ticket per declared key.

Budget: well under 3 minutes on 2 cores. Every subprocess has a timeout; loops are bounded.
"""

from __future__ import annotations

import base64
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sandbox_helpers import SandboxProcess, count_by_marker, count_by_title, spawn_sandbox

from ticketsync.state.file import new_state, read_state, write_state
from ticketsync.state.journal import journal_path_for

#: A key distinctive enough that finding it anywhere is a leak (docs/design.md, "Secrets stay
#: secret").
API_KEY = "tsk-guarantee-9f3b2c7d1e8a4f60b5c2"
ACCOUNT = "acc-guarantees"
MARKER = "ticketsync_key"
TIMEOUT = 90.0
pytestmark = pytest.mark.slow


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SandboxProcess]:
    """A sandbox in its own process, accepting only API_KEY, with a little latency."""
    with spawn_sandbox(tmp_path / "server.db", "--latency-ms", "15", api_key=API_KEY) as process:
        yield process


def write_project(folder: Path, prefix: str, count: int, *, marker: bool) -> list[str]:
    """A project of ``count`` tickets (every 5th one a child of the one before); its keys."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tickets").mkdir(exist_ok=True)
    lines = ["defaults:", "  project_id: project-001", "tickets:"]
    keys = [f"{prefix}-{i:03d}" for i in range(count)]
    for i, key in enumerate(keys):
        lines += [f"  {key}:", f"    title: {prefix} ticket number {i}"]
        if i % 5 == 4:
            lines.append(f"    parent: {keys[i - 1]}")
    (folder / "tickets" / "tickets.yaml").write_text("\n".join(lines) + "\n")
    config = f"account_id: {ACCOUNT}\nconcurrency: 4\n"
    if marker:
        config += f"marker: {{custom_field: {MARKER}}}\n"
    (folder / "ticketsync.yaml").write_text(config)
    state = folder / "ticketsync.state.json"
    if not state.exists():
        write_state(state, new_state(ACCOUNT))
    return keys


def environment(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STACKONE_")}
    env.update(STACKONE_API_KEY=API_KEY, STACKONE_BASE_URL=url, STACKONE_ACCOUNT_ID=ACCOUNT)
    return env


def start(folder: Path, url: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ticketsync", *args],
        cwd=folder, env=environment(url), text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )


def run(folder: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    process = start(folder, url, *args)
    try:
        out, err = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate(timeout=10)
        raise AssertionError(f"ticketsync {' '.join(args)} hung:\n{out}\n{err}") from None
    return subprocess.CompletedProcess(args, process.returncode, out, err)


def apply_until_done(folder: Path, url: str, tries: int = 4) -> list[str]:
    """Re-run apply until it succeeds (a run may fail on purpose); every run's output."""
    outputs: list[str] = []
    for _ in range(tries):
        done = run(folder, url, "apply", "--yes", "--force")
        outputs.append(done.stdout + done.stderr)
        if done.returncode == 0:
            return outputs
    raise AssertionError("apply never succeeded:\n" + "\n---\n".join(outputs))


def assert_one_each(server: SandboxProcess, folder: Path, keys: list[str], marker: bool) -> None:
    """Exactly one remote ticket per key, and the state tracks each one's real id."""
    if marker:
        counts = count_by_marker(server.db_path, MARKER)
        found = {key: counts[key] for key in keys}
    else:
        titles = count_by_title(server.db_path)
        found = {key: titles[f"{key.rsplit('-', 1)[0]} ticket number {int(key[-3:])}"]
                 for key in keys}
    assert found == dict.fromkeys(keys, 1)
    state = read_state(folder / "ticketsync.state.json")
    assert set(state.tickets) >= set(keys)
    assert len({state.tickets[key].id for key in keys}) == len(keys)


def kill_at_random_moment(process: subprocess.Popen[str], journal: Path, rng: random.Random,
                          count: int, sig: int = signal.SIGKILL) -> None:
    """Send ``sig`` (kill -9 by default) to ``process`` at a random time, or once the
    journal holds a random number of records (which lands inside the create phase, where
    it hurts most); wait for it to end."""
    deadline = time.monotonic() + 20
    if rng.random() < 0.5:
        target = rng.randint(0, 2 * count)
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if journal.read_bytes().count(b"\n") >= target:
                    break
            except FileNotFoundError:
                pass
            time.sleep(0.001)
    else:
        time.sleep(rng.uniform(0.0, 1.8))
    process.send_signal(sig)
    process.communicate(timeout=TIMEOUT)


@pytest.mark.parametrize("marker", [True, False], ids=["marker", "title"])
def test_kill_9_at_random_moments_then_rerun(
    server: SandboxProcess, tmp_path: Path, marker: bool
) -> None:
    """§4.1/§4.2: kill -9 mid-apply (twice per trial), re-run: one ticket per key, none lost."""
    rng = random.Random(20240501 + marker)
    trials, count = (10, 40) if marker else (5, 40)
    hits = 0
    for trial in range(trials):
        folder = tmp_path / f"trial{trial}"
        keys = write_project(folder, f"k{trial}", count, marker=marker)
        journal = journal_path_for(folder / "ticketsync.state.json")
        for _ in range(2):
            process = start(folder, server.url, "apply", "--yes", "--force")
            kill_at_random_moment(process, journal, rng, count)
            hits += journal.exists()  # killed while creating: work left in the journal
        apply_until_done(folder, server.url)
        assert_one_each(server, folder, keys, marker)
        again = run(folder, server.url, "apply", "--yes")
        assert (again.returncode, again.stdout) == (0, "No changes.\n")
    assert hits >= trials // 2  # the attack really landed mid-run, not only before or after


@pytest.mark.parametrize("marker", [True, False], ids=["marker", "title"])
def test_a_runner_that_dies_with_its_working_folder(
    server: SandboxProcess, tmp_path: Path, marker: bool
) -> None:
    """§4.1 second mechanism: only the committed state file and the ticket files survive
    (no journal, no lock): the re-run from a fresh checkout adopts, never duplicates."""
    rng = random.Random(777 + marker)
    for trial in range(5):
        first = tmp_path / f"runner{trial}"
        prefix = f"f{trial}"
        # A first run that completes, and whose state file is committed.
        write_project(first, prefix, 10, marker=marker)
        assert run(first, server.url, "apply", "--yes").returncode == 0
        committed = (first / "ticketsync.state.json").read_bytes()
        # More tickets are declared; the runner is killed mid-apply and lost with its folder.
        keys = write_project(first, prefix, 40, marker=marker)
        process = start(first, server.url, "apply", "--yes", "--force")
        kill_at_random_moment(process, journal_path_for(first / "ticketsync.state.json"),
                              rng, 30)
        fresh = tmp_path / f"checkout{trial}"
        fresh.mkdir()
        shutil.copytree(first / "tickets", fresh / "tickets")
        shutil.copy(first / "ticketsync.yaml", fresh / "ticketsync.yaml")
        (fresh / "ticketsync.state.json").write_bytes(committed)
        shutil.rmtree(first)
        apply_until_done(fresh, server.url)
        assert_one_each(server, fresh, keys, marker)


@pytest.mark.parametrize("fault", ["store-then-502", "store-then-408", "store-then-drop"])
def test_the_server_acts_then_the_answer_is_lost(tmp_path: Path, fault: str) -> None:
    """§3/§4.1: the ticket is created, then a 502 / a 408 / a dropped connection: the
    create is reconciled (adopted), never blindly resent."""
    db = tmp_path / "server.db"
    rule = f"{fault}:op=create,p=0.3,seed=11"
    with spawn_sandbox(db, "--fault", rule, api_key=API_KEY) as server:
        keys = write_project(tmp_path / "p", "u", 30, marker=False)
        outputs = apply_until_done(tmp_path / "p", server.url)
        assert "created despite" in outputs[0]  # the lost answers were looked up and adopted
        assert_one_each(server, tmp_path / "p", keys, marker=False)


def test_a_failure_before_acting_is_resent_once_nothing_is_found(tmp_path: Path) -> None:
    """A 500 without a ticket: the lookup finds nothing, so the create is sent again."""
    with spawn_sandbox(tmp_path / "server.db", "--fault", "fail-before-store:op=create,nth=2",
                       api_key=API_KEY) as server:
        keys = write_project(tmp_path / "p", "b", 5, marker=True)
        outputs = apply_until_done(tmp_path / "p", server.url)
        assert "resending" in outputs[0]
        assert_one_each(server, tmp_path / "p", keys, marker=True)


def test_a_429_storm_with_retry_after_creates_each_once(tmp_path: Path) -> None:
    """§3: a 429 was not acted on; it waits for Retry-After and is resent."""
    with spawn_sandbox(tmp_path / "server.db", "--fault", "429:op=create,times=12",
                       api_key=API_KEY) as server:
        keys = write_project(tmp_path / "p", "r", 20, marker=True)
        done = run(tmp_path / "p", server.url, "apply", "--yes")
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Apply complete: 20 created, 0 updated, 0 failed." in done.stdout
        assert_one_each(server, tmp_path / "p", keys, marker=True)


def test_two_applies_at_once(server: SandboxProcess, tmp_path: Path) -> None:
    """§4.3: the second run fails at once naming the lock holder; nothing is duplicated."""
    keys = write_project(tmp_path / "p", "c", 40, marker=True)
    first = start(tmp_path / "p", server.url, "apply", "--yes")
    lock = tmp_path / "p" / "ticketsync.state.json.lock"
    deadline = time.monotonic() + 20
    while not lock.exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    began = time.monotonic()
    second = run(tmp_path / "p", server.url, "apply", "--yes")
    refused_after = time.monotonic() - began
    out, err = first.communicate(timeout=TIMEOUT)
    assert first.returncode == 0, out + err
    assert second.returncode == 1
    assert f"is locked by pid {first.pid}" in second.stderr
    assert refused_after < 60  # at once (~1 s): a run that waited for the lock would exit 0
    assert_one_each(server, tmp_path / "p", keys, marker=True)


def test_the_key_never_appears_anywhere(tmp_path: Path) -> None:
    """§4.5: not in output (even --debug, even failures), state, journal, plan, lock, log."""
    folder = tmp_path / "p"
    with spawn_sandbox(tmp_path / "server.db", "--fault", "store-then-502:op=create,nth=1",
                       "--latency-ms", "30", api_key=API_KEY) as server:
        write_project(folder, "s", 6, marker=True)
        outputs = [
            run(folder, server.url, "--debug", "plan", "--out", "plan.json"),
            run(folder, server.url, "--debug", "apply", "--yes", "--plan", "plan.json"),
            run(folder, server.url, "--debug", "state", "import", "zzz", "no-such-id"),
            run(folder, server.url, "--debug", "apply", "--yes"),
        ]
        # A journal left by a killed run, and a lock file of a live one, are checked too.
        write_project(folder, "s", 12, marker=True)
        process = start(folder, server.url, "--debug", "apply", "--yes")
        journal = journal_path_for(folder / "ticketsync.state.json")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not journal.exists():
            time.sleep(0.001)
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=TIMEOUT)
        leftovers = {p.name: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
        assert {"ticketsync.state.json.journal", "ticketsync.state.json.lock"} <= set(leftovers)
        outputs.append(run(folder, server.url, "--debug", "apply", "--yes"))
    write_project(folder, "s", 14, marker=True)  # something to do, so apply must call out
    with spawn_sandbox(tmp_path / "other.db", api_key="another-key-entirely") as refusing:
        # The server refuses our key (401): the error path, with a traceback.
        outputs.append(run(folder, refusing.url, "--debug", "state", "import", "x", "y"))
        outputs.append(run(folder, refusing.url, "--debug", "apply", "--yes"))
    assert outputs[2].returncode == 1 and outputs[-1].returncode == 1
    assert "Traceback" in outputs[-1].stderr  # --debug really showed the failure in full
    encoded = base64.b64encode(f"{API_KEY}:".encode()).decode()
    texts = [o.stdout + o.stderr for o in outputs]
    texts += [content.decode("utf-8", "replace") for content in leftovers.values()]
    texts += [p.read_bytes().decode("utf-8", "replace")
              for p in tmp_path.rglob("*") if p.is_file() and p.suffix in (".log", ".json")]
    for text in texts:
        assert API_KEY not in text
        assert encoded not in text
        assert API_KEY[4:20] not in text


def test_ctrl_c_drains_requests_in_flight_and_records_them(
    server: SandboxProcess, tmp_path: Path
) -> None:
    """Ctrl-C stops sending, waits for the requests in flight and records every one of them:
    nothing is left uncertain, the state tracks exactly what exists, exit 130."""
    folder = tmp_path / "p"
    keys = write_project(folder, "i", 40, marker=True)
    process = start(folder, server.url, "apply", "--yes")
    journal = journal_path_for(folder / "ticketsync.state.json")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (
        not journal.exists() or journal.read_bytes().count(b"\n") < 12
    ):
        time.sleep(0.002)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 130, out + err
    assert "Apply interrupted: " in out and "not started" in out
    assert not journal.exists()  # folded into the state, and nothing left uncertain
    tracked = read_state(folder / "ticketsync.state.json").tickets
    stored = count_by_marker(server.db_path, MARKER)
    assert {key for key in keys if stored[key]} == set(tracked)
    apply_until_done(folder, server.url)
    assert_one_each(server, folder, keys, marker=True)
