"""Declared moves and imports against the state (the README's "Moves and imports, declared"): which
are still to do.

Pure, like the planner that uses it: the state and the tickets read from the tracker in,
the pending moves and imports out, or every reason they cannot be done, located at their
item (an :class:`InputError`: one line each, all at once).

A move is pending while its ``from`` is tracked and its ``to`` is not; once applied
(``to`` tracked, ``from`` gone) or when there is nothing to move, it does nothing, so it
may stay in the file. An import is pending while its ``to`` is not tracked; once applied
(``to`` tracks that very ticket) it does nothing. A ticket is tracked under one key only:
importing one the state tracks under any key is refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from ticketsync.errors import InputError
from ticketsync.model import Body, Import, Location, Move, Problem, State, StateEntry
from ticketsync.stackone.api import RemoteTicket
from ticketsync.stackone.tickets import flat, is_empty, nest, same


def problem(item: Move | Import, message: str) -> Problem:
    """A problem of a move or an import, located at its item."""
    block = "moved" if isinstance(item, Move) else "imports"
    return Problem(item.location or Location("?"), block, message)


def pending_moves(state: State, moves: Iterable[Move]) -> tuple[Move, ...]:
    """The moves still to do on ``state``; :class:`InputError` for a move onto a key the
    state tracks as another ticket."""
    pending: list[Move] = []
    problems: list[Problem] = []
    for move in moves:
        source, target = state.tickets.get(move.source), state.tickets.get(move.target)
        if source is not None and target is not None:
            problems.append(problem(move, (
                f"{move.target} is tracked already (id {target.id}), and so is "
                f"{move.source} (id {source.id}): `ticketsync state rm {move.target}` first "
                "if its entry is wrong, else drop the move")))
        elif source is not None:
            pending.append(move)
    if problems:
        raise InputError(problems)
    return tuple(pending)


def with_moves(state: State, moves: Iterable[Move]) -> State:
    """``state`` with each of the (pending) ``moves`` done: the entry renamed."""
    tickets = dict(state.tickets)
    for move in moves:
        if move.source in tickets and move.target not in tickets:
            tickets[move.target] = tickets.pop(move.source)
    return replace(state, tickets=tickets)


def pending_imports(state: State, imports: Iterable[Import]) -> tuple[Import, ...]:
    """The imports still to do on ``state`` (moves done); :class:`InputError` for one
    whose key tracks another ticket, or whose ticket is tracked (known from the file's
    ``id``, or a ``number`` the state recorded)."""
    by_id = {entry.id: key for key, entry in state.tickets.items()}
    by_number = {entry.ticket_number: key for key, entry in state.tickets.items()
                 if entry.ticket_number}
    pending: list[Import] = []
    problems: list[Problem] = []
    for item in imports:
        entry = state.tickets.get(item.key)
        if entry is not None:
            if entry.id == item.id or (item.number and entry.ticket_number == item.number):
                continue  # applied: nothing to do
            problems.append(problem(item, (
                f"{item.key} is tracked already, as another ticket ({_named(entry)}): "
                f"import {item.label} as another key, or `ticketsync state rm {item.key}` "
                "first if that entry is wrong")))
            continue
        owner = by_id.get(item.id or "") or by_number.get(item.number or "")
        if owner is not None:
            problems.append(_tracked(item, item.label, owner))
            continue
        pending.append(item)
    if problems:
        raise InputError(problems)
    return tuple(pending)


def _named(entry: StateEntry) -> str:
    return f"{entry.ticket_number}, id {entry.id}" if entry.ticket_number else f"id {entry.id}"


def _tracked(item: Import, ticket: str, owner: str) -> Problem:
    return problem(item, (
        f"{ticket} is tracked already, as {owner}: one ticket, one key (a `moved:` "
        f"block from {owner} to {item.key} renames it)"))


def found(state: State, pending: Sequence[Import],
          read: Mapping[str, RemoteTicket]) -> tuple[Import, ...]:
    """``pending`` with what the tracker said of each (``read``: key -> the ticket as
    read): its id, number and title. :class:`InputError` for a ticket the state tracks
    under another key (an import by number: its id is known only now)."""
    owners = {entry.id: key for key, entry in state.tickets.items()}
    problems: list[Problem] = []
    done: list[Import] = []
    for item in pending:
        ticket = read.get(item.key)
        if ticket is None:
            done.append(item)
            continue
        if ticket.id in owners:
            problems.append(_tracked(item, item.label, owners[ticket.id]))
            continue
        done.append(replace(item, id=ticket.id, number=item.number or ticket.ticket_number,
                            title=ticket.title or ""))
    if problems:
        raise InputError(problems)
    return tuple(done)


def imported_entry(desired: Body, ticket: RemoteTicket) -> StateEntry:
    """The state entry of an imported ticket, given its ``desired`` body (declaration,
    parent id and status in): what the tracker holds is both the last applied and the last
    read side of every field the file declares (the README's "Moves and imports, declared"), so a
    field declared otherwise is an update, never a conflict, and a field the file does not declare
    is never touched.
    """
    status = ticket.status
    read = flat(ticket.values)
    applied: dict[str, Any] = {}
    for name, mine in flat(desired).items():
        theirs = status if name == "status" else read.get(name)
        if same(name, mine, theirs):
            applied[name] = mine  # as declared: a reshaping by the tracker is no change
        elif name == "status":
            if status and status["name"] is not None:
                applied[name] = status["name"]
        elif not is_empty(name, theirs):
            applied[name] = theirs
    return StateEntry(
        id=ticket.id,
        remote_id=ticket.remote_id,
        created_at=ticket.created_text or "",
        applied=nest(applied),
        ticket_number=ticket.ticket_number,
        ticket_url=ticket.ticket_url,
        status=status,
        remote=ticket.values,
    )
