"""``moved:`` and ``imports:`` blocks (the README's "Moves and imports, declared"): renames and
adoptions, by review.

A ticket file may say that a key was renamed (``moved: [{from: a, to: b}]``) or that an
existing ticket is to be tracked as a declared key (``imports: [{to: k, number: N}]``).
What can be checked offline is checked here, with the declared keys of the whole project,
and reported with every other problem: a ``from`` still declared (the move would take the
ticket away from it), a ``to`` not declared, a move chained to another (``a -> b``,
``b -> c``) or a cycle (the order they run in would change the result), two moves or
imports of one key or one ticket, and a key both moved to and imported. What needs the
state (already applied, already tracked) or the tracker (not found) is the planner's
and the run's.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from ticketsync.declare import yamlio
from ticketsync.model import Import, Move, Problem, is_valid_key


def read_blocks(doc: yamlio.Document) -> tuple[list[Move], list[Import], list[Problem]]:
    """A file's moves and imports, each located at its item, and what is wrong with them
    that the schema does not say (an import with both or neither of ``number`` and ``id``).

    Items the schema refuses (not a mapping, an invalid key) are left out: the schema's
    own problems report them.
    """
    data = doc.data if isinstance(doc.data, dict) else {}
    moves: list[Move] = []
    imports: list[Import] = []
    problems: list[Problem] = []
    for index, item in _items(data.get("moved")):
        source, target = item.get("from"), item.get("to")
        if isinstance(source, str) and isinstance(target, str) and is_valid_key(source) \
                and is_valid_key(target):
            moves.append(Move(source, target, doc.locate(("moved", index))))
    for index, item in _items(data.get("imports")):
        key, number, ticket_id = item.get("to"), item.get("number"), item.get("id")
        if not isinstance(key, str) or not is_valid_key(key):
            continue
        where = doc.locate(("imports", index))
        if (number is None) == (ticket_id is None):
            both = "not both" if number is not None else "one of them"
            problems.append(Problem(where, f"imports[{index}]", (
                f"give the ticket's number (number: PLAT-123) or its StackOne id (id: ...), "
                f"{both}")))
            continue
        if isinstance(number, str) or isinstance(ticket_id, str):  # else: the schema's
            imports.append(Import(key, number if isinstance(number, str) else None,
                                  ticket_id if isinstance(ticket_id, str) else None, where))
    return moves, imports, problems


def _items(block: Any) -> list[tuple[int, Mapping[str, Any]]]:
    if not isinstance(block, list):
        return []
    return [(index, item) for index, item in enumerate(block) if isinstance(item, dict)]


def check(moves: list[Move], imports: list[Import],
          declared: Collection[str]) -> list[Problem]:
    """The project-wide problems of ``moves`` and ``imports`` given the ``declared`` keys,
    each located at its item."""
    problems: list[Problem] = []

    def problem(item: Move | Import, message: str) -> None:
        assert item.location is not None
        block = "moved" if isinstance(item, Move) else "imports"
        problems.append(Problem(item.location, block, message))

    first_from: dict[str, Move] = {}
    first_to: dict[str, Move] = {}
    for move in moves:
        if move.source == move.target:
            problem(move, f"moves {move.source} to itself: nothing to move")
            continue
        if move.source in declared:
            problem(move, (f"{move.source} is still declared: a move takes its ticket away "
                           f"from it; rename the declaration to {move.target}, or drop the "
                           "move"))
        if move.target not in declared:
            problem(move, (f"{move.target} is not declared: declare it (the ticket's new "
                           "key), or drop the move"))
        for seen, mine, side in ((first_from, move.source, "from"),
                                 (first_to, move.target, "to")):
            other = seen.setdefault(mine, move)
            if other is not move:
                problem(move, f"{mine} is moved twice ({side} here and at {other.location})")
    for move in moves:
        after = first_from.get(move.target)
        if after is not None and after is not move and move.source != move.target:
            if after.target == move.source:
                problem(move, (f"a cycle: {move.source} -> {move.target} -> "
                               f"{move.source} (at {after.location}); a move of a key to "
                               "its own old key needs no block: drop both"))
            else:
                problem(move, (f"a chain: {move.source} -> {move.target} -> {after.target} "
                               f"(at {after.location}); move {move.source} straight to "
                               f"{after.target} and drop the step between"))
    by_key: dict[str, Import] = {}
    by_ticket: dict[tuple[str, str], Import] = {}
    for item in imports:
        if item.key not in declared:
            problem(item, (f"{item.key} is not declared: declare the ticket it is imported "
                           "as (its fields are what apply makes the ticket hold)"))
        if item.key in first_to:
            problem(item, (f"{item.key} is also the target of a move (at "
                           f"{first_to[item.key].location}): one ticket, one key"))
        twin = by_key.setdefault(item.key, item)
        if twin is not item:
            problem(item, f"{item.key} is imported twice (also at {twin.location})")
        ticket = ("number", item.number) if item.number is not None else ("id", item.id or "")
        twin = by_ticket.setdefault(ticket, item)
        if twin is not item:
            problem(item, (f"{ticket[0]} {ticket[1]} is imported twice (as {twin.key} at "
                           f"{twin.location}): one ticket, one key"))
    return problems
