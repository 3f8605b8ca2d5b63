"""The sandbox's tickets, in SQLite: what StackOne (and the provider behind it) would keep.

One connection guarded by a lock, in WAL mode: a write is a short insert and a commit, so a
lock costs less than a connection per server thread and leaves nothing to close but one
handle. ``synchronous=NORMAL`` under WAL survives a killed process (the tests' kill -9),
which is all a sandbox promises; it is not meant to survive a power cut.

Order is the insertion sequence (``seq``): stable across pages and restarts, so a cursor is
just "the last seq seen" and a ticket created during a listing never shifts the pages.
"""

from __future__ import annotations

import base64
import json
import random
import socket
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from ticketsync import times

#: The create-body fields the sandbox stores (StackOne's TicketingTicketCreateRequestDto).
CREATE_FIELDS = (
    "title",
    "content",
    "creator_id",
    "reporters",
    "assignees",
    "parent_id",
    "priority",
    "tags",
    "organization_id",
    "project_id",
    "component_ids",
    "type",
    "unified_custom_fields",
)
#: What a PATCH may change (TicketingTicketUpdateRequestDto): no creator, organization or
#: type, but a status.
UPDATE_FIELDS = (
    "title",
    "content",
    "reporters",
    "assignees",
    "parent_id",
    "priority",
    "tags",
    "project_id",
    "component_ids",
    "unified_custom_fields",
    "status",
)
REMOTE_ID_PREFIX = "SBX-"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tickets (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,
    fields     TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS tickets_updated ON tickets (updated_ms);
CREATE TABLE IF NOT EXISTS meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""
#: Where a sandbox's home port is picked, once, when its database is made: below the
#: ephemeral range Linux and macOS hand out for outgoing connections (32768 and up), so
#: that the port is rarely taken when the sandbox is served again.
HOME_PORTS = range(20000, 30000)


def format_time(ms: int) -> str:
    """StackOne's timestamp form: UTC, millisecond precision, ``Z``."""
    moment = datetime.fromtimestamp(ms // 1000, tz=UTC).replace(microsecond=ms % 1000 * 1000)
    return times.format_time(moment, "ms")


def to_ms(moment: datetime) -> int:
    """Milliseconds since the epoch; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


@dataclass(frozen=True)
class StoredTicket:
    """One ticket as stored: the create-body fields plus what the provider assigns."""

    seq: int
    id: str
    fields: Mapping[str, Any]
    created_ms: int
    updated_ms: int

    @property
    def remote_id(self) -> str:
        # The provider's own key, like Jira's PROJ-123: derived from the stable sequence.
        return f"{REMOTE_ID_PREFIX}{self.seq}"

    @property
    def title(self) -> str | None:
        title = self.fields.get("title")
        return title if isinstance(title, str) else None

    @property
    def created_at(self) -> str:
        return format_time(self.created_ms)

    @property
    def updated_at(self) -> str:
        return format_time(self.updated_ms)

    def custom_field(self, name: str) -> Any:
        custom = self.fields.get("unified_custom_fields")
        return custom.get(name) if isinstance(custom, dict) else None


@dataclass(frozen=True)
class Page:
    """One page of a listing; ``next`` is the opaque cursor of the following page, or None."""

    tickets: list[StoredTicket]
    next: str | None = None


class CursorError(ValueError):
    """A ``next`` cursor this store did not hand out."""


def _encode_cursor(seq: int, updated_after_ms: int | None) -> str:
    raw = json.dumps([seq, updated_after_ms]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[int, int | None]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        seq, after = json.loads(raw)
    except (ValueError, TypeError) as exc:
        raise CursorError(f"invalid cursor {cursor!r}") from exc
    if not isinstance(seq, int) or not (after is None or isinstance(after, int)):
        raise CursorError(f"invalid cursor {cursor!r}")
    return seq, after


def _now() -> datetime:
    return datetime.now(UTC)


def _free_port() -> int:
    """A port of :data:`HOME_PORTS` that nothing listens on now (any free one if all the
    ones tried are taken)."""
    for port in random.sample(HOME_PORTS, 20):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class TicketStore:
    """Thread-safe ticket storage in one SQLite file (created, with its folder, if absent).

    ``clock`` gives "now" for created_at/updated_at: tests pass one to play a server whose
    clock is skewed or frozen.
    """

    def __init__(self, path: Path, *, clock: Callable[[], datetime] = _now) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._clock = clock
        self._lock = threading.Lock()
        # check_same_thread=False: the server's handler threads share this connection,
        # always under self._lock; autocommit off by default, each write commits itself.
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=10.0)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._db.commit()
            self.home_url = self._home()
        except sqlite3.Error:
            self._db.close()
            raise
        self._closed = False

    def _home(self) -> str:
        """Where this sandbox's tickets link to: chosen once, kept in the database.

        A ticket's URL is part of the state file; one that named the port a run happened
        to get would change at every run (a state file that churns, links that 404).
        ``ticketsync sandbox`` serves on this port unless told otherwise.
        """
        query = "SELECT value FROM meta WHERE name = 'home'"
        found = self._db.execute(query).fetchone()
        if found is None:
            with self._db:  # OR IGNORE: another process may have chosen one meanwhile
                self._db.execute("INSERT OR IGNORE INTO meta (name, value) VALUES ('home', ?)",
                                 (f"http://127.0.0.1:{_free_port()}",))
            found = self._db.execute(query).fetchone()
        return str(found[0])

    @property
    def home_port(self) -> int:
        return int(self.home_url.rsplit(":", 1)[1])

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._db.close()

    def __enter__(self) -> TicketStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- writes ----------------------------------------------------------------------------

    def _stamp(self) -> int:
        return to_ms(self._clock())

    def create(self, body: Mapping[str, Any]) -> StoredTicket:
        """Store a new ticket from a (validated) create body; unknown fields are dropped."""
        fields = {name: body[name] for name in CREATE_FIELDS if name in body}
        ticket_id = str(uuid.uuid4())
        with self._lock:
            now = self._stamp()
            with self._db:
                cur = self._db.execute(
                    "INSERT INTO tickets (id, fields, created_ms, updated_ms) VALUES (?, ?, ?, ?)",
                    (ticket_id, json.dumps(fields), now, now),
                )
            seq = cur.lastrowid
        assert seq is not None
        return StoredTicket(seq, ticket_id, fields, now, now)

    def update(self, ticket_id: str, body: Mapping[str, Any]) -> StoredTicket | None:
        """Merge the updatable fields of ``body`` into a ticket; None if there is no such id."""
        changes = {name: body[name] for name in UPDATE_FIELDS if name in body}
        with self._lock:
            row = self._row("WHERE id = ?", (ticket_id,))
            if row is None:
                return None
            fields = {**row.fields, **changes}
            # updated_at moves on every change, and never backwards, even if the clock does.
            now = max(self._stamp(), row.updated_ms + 1)
            with self._db:
                self._db.execute(
                    "UPDATE tickets SET fields = ?, updated_ms = ? WHERE seq = ?",
                    (json.dumps(fields), now, row.seq),
                )
        return StoredTicket(row.seq, row.id, fields, row.created_ms, now)

    def edit(self, ticket_id: str, fields: Mapping[str, Any]) -> StoredTicket | None:
        """Change a ticket as a person would in the tracker: any stored field, ``None`` to
        clear one, no request-body rules (tests and ``/sandbox`` use it)."""
        with self._lock:
            row = self._row("WHERE id = ?", (ticket_id,))
            if row is None:
                return None
            merged = {**row.fields, **fields}
            merged = {name: value for name, value in merged.items() if value is not None}
            now = max(self._stamp(), row.updated_ms + 1)
            with self._db:
                self._db.execute(
                    "UPDATE tickets SET fields = ?, updated_ms = ? WHERE seq = ?",
                    (json.dumps(merged), now, row.seq),
                )
        return StoredTicket(row.seq, row.id, merged, row.created_ms, now)

    def delete(self, ticket_id: str) -> bool:
        """Delete a ticket as a person would in the tracker; False if there was none."""
        with self._lock, self._db:
            cur = self._db.execute("DELETE FROM tickets WHERE id = ?", (ticket_id,))
        return cur.rowcount > 0

    def clear(self) -> int:
        """Delete every ticket and start the numbers again at SBX-1 (``sandbox reset``);
        how many there were. The home URL stays: links keep their address."""
        with self._lock, self._db:
            cur = self._db.execute("DELETE FROM tickets")
            self._db.execute("DELETE FROM sqlite_sequence WHERE name = 'tickets'")
        return cur.rowcount

    # -- reads -----------------------------------------------------------------------------

    def _row(self, where: str, params: tuple[Any, ...]) -> StoredTicket | None:
        rows = self._rows(where, params)
        return rows[0] if rows else None

    def _rows(self, where: str, params: tuple[Any, ...]) -> list[StoredTicket]:
        cur = self._db.execute(
            # `where` is always one of this module's literal fragments; values are bound.
            "SELECT seq, id, fields, created_ms, updated_ms FROM tickets " + where,  # noqa: S608
            params,
        )
        return [
            StoredTicket(seq, tid, json.loads(fields), created, updated)
            for seq, tid, fields, created, updated in cur.fetchall()
        ]

    def get(self, ticket_id: str) -> StoredTicket | None:
        with self._lock:
            return self._row("WHERE id = ?", (ticket_id,))

    def get_number(self, number: str) -> StoredTicket | None:
        """The ticket whose number (``remote_id``, ``SBX-3``; case-insensitive) is
        ``number``."""
        prefix, _, seq = number.strip().upper().partition(REMOTE_ID_PREFIX)
        if prefix or not seq.isdigit():
            return None
        with self._lock:
            return self._row("WHERE seq = ?", (int(seq),))

    def exists(self, ticket_id: str) -> bool:
        return self.get(ticket_id) is not None

    def list_page(
        self,
        *,
        limit: int = 25,
        cursor: str | None = None,
        updated_after: datetime | None = None,
        cap: int | None = None,
    ) -> Page:
        """One page in insertion order, of tickets updated strictly after ``updated_after``.

        The filter travels inside the cursor, so following ``next`` alone keeps it. ``cap``
        makes pages short on purpose (a fault): at most ``cap`` tickets, and a ``next``
        whenever the page was cut, even if nothing follows (an empty last page).
        """
        after_seq = 0
        after_ms = to_ms(updated_after) if updated_after is not None else None
        if cursor:
            after_seq, cursor_after = _decode_cursor(cursor)
            if after_ms is None:
                after_ms = cursor_after
        size = min(limit, cap) if cap is not None else limit
        where = "WHERE seq > ?"
        params: list[Any] = [after_seq]
        if after_ms is not None:
            where += " AND updated_ms > ?"
            params.append(after_ms)
        with self._lock:
            rows = self._rows(f"{where} ORDER BY seq LIMIT ?", (*params, size + 1))
        tickets = rows[:size]
        cut = cap is not None and cap < limit and len(tickets) == size
        more = len(rows) > size or cut
        nxt = _encode_cursor(tickets[-1].seq if tickets else after_seq, after_ms) if more else None
        return Page(tickets, nxt)

    def all(self) -> list[StoredTicket]:
        """Every ticket, in insertion order (for tests and inspection)."""
        with self._lock:
            return self._rows("ORDER BY seq", ())

    def __iter__(self) -> Iterator[StoredTicket]:
        return iter(self.all())

    def __len__(self) -> int:
        with self._lock:
            (count,) = self._db.execute("SELECT COUNT(*) FROM tickets").fetchone()
        return int(count)
