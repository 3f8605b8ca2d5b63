"""An in-memory StackOne for the applier's tests: implements TicketApi, with fault hooks.

Tickets are kept in the *read* shape (``projects`` list, ``unified_custom_fields``,
``updated_at``), as StackOne returns them, and handed out through the client's own parse
(:func:`ticketsync.stackone.read.parse_ticket`), so that matching is tested across the
shapes and the fake cannot hand out what the client never would.

``on_create(body, number)`` decides how the ``number``-th create (1-based) ends:

* ``None`` or ``"ok"``: created, answered;
* ``"reject"``: 422, nothing created;  ``"auth"``: 401;  ``"connect"``: never sent;
* ``"lost"``: created, then the answer is lost (UncertainError): the dangerous case;
* ``"lost-before"``: UncertainError but nothing created (timeout before the provider acted);
* ``"twice"``: two tickets created (a provider retrying on its own), answer lost.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from ticketsync.errors import (
    AuthError,
    ConnectError,
    NotFoundError,
    RejectedError,
    UncertainError,
)
from ticketsync.model import Body
from ticketsync.stackone.api import CreatedTicket, RemoteTicket
from ticketsync.stackone.read import parse_ticket, parse_tickets

CreateHook = Callable[[Body, int], str | None]


class FakeApi:
    """Implements :class:`ticketsync.stackone.api.TicketApi` in memory; thread-safe."""

    def __init__(self, *, latency: float = 0.0, on_create: CreateHook | None = None) -> None:
        self.latency = latency
        self.on_create = on_create
        #: id -> the ticket as StackOne would answer it (JSON).
        self.tickets: dict[str, dict[str, Any]] = {}
        self.creates = 0  # create calls received
        self.lists = 0
        self.patches: list[tuple[str, dict[str, Any]]] = []
        self.list_error: Exception | None = None
        self.in_flight = 0
        self.max_in_flight = 0
        self.sent_bodies: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        # A clock that always moves forward, so updated_after filtering is exact.
        self._clock = datetime.now(UTC)

    # -- helpers for tests -----------------------------------------------------------

    def now(self) -> datetime:
        with self._lock:
            return self._tick()

    def _tick(self) -> datetime:
        self._clock = max(self._clock + timedelta(milliseconds=1), datetime.now(UTC))
        return self._clock

    def add_remote(self, body: Body, *, at: datetime | None = None) -> str:
        """A ticket that exists remotely already (made by hand, or by a lost run)."""
        with self._lock:
            return self._store(body, at)

    def shift(self, by: timedelta) -> None:
        """Move StackOne's clock (what server_now and new timestamps say) by ``by``."""
        with self._lock:
            self._clock += by

    def titles(self) -> list[str]:
        return sorted(str(t.get("title")) for t in self.tickets.values())

    def count_marker(self, field: str, key: str) -> int:
        return sum(
            1
            for t in self.tickets.values()
            if (t.get("unified_custom_fields") or {}).get(field) == key
        )

    def _store(self, body: Body, at: datetime | None = None) -> str:
        number = next(self._ids)
        ticket_id = f"t-{number:05d}"
        moment = at or self._tick()
        stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        project = body.get("project_id")
        self.tickets[ticket_id] = {
            "id": ticket_id,
            "remote_id": f"R-{number}",
            "title": body.get("title"),
            "projects": [{"id": project, "name": project}] if project else [],
            "type": {"id": body["type"]} if body.get("type") else None,
            "unified_custom_fields": dict(body.get("unified_custom_fields") or {}),
            "parent_id": body.get("parent_id"),
            "created_at": stamp,
            "updated_at": stamp,
        }
        return ticket_id

    def _enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        if self.latency:
            time.sleep(self.latency)

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    # -- TicketApi -------------------------------------------------------------------

    def create_ticket(self, body: Body) -> CreatedTicket:
        self._enter()
        try:
            with self._lock:
                self.creates += 1
                number = self.creates
                self.sent_bodies.append(dict(body))
            fault = self.on_create(body, number) if self.on_create else None
            if fault == "reject":
                raise RejectedError("422: title: must not be empty", status=422)
            if fault == "auth":
                raise AuthError("401: the API key was refused", status=401)
            if fault == "connect":
                raise ConnectError("connection refused")
            if fault == "lost-before":
                raise UncertainError("read timed out", status=None)
            with self._lock:
                ticket_id = self._store(body)
                if fault == "twice":
                    self._store(body)
            if fault in ("lost", "twice"):
                raise UncertainError("502: bad gateway", status=502)
            return CreatedTicket(ticket_id, self.tickets[ticket_id]["remote_id"])
        finally:
            self._leave()

    def get_ticket(self, ticket_id: str) -> RemoteTicket:
        with self._lock:
            if ticket_id not in self.tickets:
                raise NotFoundError(f"404: no ticket {ticket_id}", status=404)
            ticket = parse_ticket(self.tickets[ticket_id])
        assert ticket is not None
        return ticket

    def update_ticket(self, ticket_id: str, body: Body) -> None:
        self._enter()
        try:
            with self._lock:
                if ticket_id not in self.tickets:
                    raise NotFoundError(f"404: no ticket {ticket_id}", status=404)
                self.patches.append((ticket_id, dict(body)))
                self.tickets[ticket_id].update(body)
                self.tickets[ticket_id]["updated_at"] = self._tick().strftime(
                    "%Y-%m-%dT%H:%M:%S.%fZ"
                )
        finally:
            self._leave()

    def server_now(self) -> datetime:
        # Never later than a ticket stored from now on (those tick past it).
        with self._lock:
            return max(self._clock, datetime.now(UTC))

    def list_tickets(self, updated_after: datetime | None = None) -> Iterator[RemoteTicket]:
        with self._lock:
            self.lists += 1
            if self.list_error is not None:
                raise self.list_error
            found = [
                dict(t)
                for t in self.tickets.values()
                if updated_after is None
                or datetime.fromisoformat(t["updated_at"].replace("Z", "+00:00")) > updated_after
            ]
        return parse_tickets(found)
