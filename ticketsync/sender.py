"""Sending one change from a worker thread, and what its answer means for the journal.

A create is sent exactly once per call. Its answer decides:

* created: the ids are queued in the journal (``created``) and owned by the key;
* uncertain (a timeout, a dropped connection, a 408 or 5xx, an unreadable 2xx): nothing is
  written; the intent stays open, and the scheduler looks the ticket up (one listing for
  every create uncertain at that moment) before it may send the create again;
* refused, or never sent: a ``failed`` record closes the intent, *unless* an earlier send of
  the same create is uncertain: that one may still appear remotely, so its intent stays
  open until a lookup of a later run settles it.

A PATCH is resent by the client itself when uncertain (setting the same fields twice does no
harm, :mod:`ticketsync.retry`); here it only has its outcome recorded.

Workers only *queue* their journal records (``wait=False``): the scheduler in
:mod:`ticketsync.apply` makes them durable with one fsync per turn before it reports them
or sends a child. Workers emit no events: they return an :class:`Outcome`.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from ticketsync.api import CreatedTicket, RemoteTicket, TicketApi
from ticketsync.errors import (
    ApiError,
    AuthError,
    ClockError,
    ConnectError,
    HaltedError,
    RateLimitedError,
    RejectedError,
)
from ticketsync.journal import Journal, format_time
from ticketsync.limiter import RateLimiter
from ticketsync.model import Body, Create, Update
from ticketsync.reconcile import Wanted, wanted_from_body
from ticketsync.retry import RetryPolicy


@dataclass(frozen=True)
class ApplyOptions:
    """How to apply.

    ``concurrency``: requests in flight; None follows the limiter's rate x latency
    (``concurrency: auto``), a number is a cap. ``limiter``: the run's limiter, shared with
    the client (it also paces in-flight requests and is halted on a stop). ``skew_margin``
    widens every lookup: StackOne's ``Date`` and the provider's ``updated_at`` come from
    different clocks, and a listing can show a new ticket a little late.
    """

    concurrency: int | None = None
    max_concurrency: int = 256
    limiter: RateLimiter | None = None
    marker_field: str | None = None
    skew_margin: timedelta = timedelta(minutes=10)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    #: Wait before looking up an uncertain create: a provider may still be finishing it.
    settle_delay: float = 1.0
    #: Uncertain creates are looked up together: when this many wait, or the oldest has
    #: waited ``settle_interval`` seconds, or there is nothing else to do.
    settle_batch: int = 50
    settle_interval: float = 120.0
    #: After a stop, how long requests in flight may take to answer before the run ends.
    drain_seconds: float = 1.5
    #: Set from another thread (a signal handler) to stop like Ctrl-C does.
    stop: threading.Event | None = None


@dataclass(frozen=True)
class Event:
    """Something that happened to one ticket (``kind``: created, adopted, updated, failed,
    skipped, retried, not_started; or ``interrupted`` for the run, with an empty key)."""

    kind: str
    key: str
    id: str | None = None
    message: str = ""


@dataclass(frozen=True)
class Outcome:
    """How one send ended, as a worker thread saw it."""

    kind: str  # created | updated | uncertain | failed | not_started
    key: str
    id: str | None = None
    message: str = ""
    fatal: bool = False  # the whole run must stop (bad key or account)
    error: ApiError | None = None


def body_for(create: Create, ids: Mapping[str, str]) -> Body:
    """The create body with the parent's ``id`` filled in once the parent exists."""
    if create.parent is not None and create.parent in ids:
        return {**create.body, "parent_id": ids[create.parent]}
    return create.body


class Sender:
    """Sends creates and updates for one run; thread-safe.

    ``owned`` holds the remote ids some key already owns (tracked, created or adopted in
    this run): never a candidate for another key. Workers add to it the moment an answer
    arrives, so concurrent lookups cannot hand one ticket to two keys.
    """

    def __init__(
        self,
        api: TicketApi,
        journal: Journal,
        *,
        creates: Sequence[Create],
        ids: Mapping[str, str],
        open_keys: set[str],
    ) -> None:
        self.api, self.journal = api, journal
        self.ids = ids  # key -> id of tickets that exist; read for parent ids
        self.lock = threading.Lock()
        self.owned: set[str] = set(ids.values())
        #: Keys with a send whose outcome is unknown: a later failure keeps the intent open.
        self.open_keys = open_keys
        self.unresolved: set[str] = {create.key for create in creates}
        # Without a marker, keys declared with the same title and project cannot be told
        # apart remotely: looking one up must consider the others too.
        self.twins: dict[tuple[str, str | None], list[Wanted]] = {}
        for create in creates:
            wanted = wanted_from_body(create.key, create.body)
            self.twins.setdefault((wanted.title, wanted.project_id), []).append(wanted)

    def owned_ids(self) -> set[str]:
        with self.lock:
            return set(self.owned)

    def settled(self, key: str) -> None:
        """``key`` has its outcome: it no longer competes with its twins in lookups."""
        with self.lock:
            self.unresolved.discard(key)

    def twins_of(self, wanted: Wanted) -> list[Wanted]:
        """The unresolved keys declared with ``wanted``'s title and project."""
        with self.lock:
            return [twin for twin in self.twins.get((wanted.title, wanted.project_id), ())
                    if twin.key != wanted.key and twin.key in self.unresolved]

    def adopt(self, key: str, remote: RemoteTicket, applied: Body) -> str:
        """Queue a ``created`` record for an existing remote ticket; its id."""
        ticket_id = str(remote["id"])
        remote_id = remote.get("remote_id")
        created_at = remote.get("created_at")
        with self.lock:
            self.owned.add(ticket_id)
            self.open_keys.discard(key)
        self.journal.record_created(
            key,
            ticket_id,
            remote_id if isinstance(remote_id, str) else None,
            applied,
            created_at=created_at if isinstance(created_at, str) else None,
            wait=False,
        )
        return ticket_id

    def close_failed(self, key: str, message: str) -> None:
        """Record that no ticket exists for ``key``, unless an earlier send is uncertain."""
        with self.lock:
            if key in self.open_keys:
                return
        self.journal.record_failed(key, message, wait=False)

    def create(self, create: Create, body: Body) -> Outcome:
        """Send ``create`` once (its intent already durable); records are only queued."""
        try:
            created: CreatedTicket = self.api.create_ticket(body)
        except HaltedError as exc:
            self.close_failed(create.key, f"not sent: {exc}")
            return Outcome("not_started", create.key, error=exc)
        except (RejectedError, RateLimitedError, ConnectError) as exc:
            # Refused, or never sent: StackOne did not act on this send.
            message = f"failed {create.key}: {exc}"
            self.close_failed(create.key, message)
            return Outcome("failed", create.key, None, message,
                           fatal=isinstance(exc, AuthError), error=exc)
        except ApiError as exc:  # UncertainError and anything unclassified: may have acted
            with self.lock:
                self.open_keys.add(create.key)
            return Outcome("uncertain", create.key, error=exc)
        with self.lock:
            self.owned.add(created.id)
            self.open_keys.discard(create.key)
        self.journal.record_created(
            create.key, created.id, created.remote_id, body, created_at=_server_time(self.api),
            wait=False,
        )
        return Outcome("created", create.key, created.id)

    def update(self, update: Update) -> Outcome:
        """PATCH the changed fields (a field gone from the declaration is cleared with null)."""
        patch = {name: update.body.get(name) for name in update.fields}
        try:
            self.api.update_ticket(update.id, patch)
        except HaltedError as exc:
            return Outcome("not_started", update.key, update.id, error=exc)
        except ApiError as exc:
            return Outcome("failed", update.key, update.id,
                           f"failed to update {update.key}: {exc}",
                           fatal=isinstance(exc, AuthError), error=exc)
        self.journal.record_updated(update.key, update.id, update.body, wait=False)
        return Outcome("updated", update.key, update.id)


def _server_time(api: TicketApi) -> str | None:
    try:
        return format_time(api.server_now())
    except ClockError:
        return None
