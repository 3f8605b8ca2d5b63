"""The parents of a project's tickets: each one declared, and no cycle among them."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from ticketsync.declare import schema
from ticketsync.declare.hints import Hints
from ticketsync.declare.problems import dotted
from ticketsync.model import Location, Problem, Ticket


def check_parents(
    tickets: Mapping[str, Ticket],
    declared: Collection[str],
    parent_at: Mapping[str, Location],
) -> list[Problem]:
    """Unknown parents and parent cycles, each located at its ``parent`` value.

    Linear in the project: each unknown parent costs one "did you mean" lookup, and each
    ticket's chain of parents is walked once in all, however long the chains are.
    """
    problems: list[Problem] = []
    hints = Hints.for_keys(declared)
    siblings: dict[str, list[str]] = {}  # a template instance -> its tickets' names
    for ticket in tickets.values():
        if ticket.origin is not None:
            siblings.setdefault(ticket.origin, []).append(ticket.key.rsplit(".", 1)[1])
    for key in sorted(tickets):
        parent = tickets[key].parent
        if parent is not None and parent not in declared:
            close = _sibling(parent, siblings.get(tickets[key].origin or "", ()))
            close = close or hints.closest(parent)
            hint = f" (did you mean '{close}'?)" if close else ""
            problems.append(
                _parent_problem(
                    tickets[key], parent_at, f"'{parent}' is not a declared ticket key{hint}"
                )
            )
    walked: dict[str, int] = {}  # key -> the walk that reached it first
    for walk, start in enumerate(sorted(tickets)):
        chain: list[str] = []
        step: str | None = start
        while step is not None and step in tickets and step not in walked:
            walked[step] = walk
            chain.append(step)
            step = tickets[step].parent
        if step is not None and walked.get(step) == walk and step in tickets:
            # Back at a ticket of this very walk: the chain loops from there.
            cycle = chain[chain.index(step) :]
            problems.append(
                _parent_problem(
                    tickets[min(cycle)],
                    parent_at,
                    "parent cycle: " + " -> ".join([*_rotate(cycle), min(cycle)]),
                )
            )
    return problems


def _rotate(cycle: list[str]) -> list[str]:
    at = cycle.index(min(cycle))
    return cycle[at:] + cycle[:at]


def _sibling(parent: str, names: Collection[str]) -> str | None:
    """In a template, a parent names a ticket of the same template: a near miss of one."""
    if not names:
        return None
    import difflib

    close = difflib.get_close_matches(parent, sorted(names), n=1)
    return close[0] if close else None


def _parent_problem(ticket: Ticket, parent_at: Mapping[str, Location], message: str) -> Problem:
    location = parent_at.get(ticket.key, ticket.location)
    if ticket.origin is not None:  # written in a template: its path there
        path: schema.JsonPath = (
            "templates",
            ticket.origin.split(".", 1)[0],
            "tickets",
            ticket.key.rsplit(".", 1)[1],
            "parent",
        )
    else:
        path = ("tickets", ticket.key, "parent")
    return Problem(location, dotted(path), message)
