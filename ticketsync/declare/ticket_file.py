"""One ticket file -> its tickets, checked and normalised, with where each ``parent`` is.

Defaults are merged, names resolved against the directory, templates expanded, and every
problem of the file collected (:mod:`ticketsync.declare.problems` words the schema's).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from ticketsync.declare import moves, refs, schema, templates, yamlio
from ticketsync.declare.names import Issue, Resolver
from ticketsync.declare.problems import (
    EXCLUSIVE,
    PARTNER,
    SCHEMA,
    dotted,
    exclusive,
    is_ticket_file,
    not_a_ticket_file,
    precise,
)
from ticketsync.errors import InputError
from ticketsync.model import Import, Location, Move, Problem, Ticket, is_valid_key

#: The fields that decide which statuses a ticket can take.
_SCOPE = ("project", "project_id", "type")


class FileResult(NamedTuple):
    """What one file gives: its bytes (None if unreadable), its tickets (key -> Ticket;
    for an invalid file, key -> where it is declared), where each ``parent`` value is,
    its problems, and its ``moved:`` and ``imports:`` items."""

    text: bytes | None
    found: dict[str, Ticket | Location]
    parent_at: dict[str, Location]
    problems: list[Problem]
    moves: Sequence[Move] = ()
    imports: Sequence[Import] = ()
    cited: Sequence[refs.Use] = ()  # its references, located


def read_file(path: Path, name: str, marker: str | None, resolver: Resolver,
              schedules: templates.Schedules | None = None) -> FileResult:
    """Read, check and normalise one file."""
    try:
        doc = yamlio.read_document(path, name)
    except InputError as exc:
        return FileResult(None, {}, {}, list(exc.problems))
    found, parent_at, problems = _load_file(doc, marker, resolver, schedules)
    if not is_ticket_file(doc.data):
        return FileResult(doc.text, found, parent_at, problems)
    moved, imports, more = moves.read_blocks(doc)
    return FileResult(doc.text, found, parent_at, problems + more, moved, imports,
                      refs.uses(doc, found))


def _load_file(
    doc: yamlio.Document, marker: str | None, resolver: Resolver,
    schedules: templates.Schedules | None = None,
) -> tuple[dict[str, Ticket | Location], dict[str, Location], list[Problem]]:
    """The file's tickets, where their ``parent`` values are, and its problems.

    A schema error never hides another problem: the names, parents, keys and templates
    of a file that fails the schema are checked all the same, as far as they can be (a
    ticket that is not a mapping has nothing to check; a template with a schema error is
    not expanded). Such a file's tickets are never used: its problems stop the run.
    """
    data = doc.data
    if not is_ticket_file(data):
        return {}, {}, [not_a_ticket_file(doc)]
    valid = schema.is_valid(SCHEMA, templates.for_schema(data))
    problems = [] if valid else precise(doc)
    defaults: dict[str, Any] = data.get("defaults") if isinstance(data.get("defaults"), dict) \
        else {}
    declared = data.get("tickets") if isinstance(data.get("tickets"), dict) else {}
    if valid:  # the schema says so too, when it fails; our message is clearer than its
        problems += [
            exclusive(doc, path, first, second)
            for path, fields in [(("defaults",), defaults)]
            + [(("tickets", key), fields) for key, fields in declared.items()]
            for first, second in EXCLUSIVE
            if first in fields and second in fields
        ]
    checked = {p.path for p in problems}
    where = doc.key_locations(("tickets",))
    tickets: dict[str, Ticket | Location] = {}
    own_parent: set[str] = set()
    inherited: set[str] = set()
    unresolved: list[tuple[str, Mapping[str, Any], list[Issue]]] = []
    for key, fields in declared.items():
        if not is_valid_key(key):  # reported by the schema
            continue
        if not isinstance(fields, dict):  # reported by the schema; nothing else to check
            tickets[key] = where[key]
            continue
        body, parent, status, issues = _body(key, defaults, fields, marker if valid else None,
                                             resolver)
        if not valid:  # a value the schema refused is reported once, by the schema
            issues = [i for i in issues if not _reported(checked, key, fields, i.path)]
        if issues:
            unresolved.append((key, fields, issues))
        if parent is not None and not (isinstance(parent, str) and is_valid_key(parent)):
            parent = None  # reported by the schema: no ticket can have this key
        tickets[key] = Ticket(key, body, where[key], parent, status)
        if parent is not None:
            (own_parent if "parent" in fields else inherited).add(key)
    # Where each parent is written, for the project-wide checks: kept now, while the
    # file's node tree is at hand, so that no problem ever needs the file read again.
    parent_at = doc.field_locations(("tickets",), "parent", own_parent)
    if inherited:
        parent_at.update(dict.fromkeys(inherited, doc.locate(("defaults", "parent"))))
    if unresolved:
        problems += _unresolved(doc, unresolved)
    declared_templates = data.get("templates")
    if declared_templates and isinstance(declared_templates, dict):
        if not valid:  # a template the schema refused cannot be expanded
            declared_templates = {
                name: template for name, template in declared_templates.items()
                if not any(p == f"templates.{name}" or p.startswith(f"templates.{name}.")
                           for p in checked)
            }
        problems += _expand(
            doc,
            declared_templates,
            defaults=defaults,
            marker=marker if valid else None,
            resolver=resolver,
            tickets=tickets,
            parent_at=parent_at,
            schedules=schedules,
        )
    return tickets, parent_at, problems


def _reported(
    checked: Collection[str], key: str, fields: Mapping[str, Any], path: Sequence[str | int]
) -> bool:
    """Whether the schema reported a problem at (or inside) a ticket's value at ``path``
    (in the ticket, or in the defaults when the ticket inherits it)."""
    base = ("tickets", key) if path[0] in fields else ("defaults",)
    at = dotted((*base, *path[:1]))
    return any(p == at or p.startswith((at + ".", at + "[")) for p in checked)


def _body(
    key: str,
    defaults: Mapping[str, Any],
    fields: Mapping[str, Any],
    marker: str | None,
    resolver: Resolver,
) -> tuple[dict[str, Any], str | None, str | None, list[Issue]]:
    """A declaration as a create body: defaults merged, names resolved, shorthands and the
    marker applied; with its ``parent`` key and ``status`` (not part of a create body)."""
    body = _merge(defaults, fields)
    parent = body.pop("parent", None)
    status = body.pop("status", None)  # set by a PATCH after the create: not in its body
    issues = resolver.resolve(body)  # names -> ids, shorthands -> API fields
    if status is not None and not any(i.path[0] in _SCOPE for i in issues):
        found = resolver.check_status(body, status)  # offline, when the directory knows
        if found is not None:
            issues.append(found)
    if "description" in body:
        body["content"] = [{"plain": body.pop("description")}]
    if isinstance(body.get("priority"), str):
        body["priority"] = {"value": body["priority"]}
    if marker:
        body["unified_custom_fields"] = {**body.get("unified_custom_fields", {}), marker: key}
    return dict(sorted(body.items())), parent, status, issues


def _expand(
    doc: yamlio.Document,
    declared: Mapping[str, Any],
    *,
    defaults: Mapping[str, Any],
    marker: str | None,
    resolver: Resolver,
    tickets: dict[str, Ticket | Location],
    parent_at: dict[str, Location],
    schedules: templates.Schedules | None = None,
) -> list[Problem]:
    """Add the tickets the file's templates make to ``tickets``; their problems.

    A generated ticket is declared at its item (what makes this instance); a problem in
    its fields is located in the template, naming the item.
    """
    made, problems = templates.expand(doc, declared, schedules=schedules)
    for generated in made:
        template_path = (
            "templates",
            generated.template,
            "tickets",
            generated.key.rsplit(".", 1)[1],
        )
        item = f"item {generated.item} at {generated.item_location}"
        if generated.key in tickets:
            other = tickets[generated.key]
            first = other.location if isinstance(other, Ticket) else other
            problems.append(
                Problem(
                    generated.item_location,
                    dotted(("templates", generated.template, "for_each", generated.item)),
                    f"the template makes the key '{generated.key}' (from {generated.location}), "
                    f"also declared at {first}: rename the item or one of them",
                )
            )
            continue
        body, parent, status, issues = _body(
            generated.key, defaults, generated.fields, marker, resolver
        )
        for issue in issues:
            path: schema.JsonPath = (
                (*template_path, *issue.path)
                if issue.path[0] in generated.fields
                else ("defaults", *issue.path)
            )
            problems.append(Problem(doc.locate(path), dotted(path), f"{issue.message} ({item})"))
        tickets[generated.key] = Ticket(
            generated.key,
            body,
            generated.item_location,
            parent,
            status,
            f"{generated.template}.{generated.item}",
        )
        if parent is not None:
            in_template = "parent" in generated.fields
            parent_at[generated.key] = doc.locate(
                (*template_path, "parent") if in_template else ("defaults", "parent")
            )
    return problems


def _unresolved(
    doc: yamlio.Document, unresolved: Sequence[tuple[str, Mapping[str, Any], list[Issue]]]
) -> list[Problem]:
    """Each reference that does not resolve, located at its value: in the ticket, or in
    ``defaults`` when the ticket inherits it (once, however many tickets inherit it)."""
    tickets = _ticket_documents(doc)
    problems: set[Problem] = set()
    for key, fields, issues in unresolved:
        for issue in issues:
            if issue.path[0] in fields and key in tickets:
                path: schema.JsonPath = ("tickets", key, *issue.path)
                location = tickets[key].locate(issue.path)
            else:
                path = ("defaults", *issue.path)
                location = doc.locate(path)
            problems.add(Problem(location, dotted(path), issue.message))
    return sorted(problems)


def _ticket_documents(doc: yamlio.Document) -> dict[str, yamlio.Document]:
    """Each ticket's node tree as a document of its own, in one pass over the file.

    ``doc.locate`` walks a mapping from its first key: locating a value in each of many
    tickets that way costs a pass over the file per ticket (a project whose directory file
    went missing fails everywhere at once).
    """
    node = doc.node(("tickets",))
    found: dict[str, yamlio.Document] = {}
    for key_node, value_node in getattr(node, "value", None) or ():  # a mapping's pairs
        key = getattr(key_node, "value", None)
        if isinstance(key, str):
            found.setdefault(key, yamlio.Document(doc.file, doc.text, None, value_node))
    return found


def _merge(defaults: Mapping[str, Any], fields: Mapping[str, Any]) -> dict[str, Any]:
    """``fields`` over (a copy of) ``defaults``: mappings key by key, anything else replaced.

    A ticket that gives one field of an exclusive pair drops the default for the other
    (a ticket's ``content`` replaces the defaults' ``description``).
    """
    body = {
        name: templates.copy_data(value)
        for name, value in defaults.items()
        if name not in fields and PARTNER.get(name) not in fields
    }
    for name, value in fields.items():
        default = defaults.get(name)
        if isinstance(value, dict) and isinstance(default, dict):
            body[name] = {**templates.copy_data(default), **value}
        else:
            body[name] = value
    return body

