"""Templates: checklists that repeat, one set of tickets per item (the README's "Templates").

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

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from ticketsync.declare import schedule
from ticketsync.declare.yamlio import Document
from ticketsync.model import KEY_RULE, Location, Problem, is_valid_key

#: ``{{``, ``}}``, or ``{...}``: a placeholder, checked to be a plain name.
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Generated:
    """A ticket a template made: its fields (as a ``tickets:`` entry would hold them,
    parents already instance keys), where its template ticket is declared, and which
    template and item (or period) it came from (plans group tickets by them)."""

    key: str
    fields: dict[str, Any]
    location: Location
    template: str
    item: str
    item_location: Location


@dataclass
class Schedules:
    """A load's "now" (None: this machine's clock, read once) and, filled in while
    loading, each recurring template's schedule, by template name, for the planner."""

    now: datetime | None = None
    found: dict[str, schedule.Recurrence] = dataclasses.field(default_factory=dict)

    def today(self) -> date:
        """The UTC day of "now"."""
        if self.now is None:
            self.now = datetime.now(UTC)
        return self.now.astimezone(UTC).date()


#: The placeholders of an ``every:`` template.
PERIOD_VALUES = ("period", "start", "end")
#: Fields that take ``{rotate: [...]}`` in an ``every:`` template.
ROTATING = ("assignees", "reporters")
#: The most periods ``catch_up: all`` reaches back: nearly three years of days, twenty of
#: weeks. Beyond it is a mistake (a year mistyped) or a schedule to start anew.
MAX_CATCH_UP = 1000


def expand(
    doc: Document,
    templates: Mapping[str, Any],
    *,
    schedules: Schedules | None = None,
) -> tuple[list[Generated], list[Problem]]:
    """Every ticket the ``templates:`` mapping of ``doc`` (already schema-checked) makes,
    and every problem found making them. Deterministic whatever the order of the file.

    ``every:`` templates make the instances of the periods :func:`schedule.window` gives
    at ``schedules.now``; their schedules are added to ``schedules.found`` for the
    planner (:func:`schedule.select`).
    """
    made: list[Generated] = []
    problems: list[Problem] = []
    for name in sorted(templates):
        template = templates[name]
        base = ("templates", name)
        instances, known, found = _instances(doc, name, template, schedules or Schedules())
        problems.extend(found)
        tickets: Mapping[str, Any] = template.get("tickets") or {}
        uses = _uses(doc, name, template, known, problems)
        key_at = doc.key_locations((*base, "tickets"))  # once: each lookup walks the map
        where = {t: key_at.get(t, doc.locate((*base, "tickets"))) for t in tickets}
        recurring = isinstance(template.get("every"), str)
        for item, values, item_at, period in instances:
            if not recurring:
                for used, places in sorted(uses.items()):
                    if used != "item" and used not in values:
                        problems.append(Problem(item_at, _dotted((*base, "for_each", item)), (
                            f"item {item} has no value '{used}', which the template uses at "
                            f"{places[0][1]} ({places[0][0]}): give it one")))
            for ticket_name, fields in tickets.items():
                key = f"{name}.{item}.{ticket_name}"
                if not is_valid_key(key):
                    if period is None or item == instances[0][0]:  # once per template
                        path = (*base, "every") if period else (*base, "for_each", item)
                        problems.append(Problem(item_at, _dotted(path),
                            f"the template makes the key '{key}', which is not valid "
                            f"({KEY_RULE}): shorten or rename the "
                            f"{'template' if period else 'item'} or the ticket {ticket_name} "
                            f"at {where[ticket_name]}"))
                    continue
                filled = _fill(fields, values)
                if period is not None:
                    _rotate(filled, period)
                parent = filled.get("parent")
                if isinstance(parent, str) and parent in tickets:
                    filled["parent"] = f"{name}.{item}.{parent}"
                made.append(Generated(key, filled, where[ticket_name], name, item, item_at))
    return made, problems


#: One instance of a template: its item (or period name), its placeholder values, where
#: it is declared, and its period (None for a for_each item).
_Instance = tuple[str, dict[str, str], Location, "schedule.Period | None"]


def _instances(
    doc: Document, name: str, template: Mapping[str, Any], schedules: Schedules,
) -> tuple[list[_Instance], set[str], list[Problem]]:
    """The instances of one template, the placeholders they give, and what is wrong with
    its ``for_each`` or ``every``."""
    base = ("templates", name)
    every = template.get("every")
    if "for_each" in template and every is not None:
        return [], set(), [Problem(doc.locate((*base, "every"), key=True), _dotted(base),
                                   "give for_each (items) or every (a schedule), not both")]
    if every is None:
        items = _items(template.get("for_each") or {})
        locations = _item_locations(doc, base, template.get("for_each"))
        known = {"item"} | {value for values in items.values() for value in values}
        return [(item, {"item": item, **values}, locations[item], None)
                for item, values in sorted(items.items())], known, []
    starting = template.get("starting")
    first = schedule.parse_date(starting) if isinstance(starting, str) else None
    if first is None:
        if starting is None:
            where, message = doc.locate(base, key=True), (
                f"an every: template needs starting: (a date inside its first {every}, "
                "such as 2026-12-07)")
        else:
            where, message = doc.locate((*base, "starting")), (
                f"{starting!r} is not a date: write YYYY-MM-DD, a day inside the "
                f"first {every}")
        return [], set(PERIOD_VALUES), [Problem(where, _dotted((*base, "starting")), message)]
    today = schedules.today()
    catch_up = str(template.get("catch_up", "latest"))
    since = schedule.period_of(every, today).ordinal - schedule.period_of(every, first).ordinal
    if catch_up == "all" and since >= MAX_CATCH_UP:
        # Every run expands every period since starting: (tracked ones are then held), so
        # a typo in the year would make thousands of instances at each run, and plan them
        # all on the first. Moving starting: forward is safe: instances already created
        # stay tracked and held (schedule.select), only older periods are not made again.
        return [], set(PERIOD_VALUES), [Problem(
            doc.locate((*base, "catch_up")), _dotted((*base, "catch_up")),
            f"catch_up: all reaches back {since} {every}s, to {first.isoformat()} "
            f"(at most {MAX_CATCH_UP}): move starting: forward (instances already created "
            "are kept), or catch_up: latest")]
    periods = schedule.window(every, first, today, ahead=int(template.get("ahead", 0)),
                              catch_up=catch_up)
    schedules.found[name] = schedule.Recurrence(
        name, every, schedule.period_of(every, today).name,
        tuple(p.name for p in periods), str(template.get("previous", "keep")))
    at = doc.locate((*base, "every"))
    return [(p.name, {"period": p.name, "start": p.start.isoformat(),
                      "end": p.end.isoformat()}, at, p) for p in periods], set(PERIOD_VALUES), []


def _item_locations(doc: Document, base: tuple[str, str], for_each: Any) -> dict[str, Location]:
    """Where each item is written: one pass over ``for_each``, however many items (a
    lookup per item walks the mapping from its start: quadratic in the items)."""
    path = (*base, "for_each")
    if isinstance(for_each, list):
        return {str(item): doc.locate((*path, i)) for i, item in enumerate(for_each)}
    return doc.key_locations(path)


def _uses(
    doc: Document, name: str, template: Mapping[str, Any], known: set[str],
    problems: list[Problem],
) -> dict[str, list[tuple[str, Location]]]:
    """Each placeholder the template's tickets use -> where; the unknown and malformed
    ones, and misplaced ``rotate:``, added to ``problems``."""
    base = ("templates", name)
    recurring = "every" in template
    tickets: Mapping[str, Any] = template.get("tickets") or {}
    uses: dict[str, list[tuple[str, Location]]] = {}
    for ticket_name, fields in tickets.items():
        for field in ROTATING:
            value = fields.get(field)
            if isinstance(value, Mapping) and "rotate" in value:
                path = (*base, "tickets", ticket_name, field, "rotate")
                if not recurring:
                    problems.append(Problem(doc.locate(path, key=True), _dotted(path), (
                        "rotate picks one person per period: it is only for an every: "
                        "template; list the people instead")))
                elif not value["rotate"]:
                    problems.append(Problem(doc.locate(path), _dotted(path), (
                        "rotate needs at least one person to take turns")))
        for path, text in _strings(fields, (*base, "tickets", ticket_name)):
            for used, offset, bad in _placeholders(text):
                where = _at(doc, path, offset)
                if bad:
                    problems.append(Problem(where, _dotted(path), (
                        f"'{{{used}}}' is not a placeholder: write a name, such as "
                        f"{{{'period' if recurring else 'item'}}}; {{{{ and }}}} are literal "
                        "braces (no expressions)")))
                elif used not in known:
                    problems.append(Problem(where, _dotted(path), _unknown(
                        used, name, known, recurring)))
                else:
                    uses.setdefault(used, []).append((_dotted(path), where))
    return uses


def _unknown(used: str, template: str, known: set[str], recurring: bool) -> str:
    """Why ``{used}`` is not a placeholder of ``template``, with a hint."""
    if used in PERIOD_VALUES and not recurring:
        return (f"{{{used}}} is a placeholder of every: templates only: {template} makes "
                f"one instance per item (for_each); its items give "
                + ", ".join("{" + k + "}" for k in sorted(known)))
    import difflib  # only on this error: validate's start-up is lean

    close = difflib.get_close_matches(used, sorted(known), n=1)
    hint = f" (did you mean {{{close[0]}}}?)" if close else ""
    given = "the schedule of" if recurring else "the items of"
    return (f"unknown placeholder {{{used}}}{hint}: {given} {template} "
            f"give{'s' if recurring else ''} " + ", ".join("{" + k + "}" for k in sorted(known)))


def _rotate(fields: dict[str, Any], period: schedule.Period) -> None:
    """``{rotate: [...]}`` -> the one person whose turn ``period`` is, in place."""
    for field in ROTATING:
        value = fields.get(field)
        if isinstance(value, Mapping) and value.get("rotate"):
            fields[field] = [schedule.pick(list(value["rotate"]), period)]


#: What a name may hold, as messages say it (the schema's ``name``, ``item`` and value name).
_NAME_RULES = {
    "template": (re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}"),
                 "use letters, digits, '_' or '-', starting with a letter or digit, at most "
                 "64 (no '.': it separates TEMPLATE.ITEM.TICKET in the keys)"),
    "item": (re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"),
             "use letters, digits, '.', '_' or '-', starting with a letter or digit, at "
             "most 64 (it becomes part of the tickets' keys)"),
    "value": (_NAME, "use letters, digits or '_', starting with a letter or '_' (it is "
                     "used as a placeholder: {name})"),
}


def name_problems(doc: Document) -> list[Problem]:
    """Every template, template ticket, item and item value name that cannot make a key
    (or a placeholder), each at its own line, in words: the schema's refusals of these
    are replaced by these (its message is a regular expression, and it stops at the
    first bad item of a list)."""
    declared = doc.data.get("templates") if isinstance(doc.data, dict) else None
    if not isinstance(declared, dict):
        return []
    problems: list[Problem] = []

    def check(kind: str, what: str, name: object, where: Location, path: tuple[Any, ...]) -> None:
        pattern, rule = _NAME_RULES[kind]
        if isinstance(name, str) and pattern.fullmatch(name) is None:
            problems.append(Problem(where, _dotted(path), f"{what} {name!r} is not a valid "
                                                          f"name: {rule}"))

    names = doc.key_locations(("templates",))
    for name, template in declared.items():
        base = ("templates", name)
        check("template", "template", name, names.get(name, doc.locate(base)), ("templates",))
        if not isinstance(template, dict):
            continue
        tickets = template.get("tickets")
        if isinstance(tickets, dict):
            at = doc.key_locations((*base, "tickets"))
            for ticket in tickets:
                check("template", "template ticket", ticket, at[ticket], (*base, "tickets"))
        for_each = template.get("for_each")
        if isinstance(for_each, (dict, list)):
            at = _item_locations(doc, base, for_each)
            for i, item in enumerate(for_each):
                if isinstance(for_each, list) and not isinstance(item, str):
                    continue  # not a name at all: the schema says what it is
                path = (*base, "for_each") if isinstance(for_each, dict) else (*base, "for_each", i)
                check("item", "item", item, at.get(str(item), doc.locate(path)), path)
                values = for_each.get(item) if isinstance(for_each, dict) else None
                if isinstance(values, dict):
                    value_at = doc.key_locations((*base, "for_each", item))
                    for value in values:
                        check("value", "value", value, value_at[value], (*base, "for_each", item))
    return problems


def is_name_violation(path: tuple[Any, ...], validator: str) -> bool:
    """Whether a schema violation at ``path`` is one :func:`name_problems` reports."""
    if validator != "pattern" or path[:1] != ("templates",):
        return False
    return len(path) == 1 or (len(path) in (3, 4) and path[2] in ("tickets", "for_each"))


def for_schema(data: Any) -> Any:
    """``data`` as the schema checks it: a ``{rotate: [...]}`` of a template ticket is
    checked as the list of people it is (the schema's ticket takes a list). A copy where
    anything changes; ``data`` itself is never modified."""
    declared = data.get("templates") if isinstance(data, dict) else None
    if not isinstance(declared, dict):
        return data
    copied: dict[str, Any] | None = None
    for name, template in declared.items():
        tickets = template.get("tickets") if isinstance(template, dict) else None
        for ticket_name, fields in (tickets or {}).items() if isinstance(tickets, dict) else ():
            for field in ROTATING:
                value = fields.get(field) if isinstance(fields, dict) else None
                if isinstance(value, dict) and set(value) == {"rotate"} \
                        and isinstance(value["rotate"], list):
                    if copied is None:
                        copied = {**data, "templates": copy_data(declared)}
                    copied["templates"][name]["tickets"][ticket_name][field] = value["rotate"]
    return data if copied is None else copied


def copy_data(value: Any) -> Any:
    """``value`` (YAML data) with containers of its own: a value shared by several tickets
    (a file's defaults, a template's) must not change when one of them is changed."""
    if isinstance(value, dict):
        return {k: copy_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_data(v) for v in value]
    return value


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
        if name.startswith("ref:"):
            # A reference (README: references), kept for the loader: {item} inside it is
            # filled.
            continue
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
