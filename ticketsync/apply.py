"""The applier: carry out a :class:`Plan` through a :class:`TicketApi`, never duplicating.

The rules that make a re-run safe whatever happened before (SPEC §4.1, §4.2):

1. Every create is preceded by a durable ``intent`` in the journal, and its ``created``
   record is made durable as soon as the scheduler sees the answer, before the ticket is
   reported or a child is sent. A crash leaves either the ids (folded into the state next
   time) or an uncertain intent.
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

from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from ticketsync.api import TicketApi
from ticketsync.journal import Intent, Journal, parse_time
from ticketsync.model import Create, Plan, Update
from ticketsync.reconcile import Match, Verdict, Wanted, match_remote, wanted_from_body
from ticketsync.sender import ApplyOptions, Event, Outcome, Sender, body_for
from ticketsync.state import State

__all__ = ["ApplyOptions", "ApplyResult", "Event", "apply_plan", "lookup_since"]


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
        self.sender = Sender(api, journal, options, creates=plan.creates, ids=self.ids)
        self.children: dict[str, list[Create]] = {}
        for create in plan.creates:
            if create.parent is not None:
                self.children.setdefault(create.parent, []).append(create)
        self.verdicts: dict[str, Match] = {}
        self.held: list[Event] = []

    # -- the run -----------------------------------------------------------------------

    def run(self) -> ApplyResult:
        ready: deque[Create | Update] = deque(self._lookup())
        if self.plan.updates_enabled:
            ready.extend(self.plan.updates)
        self._execute(ready)
        return self.result

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
            marker_field=self.options.marker_field, exclude_ids=self.sender.owned_ids(),
        )
        declared = {create.key for create in self.plan.creates}
        for intent in self.uncertain:
            if intent.key not in declared:  # no longer declared: settle it, create nothing
                self._settle_undeclared(self.verdicts[intent.key])
        to_send: list[Create] = []
        for create in self.plan.creates:
            # Children wait for their parent; plan order puts an adopted parent first. A
            # parent that already exists (tracked: a saved plan made before a crashed run
            # journaled it, so its own create was dropped above) never reports done, so
            # its children are ready now; waiting would leave them out of the run silently.
            # (The state, not self.ids: a parent adopted in this loop routes its own
            # children, and routing them twice would send them twice.)
            if create.parent is None or create.parent in self.state.tickets:
                to_send.extend(self._route(create))
        return to_send

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

    def _route(self, create: Create) -> list[Create]:
        """Act on the lookup's verdict for a create whose parent exists; return what to send.

        Adopting a ticket makes its children ready at once, so they are routed too.
        """
        match = self.verdicts.get(create.key)
        if match is None or match.verdict is Verdict.NONE:
            return [create]
        if match.verdict is Verdict.AMBIGUOUS or match.remote is None:
            self._done(Outcome("failed", create.key, None, match.message))
            return []
        ticket_id = self.sender.adopt(create.key, match.remote, body_for(create, self.ids))
        to_send: list[Create] = []
        for child in self._done(Outcome("adopted", create.key, ticket_id, match.message)):
            to_send.extend(self._route(child))
        return to_send

    # -- scheduling ----------------------------------------------------------------------

    def _execute(self, ready: deque[Create | Update]) -> None:
        """Run the work with at most ``concurrency`` requests in flight.

        Group commit, driven from here: each turn queues the intents of the creates about
        to be submitted (workers queue their outcomes as answers arrive), then one fsync
        makes all of it durable, and only then are events reported and requests sent. So
        an intent is always durable before its request, an outcome before it is reported
        or a child is sent, and the run pays one fsync per turn, not two per ticket.
        """
        limit = max(1, self.options.concurrency)
        stopping = False
        error: BaseException | None = None  # a bug or a broken journal: re-raised at the end
        in_flight: dict[Future[Outcome], Create | Update] = {}
        with ThreadPoolExecutor(max_workers=limit, thread_name_prefix="apply") as pool:
            while ready or in_flight:
                try:
                    if not stopping and self.options.stop and self.options.stop.is_set():
                        stopping = self.result.interrupted = True
                        self._emit(Event("interrupted", "", None, "waiting for requests in flight"))
                    batch: list[tuple[Create | Update, Intent | None]] = []
                    while ready and not stopping and len(in_flight) + len(batch) < limit:
                        item = ready.popleft()
                        intent = None
                        if isinstance(item, Create):
                            body = body_for(item, self.ids)
                            intent = self.journal.record_intent(item.key, body, wait=False)
                        batch.append((item, intent))
                    self.journal.sync()
                    for item, intent in batch:
                        if isinstance(item, Create):
                            assert intent is not None
                            in_flight[pool.submit(self.sender.create, item, intent)] = item
                        else:
                            in_flight[pool.submit(self.sender.update, item)] = item
                    # Reported after submitting: a Ctrl-C raised while printing must not
                    # strand intents whose requests were never sent (harmless, but noisy).
                    self._publish()
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
        if error is None:
            self._publish()
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

    def _done(self, outcome: Outcome) -> list[Create]:
        """Count and report ``outcome``; return the children it makes ready."""
        for note in outcome.notes:
            self._emit(note)
        self._emit(Event(outcome.kind, outcome.key, outcome.id, outcome.message))
        self.sender.settled(outcome.key)
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
