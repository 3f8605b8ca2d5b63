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
from ticketsync.model import Body, Create, Plan, Project, State, Ticket, Update


def build_plan(
    project: Project, state: State, *, updates: bool = False, max_creates: int = 200
) -> Plan:
    """What apply would do to make ``state`` match ``project``.

    * declared keys not in the state -> :class:`Create`, parents before children, then by
      key. A tracked parent's id goes straight into ``parent_id``; a parent created by the
      same plan is named in ``Create.parent`` and resolved at apply time.
    * tracked, declared keys whose desired body differs from the body last applied ->
      :class:`Update` (acted on only when ``updates``); the others count as unchanged.
    * tracked keys no file declares -> ``undeclared``: reported, never deleted.
    """
    tracked = state.tickets
    creates: dict[str, Create] = {}
    changes: list[Update] = []
    unchanged = 0
    for key, ticket in project.tickets.items():
        entry = tracked.get(key)
        if entry is None:
            creates[key] = _create(ticket, project, state)
            continue
        desired = _desired_body(ticket, project, state, entry.applied)
        fields = _changed_fields(desired, entry.applied)
        if fields:
            changes.append(Update(key, entry.id, fields, desired, ticket.location))
        else:
            unchanged += 1
    return Plan(
        creates=_parents_first(creates),
        updates=tuple(sorted(changes, key=lambda u: u.key)),
        unchanged=unchanged,
        undeclared=tuple(sorted(k for k in tracked if k not in project.tickets)),
        updates_enabled=updates,
        max_creates=max_creates,
        lineage=state.lineage,
        serial=state.serial,
        inputs_digest=project.digest,
    )


def over_max_creates(plan: Plan) -> bool:
    """Whether ``plan`` trips the ``max_creates`` brake (apply refuses it without --force)."""
    return len(plan.creates) > plan.max_creates


def _create(ticket: Ticket, project: Project, state: State) -> Create:
    parent = ticket.parent
    if parent is None:
        return Create(ticket.key, ticket.body, ticket.location)
    parent_entry = state.tickets.get(parent)
    if parent_entry is not None:
        return Create(ticket.key, {**ticket.body, "parent_id": parent_entry.id}, ticket.location)
    if parent not in project.tickets:
        raise PlanError(
            f"{ticket.location}: {ticket.key}: parent {parent!r} is neither declared nor "
            "in the state"
        )
    return Create(ticket.key, ticket.body, ticket.location, parent=parent)


def _desired_body(
    ticket: Ticket, project: Project, state: State, applied: Mapping[str, Any]
) -> Body:
    parent = ticket.parent
    if parent is None:
        return ticket.body
    parent_entry = state.tickets.get(parent)
    if parent_entry is not None:
        return {**ticket.body, "parent_id": parent_entry.id}
    # The parent is declared but not tracked (e.g. `state rm`'d): its id is unknown until
    # it is created, so the child's parent_id cannot be said to have changed yet.
    if "parent_id" in applied:
        return {**ticket.body, "parent_id": applied["parent_id"]}
    return ticket.body


def _changed_fields(desired: Mapping[str, Any], applied: Mapping[str, Any]) -> tuple[str, ...]:
    if desired == applied:  # the common case: one C-level comparison
        return ()
    names = desired.keys() | applied.keys()
    return tuple(sorted(n for n in names if desired.get(n) != applied.get(n)))


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
