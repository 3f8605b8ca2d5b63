"""The seam between the applier and StackOne: a small Protocol, and the values it hands over.

:class:`ticketsync.stackone.client.StackOneClient` implements it over HTTP; tests hand the applier
an in-memory fake. Implementations raise the :class:`ticketsync.errors.ApiError` family:
``UncertainError`` means the request may have acted (never blindly resend a create),
``RateLimitedError``/``ConnectError`` mean it did not.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from ticketsync.model import Body
from ticketsync.stackone.read import RemoteTicket

__all__ = ["CreatedTicket", "RemoteTicket", "TicketApi"]


@dataclass(frozen=True)
class CreatedTicket:
    """What a create returns: StackOne's unified ``id`` and the provider's ``remote_id``."""

    id: str
    remote_id: str | None


class TicketApi(Protocol):
    """The ticketing operations ticketsync needs, and StackOne's clock."""

    def create_ticket(self, body: Body) -> CreatedTicket:
        """POST /unified/ticketing/tickets."""
        ...

    def get_ticket(self, ticket_id: str) -> RemoteTicket:
        """GET /unified/ticketing/tickets/{id}, parsed (:mod:`ticketsync.stackone.read`);
        ``NotFoundError`` if absent, ``ApiError`` if the answer holds no ticket."""
        ...

    def update_ticket(self, ticket_id: str, body: Body) -> None:
        """PATCH /unified/ticketing/tickets/{id} with only the fields to change."""
        ...

    def list_tickets(self, updated_after: datetime | None = None) -> Iterator[RemoteTicket]:
        """GET /unified/ticketing/tickets, following the cursor ``next`` to the end; each
        record parsed, one without an id skipped."""
        ...

    def list_all(self, path: str, params: Mapping[str, str] | None = None
                 ) -> Iterator[dict[str, Any]]:
        """Every record of the StackOne listing at ``path``, following the cursor ``next``
        to the end (``directory pull`` reads users, projects, types and components so)."""
        ...

    def list_statuses(self, ticket_id: str) -> list[dict[str, Any]]:
        """GET /unified/ticketing/tickets/{id}/statuses: the statuses the ticket can take,
        each ``{id, name, type: {value}}``."""
        ...

    def server_now(self) -> datetime:
        """StackOne's current time, as a lower bound read from its answers (``Date``).

        Every time window compared with StackOne's timestamps is taken from here, never
        from this machine's clock. :class:`ClockError` if no answer has told it yet.
        """
        ...
