"""A ticket file's problems, in words for people.

The schema says what is wrong in its own terms; people need the field, its place
(``FILE:LINE:COL``) and the fix: a "did you mean" for an unknown field, the two fields of an
exclusive pair, what YAML made of an unquoted value, what a ``tickets:`` that is not a
mapping was meant to be. Worked out only for a file that fails the compiled check (and for
a file that is not a ticket file at all).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ticketsync.declare import schema, templates, yamlio
from ticketsync.model import Location, Problem

SCHEMA = "ticket-file"
PRIORITIES = ("lowest", "low", "medium", "high", "highest")
KEY_MESSAGE = (
    "use letters, digits, '.', '_' or '-', starting with a letter or digit (at most 128)"
)
#: Fields that name the same thing two ways: a ticket may give one of each pair.
EXCLUSIVE = (
    ("description", "content"),
    ("parent", "parent_id"),
    ("project", "project_id"),
    ("components", "component_ids"),
    ("creator", "creator_id"),
)
PARTNER = {a: b for pair in EXCLUSIVE for a, b in (pair, pair[::-1])}

#: The top-level fields of a ticket file.
TOP_LEVEL = ("tickets", "defaults", "templates", "moved", "imports")


def is_ticket_file(data: Any) -> bool:
    """Whether ``data`` is meant as a ticket file: a mapping with ``tickets`` or
    ``templates``, or one whose only keys are near misses of the fields a ticket file
    has (``ticket:``; reported as unknown fields, with a "did you mean")."""
    if not isinstance(data, dict) or not data:
        return False
    if not isinstance(data.get("tickets", {}), dict) and data.keys() - set(TOP_LEVEL):
        return False  # a ticketsync.yaml config (tickets: [tickets/]), or some other file
    if "tickets" in data or "templates" in data:
        return True
    import difflib  # only for a file that is not a ticket file as written

    return all(
        isinstance(name, str) and difflib.get_close_matches(name, TOP_LEVEL, n=1, cutoff=0.8)
        for name in data
    ) and not data.keys() <= {"defaults"}


def not_a_ticket_file(doc: yamlio.Document) -> Problem:
    data = doc.data
    if data is None:
        what = "the file is empty"
    elif isinstance(data, dict):
        looks_like_config = {"state", "account_id", "base_url", "marker"} & data.keys()
        what = "it has no 'tickets' (nor 'templates')" + (
            " (is it a ticketsync.yaml config?)" if looks_like_config else ""
        )
    else:
        what = f"it holds {_kind(data)}"
    return Problem(
        Location(doc.file), "", f"not a ticket file: {what}; expected a mapping with 'tickets:'"
    )


def _kind(value: object) -> str:
    kinds = {list: "a list", str: "a string", bool: "a boolean", int: "a number"}
    return kinds.get(type(value), "a number" if isinstance(value, float) else "a value")


# -- precise messages, for a file that failed the schema ---------------------------------


def precise(doc: yamlio.Document) -> list[Problem]:
    data = templates.for_schema(doc.data)  # {rotate: [...]}: checked as the list it holds
    problems: list[Problem] = templates.name_problems(doc)  # in words, every one
    for violation in schema.violations(SCHEMA, data):
        path, kind = violation.path, violation.validator
        if templates.is_name_violation(path, kind):
            continue
        value = _at(data, path)
        # dependentSchemas: {"description": {"not": {"required": ["content"]}}}
        partner = _exclusive_partner(violation) if kind == "not" else None
        if kind == "additionalProperties":
            problems.extend(_unknown_fields(doc, path, violation.names))
        elif partner is not None and isinstance(value, dict) and PARTNER[partner] in value:
            problems.append(exclusive(doc, path, PARTNER[partner], partner))
        elif kind == "pattern" and path == ("tickets",):  # propertyNames: a ticket's key
            problems.append(
                Problem(
                    doc.locate((*path, violation.instance), key=True),
                    dotted(path),
                    f"invalid ticket key {violation.instance!r}: {KEY_MESSAGE}",
                )
            )
        elif kind == "pattern" and path[-1:] == ("parent",):
            problems.append(
                _problem(doc, path, f"invalid ticket key {violation.instance!r}: {KEY_MESSAGE}")
            )
        elif path == ("tickets",) and kind == "type":
            problems.append(_problem(doc, path, _tickets_not_a_mapping(value)))
        elif kind == "required" and path == () and set(violation.names) & _near_misses(data):
            continue  # the unknown field that meant it says so, with a "did you mean"
        elif kind == "minLength" and value == "" and path[-1:] == ("title",):
            problems.append(_problem(doc, path, "the title is empty: give the ticket a title"))
        elif kind == "minLength" and value == "" and isinstance(path[-1], str):
            problems.append(_problem(
                doc, path, f"'{path[-1]}' is empty: give it a value, or leave it out"))
        elif path[-1:] == ("priority",) and isinstance(value, str):
            problems.append(_problem(doc, path, f"'{value}' is not one of {', '.join(PRIORITIES)}"))
        elif kind == "required" and violation.names:
            problems.append(
                Problem(
                    doc.locate(path, key=True),
                    dotted(path),
                    f"missing required field '{violation.names[0]}'",
                )
            )
        else:
            problems.append(_problem(doc, path, _reworded(doc, violation)))
    return problems


def _tickets_not_a_mapping(value: Any) -> str:
    """``tickets:`` written as something else than key -> ticket."""
    example = "write each ticket under its key (my-key: then its fields)"
    if value == []:
        return "an empty list: tickets is a mapping of keys to tickets; for none, write " \
            "'tickets: {}', else " + example
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return "a list of paths: tickets is a mapping of keys to tickets (a ticketsync.yaml " \
            "config lists where ticket files are: name the ticket files instead)"
    if isinstance(value, list):
        return f"a list: tickets is a mapping of keys to tickets; {example}, not as a list " \
            "item ('- ')"
    if value is None:
        return f"empty: tickets is a mapping of keys to tickets; {example}, or write " \
            "'tickets: {}' for none"
    return f"{_kind(value)}: tickets is a mapping of keys to tickets; {example}"


def _near_misses(data: Any) -> set[str]:
    """The top-level fields that unknown top-level fields of ``data`` are near misses of
    (``ticket`` for ``tickets``)."""
    import difflib

    found: set[str] = set()
    for name in data if isinstance(data, dict) else ():
        if isinstance(name, str) and name not in TOP_LEVEL:
            found.update(difflib.get_close_matches(name, TOP_LEVEL, n=1))
    return found


def _reworded(doc: yamlio.Document, violation: schema.Violation) -> str:
    if violation.validator == "enum" and isinstance(violation.validator_value, list):
        choices = ", ".join(map(str, violation.validator_value))
        return f"{violation.instance!r} is not one of {choices}"
    implicit = doc.implicit(violation.path)
    if implicit and violation.validator == "type":
        text, kind = implicit
        if kind == "null":
            return f"{violation.message}: the value is empty (null); give it a value"
        return f"{violation.message}: YAML reads {text} as {kind}; quote it: '{text}'"
    return violation.message


def _unknown_fields(
    doc: yamlio.Document, path: schema.JsonPath, names: Iterable[str]
) -> list[Problem]:
    import difflib  # only for a file with problems

    known = _known_fields(path)
    problems = []
    for name in names:
        close = difflib.get_close_matches(name, known, n=1)
        if close:
            hint = f" (did you mean '{close[0]}'?)"
        elif name == "<<":
            hint = " (YAML merge keys are not supported: use 'defaults:')"
        else:
            hint = f"; known fields: {', '.join(sorted(known))}"
        problems.append(
            Problem(
                doc.locate((*path, name), key=True),
                dotted((*path, name)),
                f"unknown field '{name}'{hint}",
            )
        )
    return problems


def _known_fields(path: schema.JsonPath) -> list[str]:
    defs = schema.load_schema(SCHEMA)["$defs"]
    if path == ():
        return list(schema.load_schema(SCHEMA)["properties"])
    if path == ("defaults",):
        return list(defs["defaults"]["properties"])
    if path[:1] in (("moved",), ("imports",)) and len(path) == 2:
        return list(defs["move" if path[0] == "moved" else "import"]["properties"])
    if path[:1] == ("templates",) and len(path) == 2:
        return list(defs["template"]["properties"])
    if len(path) == 2 or (path[:1] == ("templates",) and len(path) == 4):
        return list(defs["ticket"]["properties"])
    if path[-1] == "priority":
        return list(defs["priorityObject"]["properties"])
    return list(defs["content"]["properties"])


def _exclusive_partner(violation: schema.Violation) -> str | None:
    """For a ``not: {required: [X]}`` violation of an exclusive pair: X."""
    value = violation.validator_value
    required = value.get("required") if isinstance(value, dict) else None
    if isinstance(required, list) and len(required) == 1 and required[0] in PARTNER:
        return str(required[0])
    return None


def exclusive(doc: yamlio.Document, path: schema.JsonPath, first: str, second: str) -> Problem:
    later = max((first, second), key=lambda name: doc.locate((*path, name), key=True))
    return Problem(
        doc.locate((*path, later), key=True),
        dotted((*path, later)),
        f"'{first}' and '{second}' are exclusive: give one of them",
    )


def _problem(doc: yamlio.Document, path: schema.JsonPath, message: str) -> Problem:
    return Problem(doc.locate(path), dotted(path), message)


def dotted(path: schema.JsonPath) -> str:
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else f".{step}" if text else str(step)
    return text


def _at(data: Any, path: schema.JsonPath) -> Any:
    for step in path:
        data = data[step]
    return data
