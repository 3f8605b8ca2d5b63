"""Templates: checklists that repeat, one set of tickets per item (SPEC §5.4).

A ticket file may hold ``templates:`` beside ``tickets:``::

    templates:
      onboarding:
        for_each:                      # item key -> values; a list of strings also works
          alice: {email: alice@example.com, start: "2026-12-07"}
        tickets:
          laptop:
            title: "Order a laptop for {item} (starts {start})"
            assignees: ["{email}"]
          accounts:
            title: "Create accounts for {item}"
            parent: laptop             # a ticket of the same instance

Each (item, ticket) becomes a ticket keyed ``TEMPLATE.ITEM.TICKET``: adding an item plans
only its tickets, reordering or reformatting changes nothing, removing one leaves its
tickets undeclared (``removed:`` decides). ``{item}`` and the item's own values are the
only placeholders; ``{{`` and ``}}`` are literal braces. No expressions, no code, no
environment: a placeholder is a name, replaced by text.

Errors are located at both ends: the template string (line and column of the placeholder)
and the item (where its key is written), all at once like every other input problem.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ticketsync.declare.yamlio import Document
from ticketsync.model import KEY_RULE, Location, Problem, is_valid_key

#: ``{{``, ``}}``, or ``{...}``: a placeholder, checked to be a plain name.
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Generated:
    """A ticket a template made: its fields (as a ``tickets:`` entry would hold them,
    parents already instance keys), where its template ticket is declared, and which
    template and item it came from (plans group tickets by them)."""

    key: str
    fields: dict[str, Any]
    location: Location
    template: str
    item: str
    item_location: Location


def expand(doc: Document, templates: Mapping[str, Any]) -> tuple[list[Generated], list[Problem]]:
    """Every ticket the ``templates:`` mapping of ``doc`` (already schema-checked) makes,
    and every problem found making them. Deterministic whatever the order of the file."""
    made: list[Generated] = []
    problems: list[Problem] = []
    for name in sorted(templates):
        template = templates[name]
        items = _items(template.get("for_each") or {})
        tickets: Mapping[str, Any] = template.get("tickets") or {}
        base = ("templates", name)
        known = {"item"} | {value for values in items.values() for value in values}
        uses: dict[str, list[tuple[str, Location]]] = {}
        for ticket_name, fields in tickets.items():
            for path, text in _strings(fields, (*base, "tickets", ticket_name)):
                for used, offset, bad in _placeholders(text):
                    where = _at(doc, path, offset)
                    if bad:
                        problems.append(Problem(where, _dotted(path), (
                            f"'{{{used}}}' is not a placeholder: write a name, such as "
                            "{item}; {{ and }} are literal braces (no expressions)")))
                    elif used not in known:
                        import difflib  # only on this error: validate's start-up is lean

                        close = difflib.get_close_matches(used, sorted(known), n=1)
                        hint = f" (did you mean {{{close[0]}}}?)" if close else ""
                        problems.append(Problem(where, _dotted(path), (
                            f"unknown placeholder {{{used}}}{hint}: the items of {name} "
                            f"give {', '.join('{' + k + '}' for k in sorted(known))}")))
                    else:
                        uses.setdefault(used, []).append((_dotted(path), where))
        for item, values in sorted(items.items()):
            item_at = doc.locate((*base, "for_each", item), key=True)
            for used, places in sorted(uses.items()):
                if used != "item" and used not in values:
                    template_at = places[0][1]
                    problems.append(Problem(item_at, _dotted((*base, "for_each", item)), (
                        f"item {item} has no value '{used}', which the template uses at "
                        f"{template_at} ({places[0][0]}): give it one")))
            for ticket_name, fields in tickets.items():
                key = f"{name}.{item}.{ticket_name}"
                where = doc.locate((*base, "tickets", ticket_name), key=True)
                if not is_valid_key(key):
                    problems.append(Problem(item_at, _dotted((*base, "for_each", item)), (
                        f"the template makes the key '{key}', which is not valid ({KEY_RULE}):"
                        f" shorten or rename the item or the ticket {ticket_name} at {where}")))
                    continue
                values_with_item = {"item": item, **values}
                filled = _fill(fields, values_with_item)
                parent = filled.get("parent")
                if isinstance(parent, str) and parent in tickets:
                    filled["parent"] = f"{name}.{item}.{parent}"
                made.append(Generated(key, filled, where, name, item, item_at))
    return made, problems


def _items(for_each: Any) -> dict[str, dict[str, str]]:
    """Item key -> its values as text (a list of strings: items without values)."""
    if isinstance(for_each, list):
        return {str(item): {} for item in for_each}
    return {str(item): {str(k): _text(v) for k, v in (values or {}).items()}
            for item, values in for_each.items()}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _strings(value: Any, path: tuple[Any, ...]) -> list[tuple[tuple[Any, ...], str]]:
    """Every string inside ``value`` (values only, not mapping keys), with its path."""
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, Mapping):
        return [found for k, v in value.items() for found in _strings(v, (*path, k))]
    if isinstance(value, list):
        return [found for i, v in enumerate(value) for found in _strings(v, (*path, i))]
    return []


def _placeholders(text: str) -> list[tuple[str, int, bool]]:
    """(name, offset in ``text``, whether it is malformed) of each placeholder."""
    found = []
    for match in _TOKEN.finditer(text):
        if match.group(1) is None:
            continue  # {{ or }}
        name = match.group(1)
        found.append((name, match.start(), _NAME.fullmatch(name) is None))
    return found


def _fill(value: Any, values: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        def one(match: re.Match[str]) -> str:
            if match.group(0) in ("{{", "}}"):
                return match.group(0)[0]
            return values.get(match.group(1), match.group(0))
        return _TOKEN.sub(one, value)
    if isinstance(value, Mapping):
        return {k: _fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    return value


def _at(doc: Document, path: tuple[Any, ...], offset: int) -> Location:
    """Where a placeholder is: the column within a one-line scalar, else its start."""
    node = doc.node(path)
    where = doc.locate(path)
    style = getattr(node, "style", None)
    value = getattr(node, "value", "")
    if isinstance(value, str) and "\n" not in value and style in (None, "", "'", '"'):
        quote = 1 if style in ("'", '"') else 0
        return Location(where.file, where.line, where.col + quote + offset)
    return where


def _dotted(path: tuple[Any, ...]) -> str:
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else f".{step}" if text else str(step)
    return text
