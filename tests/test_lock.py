"""One writer: the state lock, tried from real processes."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import socket
from pathlib import Path
from typing import Any

import pytest

from ticketsync.errors import LockError
from ticketsync.state.lock import StateLock, lock_path_for


def _hold(state_path: str, ready: Any, release: Any) -> None:  # child process
    with StateLock(Path(state_path), command="ticketsync apply --yes"):
        ready.set()
        release.wait(60)


def _try(state_path: str, queue: Any) -> None:  # child process
    try:
        with StateLock(Path(state_path)) as lock:
            queue.put(("acquired", lock.stale))
    except LockError as exc:
        queue.put(("refused", str(exc)))


@pytest.fixture
def ctx() -> Any:
    return multiprocessing.get_context("spawn")


def test_a_second_process_is_refused_at_once_naming_the_holder(
    tmp_path: Path, ctx: Any
) -> None:
    state = tmp_path / "ticketsync.state.json"
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold, args=(str(state), ready, release))
    holder.start()
    try:
        assert ready.wait(30)
        queue = ctx.Queue()
        other = ctx.Process(target=_try, args=(str(state), queue))
        other.start()
        outcome, message = queue.get(timeout=30)
        other.join(30)
        assert outcome == "refused"
        assert f"pid {holder.pid} on {socket.gethostname()} since " in message
        assert "(ticketsync apply --yes)" in message
        assert message.startswith(f"the state {state} is locked by ")
        assert "wait for it to finish" in message
        # ... and so is this very process.
        with pytest.raises(LockError, match=f"pid {holder.pid}"):
            StateLock(state).acquire()
    finally:
        release.set()
        holder.join(30)
    assert holder.exitcode == 0
    assert not lock_path_for(state).exists()  # a clean release leaves nothing behind
    with StateLock(state) as lock:
        assert lock.stale is None


def test_a_holder_killed_with_9_releases_the_lock_and_is_reported_stale(
    tmp_path: Path, ctx: Any
) -> None:
    state = tmp_path / "ticketsync.state.json"
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold, args=(str(state), ready, release))
    holder.start()
    assert ready.wait(30)
    os.kill(holder.pid or 0, signal.SIGKILL)
    holder.join(30)
    assert lock_path_for(state).exists()  # the dead holder's details are still there
    warnings: list[str] = []
    with StateLock(state, on_stale=warnings.append) as lock:
        assert lock.stale is not None
        assert lock.stale.startswith(
            f"took over a stale lock from pid {holder.pid} ({socket.gethostname()}, since "
        )
        content = json.loads(lock_path_for(state).read_text(encoding="utf-8"))
        assert content["pid"] == os.getpid()
        assert set(content) == {"pid", "host", "since", "command"}
    assert warnings == [lock.stale]


def test_the_lock_is_not_reentrant_and_release_is_idempotent(tmp_path: Path) -> None:
    lock = StateLock(tmp_path / "s.json").acquire()
    with pytest.raises(LockError, match="already holds"):
        lock.acquire()
    lock.release()
    lock.release()


def test_a_lock_in_a_missing_folder_is_a_lock_error(tmp_path: Path) -> None:
    with pytest.raises(LockError, match="cannot create the lock file"):
        StateLock(tmp_path / "nope" / "s.json").acquire()


def test_an_unreadable_holder_is_still_refused(tmp_path: Path) -> None:
    import fcntl

    state = tmp_path / "s.json"
    fd = os.open(lock_path_for(state), os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # a holder that never wrote its details
        with pytest.raises(LockError, match="locked by another ticketsync process"):
            StateLock(state).acquire()
    finally:
        os.close(fd)


def test_a_run_refused_while_the_new_holder_writes_names_it_not_the_dead_one(
    tmp_path: Path,
) -> None:
    """B has just taken over the lock a killed run left (its content still names the dead
    pid) and has not written its own yet: C, refused now, must name B."""
    import fcntl
    import subprocess
    import sys
    import threading
    import time

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    state = tmp_path / "ticketsync.state.json"
    path = lock_path_for(state)
    host = socket.gethostname()
    path.write_text(json.dumps({"pid": dead.pid, "host": host, "since": "x"}))
    fd = os.open(path, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # B holds it, its details not yet out

    def write_own() -> None:
        time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "host": host, "since": "now"}).encode(), 0)

    writer = threading.Thread(target=write_own)
    writer.start()
    try:
        with pytest.raises(LockError) as refused:
            StateLock(state).acquire()
    finally:
        writer.join()
        os.close(fd)
    assert f"locked by pid {os.getpid()} on {host} since now" in str(refused.value)
