"""The built-in sandbox: a local StackOne-compatible ticketing API over SQLite.

``ticketsync sandbox`` serves it from the command line; ``plan --sandbox`` and
``apply --sandbox`` and the tests run it in-process with :func:`start_sandbox`::

    with start_sandbox(tmp_path / "sandbox.db", faults=Faults(latency_ms=2)) as sandbox:
        client = StackOneClient(sandbox.url, ...)

Besides tickets it serves an account directory (users, projects, ticket types, components:
:mod:`ticketsync.sandbox.directory`), the default seed unless given another, and checks
the ids of create and update bodies against it (422), as a provider would.
"""

from __future__ import annotations

import errno
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from ticketsync.sandbox.directory import ID_CHECKS, SandboxDirectory, default_directory
from ticketsync.sandbox.faults import Fault, Faults, Request, Rule, parse_rule
from ticketsync.sandbox.server import SandboxServer
from ticketsync.sandbox.store import StoredTicket, TicketStore

__all__ = [
    "ID_CHECKS",
    "Fault",
    "Faults",
    "Request",
    "Rule",
    "RunningSandbox",
    "SandboxDirectory",
    "StoredTicket",
    "TicketStore",
    "default_directory",
    "is_loopback",
    "parse_rule",
    "start_sandbox",
]

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    return host in LOOPBACK_HOSTS or host.startswith("127.")


class RunningSandbox:
    """A sandbox serving in a background thread; ``stop()`` (or leaving ``with``) ends it."""

    def __init__(self, server: SandboxServer, db_path: Path) -> None:
        self._server = server
        self.db_path = db_path
        self.url: str = server.url
        #: Where the tickets' URLs point (chosen once per database): ``url`` when the
        #: sandbox serves on its home port.
        self.home_url: str = server.store.home_url
        self.port: int = int(server.server_address[1])
        self.store: TicketStore = server.store
        self.faults: Faults = server.faults
        self.directory: SandboxDirectory = server.directory
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"ticketsync-sandbox-{self.port}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, cut open connections, close the database. Safe to call twice."""
        with self._lock:
            if self._stopped.is_set():
                return
            self._server.shutdown()
            self._thread.join(5.0)
            self._server.close_connections()
            self._server.server_close()
            self.store.close()
            self._stopped.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until stopped (or ``timeout``); True if stopped."""
        return self._stopped.wait(timeout)

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_sandbox(
    db_path: Path,
    *,
    host: str = "127.0.0.1",
    port: int | None = 0,
    api_key: str | None = None,
    faults: Faults | None = None,
    log: Callable[[str], None] | None = None,
    directory: SandboxDirectory | None = None,
) -> RunningSandbox:
    """Serve the sandbox on ``host:port`` (0: any free port; None: the database's home
    port, where its tickets' URLs point, else any free one) with its data in ``db_path``.

    ``api_key``: the only key accepted; None accepts any non-empty key. ``faults``: what
    to break (default: nothing). ``log`` receives one line per request. ``directory``:
    the account's users, projects, types and components (default: the default seed, ids
    checked as ``seeded``).
    """
    faults = faults or Faults()
    store = TicketStore(db_path, clock=faults.now)
    try:
        ports = [port] if port is not None else [store.home_port, 0]
        for number, chosen in enumerate(ports, 1):
            try:
                server = SandboxServer(
                    (host, chosen), store=store, faults=faults, api_key=api_key, log=log,
                    directory=directory,
                )
                break
            except OSError as exc:
                if number == len(ports) or exc.errno != errno.EADDRINUSE:
                    raise
    except BaseException:
        store.close()
        raise
    return RunningSandbox(server, Path(db_path))
