"""What a run has done so far, and what each outcome makes ready.

The bookkeeping of the scheduler (:mod:`ticketsync.run.apply`) and of its lookups
(:mod:`ticketsync.run.lookup`): the counts of the result, the ids of the tickets that exist,
what references to the new ones say (README: references), the creates waiting for others,
and the events held until the journal records behind them are durable. It sends nothing
and lists nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace

from ticketsync.declare.refs import Target, fields_citing, resolve_body
from ticketsync.model import Body, Create, Plan, State, Update
from ticketsync.plan import references
from ticketsync.run.events import Event, Kind
from ticketsync.run.result import ApplyResult
from ticketsync.run.sender import Outcome, Sender, body_for
from ticketsync.state.journal import Journal


class Ledger:
    def __init__(
        self,
        plan: Plan,
        state: State,
        journal: Journal,
        sender: Sender,
        on_event: Callable[[Event], None],
        *,
        ids: dict[str, str],
        keys: references.Keys,
        named: set[str],
    ) -> None:
        self.journal, self.sender, self.on_event = journal, sender, on_event
        self.result = ApplyResult()
        #: Key -> id of every ticket that exists: tracked, then created or adopted.
        self.ids = ids
        self.keys = keys
        # References (README: references): a create waits for its parent and for the creates its
        # texts cite; in a cycle, a fill-in PATCH follows the creates (self.fills).
        self.creating = {create.key: create for create in plan.creates}
        order = references.order(self.creating)
        self.waiting: dict[str, set[str]] = {k: set(v) for k, v in order.waits.items()}
        self.later = order.later
        #: What references to the tickets of this run say: tracked ones from the state (a
        #: plan saved before they were tracked), new ones as they are created.
        self.targets: dict[str, Target] = {
            k: references.target_of(state.tickets[k]) for k in named if k in state.tickets}
        #: Fill-ins and updates waiting for the creates their texts cite: each with the
        #: keys still to be created; released into the run once none is left.
        self.fills: list[tuple[Update, set[str]]] = []
        self.released: list[Update] = []
        self.sent: dict[str, Body] = {}  # the body created for each key, then applied
        #: The body recorded as applied for each key adopted in this run.
        self.adopted: dict[str, Body] = {}
        self.skipped: set[str] = set()
        #: Each key -> the creates that wait for it (its children, the tickets citing it).
        self.children: dict[str, list[Create]] = {}
        for key, before in sorted(order.waits.items()):
            for first in before:
                self.children.setdefault(first, []).append(self.creating[key])
        self.held: list[Event] = []

    def body(self, create: Create) -> Body:
        """``create``'s body as it is sent now: parent and references resolved."""
        return body_for(create, self.ids, self.targets, self.keys)

    def emit(self, event: Event) -> None:
        # Held back until the journal records behind the event are durable: see publish.
        if event.message and event.kind in (Kind.FAILED, Kind.SKIPPED):
            self.result.messages.append(event.message)
        self.held.append(event)

    def publish(self) -> None:
        """Make every queued journal record durable, then report the held events."""
        self.journal.sync()
        held, self.held = self.held, []
        for event in held:
            self.on_event(event)

    def descendants(self, keys: Iterable[str]) -> int:
        seen: set[str] = set()
        stack = list(keys)
        while stack:
            for child in self.children.get(stack.pop(), ()):
                if child.key not in seen:  # a ticket may wait for several
                    seen.add(child.key)
                    stack.append(child.key)
        return len(seen)

    def done(self, outcome: Outcome) -> list[Create]:
        """Count and report ``outcome``; return the children it makes ready."""
        self.sender.settled(outcome.key)
        if outcome.kind is Kind.NOT_STARTED:
            self.result.not_started += 1 + self.descendants([outcome.key])
            self.emit(Event(Kind.NOT_STARTED, outcome.key, outcome.id, ""))
            return []
        self.emit(Event(outcome.kind, outcome.key, outcome.id, outcome.message))
        if outcome.kind is Kind.FAILED:
            self.result.failed += 1
            self.skip_descendants(outcome.key)
            return []
        if outcome.kind in (Kind.UPDATED, Kind.CLOSED, Kind.FORGOTTEN, Kind.SETTLED):
            setattr(self.result, outcome.kind, getattr(self.result, outcome.kind) + 1)
            return []
        if outcome.kind is Kind.CREATED:
            self.result.created += 1
            self.result.created_keys.append(outcome.key)
            if outcome.status_error:  # the ticket exists; only its status failed
                self.result.failed += 1
                self.emit(Event(Kind.FAILED, outcome.key, outcome.id, outcome.status_error))
        else:
            self.result.adopted += 1
        assert outcome.id is not None
        self.ids[outcome.key] = outcome.id
        self.known(outcome)
        ready = []
        for child in self.children.get(outcome.key, ()):
            waiting = self.waiting.get(child.key, set())
            waiting.discard(outcome.key)
            if not waiting:
                ready.append(child)
        return ready

    def known(self, outcome: Outcome) -> None:
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
        fills, self.fills = self.fills, []
        for update, waits in fills:
            self.wait_for(update, waits)

    def wait_for(self, update: Update, waits: set[str]) -> None:
        """``update`` cites the tickets ``waits`` of this run's creates: it goes (its text
        resolved) once they all exist. One known already (the lookup before the updates
        adopted it: a lost run made it) is not waited for: it would be waited for forever."""
        waits = waits - self.targets.keys()
        if waits:
            self.fills.append((update, waits))
        else:
            body = resolve_body(update.body, self.targets, self.keys)
            self.released.append(replace(update, body=body))

    def skip_descendants(self, key: str) -> None:
        for child in self.children.get(key, ()):
            if child.key in self.skipped:  # waits for several: skipped once
                continue
            self.skipped.add(child.key)
            self.result.skipped += 1
            why = (f"its parent {key} was not created" if child.parent == key
                   else f"it references {key}, which was not created")
            self.emit(Event(Kind.SKIPPED, child.key, None, f"skipped {child.key}: {why}"))
            self.skip_descendants(child.key)
