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
harm, :mod:`ticketsync.stackone.retry`). Its ``updating`` intent is journaled by the
scheduler before it goes out; here its outcome is: ``updated`` (the state's ``applied``
follows), a status the ticket cannot take (``update-failed``: nothing was sent), 404
(``deleted``: the ticket is gone from the tracker and is never re-created), or nothing for
any other error (an earlier attempt may have acted: the state keeps the values as
``pending``, recognised as ticketsync's own write whenever the tracker shows them).

A declared status is set by a PATCH right after the create (a create body has none). The
statuses a ticket can take depend on its project and type, so they are fetched once per
(project, type) in a run (:class:`Statuses`), not once per ticket.

A status the ticket cannot take is refused *before* its create, so that no ticket is made
only to fail (``validate`` refuses it offline already when the directory file knows the
workflow). StackOne lists statuses per ticket only, so a create that declares a status
first learns its scope's statuses from a ticket of that scope: one the state tracks, or
one created earlier in the run. A scope with no such ticket is probed by one create at a
time: the first is sent (and its statuses fetched for its PATCH), the others of that scope
wait for it and are checked before they go. So at most one ticket per unknown scope can be
created with a status it cannot take, and only when nothing could have told beforehand.

Workers only *queue* their journal records (``wait=False``): the scheduler in
:mod:`ticketsync.run.apply` makes them durable with one fsync per turn before it reports them
or sends a child. Workers emit no events: they return an :class:`Outcome`.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from ticketsync.declare.refs import Target, resolve_body
from ticketsync.errors import (
    ApiError,
    AuthError,
    ClockError,
    ConnectError,
    HaltedError,
    NotFoundError,
    RateLimitedError,
    RejectedError,
    StatusError,
)
from ticketsync.model import Body, Create, Removal, Update
from ticketsync.run.events import Kind
from ticketsync.stackone.api import CreatedTicket, RemoteTicket, TicketApi
from ticketsync.stackone.limiter import RateLimiter
from ticketsync.stackone.reconcile import Wanted
from ticketsync.stackone.retry import RetryPolicy
from ticketsync.stackone.tickets import CUSTOM, STATUS_TYPES, sent_values, with_values
from ticketsync.state.journal import Journal
from ticketsync.times import format_time


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
    #: Uncertain creates are looked up together: when the oldest has waited
    #: ``settle_interval`` seconds, or there is nothing else to do. (Not when some number
    #: of them wait: each lookup lists the run so far, so a count would make the lookups
    #: of a run grow with its size, and the list requests per create with them.)
    settle_interval: float = 120.0
    #: After a stop, how long requests in flight may take to answer before the run ends.
    drain_seconds: float = 1.5
    #: Send the files' value of a field changed in the tracker too (a conflict).
    overwrite: bool = False
    #: Set from another thread (a signal handler) to stop like Ctrl-C does.
    stop: threading.Event | None = None


@dataclass(frozen=True)
class Outcome:
    """How one send ended, as a worker thread saw it."""

    kind: Kind
    key: str
    id: str | None = None
    message: str = ""
    fatal: bool = False  # the whole run must stop (bad key or account)
    error: ApiError | None = None
    #: Created, but its declared status could not be set (the ticket exists all the same).
    status_error: str = ""
    #: What a reference to the ticket created says (README: references), when another cites it.
    target: Target | None = None


class Statuses:
    """The statuses of each (project, type) of a run, fetched once each; thread-safe."""

    def __init__(self, api: TicketApi) -> None:
        self.api = api
        self._lock = threading.Lock()
        self._found: dict[tuple[object, object], list[dict[str, object]]] = {}
        self._fetching: dict[tuple[object, object], threading.Lock] = {}
        self._probing: dict[tuple[object, object], threading.Lock] = {}

    @staticmethod
    def scope_of(body: Body) -> tuple[object, object]:
        return (body.get("project_id"), body.get("type"))

    def known(self, scope: tuple[object, object]) -> bool:
        with self._lock:
            return scope in self._found

    def probe_lock(self, scope: tuple[object, object]) -> threading.Lock:
        """Held by the create that learns an unknown scope's statuses (see the module)."""
        with self._lock:
            return self._probing.setdefault(scope, threading.Lock())

    def refusal(self, body: Body, declared: str, example: str | None) -> str:
        """Why a ticket with ``body`` cannot take ``declared``, known before its create
        from the statuses fetched already or from ``example`` (a ticket of the same
        scope); "" when it can, or when nothing can tell (the PATCH after the create
        then says)."""
        if example is None and not self.known(self.scope_of(body)):
            return ""
        try:
            self.resolve(example or "", body, declared)
        except StatusError as exc:
            return str(exc)
        except ApiError:  # the statuses cannot be read now: the create's PATCH will tell
            return ""
        return ""

    def resolve(self, ticket_id: str, body: Body, declared: str) -> dict[str, object]:
        """The status object (as StackOne lists it) that ``declared`` names for a ticket
        with ``body``'s project and type: by type (the first of it, in the tracker's order)
        or by name (exactly, ignoring case). :class:`StatusError` if there is none."""
        scope = (body.get("project_id"), body.get("type"))
        with self._lock:
            fetching = self._fetching.setdefault(scope, threading.Lock())
        with fetching:  # the first ticket of a (project, type) fetches; the others wait
            with self._lock:
                found = self._found.get(scope)
            if found is None:
                found = [s for s in self.api.list_statuses(ticket_id) if isinstance(s, dict)]
                with self._lock:
                    self._found[scope] = found
        for status in found:
            kind = status.get("type")
            kind = kind.get("value") if isinstance(kind, dict) else kind
            if (declared in STATUS_TYPES and kind == declared) or (
                isinstance(status.get("name"), str)
                and str(status["name"]).casefold() == declared.casefold()
            ):
                return status
        names = ", ".join(str(s.get("name")) for s in found) or "none"
        raise StatusError(f"status {declared!r} is not one this ticket can take; "
                          f"it can take: {names}")


def body_for(create: Create, ids: Mapping[str, str],
             targets: Mapping[str, Target] | None = None,
             keys: Collection[str] = ()) -> Body:
    """The create body with the parent's ``id`` filled in once the parent exists, and
    its references (README: references) to the tickets of ``targets`` (``keys``: every key a
    reference may name)."""
    body = resolve_body(create.body, targets, keys) if targets else create.body
    if create.parent is not None and create.parent in ids:
        return {**body, "parent_id": ids[create.parent]}
    return body


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
        tracked: Mapping[str, Body] | None = None,
        cited: Collection[str] = (),
    ) -> None:
        self.api, self.journal = api, journal
        #: The keys other tickets' texts cite: their number is read once they exist.
        self.cited = cited
        self.statuses = Statuses(api)
        self.ids = ids  # key -> id of tickets that exist; read for parent ids
        self.lock = threading.Lock()
        self.owned: set[str] = set(ids.values())
        #: A ticket of each (project, type) known to exist (``tracked``: id -> the body
        #: applied), to learn that scope's statuses from before a create declaring one.
        self.examples: dict[tuple[object, object], str] = {}
        for ticket_id, applied in sorted((tracked or {}).items()):
            self.examples.setdefault(Statuses.scope_of(applied), ticket_id)
        #: Keys with a send whose outcome is unknown: a later failure keeps the intent open.
        self.open_keys = open_keys
        self.unresolved: set[str] = {create.key for create in creates}
        # Without a marker, keys declared with the same title and project cannot be told
        # apart remotely: looking one up must consider the others too (add_twins).
        self.twins: dict[tuple[str, str | None], list[Wanted]] = {}

    def owned_ids(self) -> set[str]:
        with self.lock:
            return set(self.owned)

    def settled(self, key: str) -> None:
        """``key`` has its outcome: it no longer competes with its twins in lookups."""
        with self.lock:
            self.unresolved.discard(key)

    def add_twins(self, wanted: Iterable[Wanted]) -> None:
        """What identifies each create of the run (the lookup's :class:`Wanted`, made once),
        grouped by title and project for :meth:`twins_of`."""
        with self.lock:
            for item in wanted:
                self.twins.setdefault((item.title, item.project_id), []).append(item)

    def twins_of(self, wanted: Wanted) -> list[Wanted]:
        """The unresolved keys declared with ``wanted``'s title and project."""
        with self.lock:
            return [twin for twin in self.twins.get((wanted.title, wanted.project_id), ())
                    if twin.key != wanted.key and twin.key in self.unresolved]

    def adopt(self, key: str, remote: RemoteTicket, applied: Body) -> str:
        """Queue a ``created`` record for an existing remote ticket; its id."""
        with self.lock:
            self.owned.add(remote.id)
            self.open_keys.discard(key)
        self.journal.record_created(key, remote.id, remote.remote_id, applied,
                                    created_at=remote.created_text, wait=False)
        return remote.id

    def close_failed(self, key: str, message: str) -> None:
        """Record that no ticket exists for ``key``, unless an earlier send is uncertain."""
        with self.lock:
            if key in self.open_keys:
                return
        self.journal.record_failed(key, message, wait=False)

    def create(self, create: Create, body: Body) -> Outcome:
        """Send ``create`` once (its intent already durable), then set its declared status;
        records are only queued. A status the ticket cannot take is refused before the
        create whenever a ticket of its scope can tell (see the module)."""
        if create.status is None:
            return self._create(create, body)
        scope = Statuses.scope_of(body)
        with self.lock:
            example = self.examples.get(scope)
        probe = None
        if example is None and not self.statuses.known(scope):
            probe = self.statuses.probe_lock(scope)
            probe.acquire()  # another create of this scope may be learning its statuses
        try:
            with self.lock:
                example = self.examples.get(scope)
            refused = self.statuses.refusal(body, create.status, example)
            if refused:
                message = f"failed {create.key}: {refused}; nothing was sent"
                self.close_failed(create.key, message)
                return Outcome(Kind.FAILED, create.key, None, message)
            return self._create(create, body)
        finally:
            if probe is not None:
                probe.release()

    def _create(self, create: Create, body: Body) -> Outcome:
        try:
            created: CreatedTicket = self.api.create_ticket(body)
        except HaltedError as exc:
            self.close_failed(create.key, f"not sent: {exc}")
            return Outcome(Kind.NOT_STARTED, create.key, error=exc)
        except (RejectedError, RateLimitedError, ConnectError) as exc:
            # Refused, or never sent: StackOne did not act on this send.
            message = f"failed {create.key}: {exc}"
            self.close_failed(create.key, message)
            return Outcome(Kind.FAILED, create.key, None, message,
                           fatal=isinstance(exc, AuthError), error=exc)
        except ApiError as exc:  # UncertainError and anything unclassified: may have acted
            with self.lock:
                self.open_keys.add(create.key)
            return Outcome(Kind.UNCERTAIN, create.key, error=exc)
        with self.lock:
            self.owned.add(created.id)
            self.open_keys.discard(create.key)
            self.examples.setdefault(Statuses.scope_of(body), created.id)
        self.journal.record_created(
            create.key, created.id, created.remote_id, body, created_at=_server_time(self.api),
            wait=False,
        )
        target = self.target(created.id, body) if create.key in self.cited else None
        if create.status is None:
            return Outcome(Kind.CREATED, create.key, created.id, target=target)
        return Outcome(Kind.CREATED, create.key, created.id, target=target,
                       status_error=self.set_status(create.key, created.id, body, create.status))

    def target(self, ticket_id: str, body: Body) -> Target:
        """What references to a ticket just created say. A create's answer holds only
        ids, so its number and URL are read: one GET, for a ticket another one cites.
        If that read fails, the id stands in for the number; the next plan, knowing the
        number, updates the texts that cite it (README: references: a number that changes)."""
        title = body.get("title")
        title = title if isinstance(title, str) else ""
        try:
            remote = self.api.get_ticket(ticket_id)
        except ApiError:
            return Target(ticket_id, "", title)
        return target_of(remote, ticket_id, title)

    def set_status(self, key: str, ticket_id: str, body: Body, declared: str) -> str:
        """PATCH a new ticket's declared status; "" when done, else why it was not.

        Journaled like every write: the ``updating`` record (made durable with the
        ``created`` one before it, so the ticket is never lost to a kill here) leaves the
        status pending if the answer is lost; the next read-back that shows it settles it.
        """
        try:
            status = self.statuses.resolve(ticket_id, body, declared)
        except (StatusError, ApiError) as exc:
            return f"failed to set the status of {key}: {exc}"
        self.journal.record_updating(key, ticket_id, {"status": declared})
        try:
            self.api.update_ticket(ticket_id, {"status": status})
        except ApiError as exc:  # left pending, as in _patch_failed
            return f"failed to set the status of {key}: {exc}"
        self.journal.record_updated(key, ticket_id, {**body, "status": declared}, wait=False)
        return ""

    def update(self, update: Update, fields: Sequence[str], applied: Body) -> Outcome:
        """PATCH ``fields`` of ``update`` (its ``updating`` intent already durable); a field
        gone from the declaration is cleared with null. ``applied``: the state's body
        last applied, which the sent fields then replace.

        Custom fields go as one map: the tracker's as last read (``custom_base``) with the
        changed keys, so that a provider that replaces the map keeps the keys people set.
        """
        values = sent_values(update.body, fields)
        patch: dict[str, object] = {}
        try:
            for name, value in values.items():
                if name == "status":
                    patch["status"] = self.statuses.resolve(
                        update.id, {**applied, **update.body}, str(value))
                elif name == CUSTOM:
                    patch[CUSTOM] = {**update.custom_base, **value}
                else:
                    patch[name] = value
            self.api.update_ticket(update.id, patch)
        except StatusError as exc:
            self.journal.record_outcome("update-failed", update.key, wait=False)
            return Outcome(Kind.FAILED, update.key, update.id,
                           f"failed to update {update.key}: {exc}")
        except ApiError as exc:
            return self._patch_failed(update.key, update.id, "update", exc)
        self.journal.record_updated(update.key, update.id, with_values(applied, values),
                                    wait=False)
        return Outcome(Kind.UPDATED, update.key, update.id)

    def close(self, removal: Removal, applied: Body) -> Outcome:
        """Set a ticket no file declares any more to a status of type closed
        (``removed: close``); its ``updating`` intent is already durable."""
        try:
            status = self.statuses.resolve(removal.id, applied, "closed")
            self.api.update_ticket(removal.id, {"status": status})
        except StatusError as exc:
            self.journal.record_outcome("update-failed", removal.key, wait=False)
            return Outcome(Kind.FAILED, removal.key, removal.id,
                           f"failed to close {removal.key}: {exc}")
        except NotFoundError:
            # Gone from the tracker: nothing is left to close, and nothing ever will be.
            self.journal.record_outcome("deleted", removal.key, wait=False)
            return self.settle(removal, applied, "deleted in the tracker")
        except ApiError as exc:
            return self._patch_failed(removal.key, removal.id, "close", exc)
        self.journal.record_outcome("closed", removal.key, applied={**applied, "status": "closed"},
                                    wait=False)
        return Outcome(Kind.CLOSED, removal.key, removal.id)

    def settle(self, removal: Removal, applied: Body, why: str) -> Outcome:
        """Record a ticket no file declares as closed without sending anything: it is
        closed or deleted in the tracker already (``removed: close``)."""
        self.journal.record_outcome("closed", removal.key, applied={**applied, "status": "closed"},
                                    wait=False)
        return Outcome(Kind.SETTLED, removal.key, removal.id,
                       f"settled {removal.key}: {why}; nothing was sent")

    def _patch_failed(self, key: str, ticket_id: str, what: str, exc: ApiError) -> Outcome:
        """A PATCH that did not come back done. Its ``updating`` record is left open
        whatever the error: the client resends a PATCH after an uncertain answer, so the
        last error (a refusal, a 429, a stop during the back-off) says nothing of an
        earlier attempt that may have acted. The values stay pending, and the tracker
        showing them later marks them as ticketsync's own write, never a person's edit;
        a PATCH that never acted leaves pending values nobody will see again."""
        if isinstance(exc, HaltedError):
            return Outcome(Kind.NOT_STARTED, key, ticket_id, error=exc)
        if isinstance(exc, NotFoundError):
            self.journal.record_outcome("deleted", key, wait=False)
            return Outcome(Kind.FAILED, key, ticket_id, (
                f"failed to {what} {key}: it was deleted in the tracker (StackOne answered "
                f"404); it is not re-created: `ticketsync state rm {key}` to create it again"
            ), error=exc)
        return Outcome(Kind.FAILED, key, ticket_id, f"failed to {what} {key}: {exc}",
                       fatal=isinstance(exc, AuthError), error=exc)


def _server_time(api: TicketApi) -> str | None:
    try:
        return format_time(api.server_now(), "us")
    except ClockError:
        return None


def target_of(remote: RemoteTicket, ticket_id: str, title: str) -> Target:
    """A reference's target from a ticket as StackOne shows it (its number, else its id)."""
    return Target(remote.ticket_number or ticket_id, remote.ticket_url or "", title)
