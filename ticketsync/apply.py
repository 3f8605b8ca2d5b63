"""The applier: carry out a :class:`Plan` through a :class:`TicketApi`, never duplicating.

The rules that make a re-run safe whatever happened before (SPEC §4.1, §4.2):

1. Every create is preceded by a durable ``intent`` in the journal, and followed by a
   durable ``created`` record as soon as the answer arrives. A crash leaves either the
   ids (folded into the state next time) or an uncertain intent.
2. Before creating anything, one listing of the remote tickets updated since the state
   was written (or since the oldest uncertain intent, whichever is older, minus a margin
   for clock skew) settles the uncertain intents and adopts tickets that already exist for
   keys about to be created: this covers a previous run whose journal was lost.
3. A create whose answer is unknown (:class:`UncertainError`) is reconciled before it is
   resent: one match is adopted, none is resent under a new intent, several stop that
   ticket. A refused create (:class:`RejectedError`) fails that ticket alone and skips its
   descendants; the others go on.

Work runs on ``concurrency`` threads with at most that many requests in flight, a parent
strictly before its children. Events are emitted on the calling thread only, so the CLI
can print without locks. Ctrl-C (or ``options.stop``) stops submitting, waits for the
requests in flight so that their outcome is journaled, and returns ``interrupted``.
The caller then folds the journal into the state, writes it, and compacts the journal.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from ticketsync.api import CreatedTicket, RemoteTicket, TicketApi
from ticketsync.errors import (
    ApiError,
    AuthError,
    ConnectError,
    RateLimitedError,
    RejectedError,
)
from ticketsync.journal import Intent, Journal, parse_time
from ticketsync.model import Body, Create, Plan, Update
from ticketsync.reconcile import Match, Verdict, Wanted, match_remote, wanted_from_body
from ticketsync.state import State


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


@dataclass
class ApplyResult:
    """Counts and per-ticket messages of a run; ``not_started`` counts work left undone."""

    created: int = 0
    adopted: int = 0
    updated: int = 0
    failed: int = 0
    skipped: int = 0
    not_started: int = 0
    interrupted: bool = False
    messages: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.failed or self.skipped or self.not_started or self.interrupted)


@dataclass(frozen=True)
class _Outcome:
    kind: str  # created | adopted | updated | failed
    key: str
    id: str | None = None
    message: str = ""
    notes: tuple[Event, ...] = ()
    fatal: bool = False  # the whole run must stop (bad key or account)


def _body_for(create: Create, ids: Mapping[str, str]) -> Body:
    """The create body with the parent's ``id`` filled in once the parent exists."""
    if create.parent is not None and create.parent in ids:
        return {**create.body, "parent_id": ids[create.parent]}
    return create.body


def lookup_since(state: State, uncertain: Sequence[Intent], margin: timedelta) -> datetime:
    """Where the pre-create listing starts: before anything this state may not know about."""
    moments = [parse_time(state.written_at)] + [intent.at for intent in uncertain]
    return min(moments) - margin


def apply_plan(
    plan: Plan,
    api: TicketApi,
    journal: Journal,
    state: State,
    *,
    uncertain: Sequence[Intent] = (),
    options: ApplyOptions | None = None,
    on_event: Callable[[Event], None] = lambda event: None,
) -> ApplyResult:
    """Apply ``plan`` to the remote through ``api``, journaling every step.

    ``state`` is the recovered state (state file + journal); ``uncertain`` the intents
    recovery left without an outcome. Raises :class:`ApiError` only if the pre-create
    listing fails (then nothing was created); per-ticket problems land in the result.
    """
    run = _Run(
        plan, api, journal, state,
        uncertain=uncertain, options=options or ApplyOptions(), on_event=on_event,
    )
    return run.run()


class _Run:
    def __init__(
        self,
        plan: Plan,
        api: TicketApi,
        journal: Journal,
        state: State,
        *,
        uncertain: Sequence[Intent],
        options: ApplyOptions,
        on_event: Callable[[Event], None],
    ) -> None:
        # A create for a tracked key would be a duplicate, whatever the plan says (a saved
        # plan made before a crashed run journaled it, say): such creates are dropped.
        plan = replace(plan, creates=tuple(c for c in plan.creates if c.key not in state.tickets))
        self.plan, self.api, self.journal, self.state = plan, api, journal, state
        self.uncertain = [i for i in uncertain if i.key not in state.tickets]
        self.options, self.on_event = options, on_event
        self.result = ApplyResult()
        self.ids: dict[str, str] = {key: entry.id for key, entry in state.tickets.items()}
        # Remote ids owned by some key: never a candidate for another. Workers add to it
        # the moment an answer arrives, hence the lock.
        self.owned: set[str] = set(self.ids.values())
        self.lock = threading.Lock()
        self.children: dict[str, list[Create]] = {}
        # Without a marker, keys declared with the same title and project cannot be told
        # apart remotely: reconciling one must consider the others too.
        self.twins: dict[tuple[str, str | None], list[Wanted]] = {}
        for create in plan.creates:
            if create.parent is not None:
                self.children.setdefault(create.parent, []).append(create)
            wanted = wanted_from_body(create.key, create.body)
            self.twins.setdefault((wanted.title, wanted.project_id), []).append(wanted)
        self.unresolved: set[str] = {create.key for create in plan.creates}
        self.verdicts: dict[str, Match] = {}

    # -- the run -----------------------------------------------------------------------

    def run(self) -> ApplyResult:
        ready: deque[Create | Update] = deque(self._lookup())
        if self.plan.updates_enabled:
            ready.extend(self.plan.updates)
        self._execute(ready)
        return self.result

    def _emit(self, event: Event) -> None:
        if event.message and event.kind in ("failed", "skipped"):
            self.result.messages.append(event.message)
        self.on_event(event)

    def _lookup(self) -> list[Create]:
        """Settle uncertain intents and adopt existing tickets; return the creates to send."""
        if not self.plan.creates and not self.uncertain:
            return []
        since = lookup_since(self.state, self.uncertain, self.options.skew_margin)
        remote = list(self.api.list_tickets(updated_after=since))
        # An uncertain key is looked for as it was sent, which may predate an edit.
        wanted = {c.key: wanted_from_body(c.key, c.body) for c in self.plan.creates}
        wanted.update({i.key: Wanted(i.key, i.title, i.project_id) for i in self.uncertain})
        self.verdicts = match_remote(
            list(wanted.values()), remote,
            marker_field=self.options.marker_field, exclude_ids=self.owned,
        )
        for intent in self.uncertain:
            if intent.key not in self.unresolved:  # no longer declared: settle, create nothing
                self._settle_undeclared(self.verdicts[intent.key])
        to_send: list[Create] = []
        for create in self.plan.creates:
            # Children wait for their parent; plan order puts an adopted parent first.
            if create.parent is None:
                to_send.extend(self._route(create))
        return to_send

    def _settle_undeclared(self, match: Match) -> None:
        if match.verdict is Verdict.ADOPT and match.remote is not None:
            ticket_id = self._record_adoption(match.key, match.remote, {})
            self._done(_Outcome("adopted", match.key, ticket_id, match.message))
        elif match.verdict is Verdict.NONE:
            self.journal.record_failed(match.key, "uncertain create: no remote ticket found")
        else:
            self._done(_Outcome("failed", match.key, None, match.message))

    def _route(self, create: Create) -> list[Create]:
        """Act on the lookup's verdict for a create whose parent exists; return what to send.

        Adopting a ticket makes its children ready at once, so they are routed too.
        """
        match = self.verdicts.get(create.key)
        if match is None or match.verdict is Verdict.NONE:
            return [create]
        if match.verdict is Verdict.AMBIGUOUS or match.remote is None:
            self._done(_Outcome("failed", create.key, None, match.message))
            return []
        ticket_id = self._record_adoption(create.key, match.remote, _body_for(create, self.ids))
        to_send: list[Create] = []
        for child in self._done(_Outcome("adopted", create.key, ticket_id, match.message)):
            to_send.extend(self._route(child))
        return to_send

    def _record_adoption(self, key: str, remote: RemoteTicket, applied: Body) -> str:
        ticket_id = str(remote["id"])
        remote_id = remote.get("remote_id")
        created_at = remote.get("created_at")
        self.journal.record_created(
            key,
            ticket_id,
            remote_id if isinstance(remote_id, str) else None,
            applied,
            created_at=created_at if isinstance(created_at, str) else None,
        )
        with self.lock:
            self.owned.add(ticket_id)
        return ticket_id

    # -- scheduling ----------------------------------------------------------------------

    def _execute(self, ready: deque[Create | Update]) -> None:
        limit = max(1, self.options.concurrency)
        stopping = False
        error: BaseException | None = None  # a bug or a broken journal: re-raised at the end
        in_flight: dict[Future[_Outcome], Create | Update] = {}
        with ThreadPoolExecutor(max_workers=limit, thread_name_prefix="apply") as pool:
            while ready or in_flight:
                try:
                    if self.options.stop is not None and self.options.stop.is_set():
                        stopping = self.result.interrupted = True
                    while ready and not stopping and len(in_flight) < limit:
                        item = ready.popleft()
                        if isinstance(item, Create):
                            in_flight[pool.submit(self._create, item)] = item
                        else:
                            in_flight[pool.submit(self._update, item)] = item
                    if not in_flight:
                        break
                    done, _ = wait(in_flight, timeout=0.25, return_when=FIRST_COMPLETED)
                    for future in done:
                        del in_flight[future]
                        try:
                            outcome = future.result()
                        except Exception as exc:  # drain in-flight work, then re-raise
                            error, stopping = error or exc, True
                            continue
                        stopping = stopping or outcome.fatal
                        for child in self._done(outcome):
                            ready.extend(self._route(child))
                except KeyboardInterrupt:
                    if self.result.interrupted:
                        raise  # a second Ctrl-C: leave now; the journal holds the intents
                    stopping = self.result.interrupted = True
                    self._emit(Event("interrupted", "", None, "waiting for requests in flight"))
        if stopping:
            self.result.not_started += len(ready) + self._descendant_count(ready)
        if error is not None:
            raise error

    def _descendant_count(self, items: deque[Create | Update]) -> int:
        count, stack = 0, [item.key for item in items if isinstance(item, Create)]
        while stack:
            for child in self.children.get(stack.pop(), ()):
                count += 1
                stack.append(child.key)
        return count

    def _done(self, outcome: _Outcome) -> list[Create]:
        """Count and report ``outcome``; return the children it makes ready."""
        for note in outcome.notes:
            self._emit(note)
        self._emit(Event(outcome.kind, outcome.key, outcome.id, outcome.message))
        with self.lock:
            self.unresolved.discard(outcome.key)
        if outcome.kind == "failed":
            self.result.failed += 1
            self._skip_descendants(outcome.key)
            return []
        if outcome.kind == "updated":
            self.result.updated += 1
            return []
        if outcome.kind == "created":
            self.result.created += 1
        else:
            self.result.adopted += 1
        assert outcome.id is not None
        self.ids[outcome.key] = outcome.id
        return list(self.children.get(outcome.key, ()))

    def _skip_descendants(self, key: str) -> None:
        for child in self.children.get(key, ()):
            self.result.skipped += 1
            message = f"skipped {child.key}: its parent {key} was not created"
            self._emit(Event("skipped", child.key, None, message))
            self._skip_descendants(child.key)

    # -- workers (pool threads: no events, only journal records and outcomes) ------------

    def _create(self, create: Create) -> _Outcome:
        body = _body_for(create, self.ids)
        notes: list[Event] = []
        last_error: ApiError | None = None
        for attempt in range(1, self.options.max_attempts + 1):
            intent = self.journal.record_intent(create.key, body)
            try:
                created: CreatedTicket = self.api.create_ticket(body)
            except (RejectedError, RateLimitedError, ConnectError) as exc:
                # Refused, or never sent: StackOne did not act. Close the intent.
                message = f"failed {create.key}: {exc}"
                self.journal.record_failed(create.key, message)
                return _Outcome("failed", create.key, None, message, tuple(notes),
                                fatal=isinstance(exc, AuthError))
            except ApiError as exc:  # UncertainError and anything unclassified: may have acted
                match = self._reconcile(create.key, intent)
                if match is None:
                    return _Outcome("failed", create.key, None, (
                        f"failed {create.key}: {exc}; the remote lookup failed too, so "
                        "the ticket may exist: run apply again to check before resending"
                    ), tuple(notes))
                if match.verdict is Verdict.ADOPT and match.remote is not None:
                    ticket_id = self._record_adoption(create.key, match.remote, body)
                    return _Outcome("adopted", create.key, ticket_id, (
                        f"adopted {create.key} (id {ticket_id}): created despite {exc}"
                    ), tuple(notes))
                if match.verdict is Verdict.AMBIGUOUS:
                    return _Outcome("failed", create.key, None,
                                    match.message, tuple(notes))
                notes.append(Event("retried", create.key, None, (
                    f"resending {create.key} (attempt {attempt + 1}): {exc}, and no "
                    "remote ticket was found"
                )))
                last_error = exc
                continue
            with self.lock:
                self.owned.add(created.id)
            self.journal.record_created(create.key, created.id, created.remote_id, body)
            return _Outcome("created", create.key, created.id, "", tuple(notes))
        # The intent stays open: the next run looks the ticket up before resending.
        return _Outcome("failed", create.key, None, (
            f"failed {create.key}: no answer after {self.options.max_attempts} attempts "
            f"(last: {last_error}): run apply again later"
        ), tuple(notes[:-1]))

    def _reconcile(self, key: str, intent: Intent) -> Match | None:
        """Look ``key`` up remotely after an uncertain create; None if the lookup failed."""
        if self.options.reconcile_delay > 0:
            time.sleep(self.options.reconcile_delay)
        since = intent.at - self.options.skew_margin
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

    def _update(self, update: Update) -> _Outcome:
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
                    return _Outcome("failed", update.key, update.id, message,
                                    fatal=isinstance(exc, AuthError))
                continue
            self.journal.record_updated(update.key, update.id, update.body)
            return _Outcome("updated", update.key, update.id)
