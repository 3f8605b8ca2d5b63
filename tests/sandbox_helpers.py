"""Helpers and fixtures for tests that need a real sandbox server over loopback.

* ``sandbox`` (fixture): an in-process sandbox on an ephemeral port, any key accepted.
* ``make_sandbox`` (fixture): ``make_sandbox(faults=..., api_key=..., db_path=...)`` for
  more than one, or with faults; every one is stopped at teardown.
* ``sandbox_process`` (fixture) / :func:`spawn_sandbox`: the sandbox in a separate process
  (``python -m ticketsync sandbox --port 0``), so a test can kill -9 the client without the
  server, or the server itself, and read what was stored.
* :func:`stored_tickets`, :func:`count_by_title`, :func:`count_by_marker`: what the
  sandbox holds, read straight from its SQLite file (safe while it is serving: WAL).
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import pytest
import requests

from ticketsync.sandbox import Faults, RunningSandbox, StoredTicket, TicketStore, start_sandbox

#: What the test client sends: any non-empty key is accepted unless a test sets one.
API_KEY = "sandbox-test-key"
ACCOUNT_ID = "acc-test"
TICKETS = "/unified/ticketing/tickets"
#: Bounds, not expectations: a busy machine (a parallel run, a loaded CI runner) can take
#: many times the usual fraction of a second. A stop that hangs on a request's 120 s
#: deadline still exceeds STOP_TIMEOUT, and fails the tests that check the exit code.
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 60.0
#: The bare client's per-request timeout: a loopback answer takes milliseconds.
REQUEST_TIMEOUT = 60.0


class Client:
    """A bare HTTP client for the sandbox's own tests (the real client is tested elsewhere)."""

    def __init__(self, url: str, key: str = API_KEY, account: str | None = ACCOUNT_ID):
        self.url = url
        self.session = requests.Session()
        self.session.auth = (key, "")
        if account is not None:
            self.session.headers["x-account-id"] = account

    def call(self, method: str, path: str = TICKETS, **kwargs: Any) -> requests.Response:
        return self.session.request(method, self.url + path, timeout=REQUEST_TIMEOUT,
                                    **kwargs)

    def create(self, body: dict[str, Any]) -> requests.Response:
        return self.call("POST", json=body)

    def close(self) -> None:
        self.session.close()


def stored_tickets(db_path: Path) -> list[StoredTicket]:
    """Every ticket in the sandbox database at ``db_path``, in creation order."""
    with TicketStore(db_path) as store:
        return store.all()


def count_by_title(db_path: Path) -> Counter[str | None]:
    """How many stored tickets carry each title (a duplicate shows as a count above 1)."""
    return Counter(ticket.title for ticket in stored_tickets(db_path))


def count_by_marker(db_path: Path, field: str = "ticketsync_key") -> Counter[Any]:
    """How many stored tickets carry each value of the custom field ``field`` (the marker)."""
    return Counter(ticket.custom_field(field) for ticket in stored_tickets(db_path))


class SandboxProcess:
    """``ticketsync sandbox`` running in a child process; ``url`` is where it listens."""

    def __init__(self, process: subprocess.Popen[str], url: str, db_path: Path, log: Path):
        self.process = process
        self.url = url
        self.db_path = db_path
        self.log_path = log

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """Ctrl-C (SIGINT) and wait; the exit code (0 for a clean stop). Kills if it hangs."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        self._close_pipes()
        return self.process.returncode

    def kill(self) -> None:
        """kill -9: no cleanup at all (what survives is what was committed)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(STOP_TIMEOUT)
        self._close_pipes()

    def log(self) -> str:
        """What the server wrote to stderr (one line per request): for failure messages."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def _close_pipes(self) -> None:
        if self.process.stdout:
            self.process.stdout.close()

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def spawn_sandbox(
    db_path: Path,
    *args: str,
    api_key: str | None = None,
    timeout: float = READY_TIMEOUT,
) -> SandboxProcess:
    """Start ``python -m ticketsync sandbox --port 0 --db DB ARGS...`` and wait for its URL.

    ``args`` are extra command-line options (``--fault ...``, ``--latency-ms 5``).
    ``api_key``: the only key the server accepts (passed through the environment).
    """
    env = dict(os.environ)
    command = [sys.executable, "-m", "ticketsync", "sandbox", "--port", "0", "--db", str(db_path)]
    if api_key is not None:
        env["TICKETSYNC_SANDBOX_KEY"] = api_key
        command += ["--api-key-env", "TICKETSYNC_SANDBOX_KEY"]
    log = db_path.with_name(db_path.name + ".log")
    with log.open("w", encoding="utf-8") as stderr:
        process = subprocess.Popen(
            [*command, *args], stdout=subprocess.PIPE, stderr=stderr, text=True, env=env
        )
    lines: queue.Queue[str | None] = queue.Queue()

    def drain() -> None:
        # Keep reading after the URL, so a chatty server never blocks on a full pipe.
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=drain, daemon=True).start()
    try:
        line = lines.get(timeout=timeout)
    except queue.Empty:
        line = None
    prefix = "Sandbox listening on "
    if not line or not line.startswith(prefix):
        process.kill()
        process.wait(STOP_TIMEOUT)
        raise RuntimeError(
            f"the sandbox did not start (first line {line!r}):\n"
            + log.read_text(encoding="utf-8", errors="replace")
        )
    url = line[len(prefix) :].split(" ", 1)[0]
    return SandboxProcess(process, url, db_path, log)


class MakeSandbox(Protocol):
    def __call__(
        self,
        *,
        db_path: Path | None = None,
        api_key: str | None = None,
        faults: Faults | None = None,
    ) -> RunningSandbox: ...


@pytest.fixture
def make_sandbox(tmp_path: Path) -> Iterator[MakeSandbox]:
    """A factory of in-process sandboxes (default db: tmp_path/sandbox.db), all stopped after."""
    started: list[RunningSandbox] = []

    def make(
        *,
        db_path: Path | None = None,
        api_key: str | None = None,
        faults: Faults | None = None,
    ) -> RunningSandbox:
        running = start_sandbox(db_path or tmp_path / "sandbox.db", api_key=api_key, faults=faults)
        started.append(running)
        return running

    yield make
    for running in reversed(started):
        running.stop()


@pytest.fixture
def sandbox(make_sandbox: MakeSandbox) -> RunningSandbox:
    """An in-process sandbox on 127.0.0.1 and a free port; ``sandbox.url``, ``.store``."""
    return make_sandbox()


@pytest.fixture
def sandbox_process(tmp_path: Path) -> Iterator[SandboxProcess]:
    """The sandbox in a child process (db: tmp_path/sandbox.db); stopped after the test."""
    process = spawn_sandbox(tmp_path / "sandbox.db")
    try:
        yield process
    finally:
        process.stop()
