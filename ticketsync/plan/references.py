"""References between tickets in a plan (README: references): resolved from the state, and the
order they impose on the creates. Pure, like the planner.

A reference to a tracked ticket is resolved when the plan is made, so the plan compares
(and a reviewer reads) the text as it will be sent: a reference never causes a perpetual
diff, and a number that changes re-resolves to a new text, an update. A reference to a
ticket the same plan creates stays a placeholder in the body, resolved by apply once that
ticket exists (:func:`order`): the plan names it, and the cited ticket is created first.
When references form a cycle, one of them cannot wait: that ticket is created with the
placeholder and a PATCH fills it in right after (``later``).
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ticketsync.declare.refs import Target, cited, has_ref, resolve_body
from ticketsync.model import Body, Create, StateEntry


def target_of(entry: StateEntry) -> Target:
    """What a reference to a tracked ticket says: its number (else its id), its URL, its
    title as last applied (the resolved text that was sent)."""
    title = entry.applied.get("title")
    return Target(entry.ticket_number or entry.id, entry.ticket_url or "",
                  title if isinstance(title, str) else "")


class Tracked(Mapping[str, Target]):
    """The state's tickets as reference targets, made on demand (most texts cite none)."""

    def __init__(self, tickets: Mapping[str, StateEntry]) -> None:
        self._tickets = tickets

    def __getitem__(self, key: str) -> Target:
        return target_of(self._tickets[key])

    def __contains__(self, key: object) -> bool:
        return key in self._tickets

    def __iter__(self) -> Iterator[str]:
        return iter(self._tickets)

    def __len__(self) -> int:
        return len(self._tickets)


def resolved(body: Body, tickets: Mapping[str, StateEntry], declared: Collection[str]) -> Body:
    """``body`` with its references to tracked tickets resolved."""
    return resolve_body(body, Tracked(tickets), Keys(declared, tickets))


class Keys(Collection[str]):
    """Every key a reference may name: declared or tracked (a key holding a dot wins over
    ``KEY.url``)."""

    def __init__(self, *parts: Collection[str]) -> None:
        self._parts = parts

    def __contains__(self, key: object) -> bool:
        return any(key in part for part in self._parts)

    def __iter__(self) -> Iterator[str]:
        for part in self._parts:
            yield from part

    def __len__(self) -> int:
        return sum(len(part) for part in self._parts)


@dataclass(frozen=True)
class Order:
    """What the references of a plan's creates ask of apply: ``waits``, for each create,
    the creates that must exist before it is sent (its parent, the tickets its texts
    cite); ``later``, the cited creates it cannot wait for (a cycle): sent with their
    placeholders, then filled in by one PATCH once they exist."""

    waits: Mapping[str, frozenset[str]]
    later: Mapping[str, frozenset[str]]


def order(creates: Mapping[str, Create]) -> Order:
    """Which creates wait for which. Linear in the creates: only texts holding a
    placeholder are read, and cycles are found in one pass (Tarjan's components).

    In a cycle, its tickets are taken parents first, then by key; a ticket waits for the
    cycle's tickets before it and leaves those after it to the PATCH: so a cycle of two
    costs one PATCH, and the fill-ins are as few as this simple order allows.
    """
    cites = {key: found for key, c in creates.items()
             if has_ref(c.body) for found in [{k for k in cited(c.body, creates)
                                                 if k in creates}] if found}
    if not cites:  # the common case: parents only, which the planner checks for cycles
        return Order({key: frozenset((c.parent,)) for key, c in creates.items()
                      if c.parent is not None and c.parent in creates}, {})
    cites.update((key, set()) for key in creates.keys() - cites.keys())
    edges: dict[str, set[str]] = {
        key: cites[key] | ({c.parent} if c.parent is not None and c.parent in creates else set())
        for key, c in creates.items() if c.parent in creates or cites[key]}
    component = _components(edges)
    rank = _ranks(creates, component)
    waits: dict[str, frozenset[str]] = {}
    later: dict[str, frozenset[str]] = {}
    for key, out in edges.items():
        c = creates[key]
        fill = {k for k in cites[key] if k != c.parent and key in component
                and component.get(k) == component[key] and rank[k] >= rank[key]}
        waits[key] = frozenset(out - fill)
        if fill:
            later[key] = frozenset(fill)
    return Order(waits, later)


def _ranks(creates: Mapping[str, Create], component: Mapping[str, int]) -> dict[str, int]:
    """Within each cycle, each ticket's place: parents before children, then by key."""
    members: dict[int, list[str]] = {}
    for key, comp in component.items():
        members.setdefault(comp, []).append(key)
    rank: dict[str, int] = {}
    for keys in members.values():
        inside = set(keys)
        waiting = {k: 1 for k in keys if creates[k].parent in inside}
        children: dict[str, list[str]] = {}
        for k in waiting:
            children.setdefault(str(creates[k].parent), []).append(k)
        ready = [k for k in keys if k not in waiting]
        heapq.heapify(ready)
        while ready:
            k = heapq.heappop(ready)
            rank[k] = len(rank)
            for child in children.get(k, ()):
                heapq.heappush(ready, child)
        for k in keys:  # a parent cycle: refused by the planner's own order, after this
            rank.setdefault(k, len(rank))
    return rank


def _components(edges: Mapping[str, set[str]]) -> dict[str, int]:
    """Tarjan's strongly connected components of ``edges``, iteratively: key -> its
    component, for the keys in a cycle (a ticket citing itself included)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: dict[str, int] = {}
    count = 0
    for root in sorted(edges):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, nexts = work[-1]
            step = next(nexts, None)
            if step is not None:
                if step not in index:
                    index[step] = low[step] = len(index)
                    stack.append(step)
                    on_stack.add(step)
                    work.append((step, iter(sorted(edges.get(step, ())))))
                elif step in on_stack:
                    low[node] = min(low[node], index[step])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                members = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    members.append(member)
                    if member == node:
                        break
                if len(members) > 1 or node in edges.get(node, ()):
                    for member in members:
                        found[member] = count
                    count += 1
    return found


def waits_for(name: str, value: Any, declared: Collection[str],
              tracked: Mapping[str, StateEntry]) -> bool:
    """Whether the ``name`` field of a tracked ticket, as declared and as applied, still
    holds a reference to a ticket not created yet: a cycle's fill-in that a stopped run
    never sent. It is sent (resolved by apply, once that ticket exists), not left for a
    second run."""
    if name not in ("title", "content") or "{ref:" not in str(value):
        return False
    return any(key in declared and key not in tracked
               for key in cited({name: value}, Keys(declared, tracked)))
