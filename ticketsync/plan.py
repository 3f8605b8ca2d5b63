"""The planner: a pure function of (project, state) -> :class:`Plan`.

Pure means no files, no clock, no network, no randomness: the same inputs give an equal
Plan, and every rendering of it is byte-identical. ``plan`` and ``apply`` both start here,
so what a reviewer approved in a pull request is what apply does. It imports the model and
its errors only; the plan's JSON document lives with saved plans (:mod:`ticketsync.planfile`).
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from typing import Any

from ticketsync.errors import PlanError
from ticketsync.model import (
    Body,
    Create,
    Drift,
    Plan,
    Project,
    Removal,
    State,
    StateEntry,
    Ticket,
    Update,
)
from ticketsync.remote import same, status_is

#: What ``removed:`` may say (SPEC §5.2).
REMOVED = ("keep", "close", "forget")
#: Fields StackOne's update request does not have: a changed declaration cannot be applied.
FIXED_FIELDS = ("creator_id", "organization_id", "type")


def build_plan(
    project: Project,
    state: State,
    *,
    updates: bool = True,
    removed: str = "keep",
    max_creates: int = 200,
    max_removals: int = 20,
    refreshed: bool = False,
    marker: str | None = None,
) -> Plan:
    """What apply would do to make the tracker and ``state`` match ``project``.

    * declared keys not in the state -> :class:`Create`, parents before children, then by
      key. A tracked parent's id goes straight into ``parent_id``; a parent created by the
      same plan is named in ``Create.parent`` and resolved at apply time.
    * tracked, declared keys: three values per field (SPEC §5.2): declared (the files),
      applied (the state), remote (the state's last read-back). Declared = applied:
      nothing to do (a tracker edit is drift). Changed in the files only: an update of
      that field. Changed on both sides: a conflict.
    * tracked keys no file declares -> a :class:`Removal` acting as ``removed`` says.

    ``marker``: the custom field the loader stamps each key into. It is stamped at
    creation; a ticket tracked without it (adopted by export or ``state import``) keeps
    what it has: the marker serves to recognise a lost create, which such a ticket is not.
    """
    if removed not in REMOVED:
        raise PlanError(f"removed: {removed!r} is not one of {', '.join(REMOVED)}")
    tracked = state.tickets
    creates: dict[str, Create] = {}
    changes: list[Update] = []
    drift: list[Drift] = []
    unchanged = 0
    for key, ticket in project.tickets.items():
        entry = tracked.get(key)
        if entry is None:
            creates[key] = _create(ticket, project, state)
            continue
        update, seen = _compare(ticket, entry, project, state, marker)
        if seen is not None:
            drift.append(seen)
        if update is not None:
            changes.append(update)
        elif seen is None or not seen.deleted:
            unchanged += 1
    removals = [
        Removal(key, entry.id, "keep" if entry.closed and removed == "close" else removed,
                str(entry.applied.get("title", "")), entry.ticket_number, entry.ticket_url)
        for key, entry in sorted(tracked.items()) if key not in project.tickets
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
    )


def over_max_creates(plan: Plan) -> bool:
    """Whether ``plan`` trips the ``max_creates`` brake (apply refuses it without --force)."""
    return len(plan.creates) > plan.max_creates


def over_max_removals(plan: Plan) -> bool:
    """Whether ``plan`` closes more than ``max_removals`` tickets (refused without --force)."""
    return sum(r.action == "close" for r in plan.removals) > plan.max_removals


def _create(ticket: Ticket, project: Project, state: State) -> Create:
    parent = ticket.parent
    if parent is None:
        return Create(ticket.key, ticket.body, ticket.location, status=ticket.status,
                      origin=ticket.origin)
    parent_entry = state.tickets.get(parent)
    if parent_entry is not None:
        return Create(ticket.key, {**ticket.body, "parent_id": parent_entry.id},
                      ticket.location, status=ticket.status, origin=ticket.origin)
    if parent not in project.tickets:
        raise PlanError(
            f"{ticket.location}: {ticket.key}: parent {parent!r} is neither declared nor "
            "in the state"
        )
    return Create(ticket.key, ticket.body, ticket.location, parent=parent, status=ticket.status,
                  origin=ticket.origin)


def desired_body(ticket: Ticket, project: Project, state: State,
                 applied: Mapping[str, Any]) -> Body:
    """The body a tracked ticket should have: its declaration, parent id and status in."""
    body: dict[str, Any] = dict(ticket.body)
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


def _compare(
    ticket: Ticket, entry: StateEntry, project: Project, state: State, marker: str | None
) -> tuple[Update | None, Drift | None]:
    """The three-way comparison of one tracked, declared ticket."""
    desired = _without_marker(desired_body(ticket, project, state, entry.applied),
                              entry.applied, marker)
    applied = _applied(entry)
    number, url = entry.ticket_number, entry.ticket_url
    if entry.deleted:
        return None, Drift(ticket.key, (), ticket.location, deleted=True, title=ticket.title,
                           number=number, url=url)
    remote = {**entry.remote, **({"status": entry.status} if entry.status else {})}
    known = bool(entry.remote)  # never read back: no tracker edit can be known
    fields, conflicts, fixed, drifted = [], [], [], []
    for name in sorted(desired.keys() | applied.keys()):
        mine, before = desired.get(name), applied.get(name)
        theirs_changed = known and name in remote and not same(name, before, remote[name])
        if name == "status" and before is None:
            theirs_changed = False  # never set: the tracker's default is nobody's edit
        if mine == before:
            if theirs_changed:
                drifted.append(name)
            continue
        if name in FIXED_FIELDS:
            fixed.append(name)
        elif theirs_changed and not same(name, mine, remote[name]):
            conflicts.append(name)
        else:  # changed here only, or the tracker already says the same: sent (harmless)
            fields.append(name)
    closed_there = bool(entry.status and entry.status.get("type") == "closed"
                        and not (isinstance(desired.get("status"), str)
                                 and status_is(desired["status"], entry.status)))
    if "status" in drifted and closed_there:
        drifted.remove("status")
    drift = None
    if drifted or closed_there:
        drift = Drift(ticket.key, tuple(drifted), ticket.location, closed=closed_there,
                      title=ticket.title, number=number, url=url)
    if not (fields or conflicts or fixed):
        return None, drift
    return Update(ticket.key, entry.id, tuple(fields), desired, ticket.location,
                  tuple(conflicts), tuple(fixed), ticket.title, number, url), drift


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


def _applied(entry: StateEntry) -> dict[str, Any]:
    """What was last applied, counting an update whose outcome was unknown as applied
    where the tracker now shows exactly what it sent (that write was ours)."""
    applied = dict(entry.applied)
    for name, value in entry.pending.items():
        if name in entry.remote and same(name, value, entry.remote[name]):
            applied[name] = value
    return applied


def _parents_first(creates: Mapping[str, Create]) -> tuple[Create, ...]:
    """Kahn's topological order of the creates, the smallest ready key first."""
    children: dict[str, list[str]] = {}
    waiting: dict[str, int] = {}
    for key, create in creates.items():
        if create.parent is not None:
            children.setdefault(create.parent, []).append(key)
            waiting[key] = 1
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
