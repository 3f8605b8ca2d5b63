"""A ticket as read back, in the shape ticketsync writes: the third side of every update.

StackOne reads a ticket back (``TicketingReadTicket``) in another shape than it is written
(SOURCE.md): ``projects`` instead of ``project_id``, ``components`` instead of
``component_ids``, ``type`` and ``organization`` as objects, ``priority`` with a
``source_value``, ``content`` parts with both ``plain`` and ``html``, and a ``status``.
Comparing a declaration with a read ticket naively would call every ticket edited.

So a read ticket is brought to the create body's shape (:func:`remote_values`), keeping
only the fields ticketsync applied, and compared field by field with :func:`same`, which
knows what a tracker may change without anyone editing anything: the order of a list of
people or tags, the ``html`` beside a ``plain`` text, trailing whitespace, custom fields
that ticketsync does not manage. Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from ticketsync.api import RemoteTicket
from ticketsync.model import State, StateEntry

#: What ``status:`` may name besides a status's own name: its type (SPEC §5.2).
STATUS_TYPES = ("to-do", "in-progress", "closed")
#: Lists whose order carries no meaning to the tracker.
_UNORDERED = ("assignees", "reporters", "tags", "component_ids")


def _id_of(value: Any) -> Any:
    return value.get("id") if isinstance(value, Mapping) else value


def status_of(remote: Mapping[str, Any]) -> dict[str, Any] | None:
    """A read ticket's status as the state keeps it: ``{id, name, type}`` (type a string)."""
    status = remote.get("status")
    if not isinstance(status, Mapping):
        return None
    kind = status.get("type")
    kind = kind.get("value") if isinstance(kind, Mapping) else kind
    return {"id": status.get("id"), "name": status.get("name"),
            "type": kind if isinstance(kind, str) else None}


def status_is(declared: str, status: Mapping[str, Any] | None) -> bool:
    """Whether a ticket in ``status`` satisfies ``declared`` (a status name, or a type)."""
    if not status:
        return False
    if declared in STATUS_TYPES:
        return status.get("type") == declared
    name = status.get("name")
    return isinstance(name, str) and name.casefold() == declared.casefold()


def _read_field(remote: Mapping[str, Any], name: str) -> Any:
    """One field of a read ticket, in the create body's shape."""
    if name == "project_id":
        projects = remote.get("projects")
        if isinstance(projects, list) and projects:
            return _id_of(projects[0])
        return remote.get("project_id")
    if name == "component_ids":
        components = remote.get("components")
        if isinstance(components, list):
            return [_id_of(c) for c in components]
        return remote.get("component_ids")
    if name == "type":
        return _id_of(remote.get("type"))
    if name == "organization_id":
        return _id_of(remote.get("organization"))
    if name == "priority":
        priority = remote.get("priority")
        return {"value": priority.get("value")} if isinstance(priority, Mapping) else priority
    if name == "status":
        return status_of(remote)
    return remote.get(name)


def remote_values(remote: RemoteTicket, fields: Iterable[str],
                  custom: Iterable[str] = ()) -> dict[str, Any]:
    """The read ticket's ``fields`` in the create body's shape; of its custom fields, only
    ``custom`` (the ones ticketsync applied: the others are not ticketsync's business)."""
    values: dict[str, Any] = {}
    for name in fields:
        if name == "unified_custom_fields":
            read = remote.get(name)
            read = read if isinstance(read, Mapping) else {}
            values[name] = {key: read.get(key) for key in custom}
        else:
            values[name] = _read_field(remote, name)
    return values


def _text(value: Any) -> Any:
    return value.rstrip() if isinstance(value, str) else value


def _content(parts: Any) -> Any:
    if not isinstance(parts, list):
        return parts
    return [{k: _text(v) for k, v in part.items() if v is not None}
            if isinstance(part, Mapping) else part for part in parts]


def same(name: str, applied: Any, remote: Any) -> bool:
    """Whether the read-back ``remote`` value of field ``name`` is the ``applied`` one.

    Lenient where a tracker may reshape without an edit, strict elsewhere: for the
    ``status`` field, ``applied`` is the declared status (a name or a type).
    """
    if name == "status":
        return isinstance(applied, str) and status_is(applied, remote)
    if applied is None or remote is None:
        return applied in (None, [], "", {}) and remote in (None, [], "", {})
    if name in _UNORDERED and isinstance(applied, list) and isinstance(remote, list):
        return sorted(map(str, applied)) == sorted(map(str, remote))
    if name == "content":
        declared, read = _content(applied), _content(remote)
        if not isinstance(declared, list) or not isinstance(read, list):
            return bool(declared == read)
        # An html rendering beside a plain text is the tracker's, not an edit.
        return len(declared) == len(read) and all(
            isinstance(d, Mapping) and isinstance(r, Mapping)
            and all(r.get(k) == v for k, v in d.items())
            for d, r in zip(declared, read, strict=True))
    if name == "priority":
        return bool(_id_of_value(applied) == _id_of_value(remote))
    if name == "unified_custom_fields" and isinstance(applied, Mapping):
        read = remote if isinstance(remote, Mapping) else {}
        return all(read.get(k) == v for k, v in applied.items())
    return bool(_text(applied) == _text(remote))


def _id_of_value(priority: Any) -> Any:
    return priority.get("value") if isinstance(priority, Mapping) else priority


def with_read_back(state: State, tickets: Iterable[RemoteTicket], *,
                   refreshed_at: str | None = None) -> State:
    """``state`` with what ``tickets`` (read back from StackOne) say of the tracked ones:
    number, URL, status, and the remote values of the fields ticketsync applied.

    An update whose outcome was unknown (``pending``) is settled here: the tracker showing
    exactly what it sent, it was applied; showing anything else, it was not (and a value
    that differs from the one last applied is then a tracker edit, seen as such).
    ``refreshed_at``: the start of a full read-back (since the previous one), if this was.
    """
    by_id = {str(t.get("id")): t for t in tickets}
    entries: dict[str, StateEntry] = {}
    for key, entry in state.tickets.items():
        read = by_id.get(entry.id)
        if read is None:
            entries[key] = entry
            continue
        custom = entry.applied.get("unified_custom_fields")
        values = remote_values(read, [f for f in entry.applied if f != "status"],
                               custom if isinstance(custom, Mapping) else ())
        status = status_of(read)
        applied = dict(entry.applied)
        for name, sent in entry.pending.items():
            if same(name, sent, status if name == "status" else values.get(name)):
                applied[name] = sent
        number, url = read.get("ticket_number"), read.get("ticket_url")
        entries[key] = replace(
            entry, applied=applied, pending={}, status=status, remote=values,
            ticket_number=number if isinstance(number, str) else entry.ticket_number,
            ticket_url=url if isinstance(url, str) else entry.ticket_url,
        )
    return replace(state, tickets=entries, refreshed_at=refreshed_at or state.refreshed_at)
