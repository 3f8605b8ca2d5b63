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
   be created: this covers a previous run whose journal was lost (and, with a marker, the
   past periods' instances such a run made of a recurring template). Nothing is created
   if that listing fails.
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

This module is the scheduler and the import point of the run; beside it, ``result``
(:class:`ApplyResult`), ``events`` (what can happen to a ticket), ``ledger`` (what the run
has done and what each outcome makes ready), ``lookup`` (the listings, their verdicts,
adoption), ``sender`` (one change on a worker thread) and ``pool`` (the worker threads).
"""


from __future__ import annotations

import itertools
import queue
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from ticketsync.declare.refs import cited
from ticketsync.errors import ApiError, ClockError, HaltedError
from ticketsync.model import Action, Create, Plan, State, Update
from ticketsync.plan import references
from ticketsync.run.events import Event, Kind
from ticketsync.run.ledger import Ledger
from ticketsync.run.lookup import Lookups, Pending, list_remote, lookup_since
from ticketsync.run.pool import Crash, Pool, call
from ticketsync.run.result import ApplyResult, Work
from ticketsync.run.sender import ApplyOptions, Outcome, Sender
from ticketsync.stackone.api import TicketApi
from ticketsync.stackone.reconcile import RemoteIndex
from ticketsync.stackone.tickets import sent_values
from ticketsync.state.journal import Intent, Journal

__all__ = ["ApplyOptions", "ApplyResult", "Event", "apply_plan", "list_remote", "lookup_since"]

#: What is in flight, by token: a send, a lookup of uncertain creates, or the read-back.
InFlight = dict[int, Work | list[Pending] | str]


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


class _Run:
    """The scheduler: what is sent when, and what its answers set off."""

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
        self.options = options
        uncertain = [i for i in uncertain if i.key not in state.tickets]
        self.first_at: dict[str, datetime] = {i.key: i.at for i in uncertain}
        creating = {create.key: create for create in plan.creates}
        keys = references.Keys(creating, state.tickets)
        named = {k for c in creating.values() for k in cited(c.body, keys)} | {
            k for u in plan.sendable for k in cited(u.body, keys)}
        ids = {key: entry.id for key, entry in state.tickets.items()}
        self.sender = Sender(api, journal, creates=plan.creates, ids=ids,
                             open_keys=set(self.first_at),
                             tracked={e.id: e.applied for e in state.tickets.values()},
                             cited={k for k in named if k in creating})
        self.ledger = Ledger(plan, state, journal, self.sender, on_event,
                             ids=ids, keys=keys, named=named)
        self.result = self.ledger.result
        self.lookups = Lookups(plan, state, uncertain=uncertain, api=api, journal=journal,
                               options=options, sender=self.sender, ledger=self.ledger,
                               index=index)
        #: StackOne's time of this run's first write: the read-back after it lists from there.
        self.first_write: datetime | None = None
        self.read_back_started = False
        self.sends: dict[str, int] = {}
        self.stopping = False
        self.stopped_at: float | None = None

    # -- the run -----------------------------------------------------------------------

    def run(self) -> ApplyResult:
        try:
            ready: deque[Work] = deque(self.lookups.first())
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
        index = self.lookups.index
        missed = [key for key in self.result.created_keys
                  if self.ledger.ids.get(key) not in index.tickets]
        if missed and not self.stopping and self.first_write is not None:
            outcome = self._read_back_writes()  # the ones the overlapped read-back overtook
            if isinstance(outcome, ApiError):
                self.ledger.emit(Event(Kind.NOTE, "", None, (
                    f"the read-back after the writes failed ({outcome}): numbers and links "
                    "come with the next apply")))
                self.ledger.publish()
        self.result.seen = index.tickets
        # The lookup ran (or had nothing to look for): every create of this run is recorded
        # or has its intent open, so the state is complete up to now, or up to the oldest
        # candidate of an ambiguous lookup.
        now = self._now()
        hold = self.lookups.hold
        if now is not None:
            self.result.complete_as_of = now if hold is None else min(now, hold)
        return self.result

    def _updates_and_removals(self) -> list[Work]:
        """The updates to send (a conflict is refused here, unless told to overwrite),
        the closes to send; forgets are journaled at once (nothing to send)."""
        work: list[Work] = []
        for update in self.plan.sendable:
            if update.conflicts and not self.options.overwrite:
                self.ledger.done(Outcome(Kind.FAILED, update.key, update.id, (
                    f"conflict {update.key}: {', '.join(update.conflicts)} changed in the "
                    "files and in the tracker; nothing was sent for this ticket (`ticketsync "
                    "apply --overwrite` sends the files' value)")))
                continue
            waits = {k for k in cited(update.body, self.ledger.keys) if k in self.ledger.creating}
            if waits:  # cites a ticket this run creates: sent once it exists
                self.ledger.wait_for(update, waits)
                continue
            work.append(update)
        for removal in self.plan.acting_removals:
            if removal.key not in self.state.tickets:
                continue
            if removal.action == Action.FORGET:
                self.journal.record_outcome("forgotten", removal.key, wait=False)
                self.ledger.done(Outcome(Kind.FORGOTTEN, removal.key, removal.id))
            elif removal.action == Action.SETTLE:
                entry = self.state.tickets[removal.key]
                why = "deleted in the tracker" if entry.deleted else "already closed in the tracker"
                self.ledger.done(self.sender.settle(removal, entry.applied, why))
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
            list_remote(self.api, self.first_write - self.options.skew_margin,
                        self.lookups.index)
        except ApiError as exc:  # the writes are journaled: only the read-back is lost
            return exc
        self.result.listings += 1
        return None

    def _now(self) -> datetime | None:
        try:
            return self.api.server_now()
        except ClockError:
            return None

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
        pool = Pool()
        tokens = itertools.count()
        in_flight: InFlight = {}
        error: BaseException | None = None  # a bug or a broken journal: re-raised at the end
        try:
            while True:
                try:
                    if not self.stopping and self.options.stop and self.options.stop.is_set():
                        self._interrupt()
                    if not self.stopping:
                        ready.extend(self.ledger.released)
                        self.ledger.released.clear()
                        self._maybe_settle(pool, tokens, in_flight, ready)
                        self._submit(pool, tokens, in_flight, ready)
                        self._maybe_read_back(pool, tokens, in_flight, ready)
                    self.ledger.publish()
                    waiting = bool(in_flight) or (
                        not self.stopping and bool(ready or self.lookups.pending))
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
            self.ledger.publish()
        # Sent, without an answer yet (a stop cut the wait short), or left uncertain when
        # the run stopped: their intents stay open, and the next run looks them up.
        for item in in_flight.values():
            if not isinstance(item, str):  # the read-back is not a ticket
                self.result.unsettled += len(item) if isinstance(item, list) else 1
        self.result.unsettled += len(self.lookups.pending)
        # Fill-ins and updates whose cited ticket was never created: left for the next
        # run, which resolves the reference once that ticket exists.
        for update, waits in self.ledger.fills:
            if self.stopping:
                self.result.not_started += 1
                continue
            self.result.skipped += 1
            message = (f"skipped the update of {update.key}: it references "
                       f"{', '.join(sorted(waits))}, which was not created")
            self.ledger.emit(Event(Kind.SKIPPED, update.key, update.id, message))
        self.ledger.fills = []
        if self.stopping:
            self.result.not_started += len(ready) + self.ledger.descendants(
                item.key for item in ready if isinstance(item, Create))
        if error is not None:
            raise error

    def _submit(
        self,
        pool: Pool,
        tokens: Iterator[int],
        in_flight: InFlight,
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
                body = self.ledger.body(item)
                self.ledger.sent[item.key] = (
                    {**body, "status": item.status} if item.status else body)
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
            applied = entry.applied if entry is not None else self.ledger.adopted.get(
                item.key, self.ledger.sent.get(item.key, {}))
            if isinstance(item, Create):
                self.sends[item.key] = self.sends.get(item.key, 0) + 1
                pool.submit(token, call(self.sender.create, item, extra))
            elif isinstance(item, Update):
                pool.submit(token, call(self.sender.update, item, extra, applied))
            else:
                pool.submit(token, call(self.sender.close, item, applied))

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
        pool: Pool,
        tokens: Iterator[int],
        in_flight: InFlight,
        ready: deque[Work],
    ) -> None:
        """Start the read-back once every write has gone out and none waits for a lookup.

        Only creates without a declared status may still be waiting for their answers then:
        a listing that overtook an update would record the value it replaced as the
        tracker's, which the next plan would call a tracker edit. (A create it overtakes is
        read back at the end.)
        """
        if (self.read_back_started or ready or self.lookups.pending or self.lookups.settling
                or self.ledger.fills or self.ledger.released or self.first_write is None):
            return
        flying = [item for item in in_flight.values() if not isinstance(item, str | list)]
        if any(not isinstance(item, Create) or item.key in self.ledger.children
               or item.key in self.ledger.later or item.status is not None for item in flying):
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
        self.ledger.emit(Event(Kind.INTERRUPTED, "", None, "waiting for requests in flight"))

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
        pool: Pool,
        in_flight: InFlight,
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
            if isinstance(answer, Crash):
                problem = problem or answer.error
                continue
            if isinstance(item, list):
                self.lookups.after_settle(item, answer, ready)
                continue
            if isinstance(item, str):  # the read-back after the writes
                if isinstance(answer, ApiError):
                    self.ledger.emit(Event(Kind.NOTE, "", None, (
                        f"the read-back after the writes failed ({answer}): numbers and "
                        "links come with the next apply")))
                continue
            outcome: Outcome = answer
            if outcome.fatal:
                outcome = self._fatal(outcome)
            if outcome.kind is Kind.UNCERTAIN:
                assert isinstance(item, Create)
                self.lookups.wait(item, self.first_at[item.key],
                                  self.sends.get(item.key, 1), outcome.error)
                continue
            for child in self.ledger.done(outcome):
                ready.extend(self.lookups.route(child))
        return problem

    def _maybe_settle(self, pool: Pool, tokens: Iterator[int], in_flight: InFlight,
                      ready: deque[Work]) -> None:
        """Start one lookup for every create left uncertain, when it is worth a listing."""
        batch = self.lookups.take_due(idle=not ready and len(in_flight) == 0)
        if batch:
            token = next(tokens)
            in_flight[token] = batch
            pool.submit(token, call(self.lookups.settle, batch))
