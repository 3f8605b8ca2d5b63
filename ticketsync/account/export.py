"""Adoption: tickets a tracker already holds, written as ticket files and tracked (the README's
"ticketsync export").

A team starting with ticketsync has hundreds of tickets already. ``ticketsync export``
lists them, writes them as one ticket file, and records each in the state, so that the
very next plan says ``No changes.``: the round trip is the whole point, and peers that
dump tickets are criticised for dumps that do not make it.

So every exported ticket is built twice from the same read-back: as written in the file
(the shortest form a person would write: ``description`` for one plain part, ``priority``
as a word, ``parent`` as a key when the parent is exported too, ``status`` by name), and
as the body the loader will read back from it (what the state records as applied). Only
declarable fields are written; what StackOne computes (number, URL, dates) goes to the
state, from the ticket as read, when the CLI records it (an adoption: the ticket and that
body, journaled, then the read-back folded in). Pure: the CLI lists the tickets, records
them and writes the file.

With a directory file, people, the project, the type and the components are written by
name (:class:`Namer`), each name checked to resolve back to its very id, so the round
trip holds by construction; a value the directory does not accept (a deactivated user,
an id it does not hold) cannot be declared, and its field is left out, saying why.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ticketsync.declare.names import Resolver
from ticketsync.model import State, is_valid_key
from ticketsync.stackone.api import RemoteTicket
from ticketsync.stackone.tickets import CUSTOM

#: The priority words a ticket file takes (the read shape may say ``unmapped_value``).
PRIORITIES = ("lowest", "low", "medium", "high", "highest")
_SLUG = re.compile(r"[^a-z0-9._-]+")
_LIST_FIELDS = ("assignees", "reporters", "tags")


@dataclass(frozen=True)
class Exported:
    """One remote ticket: its key, its fields as written, the ticket as read, and the
    body the loader reads back from those fields (recorded as last applied)."""

    key: str
    fields: dict[str, Any]
    ticket: RemoteTicket
    applied: dict[str, Any]
    tracked: bool = False  # already in the state (an interrupted export): written only
    #: The fields left out of the file, with why (see :class:`Namer`).
    left_out: tuple[str, ...] = ()
    #: What was written otherwise than the tracker holds it, with why.
    notes: tuple[str, ...] = ()


@dataclass
class Export:
    """What an export writes and records; ``skipped``: (key, id) already declared."""

    tickets: list[Exported] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def recorded(self) -> list[Exported]:
        return [t for t in self.tickets if not t.tracked]


#: An id -> the names it goes by (a type or a component id may be in several projects).
_Names = dict[str, tuple[str | None, ...]]


class Namer:
    """Ids as a person writes them: a user's email (else username, else name), a
    project's, a type's or a component's name; each only if ``resolver`` (the loader's)
    reads it back as that very id, else the id itself if it reads that back; else
    nothing (why, in :attr:`why`)."""

    def __init__(self, resolver: Resolver) -> None:
        directory = resolver.directory
        assert directory is not None
        self.resolver = resolver
        self.why = ""
        users: _Names = {u.id: (u.email, u.username, u.name) for u in directory.users}
        projects: _Names = {p.id: (p.name,) for p in directory.projects}
        types: _Names = {}
        for record in directory.ticket_types:
            types[record.id] = (*types.get(record.id, ()), record.name)
        components: _Names = {}
        for component in directory.components:
            components[component.id] = (*components.get(component.id, ()), component.name)
        self._names: dict[str, _Names] = {
            "user": users, "project": projects, "type": types, "component": components}

    def name(self, kind: str, value: str, project_id: str | None = None) -> str | None:
        """``value`` (an id of a ``kind``: user, project, type, component) as written."""
        for candidate in (*self._names[kind].get(value, ()), value):
            if candidate and self.resolver.lookup(kind, candidate, project_id)[0] == value:
                return candidate
        self.why = self.resolver.lookup(kind, value, project_id)[1] or (
            f"{value!r} has no name that reads back as it")
        return None

    def names(self, kind: str, values: list[str], project_id: str | None) -> list[str] | None:
        named = [self.name(kind, value, project_id) for value in values]
        return None if None in named else [n for n in named if n is not None]


def slug(text: str) -> str:
    """A key from a ticket number or a title: ``PLAT-123`` -> ``plat-123``."""
    value = _SLUG.sub("-", text.strip().lower()).strip("-._")
    value = re.sub(r"-{2,}", "-", value)[:100].rstrip("-._")
    return value or "ticket"


def wanted(ticket: RemoteTicket, projects: set[str] | None) -> bool:
    """Whether ``ticket`` is in one of ``projects`` (ids; None: every ticket). StackOne's
    listing filters by update time only: projects are filtered here."""
    if projects is None:
        return True
    return bool(ticket.project_ids & projects)


def build_export(
    remote: Iterable[RemoteTicket],
    state: State,
    declared: Iterable[str],
    *,
    marker: str | None = None,
    resolver: Resolver | None = None,
) -> Export:
    """The export of ``remote`` (already filtered) given the ``state`` and the keys the
    ticket files ``declared``.

    A ticket the state tracks and a file declares is skipped; one the state tracks that
    no file declares (an export interrupted between recording and writing, or a
    declaration deleted by hand) is written again under its key, and not recorded again.
    A ticket ticketsync closed (``removed: close``) is skipped: it was undeclared on
    purpose. With a ``resolver`` that has a directory, references are written by name.
    """
    namer = Namer(resolver) if resolver is not None and resolver.directory else None
    declared_keys = set(declared)
    by_id = {entry.id: key for key, entry in state.tickets.items()}
    export = Export()
    chosen: list[tuple[str, RemoteTicket, bool]] = []
    taken = set(declared_keys) | set(state.tickets)
    for ticket in sorted(remote, key=_order):
        key = by_id.get(ticket.id)
        if key is not None:
            if key in declared_keys or state.tickets[key].closed:
                export.skipped.append((key, ticket.id))
            else:
                chosen.append((key, ticket, True))
            continue
        key = _unique(_base_key(ticket), taken)
        taken.add(key)
        chosen.append((key, ticket, False))
    key_of = {t.id: key for key, t, _ in chosen}
    key_of.update({entry.id: key for key, entry in state.tickets.items()
                   if key in declared_keys})
    for key, ticket, tracked in chosen:
        fields, applied, left_out = _declaration(ticket, key_of, marker, namer)
        export.tickets.append(Exported(key, fields, ticket, applied, tracked, tuple(left_out),
                                       _notes(ticket, fields)))
    return export


def document(export: Export, *, imports: bool = False) -> dict[str, Any]:
    """The ticket file's data: ``tickets:`` in the order exported; with ``imports``, an
    ``imports:`` block first (each ticket by its id), for adoption through review: nothing
    is recorded until that file is applied. A ticket the state already tracks (an
    interrupted export) needs no import."""
    doc: dict[str, Any] = {}
    if imports:
        doc["imports"] = [{"to": t.key, "id": t.ticket.id} for t in export.tickets
                          if not t.tracked]
    doc["tickets"] = {t.key: t.fields for t in export.tickets}
    return doc


def _notes(ticket: RemoteTicket, fields: Mapping[str, Any]) -> tuple[str, ...]:
    """A ticket file needs a title: one the tracker holds empty is written as the ticket's
    number (else its id), and the export says so, so that someone gives it a real one."""
    if ticket.title and ticket.title.strip():
        return ()
    # The tracker's empty title then differs from the one recorded as applied: setting
    # the title written later is a conflict, which --overwrite settles on purpose.
    return (f"the tracker's title is empty, so the file says {fields['title']!r}: write the"
            " title it should have there, then `ticketsync apply --overwrite` sets it in the"
            " tracker",)


def _order(ticket: RemoteTicket) -> tuple[str, str]:
    # Stable across runs: by creation as written, then id (ticket numbers sort badly as text).
    return (ticket.created_text or "", ticket.id)


def _base_key(ticket: RemoteTicket) -> str:
    if ticket.ticket_number and ticket.ticket_number.strip():
        return slug(ticket.ticket_number)
    return slug(ticket.title) if ticket.title is not None else "ticket"


def _unique(base: str, taken: set[str]) -> str:
    key = base if is_valid_key(base) else slug(f"t-{base}")
    if key not in taken:
        return key
    n = 2
    while f"{key[:120]}-{n}" in taken:
        n += 1
    return f"{key[:120]}-{n}"


def _declaration(
    ticket: RemoteTicket, key_of: Mapping[str, str], marker: str | None, namer: Namer | None
) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """(the fields as written in the file, the body the loader reads back from them, the
    fields left out with why)."""
    fields: dict[str, Any] = {}
    body: dict[str, Any] = {}
    left_out: list[str] = []
    values = ticket.values
    fields["title"] = body["title"] = (
        ticket.title if ticket.title and ticket.title.strip()
        else ticket.ticket_number or ticket.id)
    _content(values["content"], fields, body)
    priority = values["priority"]
    if isinstance(priority, Mapping) and priority.get("value") in PRIORITIES:
        fields["priority"] = priority["value"]
        body["priority"] = {"value": priority["value"]}
    for name in _LIST_FIELDS:
        items = values[name]
        if isinstance(items, list) and items and all(isinstance(i, str) for i in items):
            fields[name] = body[name] = list(items)
    for name in ("creator_id", "project_id", "type", "organization_id"):
        value = values[name]
        if isinstance(value, str) and value:
            fields[name] = body[name] = value
    components = values["component_ids"]
    if isinstance(components, list) and components and all(
            isinstance(c, str) for c in components):
        fields["component_ids"] = body["component_ids"] = list(components)
    if namer is not None:
        left_out = _by_name(namer, fields, body)
    kept = {k: v for k, v in values[CUSTOM].items() if k != marker}
    if kept:
        fields[CUSTOM] = body[CUSTOM] = kept
    parent = values["parent_id"]
    if isinstance(parent, str) and parent:
        body["parent_id"] = parent
        if parent in key_of:
            fields["parent"] = key_of[parent]
        else:
            fields["parent_id"] = parent
    status = ticket.status["name"] if ticket.status else None
    if status and status.strip():
        fields["status"] = body["status"] = status
    return fields, dict(sorted(body.items())), left_out


#: Field as the API names it -> (the kind of name, the field written with names).
_NAMED = {"project_id": ("project", "project"), "type": ("type", "type"),
          "component_ids": ("component", "components"), "creator_id": ("user", "creator"),
          "assignees": ("user", "assignees"), "reporters": ("user", "reporters")}


def _by_name(namer: Namer, fields: dict[str, Any], body: dict[str, Any]) -> list[str]:
    """Rewrite the references of ``fields`` by name, in the order the loader resolves
    them (the project first: it scopes the type and the components); drop from both
    ``fields`` and ``body`` what cannot be declared. The fields left out, with why."""
    left_out: list[str] = []
    scope: str | None = None
    for api, (kind, written) in _NAMED.items():
        if api not in fields:
            continue
        value = fields.pop(api)
        named = (namer.names(kind, value, scope) if isinstance(value, list)
                 else namer.name(kind, value, scope))
        if named is None:
            del body[api]
            left_out.append(f"{written}: {namer.why}")
            continue
        # An id stays under the API's field when it is not a name the shorthand takes.
        fields[written if named != value or written in _SAME_FIELD else api] = named
        if api == "project_id":
            scope = value
    return left_out


#: The fields whose name and id are written under the same field.
_SAME_FIELD = ("type", "assignees", "reporters")


def _content(parts: Any, fields: dict[str, Any], body: dict[str, Any]) -> None:
    if not isinstance(parts, list) or not parts:
        return
    clean = [{k: v for k, v in part.items() if k in ("plain", "html") and isinstance(v, str)}
             for part in parts if isinstance(part, Mapping)]
    clean = [part for part in clean if part]
    if len(clean) == 1 and "plain" in clean[0] and clean[0]["plain"].strip():
        fields["description"] = clean[0]["plain"]
        body["content"] = [{"plain": clean[0]["plain"]}]
    elif clean:
        fields["content"] = body["content"] = clean
