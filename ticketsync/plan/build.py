"""The planner: a pure function of (project, state) -> :class:`Plan`.

Pure means no files, no clock, no network, no randomness: the same inputs give an equal
Plan, and every rendering of it is byte-identical. ``plan`` and ``apply`` both start here,
so what a reviewer approved in a pull request is what apply does. It imports the model and
its errors only; the plan's JSON document lives with saved plans (:mod:`ticketsync.plan.saved`).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any, Literal

from ticketsync.declare import schedule
from ticketsync.declare.refs import cited
from ticketsync.errors import PlanError
from ticketsync.model import (
    REMOVED,
    Action,
    Body,
    Create,
    Drift,
    FieldValues,
    Import,
    Plan,
    Project,
    Removal,
    State,
    StateEntry,
    Ticket,
    Update,
)
from ticketsync.plan import adoption, references
from ticketsync.stackone.api import RemoteTicket
from ticketsync.stackone.tickets import (
    CUSTOM,
    complete,
    custom_key,
    flat,
    is_empty,
    same,
    settle_pending,
    status_is,
)

#: Fields StackOne's update request does not have: a changed declaration cannot be applied.
FIXED_FIELDS = ("creator_id", "organization_id", "type")


def build_plan(
    project: Project,
    state: State,
    *,
    updates: bool = True,
    removed: Action = Action.KEEP,
    max_creates: int = 200,
    max_removals: int = 20,
    refreshed: bool = False,
    marker: str | None = None,
    imported: Mapping[str, RemoteTicket] | None = None,
) -> Plan:
    """What apply would do to make the tracker and ``state`` match ``project``.

    * declared keys not in the state -> :class:`Create`, parents before children, then by
      key. A tracked parent's id goes straight into ``parent_id``; a parent created by the
      same plan is named in ``Create.parent`` and resolved at apply time.
    * tracked, declared keys: three values per field (design.md: writes): declared (the files),
      applied (the state), remote (the state's last read-back). Declared = applied:
      nothing to do (a tracker edit is drift). Changed in the files only: an update of
      that field. Changed on both sides: a conflict.
    * tracked keys no file declares -> a :class:`Removal` acting as ``removed`` says.

    ``marker``: the custom field the loader stamps each key into. It is stamped at
    creation; a ticket tracked without it (adopted by export or ``state import``) keeps
    what it has: the marker serves to recognise a lost create, which such a ticket is not.

    Declared moves and imports (README: moves) come first: the plan compares the state with
    the pending moves done (a renamed key is a move, never a close and a create) and with
    each pending import's ticket as read (``imported``: key -> the ticket read from the
    tracker), tracked as it holds it: a field the file declares otherwise is an update.
    An import not read (a plan made offline) is neither created nor updated yet.
    """
    if removed not in REMOVED:
        raise PlanError(f"removed: {removed!r} is not one of {', '.join(REMOVED)}")
    moves = adoption.pending_moves(state, project.moves)
    state = adoption.with_moves(state, moves)
    imports = adoption.found(state, adoption.pending_imports(state, project.imports),
                             imported or {})
    entries = import_entries(project, state, imports, imported or {}, marker)
    waiting = {item.key for item in imports if item.key not in entries}
    state = replace(state, tickets={**state.tickets, **entries})
    tracked = state.tickets
    # Recurring templates (README: recurring): past periods' instances are held, not removed;
    # ``previous: close`` retires the last one through the removal path below.
    declared, selection = schedule.weigh(project, tracked)
    retired = selection.retired or {}
    creates: dict[str, Create] = {}
    changes: list[Update] = []
    drift: list[Drift] = []
    unchanged = 0
    for key, ticket in declared.items():
        entry = tracked.get(key)
        if key in waiting:
            continue  # an import not read yet: its changes are known once it is
        if entry is None:
            creates[key] = create_for(ticket, project, state)
            continue
        update, seen = _compare(ticket, entry, project, state, marker)
        if seen is not None:
            drift.append(seen)
        if update is not None:
            changes.append(update)
        elif seen is None or not seen.deleted:
            unchanged += 1
    removals = [
        Removal(key, entry.id, action, str(entry.applied.get("title", "")),
                entry.ticket_number, entry.ticket_url, status_name(entry.status))
        for key, entry in sorted(tracked.items()) if key not in declared
        for action in [_removal(entry, retired.get(key, removed))] if action is not None
    ]
    return Plan(
        creates=_parents_first(creates),
        updates=tuple(sorted(changes, key=lambda u: u.key)),
        unchanged=unchanged,
        drift=tuple(sorted(drift, key=lambda d: d.key)),
        removals=tuple(removals),
        updates_enabled=updates,
        max_creates=max_creates,
        max_removals=max_removals,
        lineage=state.lineage,
        serial=state.serial,
        inputs_digest=project.digest,
        refreshed=refreshed,
        extra={"skipped": dict(selection.skipped)} if selection.skipped else {},
        moves=moves,
        imports=imports,
        recurring=frozenset(project.recurring),
    )


def import_entries(project: Project, state: State, imports: Iterable[Import],
                   read: Mapping[str, RemoteTicket],
                   marker: str | None = None) -> dict[str, StateEntry]:
    """The state entries of the ``imports`` whose ticket was ``read`` (key -> ticket):
    what apply records (journaled) before it sends anything. ``state``: moves done."""
    entries: dict[str, StateEntry] = {}
    for item in imports:
        ticket, remote = project.tickets.get(item.key), read.get(item.key)
        if ticket is None or remote is None:
            continue
        desired = _without_marker(desired_body(ticket, project, state, {}), {}, marker)
        entries[item.key] = adoption.imported_entry(desired, remote)
    return entries


def over_max_creates(plan: Plan) -> bool:
    """Whether ``plan`` trips the ``max_creates`` brake (apply refuses it without --force)."""
    return len(plan.creates) > plan.max_creates


def removal_count(plan: Plan) -> int:
    """How many tickets ``plan`` closes or forgets: what ``max_removals`` brakes. (A forget
    sends nothing, but a file moved away by mistake must not drop the state's record of
    every ticket: moving it back would create them all again.)"""
    return sum(r.action in (Action.CLOSE, Action.FORGET) for r in plan.removals)


def over_max_removals(plan: Plan) -> bool:
    """Whether ``plan`` closes or forgets more than ``max_removals`` tickets (refused
    without --force)."""
    return removal_count(plan) > plan.max_removals


def _removal(entry: StateEntry, removed: Action | Literal["hold"]) -> Action | None:
    """What ``removed`` does with an undeclared tracked ticket (None: nothing to say).

    Only ``close`` sends anything, and never to a ticket that is already closed or gone:
    one closed in the tracker keeps the status a person chose ("Won't Do" is not turned
    into "Done"), one deleted there needs nothing; both are settled (marked closed in the
    state, never closed again). One ticketsync closed is settled already.
    """
    if removed == "hold":  # a past period's instance (README: recurring): history, left alone
        return None
    if removed == Action.FORGET:
        return Action.FORGET
    if entry.closed:
        return None
    if removed == Action.KEEP:
        return Action.KEEP
    if entry.deleted or (entry.status is not None and entry.status.get("type") == "closed"):
        return Action.SETTLE
    return Action.CLOSE


def status_name(status: Mapping[str, Any] | None) -> str | None:
    """How a plan names a status as last read: its name, else its type (None: unknown)."""
    if not status:
        return None
    shown = status.get("name") or status.get("type")
    return shown if isinstance(shown, str) else None


def create_for(ticket: Ticket, project: Project, state: State) -> Create:
    """The create of an untracked ``ticket``: its body as it will be sent (references to
    tracked tickets resolved, a tracked parent's id in), or its parent to wait for."""
    # References to tracked tickets resolved now; to tickets this plan creates, at apply.
    body = references.resolved(ticket.body, state.tickets, project.tickets)
    unknown = [key for key in cited(body, project.tickets) if key not in project.tickets]
    if unknown:
        raise PlanError(f"{ticket.location}: {ticket.key}: {{ref:{unknown[0]}}}: "
                        f"'{unknown[0]}' is neither declared nor in the state")
    parent = ticket.parent
    if parent is None:
        return Create(ticket.key, body, ticket.location, status=ticket.status,
                      origin=ticket.origin)
    parent_entry = state.tickets.get(parent)
    if parent_entry is not None:
        return Create(ticket.key, {**body, "parent_id": parent_entry.id},
                      ticket.location, status=ticket.status, origin=ticket.origin)
    if parent not in project.tickets:
        raise PlanError(
            f"{ticket.location}: {ticket.key}: parent {parent!r} is neither declared nor "
            "in the state"
        )
    return Create(ticket.key, body, ticket.location, parent=parent, status=ticket.status,
                  origin=ticket.origin)


def desired_body(ticket: Ticket, project: Project, state: State,
                 applied: Mapping[str, Any]) -> Body:
    """The body a tracked ticket should have: its declaration, parent id and status in."""
    # References resolved from the state (README: references): compared as they will be sent.
    body: dict[str, Any] = dict(references.resolved(ticket.body, state.tickets,
                                                    project.tickets))
    parent = ticket.parent
    if parent is not None:
        parent_entry = state.tickets.get(parent)
        if parent_entry is not None:
            body["parent_id"] = parent_entry.id
        elif "parent_id" in applied:
            # The parent is declared but not tracked (e.g. `state rm`'d): its id is unknown
            # until it is created, so the child's parent_id cannot be said to have changed.
            body["parent_id"] = applied["parent_id"]
    if ticket.status is not None:
        body["status"] = ticket.status
    elif "status" in applied:
        body["status"] = applied["status"]  # no longer declared: left where it is
    return body


def _reopened(body: Body, entry: StateEntry) -> Body:
    """A ticket that ``removed: close`` closed, declared again: back to its declared status,
    or to ``to-do`` when none is declared (the close was ticketsync's, so is the reopen)."""
    if not entry.closed or body.get("status") not in (None, "closed"):
        return body
    return {**body, "status": "to-do"}


def _compare(
    ticket: Ticket, entry: StateEntry, project: Project, state: State, marker: str | None
) -> tuple[Update | None, Drift | None]:
    """The three-way comparison of one tracked, declared ticket, field by field (each
    custom field on its own): declared (files), applied (state), tracker (last read).

    * declared = applied: nothing to send; a tracker value that differs is drift.
    * declared != applied: sent when the tracker still holds what was applied, or holds
      the declared value already, or (a field ticketsync never set) holds nothing;
      otherwise a person changed it too: a conflict, never sent over their edit.
    * a tracker value never read (a ticket not read back since it was made by an older
      ticketsync): sent as declared; apply reads such tickets first
      (:func:`ticketsync.run.workspace.read_back`), so this only happens offline.
    """
    desired = _without_marker(desired_body(ticket, project, state, entry.applied),
                              entry.applied, marker)
    desired = _reopened(desired, entry)
    number, url = entry.ticket_number, entry.ticket_url
    if entry.deleted:
        return None, Drift(ticket.key, (), ticket.location, deleted=True, title=ticket.title,
                           number=number, url=url)
    mine_all, applied = flat(desired), flat(_applied(entry))
    remote = flat(entry.remote)
    whole = complete(entry.remote)
    fields, conflicts, fixed, drifted = [], [], [], []
    # What the plan shows of each field it names (the comparison below never reads it).
    values: dict[str, FieldValues] = {}
    for name in sorted(mine_all.keys() | applied.keys()):
        mine, before = mine_all.get(name), applied.get(name)
        if name == "status":
            known, theirs = entry.status is not None, entry.status
        else:
            known = name in remote or (whole and custom_key(name) is not None)
            theirs = remote.get(name)
        shown = status_name(theirs) if name == "status" else theirs
        values[name] = FieldValues(name, before, mine, shown if known else None)
        if mine == before and not references.waits_for(name, mine, project.tickets,
                                                        state.tickets):
            if known and before is not None and not same(name, before, theirs):
                drifted.append(name)
            continue
        if name in FIXED_FIELDS:
            fixed.append(name)
        elif (not known or same(name, mine, theirs)
              or (same(name, before, theirs) if before is not None else is_empty(name, theirs))):
            fields.append(name)
        else:
            conflicts.append(name)
    closed_there = bool(entry.status and entry.status.get("type") == "closed"
                        and not entry.closed  # closed by ticketsync: reopened above
                        and not (isinstance(desired.get("status"), str)
                                 and status_is(desired["status"], entry.status)))
    if "status" in drifted and closed_there:
        drifted.remove("status")
    drift = None
    if drifted or closed_there:
        drift = Drift(ticket.key, tuple(drifted), ticket.location, closed=closed_there,
                      title=ticket.title, number=number, url=url,
                      values=tuple(values[name] for name in drifted),
                      status=status_name(entry.status) if closed_there else None)
    if not (fields or conflicts or fixed):
        return None, drift
    base = entry.remote.get(CUSTOM) if whole else None
    return Update(ticket.key, entry.id, tuple(fields), desired, ticket.location,
                  tuple(conflicts), tuple(fixed), ticket.title, number, url,
                  custom_base=dict(base) if isinstance(base, Mapping) else {},
                  reopen=entry.closed and "status" in fields,
                  values=tuple(values[name] for name in sorted((*fields, *conflicts, *fixed)))
                  ), drift


def unread(project: Project, state: State, marker: str | None = None) -> list[str]:
    """The tracked, declared keys whose declaration changed a field whose tracker value
    was never read (a ticket last read by an older ticketsync, which kept only the fields
    it had applied): apply reads these tickets before planning, so that a field a person
    filled in is never replaced unseen. Sorted."""
    keys = []
    for key, ticket in project.tickets.items():
        entry = state.tickets.get(key)
        if entry is None or entry.deleted or complete(entry.remote):
            continue
        desired = flat(_reopened(_without_marker(
            desired_body(ticket, project, state, entry.applied), entry.applied, marker), entry))
        applied, remote = flat(_applied(entry)), flat(entry.remote)
        if any(desired.get(name) != applied.get(name) and name not in remote
               and name != "status" for name in desired.keys() | applied.keys()):
            keys.append(key)
    return sorted(keys)


def _without_marker(desired: Body, applied: Mapping[str, Any], marker: str | None) -> Body:
    """``desired`` without the marker when the ticket was never stamped with it."""
    custom = desired.get("unified_custom_fields")
    stamped = applied.get("unified_custom_fields")
    if marker is None or not isinstance(custom, Mapping) or marker not in custom or (
        isinstance(stamped, Mapping) and marker in stamped
    ):
        return desired
    rest = {name: value for name, value in custom.items() if name != marker}
    trimmed = {name: value for name, value in desired.items() if name != "unified_custom_fields"}
    if rest or "unified_custom_fields" in applied:
        trimmed["unified_custom_fields"] = rest
    return trimmed


def _applied(entry: StateEntry) -> Mapping[str, Any]:
    """What was last applied, counting an update whose outcome was unknown as applied
    where the tracker now shows exactly what it sent (that write was ours)."""
    if not entry.pending:
        return entry.applied
    return settle_pending(entry.applied, entry.pending, entry.remote, entry.status)[0]


def _parents_first(creates: Mapping[str, Create]) -> tuple[Create, ...]:
    """Kahn's topological order of the creates, the smallest ready key first: a parent,
    and a ticket another one's text cites (README: references), before it."""
    children: dict[str, list[str]] = {}
    waiting: dict[str, int] = {}
    # A parent not created by this plan is tracked by the time apply sends the child
    # (an import read at apply time, when the plan was made offline).
    for key, before in references.order(creates).waits.items():
        for first in before:
            children.setdefault(first, []).append(key)
        if before:
            waiting[key] = len(before)
    for later in children.values():
        later.sort()
    ready = [key for key in creates if key not in waiting]
    heapq.heapify(ready)
    ordered: list[Create] = []
    while ready:
        key = heapq.heappop(ready)
        ordered.append(creates[key])
        for child in children.get(key, ()):
            waiting[child] -= 1
            if not waiting[child]:
                heapq.heappush(ready, child)
    if len(ordered) != len(creates):
        stuck = sorted(set(creates) - {c.key for c in ordered})
        raise PlanError(
            f"parent cycle among {', '.join(stuck)}: each ticket needs its parent first"
        )
    return tuple(ordered)
