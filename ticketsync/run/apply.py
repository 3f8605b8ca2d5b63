"""The applier: carry out a :class:`Plan` through a :class:`TicketApi`, never duplicating.

The rules that make a re-run safe whatever happened before (docs/design.md, "No duplicates"
and "Nothing lost"):

1. Every create is preceded by a durable ``intent`` in the journal (dated in StackOne's
   clock), and its ``created`` record is made durable as soon as the scheduler sees the
   answer, before the ticket is reported or a child is sent. A crash leaves either the ids
   (folded into the state next time) or an uncertain intent.
2. Before creating anything, one listing of the remote tickets updated since the state was
   written (or since the oldest uncertain intent, whichever is older, minus a margin)
   settles the uncertain intents and adopts tickets that already exist for keys about to
   be created: this covers a previous run whose journal was lost. Nothing is created if
   that listing fails.
3. A create whose answer is unknown is looked up before it is ever sent again, together
   with every other create uncertain at that moment (one listing, continuing the run's
   earlier ones: :class:`~ticketsync.stackone.reconcile.RemoteIndex`): one match is adopted, none is
   resent under a new intent, several stop that ticket. A refused create fails that ticket
   alone and skips its descendants; the others go on.

Work runs on daemon threads, a parent strictly before its children, with as many requests
in flight as the limiter's rate x latency asks for (or ``options.concurrency``). Events are
emitted on the calling thread only, so the CLI can print without locks.

Stopping (``options.stop``, set by SIGINT or SIGTERM): nothing more is submitted, the
limiter is halted so that requests waiting for a token or backing off are abandoned at
once, and the requests already sent get ``drain_seconds`` to answer. The run then returns;
a request still without an answer keeps its intent open for the next run to look up, and
its thread is left behind (a daemon: it never holds the process). The caller commits the
state (:meth:`ticketsync.run.workspace.Session.apply`).
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from ticketsync.declare.refs import Target, cited, fields_citing, resolve_body
from ticketsync.errors import ApiError, ClockError, HaltedError
from ticketsync.model import Body, Create, Plan, Removal, State, Update
from ticketsync.plan import references
from ticketsync.run.sender import ApplyOptions, Event, Outcome, Sender, body_for, target_of
from ticketsync.stackone.api import RemoteTicket, TicketApi
from ticketsync.stackone.reconcile import (
    Match,
    RemoteIndex,
    Verdict,
    Wanted,
    wanted_from_body,
)
from ticketsync.stackone.tickets import sent_values, status_is, status_of
from ticketsync.state.journal import Intent, Journal, body_digest
from ticketsync.times import parse_time, read_time

__all__ = ["ApplyOptions", "ApplyResult", "Event", "apply_plan", "list_remote", "lookup_since"]

#: What the scheduler sends: a create, an update, or the close of an undeclared ticket.
Work = Create | Update | Removal


@dataclass
class ApplyResult:
    """Counts and per-ticket messages of a run.

    ``not_started`` counts work never sent; ``unsettled`` creates sent whose outcome is
    unknown when the run ended (no answer before a stop, or left uncertain by it): their
    intents stay open and the next run looks them up. ``halted``: why the run stopped
    sending on its own (StackOne refused the key, its clock could not be read).
    ``complete_as_of`` is the StackOne time up to which the run verified the remote (None
    if it could not): the state's next ``written_at``. ``listings`` counts listings.
    """

    created: int = 0
    adopted: int = 0
    updated: int = 0
    closed: int = 0
    forgotten: int = 0
    #: Undeclared tickets found closed or deleted in the tracker: recorded, nothing sent.
    settled: int = 0
    failed: int = 0
    skipped: int = 0
    not_started: int = 0
    unsettled: int = 0
    interrupted: bool = False
    halted: str | None = None
    complete_as_of: datetime | None = None
    listings: int = 0
    #: Declared moves and imports done (the README's "Moves and imports, declared"), before anything
    #: was sent.
    moved: int = 0
    imported: int = 0
    created_keys: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    #: Every remote ticket the run listed (latest version): read back into the state.
    seen: dict[str, RemoteTicket] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not (self.failed or self.skipped or self.not_started or self.unsettled
                    or self.interrupted or self.halted)


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
    index: RemoteIndex | None = None,
) -> ApplyResult:
    """Apply ``plan`` to the remote through ``api``, journaling every step.

    ``state`` is the recovered state (state file + journal, read back); ``uncertain`` the
    intents recovery left without an outcome; ``index`` what the read-back before the plan
    listed (the pre-create lookup does not list that window again). Raises
    :class:`ApiError` only if the pre-create listing fails (then nothing was created);
    per-ticket problems land in the result.
    """
    run = _Run(plan, api, journal, state, uncertain=uncertain,
               options=options or ApplyOptions(), on_event=on_event, index=index)
    return run.run()


def list_remote(api: TicketApi, since: datetime | None,
                index: RemoteIndex | None = None) -> RemoteIndex:
    """List the tickets updated since ``since`` into ``index`` (a new one by default)."""
    index = index if index is not None else RemoteIndex()
    index.add(api.list_tickets(updated_after=since))
    api.server_now()  # ClockError if no answer told StackOne's time: nothing is created
    if since is None:
        index.covered_from = datetime.min.replace(tzinfo=UTC)
    elif index.covered_from is None or since < index.covered_from:
        index.covered_from = since
    return index


@dataclass
class _Pending:
    """A create whose last send is uncertain, waiting for a lookup."""

    create: Create
    first_at: datetime  # StackOne time of its first send: the lookup reaches back to it
    since: float  # monotonic time the answer was lost
    sends: int
    error: ApiError | None


@dataclass(frozen=True)
class _Crash:
    """What a task raised (as opposed to returned): a bug or a broken journal."""

    error: BaseException


class _Pool:
    """Daemon worker threads, started as work arrives; results land in one queue.

    Daemons, because a thread waiting on a provider that never answers must not keep the
    process alive after a stop: the run leaves it behind and its intent stays open.
    """

    def __init__(self) -> None:
        self.results: queue.Queue[tuple[int, Any]] = queue.Queue()
        self._tasks: queue.Queue[tuple[int, Callable[[], Any]] | None] = queue.Queue()
        self._lock = threading.Lock()
        self._idle = 0
        self._threads = 0

    def submit(self, token: int, task: Callable[[], Any]) -> None:
        with self._lock:
            if self._idle:
                self._idle -= 1  # reserved: that thread takes this task
            else:
                self._threads += 1
                threading.Thread(target=self._work, name="ticketsync-apply",
                                 daemon=True).start()
        self._tasks.put((token, task))

    def close(self) -> None:
        """Let every thread end once it is idle (a busy one ends after its task)."""
        with self._lock:
            count = self._threads
        for _ in range(count):
            self._tasks.put(None)

    def _work(self) -> None:
        while True:
            item = self._tasks.get()
            if item is None:
                return
            token, task = item
            try:
                result: Any = task()
            except BaseException as exc:  # a bug or a broken journal: re-raised by the run
                result = _Crash(exc)
            self.results.put((token, result))
            with self._lock:
                self._idle += 1


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
        index: RemoteIndex | None = None,
    ) -> None:
        # A create for a tracked key would be a duplicate, whatever the plan says (a saved
        # plan made before a crashed run journaled it, say): such creates are dropped.
        plan = replace(plan, creates=tuple(c for c in plan.creates if c.key not in state.tickets))
        self.plan, self.api, self.journal, self.state = plan, api, journal, state
        self.uncertain = [i for i in uncertain if i.key not in state.tickets]
        self.options, self.on_event = options, on_event
        self.result = ApplyResult()
        self.ids: dict[str, str] = {key: entry.id for key, entry in state.tickets.items()}
        self.first_at: dict[str, datetime] = {i.key: i.at for i in self.uncertain}
        # References (README: references): a create waits for its parent and for the creates its
        # texts cite; in a cycle, a fill-in PATCH follows the creates (self.fills).
        creating = {create.key: create for create in plan.creates}
        self.keys = references.Keys(creating, state.tickets)
        order = references.order(creating)
        self.waiting: dict[str, set[str]] = {k: set(v) for k, v in order.waits.items()}
        self.later = order.later
        self.creating = creating
        named = {k for c in creating.values() for k in cited(c.body, self.keys)} | {
            k for u in plan.sendable for k in cited(u.body, self.keys)}
        #: What references to the tickets of this run say: tracked ones from the state (a
        #: plan saved before they were tracked), new ones as they are created.
        self.targets: dict[str, Target] = {
            k: references.target_of(state.tickets[k]) for k in named if k in state.tickets}
        #: Fill-ins and updates waiting for the creates their texts cite: each with the
        #: keys still to be created; released into the run once none is left.
        self.fills: list[tuple[Update, set[str]]] = []
        self.released: list[Update] = []
        self.sent: dict[str, Body] = {}  # the body created for each key, then applied
        self.skipped: set[str] = set()
        #: The creates whose texts cite others of this run: looked up again once those
        #: exist (:meth:`_rematch`); ``since``: where the pre-create lookup listed from.
        self.citing = {key for key, c in creating.items()
                       if any(k in creating for k in cited(c.body, self.keys))}
        self.since: datetime | None = None
        self.sender = Sender(api, journal, creates=plan.creates, ids=self.ids,
                             open_keys=set(self.first_at),
                             tracked={e.id: e.applied for e in state.tickets.values()},
                             cited={k for k in named if k in creating})
        #: Each key -> the creates that wait for it (its children, the tickets citing it).
        self.children: dict[str, list[Create]] = {}
        for key, before in sorted(order.waits.items()):
            for first in before:
                self.children.setdefault(first, []).append(creating[key])
        self.index = index if index is not None else RemoteIndex()
        self.verdicts: dict[str, Match] = {}
        #: The body recorded as applied for each key adopted in this run.
        self.adopted: dict[str, Body] = {}
        #: StackOne's time of this run's first write: the read-back after it lists from there.
        self.first_write: datetime | None = None
        self.read_back_started = False
        #: The oldest candidate of a lookup left ambiguous: the state is dated before it.
        self.hold: datetime | None = None
        self.held: list[Event] = []
        self.sends: dict[str, int] = {}
        self.pending: dict[str, _Pending] = {}
        self.settling = False
        self.stopping = False
        self.stopped_at: float | None = None

    # -- the run -----------------------------------------------------------------------

    def run(self) -> ApplyResult:
        try:
            ready: deque[Work] = deque(self._lookup())
        except HaltedError:
            if not (self.options.stop and self.options.stop.is_set()):
                raise
            # Stopped during the lookup: nothing was created; the state stays as it was.
            self.result.interrupted = True
            self.result.not_started = len(self.plan.creates) + (
                len(self.plan.updates) if self.plan.updates_enabled else 0)
            return self.result
        ready.extend(self._updates_and_removals())
        self._execute(ready)
        missed = [key for key in self.result.created_keys
                  if self.ids.get(key) not in self.index.tickets]
        if missed and not self.stopping and self.first_write is not None:
            outcome = self._read_back_writes()  # the ones the overlapped read-back overtook
            if isinstance(outcome, ApiError):
                self._emit(Event("note", "", None, (
                    f"the read-back after the writes failed ({outcome}): numbers and links "
                    "come with the next apply")))
                self._publish()
        self.result.seen = self.index.tickets
        # The lookup ran (or had nothing to look for): every create of this run is recorded
        # or has its intent open, so the state is complete up to now, or up to the oldest
        # candidate of an ambiguous lookup.
        now = self._now()
        if now is not None:
            self.result.complete_as_of = now if self.hold is None else min(now, self.hold)
        return self.result

    def _updates_and_removals(self) -> list[Work]:
        """The updates to send (a conflict is refused here, unless told to overwrite),
        the closes to send; forgets are journaled at once (nothing to send)."""
        work: list[Work] = []
        for update in self.plan.sendable:
            if update.conflicts and not self.options.overwrite:
                self._done(Outcome("failed", update.key, update.id, (
                    f"conflict {update.key}: {', '.join(update.conflicts)} changed in the "
                    "files and in the tracker; nothing was sent for this ticket (`ticketsync "
                    "apply --overwrite` sends the files' value)")))
                continue
            waits = {k for k in cited(update.body, self.keys) if k in self.creating}
            if waits:  # cites a ticket this run creates: sent once it exists
                self.fills.append((update, waits))
                continue
            work.append(update)
        for removal in self.plan.acting_removals:
            if removal.key not in self.state.tickets:
                continue
            if removal.action == "forget":
                self.journal.record_outcome("forgotten", removal.key, wait=False)
                self._done(Outcome("forgotten", removal.key, removal.id))
            elif removal.action == "settle":
                entry = self.state.tickets[removal.key]
                why = "deleted in the tracker" if entry.deleted else "already closed in the tracker"
                self._done(self.sender.settle(removal, entry.applied, why))
            else:
                work.append(removal)
        return work

    def _read_back_writes(self) -> RemoteIndex | ApiError | None:
        """One listing after the writes, so that the new tickets' numbers, URLs and
        statuses (and the updated ones' values) reach the state: not one GET each.

        It starts once the last write has gone out (see :meth:`_execute`), overlapping
        the answers still in flight: a cursor's pages come one after the other, and
        waiting for every answer first would add their round trips to every run. A ticket
        it misses (stored after its page was read) only gets its number at the next
        read-back; nothing here decides what is created.
        """
        assert self.first_write is not None
        try:
            list_remote(self.api, self.first_write - self.options.skew_margin, self.index)
        except ApiError as exc:  # the writes are journaled: only the read-back is lost
            return exc
        self.result.listings += 1
        return None

    def _now(self) -> datetime | None:
        try:
            return self.api.server_now()
        except ClockError:
            return None

    def _emit(self, event: Event) -> None:
        # Held back until the journal records behind the event are durable: see _publish.
        if event.message and event.kind in ("failed", "skipped"):
            self.result.messages.append(event.message)
        self.held.append(event)

    def _publish(self) -> None:
        """Make every queued journal record durable, then report the held events."""
        self.journal.sync()
        held, self.held = self.held, []
        for event in held:
            self.on_event(event)

    # -- looking tickets up ---------------------------------------------------------------

    def _list(self, since: datetime) -> None:
        """List the tickets updated since ``since`` into the run's index.

        Always the whole window back to ``since``: a ticket can become visible in a listing
        later than its ``updated_at`` says, and the provider's clock is not StackOne's, so a
        window cut at the previous listing could miss the very ticket being looked for.
        Lookups are few instead (see :meth:`_maybe_settle`).
        """
        self.result.listings += 1
        list_remote(self.api, since, self.index)

    def _lookup(self) -> list[Work]:
        """Settle uncertain intents and adopt existing tickets; return the creates to send."""
        if not self.plan.creates and not self.uncertain:
            return []
        since = lookup_since(self.state, self.uncertain, self.options.skew_margin)
        self.since = since
        covered = self.index.covered_from
        if covered is None or covered > since:  # not already listed by the read-back
            self._list(since)
        # Only a ticket created inside the window can be one this state's runs made.
        margin = self.options.skew_margin
        wanted = {c.key: wanted_from_body(c.key, self._body(c), since)
                  for c in self.plan.creates}
        for intent in self.uncertain:
            # Looked for as it was sent, which may predate an edit: with the body only if
            # it is the one sent (a child's parent_id, say, is not known yet).
            now = wanted.get(intent.key)
            sent = now.body if now is not None and now.body is not None \
                and body_digest(now.body) == intent.digest else None
            wanted[intent.key] = Wanted(intent.key, intent.title, intent.project_id,
                                        intent.at - margin, sent)
        verdicts = self.index.match(list(wanted.values()), marker_field=self.options.marker_field,
                                    exclude_ids=self.sender.owned_ids())
        self._note_strangers(verdicts.values())
        # Kept for the whole run: a child is routed when its parent exists, and a child that
        # a lost run created must be adopted then, not sent again.
        self.verdicts = verdicts
        self._hold_written_at(verdicts.values())
        declared = {create.key for create in self.plan.creates}
        for intent in self.uncertain:
            if intent.key not in declared:  # no longer declared: settle it, create nothing
                self._settle_undeclared(verdicts[intent.key])
        to_send: list[Work] = []
        # Children wait for their parent (and a ticket for those its texts cite); plan
        # order puts an adopted parent first. A parent that already exists (tracked: a
        # saved plan made before a crashed run journaled it, so its own create was dropped
        # above) is no create of this run, so nothing waits for it. The ready ones are
        # taken before the loop: a parent adopted in it routes its own children, and
        # routing them twice would send them twice.
        first = [create for create in self.plan.creates if not self.waiting.get(create.key)]
        for create in first:
            to_send.extend(self._route(create))
        return to_send

    def _note_strangers(self, verdicts: Iterable[Match]) -> None:
        """Say which tickets were passed over: they look like a key's but this state did
        not make them (a person's, another project's, or older than the window)."""
        for match in verdicts:
            if match.strangers and match.verdict is not Verdict.ADOPT:
                ids = ", ".join(match.strangers)
                self._emit(Event("note", match.key, None, (
                    f"note: {match.key}: not adopted: {ids} (its title or marker, but not "
                    "created by this state's runs); `ticketsync state import "
                    f"{match.key} ID` tracks an existing ticket on purpose")))

    def _hold_written_at(self, verdicts: Iterable[Match]) -> None:
        """An ambiguous key stays unresolved: the next run's lookup must list its candidates
        again, so the state is not dated past the oldest of them."""
        for match in verdicts:
            if match.verdict is not Verdict.AMBIGUOUS:
                continue
            for ticket_id in match.candidates:
                moment = read_time(self.index.tickets.get(ticket_id, {}).get("updated_at"))
                moment = moment or self.index.covered_from
                if moment is not None:
                    moment -= timedelta(seconds=1)
                    self.hold = moment if self.hold is None else min(self.hold, moment)

    def _settle_undeclared(self, match: Match) -> None:
        if match.verdict is Verdict.ADOPT and match.remote is not None:
            ticket_id = self.sender.adopt(match.key, match.remote, {})
            self._done(Outcome("adopted", match.key, ticket_id, match.message))
        elif match.verdict is Verdict.NONE:
            self.journal.record_failed(
                match.key, "uncertain create: no remote ticket found", wait=False
            )
        else:
            self._done(Outcome("failed", match.key, None, match.message))

    def _route(self, create: Create) -> list[Work]:
        """Act on the lookup's verdict for a create whose parent exists; return what to send.

        Adopting a ticket makes its children ready at once, so they are routed too.
        """
        match = self.verdicts.get(create.key)
        if (match is None or match.verdict is Verdict.NONE) and create.key in self.citing:
            match = self._rematch(create)
        if match is None or match.verdict is Verdict.NONE:
            return [create]
        if match.verdict is Verdict.AMBIGUOUS or match.remote is None:
            self._done(Outcome("failed", create.key, None, match.message))
            return []
        ticket_id, to_send = self._adopt(create, match.remote)
        for child in self._done(Outcome("adopted", create.key, ticket_id, match.message)):
            to_send.extend(self._route(child))
        return to_send

    def _rematch(self, create: Create) -> Match | None:
        """The lookup's verdict for a create whose text cited tickets not known at the
        lookup (README: references): a lost run sent it resolved, so it is looked for resolved, now
        that they exist, in what the lookup listed (nothing more is listed)."""
        if self.since is None:
            return None
        wanted = wanted_from_body(create.key, self._body(create), self.since)
        found = self.index.match([wanted], marker_field=self.options.marker_field,
                                 exclude_ids=self.sender.owned_ids())
        self._note_strangers(found.values())
        self._hold_written_at(found.values())
        self.verdicts[create.key] = found[create.key]
        return found[create.key]

    def _adopt(self, create: Create, remote: RemoteTicket) -> tuple[str, list[Work]]:
        """Track ``remote`` as ``create``'s ticket; with the PATCH of its declared status
        when it lacks it (a run killed between a create and its status PATCH converges in
        one re-run)."""
        body = self._body(create)
        status = create.status
        settled = status is not None and status_is(status, status_of(remote))
        applied = {**body, "status": status} if settled else body
        ticket_id = self.sender.adopt(create.key, remote, applied)
        if create.key in self.sender.cited:  # as the listing shows it: number and URL
            self.targets[create.key] = target_of(remote, ticket_id, str(body.get("title", "")))
        self.adopted[create.key] = applied
        if status is None or settled:
            return ticket_id, []
        return ticket_id, [Update(create.key, ticket_id, ("status",), {**body, "status": status},
                                  create.location, title=create.title)]

    def _settle(self, pending: list[_Pending]) -> dict[str, Match] | ApiError:
        """One listing for every create uncertain now (runs on a worker thread)."""
        margin = self.options.skew_margin
        wanted: dict[str, Wanted] = {}
        for item in pending:
            one = wanted_from_body(item.create.key, self._body(item.create),
                                   item.first_at - margin)
            wanted[one.key] = one
            if not self.options.marker_field:
                for twin in self.sender.twins_of(one):
                    wanted.setdefault(twin.key, replace(twin, since=one.since))
        try:
            self._list(min(item.first_at for item in pending) - margin)
        except ApiError as exc:
            return exc
        return self.index.match(list(wanted.values()), marker_field=self.options.marker_field,
                                exclude_ids=self.sender.owned_ids())

    # -- scheduling ----------------------------------------------------------------------

    def _limit(self) -> int:
        fixed, limiter = self.options.concurrency, self.options.limiter
        cap = max(1, fixed or self.options.max_concurrency)
        if limiter is None:
            return fixed or 16
        return limiter.in_flight(cap=cap, initial=min(16, cap))

    def _execute(self, ready: deque[Work]) -> None:
        """Run the work with at most :meth:`_limit` requests in flight.

        Group commit, driven from here: each turn queues the intents of the creates about
        to be submitted (workers queue their outcomes as answers arrive), then one fsync
        makes all of it durable, and only then are events reported and requests sent. So
        an intent is always durable before its request, an outcome before it is reported
        or a child is sent, and the run pays one fsync per turn, not two per ticket.
        """
        pool = _Pool()
        tokens = itertools.count()
        in_flight: dict[int, Work | list[_Pending] | str] = {}
        error: BaseException | None = None  # a bug or a broken journal: re-raised at the end
        try:
            while True:
                try:
                    if not self.stopping and self.options.stop and self.options.stop.is_set():
                        self._interrupt()
                    if not self.stopping:
                        ready.extend(self.released)
                        self.released.clear()
                        self._maybe_settle(pool, tokens, in_flight, ready)
                        self._submit(pool, tokens, in_flight, ready)
                        self._maybe_read_back(pool, tokens, in_flight, ready)
                    self._publish()
                    waiting = bool(in_flight) or (not self.stopping and bool(ready or self.pending))
                    if not waiting or self._drained():
                        break
                    error = error or self._collect(pool, in_flight, ready)
                    if error is not None and not self.stopping:
                        self._halt_sending()
                except KeyboardInterrupt:
                    if self.result.interrupted:
                        raise  # a second Ctrl-C: leave now; the journal holds the intents
                    self._interrupt()
        finally:
            pool.close()
        if error is None:
            self._publish()
        # Sent, without an answer yet (a stop cut the wait short), or left uncertain when
        # the run stopped: their intents stay open, and the next run looks them up.
        for item in in_flight.values():
            if not isinstance(item, str):  # the read-back is not a ticket
                self.result.unsettled += len(item) if isinstance(item, list) else 1
        self.result.unsettled += len(self.pending)
        # Fill-ins and updates whose cited ticket was never created: left for the next
        # run, which resolves the reference once that ticket exists.
        for update, waits in self.fills:
            if self.stopping:
                self.result.not_started += 1
                continue
            self.result.skipped += 1
            message = (f"skipped the update of {update.key}: it references "
                       f"{', '.join(sorted(waits))}, which was not created")
            self._emit(Event("skipped", update.key, update.id, message))
        self.fills = []
        if self.stopping:
            self.result.not_started += len(ready) + self._descendants(
                item.key for item in ready if isinstance(item, Create))
        if error is not None:
            raise error

    def _submit(
        self,
        pool: _Pool,
        tokens: Iterator[int],
        in_flight: dict[int, Work | list[_Pending] | str],
        ready: deque[Work],
    ) -> None:
        """Journal the intents of what fits in flight, make them durable, then send."""
        room = self._limit() - len(in_flight)
        if room <= 0 or not ready:
            return
        at: datetime | None = None
        if any(isinstance(item, Create) for item in itertools.islice(ready, room)):
            try:
                at = self.api.server_now()  # one lower bound covers every send below
            except ClockError as exc:  # refused, never guessed: stop sending
                self.result.halted = str(exc)
                self._halt_sending()
                return
        batch: list[tuple[Work, Any]] = []
        while ready and len(batch) < room:
            item = ready.popleft()
            if isinstance(item, Create):
                assert at is not None
                body = self._body(item)
                self.sent[item.key] = {**body, "status": item.status} if item.status else body
                self.first_at.setdefault(item.key, at)
                self.first_write = self.first_write or at
                self.journal.record_intent(item.key, body, at=at, wait=False)
                batch.append((item, body))
            elif isinstance(item, Update):
                fields = item.fields + (item.conflicts if self.options.overwrite else ())
                self.journal.record_updating(
                    item.key, item.id, sent_values(item.body, fields), wait=False)
                batch.append((item, fields))
            else:
                self.journal.record_updating(item.key, item.id, {"status": "closed"},
                                             wait=False)
                batch.append((item, None))
        self.journal.sync()
        if self.first_write is None and batch:
            self.first_write = self._now()
        for item, extra in batch:
            token = next(tokens)
            in_flight[token] = item
            entry = self.state.tickets.get(item.key)
            applied = entry.applied if entry is not None else self.adopted.get(
                item.key, self.sent.get(item.key, {}))
            if isinstance(item, Create):
                self.sends[item.key] = self.sends.get(item.key, 0) + 1
                pool.submit(token, _call(self.sender.create, item, extra))
            elif isinstance(item, Update):
                pool.submit(token, _call(self.sender.update, item, extra, applied))
            else:
                pool.submit(token, _call(self.sender.close, item, applied))

    def _fatal(self, outcome: Outcome) -> Outcome:
        """The first refusal of the key stops the run and is reported in full; a request
        already on the wire that is refused too gets one short line."""
        status = outcome.error.status if outcome.error is not None else None
        if self.result.halted is None:
            self.result.halted = str(outcome.error or outcome.message)
            self.stopping = True  # the client halted the limiter: queued sends end
            return outcome
        return replace(outcome, message=f"failed {outcome.key}: refused too (HTTP {status})")

    def _maybe_read_back(
        self,
        pool: _Pool,
        tokens: Iterator[int],
        in_flight: dict[int, Work | list[_Pending] | str],
        ready: deque[Work],
    ) -> None:
        """Start the read-back once every write has gone out and none waits for a lookup.

        Only creates without a declared status may still be waiting for their answers then:
        a listing that overtook an update would record the value it replaced as the
        tracker's, which the next plan would call a tracker edit. (A create it overtakes is
        read back at the end.)
        """
        if (self.read_back_started or ready or self.pending or self.settling
                or self.fills or self.released or self.first_write is None):
            return
        flying = [item for item in in_flight.values() if not isinstance(item, str | list)]
        if any(not isinstance(item, Create) or item.key in self.children
               or item.key in self.later or item.status is not None for item in flying):
            # An update or close in flight, a parent (its children are to come), or a
            # create whose status PATCH follows it: a listing that overtook that PATCH
            # would record the tracker's default status, and the next plan call it drift.
            return
        wrote = (self.result.created or self.result.adopted or self.result.updated
                 or self.result.closed)
        if not (wrote or flying):
            return
        self.read_back_started = True
        token = next(tokens)
        in_flight[token] = "read-back"
        pool.submit(token, self._read_back_writes)

    def _interrupt(self) -> None:
        """A stop signal: send nothing more, give what is in flight a bounded wait."""
        self.result.interrupted = True
        self.stopped_at = time.monotonic()
        self._halt_sending()
        self._emit(Event("interrupted", "", None, "waiting for requests in flight"))

    def _halt_sending(self) -> None:
        self.stopping = True
        if self.options.limiter is not None:
            self.options.limiter.halt("the run was stopped")

    def _drained(self) -> bool:
        """Whether a stop's wait for the requests in flight is over."""
        return self.stopped_at is not None and (
            time.monotonic() - self.stopped_at > self.options.drain_seconds)

    def _collect(
        self,
        pool: _Pool,
        in_flight: dict[int, Work | list[_Pending] | str],
        ready: deque[Work],
    ) -> BaseException | None:
        """Wait a little for answers and act on every one that arrived; return a worker's
        unexpected exception (a bug, a broken journal), if any."""
        try:
            answers = [pool.results.get(timeout=0.1)]
        except queue.Empty:
            return None
        while True:
            try:
                answers.append(pool.results.get_nowait())
            except queue.Empty:
                break
        problem: BaseException | None = None
        for token, answer in answers:
            item = in_flight.pop(token)
            if isinstance(answer, _Crash):
                problem = problem or answer.error
                continue
            if isinstance(item, list):
                self.settling = False
                self._after_settle(item, answer, ready)
                continue
            if isinstance(item, str):  # the read-back after the writes
                if isinstance(answer, ApiError):
                    self._emit(Event("note", "", None, (
                        f"the read-back after the writes failed ({answer}): numbers and "
                        "links come with the next apply")))
                continue
            outcome: Outcome = answer
            if outcome.fatal:
                outcome = self._fatal(outcome)
            if outcome.kind == "uncertain":
                assert isinstance(item, Create)
                self.pending[item.key] = _Pending(
                    item, self.first_at[item.key], time.monotonic(),
                    self.sends.get(item.key, 1), outcome.error)
                continue
            for child in self._done(outcome):
                ready.extend(self._route(child))
        return problem

    def _maybe_settle(
        self,
        pool: _Pool,
        tokens: Iterator[int],
        in_flight: dict[int, Work | list[_Pending] | str],
        ready: deque[Work],
    ) -> None:
        """Start one lookup for every create left uncertain, when it is worth a listing.

        Each lookup lists everything updated since the oldest first send it covers (less
        the skew margin), so they are batched: once the oldest has waited
        ``settle_delay``, when there is nothing else to do (typically the end of the run),
        or when the oldest has waited ``settle_interval`` (its children wait with it). A
        run with a few percent of lost answers then lists about once per interval (and
        once more per generation of children of uncertain parents), whatever its size.
        """
        if not self.pending or self.settling:
            return
        now = time.monotonic()
        oldest = min(item.since for item in self.pending.values())
        if now - oldest < self.options.settle_delay:
            return
        idle = not ready and len(in_flight) == 0
        if not (idle or now - oldest >= self.options.settle_interval):
            return
        batch = list(self.pending.values())
        self.pending.clear()
        self.settling = True
        token = next(tokens)
        in_flight[token] = batch
        pool.submit(token, _call(self._settle, batch))

    def _after_settle(
        self,
        batch: list[_Pending],
        verdicts: dict[str, Match] | ApiError,
        ready: deque[Work],
    ) -> None:
        """Act on a lookup of uncertain creates: adopt, send again, or stop the ticket."""
        for item in batch:
            key = item.create.key
            if isinstance(verdicts, ApiError):
                self._done(Outcome("failed", key, None, (
                    f"failed {key}: {item.error}; the remote lookup failed too ({verdicts}), "
                    "so the ticket may exist: run apply again to check before resending"
                )))
                continue
            match = verdicts[key]
            if match.verdict is Verdict.ADOPT and match.remote is not None:
                ticket_id, follow = self._adopt(item.create, match.remote)
                ready.extend(follow)
                message = f"adopted {key} (id {ticket_id}): created despite {item.error}"
                for child in self._done(Outcome("adopted", key, ticket_id, message)):
                    ready.extend(self._route(child))
            elif match.verdict is Verdict.AMBIGUOUS:
                self._hold_written_at([match])
                self._done(Outcome("failed", key, None, match.message))
            elif item.sends < self.options.retry.create_sends:
                self._emit(Event("retried", key, None, (
                    f"resending {key} (attempt {item.sends + 1}): {item.error}, and no "
                    "remote ticket was found"
                )))
                ready.appendleft(item.create)
            else:
                # The intent stays open: the next run looks the ticket up before resending.
                self._done(Outcome("failed", key, None, (
                    f"failed {key}: no answer after {item.sends} attempts "
                    f"(last: {item.error}): run apply again later"
                )))

    def _descendants(self, keys: Iterable[str]) -> int:
        seen: set[str] = set()
        stack = list(keys)
        while stack:
            for child in self.children.get(stack.pop(), ()):
                if child.key not in seen:  # a ticket may wait for several
                    seen.add(child.key)
                    stack.append(child.key)
        return len(seen)

    def _done(self, outcome: Outcome) -> list[Create]:
        """Count and report ``outcome``; return the children it makes ready."""
        self.sender.settled(outcome.key)
        if outcome.kind == "not_started":
            self.result.not_started += 1 + self._descendants([outcome.key])
            self._emit(Event("not_started", outcome.key, outcome.id, ""))
            return []
        self._emit(Event(outcome.kind, outcome.key, outcome.id, outcome.message))
        if outcome.kind == "failed":
            self.result.failed += 1
            self._skip_descendants(outcome.key)
            return []
        if outcome.kind in ("updated", "closed", "forgotten", "settled"):
            setattr(self.result, outcome.kind, getattr(self.result, outcome.kind) + 1)
            return []
        if outcome.kind == "created":
            self.result.created += 1
            self.result.created_keys.append(outcome.key)
            if outcome.status_error:  # the ticket exists; only its status failed
                self.result.failed += 1
                self._emit(Event("failed", outcome.key, outcome.id, outcome.status_error))
        else:
            self.result.adopted += 1
        assert outcome.id is not None
        self.ids[outcome.key] = outcome.id
        self._known(outcome)
        ready = []
        for child in self.children.get(outcome.key, ()):
            waiting = self.waiting.get(child.key, set())
            waiting.discard(outcome.key)
            if not waiting:
                ready.append(child)
        return ready

    def _body(self, create: Create) -> Body:
        return body_for(create, self.ids, self.targets, self.keys)

    def _known(self, outcome: Outcome) -> None:
        """A ticket of this run exists: what references to it say, and the fill-ins and
        updates now able to go (their text resolved; journaled as they are submitted)."""
        key = outcome.key
        if outcome.target is not None:
            self.targets[key] = outcome.target
        elif key in self.sender.cited and outcome.id is not None:
            sent = self.adopted.get(key) or self.sent.get(key, {})
            self.targets.setdefault(key, Target(
                outcome.id, "", str(sent.get("title", ""))))
        later = self.later.get(key)
        create = self.creating.get(key) if later else None
        if create is not None and later and outcome.id is not None:
            body = self.adopted.get(key) or self.sent.get(key) or create.body
            fields = fields_citing(body)
            if fields:
                self.fills.append((Update(key, outcome.id, fields, body, create.location,
                                          title=create.title), set(later) - set(self.targets)))
        still = []
        for update, waits in self.fills:
            waits.discard(key)
            if waits:
                still.append((update, waits))
            else:
                body = resolve_body(update.body, self.targets, self.keys)
                self.released.append(replace(update, body=body))
        self.fills = still

    def _skip_descendants(self, key: str) -> None:
        for child in self.children.get(key, ()):
            if child.key in self.skipped:  # waits for several: skipped once
                continue
            self.skipped.add(child.key)
            self.result.skipped += 1
            why = (f"its parent {key} was not created" if child.parent == key
                   else f"it references {key}, which was not created")
            self._emit(Event("skipped", child.key, None, f"skipped {child.key}: {why}"))
            self._skip_descendants(child.key)


def _call(func: Callable[..., Any], *args: Any) -> Callable[[], Any]:
    return lambda: func(*args)
