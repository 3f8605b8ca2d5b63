"""Sending one change from a worker thread: a create's life from intent to outcome.

A create whose answer is lost must never simply be sent again: the provider may have
acted. So after an :class:`UncertainError` the sender looks the ticket up (one listing of
the tickets updated since just before the intent) and adopts the one match, resends
only when there is none (under a fresh durable intent), and stops at several. A PATCH, on
the other hand, sets fields to values: an uncertain one is simply sent again.

Workers only *queue* their outcome records (``wait=False``): the scheduler in
:mod:`ticketsync.apply` makes them durable with one fsync per turn before it reports
them or sends a child, and it writes the first intent of each create (durably) before
handing it over. Workers emit no events: they return an :class:`Outcome`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from ticketsync.api import CreatedTicket, RemoteTicket, TicketApi
from ticketsync.errors import (
    ApiError,
    AuthError,
    ConnectError,
    RateLimitedError,
    RejectedError,
)
from ticketsync.journal import Intent, Journal
from ticketsync.model import Body, Create, Update
from ticketsync.reconcile import Match, Verdict, Wanted, match_remote, wanted_from_body


@dataclass(frozen=True)
class ApplyOptions:
    """How to apply. ``skew_margin`` widens every ``updated_after`` against clock skew."""

    concurrency: int = 16
    marker_field: str | None = None
    skew_margin: timedelta = timedelta(minutes=10)
    #: Sends of one create whose outcome stayed unknown and that matched nothing remotely.
    max_attempts: int = 3
    #: Pause before looking up an uncertain create: a provider may still be finishing it.
    reconcile_delay: float = 1.0
    #: Set from another thread to stop like Ctrl-C does.
    stop: threading.Event | None = None


@dataclass(frozen=True)
class Event:
    """Something that happened to one ticket (``kind``: created, adopted, updated, failed,
    skipped, retried; or ``interrupted`` for the run, with an empty key)."""

    kind: str
    key: str
    id: str | None = None
    message: str = ""


@dataclass(frozen=True)
class Outcome:
    """How one change ended, as a worker thread saw it (``notes``: what happened on the way)."""

    kind: str  # created | adopted | updated | failed
    key: str
    id: str | None = None
    message: str = ""
    notes: tuple[Event, ...] = ()
    fatal: bool = False  # the whole run must stop (bad key or account)


def body_for(create: Create, ids: Mapping[str, str]) -> Body:
    """The create body with the parent's ``id`` filled in once the parent exists."""
    if create.parent is not None and create.parent in ids:
        return {**create.body, "parent_id": ids[create.parent]}
    return create.body


class Sender:
    """Sends creates and updates for one run; thread-safe.

    ``owned`` holds the remote ids some key already owns (tracked, created or adopted in
    this run): never a candidate for another key. Workers add to it the moment an answer
    arrives, so concurrent reconciliations cannot hand one ticket to two keys.
    """

    def __init__(
        self,
        api: TicketApi,
        journal: Journal,
        options: ApplyOptions,
        *,
        creates: Sequence[Create],
        ids: Mapping[str, str],
    ) -> None:
        self.api, self.journal, self.options = api, journal, options
        self.ids = ids  # key -> id of tickets that exist; read for parent ids
        self.lock = threading.Lock()
        self.owned: set[str] = set(ids.values())
        self.unresolved: set[str] = {create.key for create in creates}
        # Without a marker, keys declared with the same title and project cannot be told
        # apart remotely: reconciling one must consider the others too.
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

    def adopt(self, key: str, remote: RemoteTicket, applied: Body) -> str:
        """Queue a ``created`` record for an existing remote ticket; its id."""
        ticket_id = str(remote["id"])
        remote_id = remote.get("remote_id")
        created_at = remote.get("created_at")
        with self.lock:
            self.owned.add(ticket_id)
        self.journal.record_created(
            key,
            ticket_id,
            remote_id if isinstance(remote_id, str) else None,
            applied,
            created_at=created_at if isinstance(created_at, str) else None,
            wait=False,
        )
        return ticket_id

    def create(self, create: Create, intent: Intent) -> Outcome:
        """Send ``create`` (its first intent already durable); outcomes are only queued."""
        body = body_for(create, self.ids)
        notes: list[Event] = []
        last_error: ApiError | None = None
        first = intent  # every later lookup reaches back to the first send, not the last
        for attempt in range(1, self.options.max_attempts + 1):
            if attempt > 1:  # a resend after a lookup found nothing: a fresh, durable intent
                intent = self.journal.record_intent(create.key, body)
            try:
                created: CreatedTicket = self.api.create_ticket(body)
            except (RejectedError, RateLimitedError, ConnectError) as exc:
                # Refused, or never sent: StackOne did not act. Close the intent.
                message = f"failed {create.key}: {exc}"
                self.journal.record_failed(create.key, message, wait=False)
                return Outcome("failed", create.key, None, message, tuple(notes),
                                fatal=isinstance(exc, AuthError))
            except ApiError as exc:  # UncertainError and anything unclassified: may have acted
                match = self.reconcile(create.key, intent, since=first.at)
                if match is None:
                    return Outcome("failed", create.key, None, (
                        f"failed {create.key}: {exc}; the remote lookup failed too, so "
                        "the ticket may exist: run apply again to check before resending"
                    ), tuple(notes))
                if match.verdict is Verdict.ADOPT and match.remote is not None:
                    ticket_id = self.adopt(create.key, match.remote, body)
                    return Outcome("adopted", create.key, ticket_id, (
                        f"adopted {create.key} (id {ticket_id}): created despite {exc}"
                    ), tuple(notes))
                if match.verdict is Verdict.AMBIGUOUS:
                    return Outcome("failed", create.key, None,
                                    match.message, tuple(notes))
                notes.append(Event("retried", create.key, None, (
                    f"resending {create.key} (attempt {attempt + 1}): {exc}, and no "
                    "remote ticket was found"
                )))
                last_error = exc
                continue
            with self.lock:
                self.owned.add(created.id)
            self.journal.record_created(
                create.key, created.id, created.remote_id, body, wait=False
            )
            return Outcome("created", create.key, created.id, "", tuple(notes))
        # The intent stays open: the next run looks the ticket up before resending.
        return Outcome("failed", create.key, None, (
            f"failed {create.key}: no answer after {self.options.max_attempts} attempts "
            f"(last: {last_error}): run apply again later"
        ), tuple(notes[:-1]))

    def reconcile(
        self, key: str, intent: Intent, *, since: datetime | None = None
    ) -> Match | None:
        """Look ``key`` up remotely after an uncertain create; None if the lookup failed.

        ``since``: the first send of this create (default: ``intent``'s), where the
        listing starts, minus the skew margin.
        """
        if self.options.reconcile_delay > 0:
            time.sleep(self.options.reconcile_delay)
        since = (since or intent.at) - self.options.skew_margin
        wanted = [Wanted(key, intent.title, intent.project_id)]
        if not self.options.marker_field:
            with self.lock:
                wanted += [
                    twin
                    for twin in self.twins.get((intent.title, intent.project_id), ())
                    if twin.key != key and twin.key in self.unresolved
                ]
        try:
            remote = list(self.api.list_tickets(updated_after=since))
        except ApiError:
            return None
        with self.lock:
            owned = set(self.owned)
        verdicts = match_remote(
            wanted, remote, marker_field=self.options.marker_field, exclude_ids=owned
        )
        return verdicts[key]

    def update(self, update: Update) -> Outcome:
        # A PATCH sets fields to values: sending it twice does no harm, so an uncertain
        # answer is simply retried. A field gone from the declaration is cleared with null.
        patch = {name: update.body.get(name) for name in update.fields}
        attempts = 0
        while True:
            attempts += 1
            try:
                self.api.update_ticket(update.id, patch)
            except ApiError as exc:
                definite = isinstance(exc, RejectedError | RateLimitedError | ConnectError)
                if definite or attempts >= self.options.max_attempts:
                    message = f"failed to update {update.key}: {exc}"
                    return Outcome("failed", update.key, update.id, message,
                                    fatal=isinstance(exc, AuthError))
                continue
            self.journal.record_updated(update.key, update.id, update.body, wait=False)
            return Outcome("updated", update.key, update.id)
