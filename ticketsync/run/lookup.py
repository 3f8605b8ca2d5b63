"""Looking tickets up before they are created, and adopting what already exists.

A run lists the remote once before its first create (rule 2 of :mod:`ticketsync.run.apply`)
and again, in batches, for the creates whose answers were lost (rule 3). Each verdict is
acted on here: adopt the one ticket found, send the create, or stop that ticket. The
counts and what each outcome makes ready are the :class:`~ticketsync.run.ledger.Ledger`'s.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from ticketsync.declare.refs import cited
from ticketsync.declare.schedule import EVERY, parse_period
from ticketsync.errors import ApiError
from ticketsync.model import Create, Plan, State, Update
from ticketsync.run.events import Event, Kind
from ticketsync.run.ledger import Ledger
from ticketsync.run.result import Work
from ticketsync.run.sender import ApplyOptions, Outcome, Sender, target_of
from ticketsync.stackone.api import RemoteTicket, TicketApi
from ticketsync.stackone.reconcile import (
    Match,
    RemoteIndex,
    Verdict,
    Wanted,
    made_by_us,
    marker_of,
    wanted_from_body,
)
from ticketsync.stackone.tickets import is_empty, status_is
from ticketsync.state.journal import Intent, Journal, body_digest
from ticketsync.times import parse_time


def lookup_since(state: State, uncertain: Sequence[Intent], margin: timedelta) -> datetime:
    """Where the pre-create listing starts: before anything this state may not know about."""
    moments = [parse_time(state.written_at)] + [intent.at for intent in uncertain]
    return min(moments) - margin


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
class Pending:
    """A create whose last send is uncertain, waiting for a lookup."""

    create: Create
    first_at: datetime  # StackOne time of its first send: the lookup reaches back to it
    since: float  # monotonic time the answer was lost
    sends: int
    error: ApiError | None


class Lookups:
    """The run's listings of the remote, their verdicts, and what is adopted from them."""

    def __init__(
        self,
        plan: Plan,
        state: State,
        *,
        uncertain: Sequence[Intent],
        api: TicketApi,
        journal: Journal,
        options: ApplyOptions,
        sender: Sender,
        ledger: Ledger,
        index: RemoteIndex | None,
    ) -> None:
        self.plan, self.state, self.uncertain = plan, state, uncertain
        self.api, self.journal, self.options = api, journal, options
        self.sender, self.ledger = sender, ledger
        #: Every remote ticket listed in this run (with the read-back's before the plan).
        self.index = index if index is not None else RemoteIndex()
        self.verdicts: dict[str, Match] = {}
        #: The creates whose texts cite others of this run: looked up again once those
        #: exist (:meth:`rematch`); ``since``: where the pre-create lookup listed from.
        self.citing = {key for key, c in ledger.creating.items()
                       if any(k in ledger.creating for k in cited(c.body, ledger.keys))}
        self.since: datetime | None = None
        #: The oldest candidate of a lookup left ambiguous: the state is dated before it.
        self.hold: datetime | None = None
        #: Creates left uncertain, waiting for the next batched lookup (:meth:`take_due`).
        self.pending: dict[str, Pending] = {}
        self.settling = False

    def list_since(self, since: datetime) -> None:
        """List the tickets updated since ``since`` into the run's index.

        Always the whole window back to ``since``: a ticket can become visible in a listing
        later than its ``updated_at`` says, and the provider's clock is not StackOne's, so a
        window cut at the previous listing could miss the very ticket being looked for.
        Lookups are few instead (see :meth:`take_due`).
        """
        self.ledger.result.listings += 1
        list_remote(self.api, since, self.index)

    def first(self) -> list[Work]:
        """Settle uncertain intents and adopt existing tickets; return the creates to send."""
        if not self.plan.creates and not self.uncertain:
            return []
        since = lookup_since(self.state, self.uncertain, self.options.skew_margin)
        self.since = since
        covered = self.index.covered_from
        if covered is None or covered > since:  # not already listed by the read-back
            self.list_since(since)
        # Only a ticket created inside the window can be one this state's runs made.
        margin = self.options.skew_margin
        wanted = {c.key: wanted_from_body(c.key, self.ledger.body(c), since)
                  for c in self.plan.creates}
        self.sender.add_twins(wanted.values())
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
        self.note_strangers(verdicts.values())
        # Kept for the whole run: a child is routed when its parent exists, and a child that
        # a lost run created must be adopted then, not sent again.
        self.verdicts = verdicts
        self.hold_written_at(verdicts.values())
        declared = {create.key for create in self.plan.creates}
        for intent in self.uncertain:
            if intent.key not in declared:  # no longer declared: settle it, create nothing
                self.settle_undeclared(verdicts[intent.key])
        self.adopt_lost_periods(since)
        to_send: list[Work] = []
        # Children wait for their parent (and a ticket for those its texts cite); plan
        # order puts an adopted parent first. A parent that already exists (tracked: a
        # saved plan made before a crashed run journaled it, so its own create was dropped
        # above) is no create of this run, so nothing waits for it. The ready ones are
        # taken before the loop: a parent adopted in it routes its own children, and
        # routing them twice would send them twice.
        first = [create for create in self.plan.creates
                 if not self.ledger.waiting.get(create.key)]
        for create in first:
            to_send.extend(self.route(create))
        return to_send

    def adopt_lost_periods(self, since: datetime) -> None:
        """Track the instances of past periods that a lost run made (README: recurring).

        A run that died before its state was committed (a runner gone with its folder)
        leaves the instances it created untracked; once their period is past, no file
        declares them, so no lookup of a create finds them, and ``previous: close`` could
        never close them. With a marker, their key says what they are: a recurring
        template's ``TEMPLATE.PERIOD.TICKET``, for a ticket this run creates in a later
        period. One is tracked (nothing is sent; the next plan holds or closes it like any
        past instance) only when it is this state's own: created inside the lookup's window
        and in the project the template declares for that ticket.
        """
        marker = self.options.marker_field
        if not marker or not self.plan.recurring:
            return
        first: dict[tuple[str, str], str] = {}  # (template, ticket) -> earliest period created
        projects: dict[tuple[str, str], str | None] = {}
        for create in self.plan.creates:
            parts = create.key.split(".")
            if len(parts) == 3 and parts[0] in self.plan.recurring:
                kind = (parts[0], parts[2])
                if kind not in first or parts[1] < first[kind]:
                    first[kind] = parts[1]
                project = create.body.get("project_id")
                projects[kind] = project if isinstance(project, str) else None
        if not first:
            return
        owned = self.sender.owned_ids()
        known = set(self.state.tickets) | {create.key for create in self.plan.creates} \
            | {intent.key for intent in self.uncertain}
        for ticket in list(self.index.tickets.values()):
            key = marker_of(ticket, marker)
            parts = key.split(".") if isinstance(key, str) else []
            if len(parts) != 3 or key in known or ticket.id in owned:
                continue
            kind = (parts[0], parts[2])
            if not (kind in first and _earlier(parts[1], first[kind])):
                continue
            # The lookup's rule (window, project), on a creation time it can read: with
            # no body to hold, an unreadable one proves nothing.
            wanted = Wanted(key, "", projects[kind], since)
            if ticket.created_at is None or not made_by_us(wanted, ticket, ticket.created_at):
                continue  # not made by this state's runs: never adopted
            applied = {name: value for name, value in ticket.values.items()
                       if not is_empty(name, value)}
            self.sender.adopt(key, ticket, applied)
            known.add(key)
            self.ledger.done(Outcome(Kind.ADOPTED, key, ticket.id, (
                f"adopted {key} (id {ticket.id}): a past period's ticket that a lost run "
                "created (its marker says so)")))

    def note_strangers(self, verdicts: Iterable[Match]) -> None:
        """Say which tickets were passed over: they look like a key's but this state did
        not make them (a person's, another project's, or older than the window)."""
        for match in verdicts:
            if match.strangers and match.verdict is not Verdict.ADOPT:
                ids = ", ".join(match.strangers)
                self.ledger.emit(Event(Kind.NOTE, match.key, None, (
                    f"note: {match.key}: not adopted: {ids} (its title or marker, but not "
                    "created by this state's runs); `ticketsync state import "
                    f"{match.key} ID` tracks an existing ticket on purpose")))

    def hold_written_at(self, verdicts: Iterable[Match]) -> None:
        """An ambiguous key stays unresolved: the next run's lookup must list its candidates
        again, so the state is not dated past the oldest of them."""
        for match in verdicts:
            if match.verdict is not Verdict.AMBIGUOUS:
                continue
            for ticket_id in match.candidates:
                listed = self.index.tickets.get(ticket_id)
                moment = listed.updated_at if listed is not None else None
                moment = moment or self.index.covered_from
                if moment is not None:
                    moment -= timedelta(seconds=1)
                    self.hold = moment if self.hold is None else min(self.hold, moment)

    def settle_undeclared(self, match: Match) -> None:
        if match.verdict is Verdict.ADOPT and match.remote is not None:
            ticket_id = self.sender.adopt(match.key, match.remote, {})
            self.ledger.done(Outcome(Kind.ADOPTED, match.key, ticket_id, match.message))
        elif match.verdict is Verdict.NONE:
            self.journal.record_failed(
                match.key, "uncertain create: no remote ticket found", wait=False
            )
        else:
            self.ledger.done(Outcome(Kind.FAILED, match.key, None, match.message))

    def route(self, create: Create) -> list[Work]:
        """Act on the lookup's verdict for a create whose parent exists; return what to send.

        Adopting a ticket makes its children ready at once, so they are routed too.
        """
        match = self.verdicts.get(create.key)
        if (match is None or match.verdict is Verdict.NONE) and create.key in self.citing:
            match = self.rematch(create)
        if match is None or match.verdict is Verdict.NONE:
            return [create]
        if match.verdict is Verdict.AMBIGUOUS or match.remote is None:
            self.ledger.done(Outcome(Kind.FAILED, create.key, None, match.message))
            return []
        ticket_id, to_send = self.adopt(create, match.remote)
        for child in self.ledger.done(Outcome(Kind.ADOPTED, create.key, ticket_id, match.message)):
            to_send.extend(self.route(child))
        return to_send

    def rematch(self, create: Create) -> Match | None:
        """The lookup's verdict for a create whose text cited tickets not known at the
        lookup (README: references): a lost run sent it resolved, so it is looked for resolved, now
        that they exist, in what the lookup listed (nothing more is listed)."""
        if self.since is None:
            return None
        wanted = wanted_from_body(create.key, self.ledger.body(create), self.since)
        found = self.index.match([wanted], marker_field=self.options.marker_field,
                                 exclude_ids=self.sender.owned_ids())
        self.note_strangers(found.values())
        self.hold_written_at(found.values())
        self.verdicts[create.key] = found[create.key]
        return found[create.key]

    def adopt(self, create: Create, remote: RemoteTicket) -> tuple[str, list[Work]]:
        """Track ``remote`` as ``create``'s ticket; with the PATCH of its declared status
        when it lacks it (a run killed between a create and its status PATCH converges in
        one re-run)."""
        body = self.ledger.body(create)
        status = create.status
        settled = status is not None and status_is(status, remote.status)
        applied = {**body, "status": status} if settled else body
        ticket_id = self.sender.adopt(create.key, remote, applied)
        if create.key in self.sender.cited:  # as the listing shows it: number and URL
            self.ledger.targets[create.key] = target_of(
                remote, ticket_id, str(body.get("title", "")))
        self.ledger.adopted[create.key] = applied
        if status is None or settled:
            return ticket_id, []
        return ticket_id, [Update(create.key, ticket_id, ("status",), {**body, "status": status},
                                  create.location, title=create.title)]

    # -- creates left uncertain ----------------------------------------------------------

    def wait(self, create: Create, first_at: datetime, sends: int,
             error: ApiError | None) -> None:
        """``create``'s last send is uncertain: it waits for a lookup."""
        self.pending[create.key] = Pending(create, first_at, time.monotonic(), sends, error)

    def take_due(self, idle: bool) -> list[Pending]:
        """The creates left uncertain, when a lookup of them is worth a listing (else none).

        Each lookup lists everything updated since the oldest first send it covers (less
        the skew margin), so they are batched: once the oldest has waited
        ``settle_delay``, when there is nothing else to do (``idle``: typically the end of
        the run), or when the oldest has waited ``settle_interval`` (its children wait with
        it). A run with a few percent of lost answers then lists about once per interval
        (and once more per generation of children of uncertain parents), whatever its size.
        """
        if not self.pending or self.settling:
            return []
        now = time.monotonic()
        oldest = min(item.since for item in self.pending.values())
        if now - oldest < self.options.settle_delay:
            return []
        if not (idle or now - oldest >= self.options.settle_interval):
            return []
        batch = list(self.pending.values())
        self.pending.clear()
        self.settling = True
        return batch

    def settle(self, pending: list[Pending]) -> dict[str, Match] | ApiError:
        """One listing for every create uncertain now (runs on a worker thread)."""
        margin = self.options.skew_margin
        wanted: dict[str, Wanted] = {}
        for item in pending:
            one = wanted_from_body(item.create.key, self.ledger.body(item.create),
                                   item.first_at - margin)
            wanted[one.key] = one
            if not self.options.marker_field:
                for twin in self.sender.twins_of(one):
                    wanted.setdefault(twin.key, replace(twin, since=one.since))
        try:
            self.list_since(min(item.first_at for item in pending) - margin)
        except ApiError as exc:
            return exc
        return self.index.match(list(wanted.values()), marker_field=self.options.marker_field,
                                exclude_ids=self.sender.owned_ids())

    def after_settle(
        self,
        batch: list[Pending],
        verdicts: dict[str, Match] | ApiError,
        ready: deque[Work],
    ) -> None:
        """Act on a lookup of uncertain creates: adopt, send again, or stop the ticket."""
        self.settling = False
        for item in batch:
            key = item.create.key
            if isinstance(verdicts, ApiError):
                self.ledger.done(Outcome(Kind.FAILED, key, None, (
                    f"failed {key}: {item.error}; the remote lookup failed too ({verdicts}), "
                    "so the ticket may exist: run apply again to check before resending"
                )))
                continue
            match = verdicts[key]
            if match.verdict is Verdict.ADOPT and match.remote is not None:
                ticket_id, follow = self.adopt(item.create, match.remote)
                ready.extend(follow)
                message = f"adopted {key} (id {ticket_id}): created despite {item.error}"
                for child in self.ledger.done(Outcome(Kind.ADOPTED, key, ticket_id, message)):
                    ready.extend(self.route(child))
            elif match.verdict is Verdict.AMBIGUOUS:
                self.hold_written_at([match])
                self.ledger.done(Outcome(Kind.FAILED, key, None, match.message))
            elif item.sends < self.options.retry.create_sends:
                self.ledger.emit(Event(Kind.RETRIED, key, None, (
                    f"resending {key} (attempt {item.sends + 1}): {item.error}, and no "
                    "remote ticket was found"
                )))
                ready.appendleft(item.create)
            else:
                # The intent stays open: the next run looks the ticket up before resending.
                self.ledger.done(Outcome(Kind.FAILED, key, None, (
                    f"failed {key}: no answer after {item.sends} attempts "
                    f"(last: {item.error}): run apply again later"
                )))


def _earlier(name: str, than: str) -> bool:
    """Whether ``name`` names a period of the same schedule as ``than`` (``2026-W50``,
    ``2026-12``...), before it."""
    return any(parse_period(every, than) is not None and parse_period(every, name) is not None
               and name < than for every in EVERY)
