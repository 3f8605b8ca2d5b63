"""A ticket as read back, in the shape ticketsync writes: the third side of every update.

StackOne reads a ticket back (``TicketingReadTicket``) in another shape than it is written
(docs/stackone-quirks.md): ``projects`` instead of ``project_id``, ``components`` instead of
``component_ids``, ``type`` and ``organization`` as objects, ``priority`` with a
``source_value``, ``content`` parts with both ``plain`` and ``html``, and a ``status``.
Comparing a declaration with a read ticket naively would call every ticket edited.

So a read ticket is brought to the create body's shape (:func:`remote_values`), every
field a declaration may set (:data:`READ_FIELDS`), and every key of its custom fields:
a field ticketsync never set is protected like the others (a person's text in it is the
third side of the comparison when a file starts declaring it), and a PATCH of one custom
field sends back the keys people set (a provider may replace the whole map). Fields are
compared with :func:`same`, which knows what a tracker may change without anyone editing
anything: the order of a list of people or tags, the ``html`` beside a ``plain`` text,
trailing whitespace. Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from ticketsync.model import State, StateEntry
from ticketsync.stackone.api import RemoteTicket

#: What ``status:`` may name besides a status's own name: its type (the README's "Keeping tickets in
#: step").
STATUS_TYPES = ("to-do", "in-progress", "closed")
#: Lists whose order carries no meaning to the tracker.
_UNORDERED = ("assignees", "reporters", "tags", "component_ids")
#: The custom fields: each key of the map is a field of its own.
CUSTOM = "unified_custom_fields"
#: Every field of a create body, as kept from a read-back: an entry whose ``remote`` holds
#: all of them knows the tracker's value of each (an absent custom key: none was set).
READ_FIELDS = ("title", "content", "creator_id", "reporters", "assignees", "parent_id",
               "priority", "tags", "organization_id", "project_id", "component_ids", "type",
               CUSTOM)


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


def remote_values(remote: RemoteTicket, fields: Iterable[str] = READ_FIELDS) -> dict[str, Any]:
    """The read ticket's ``fields`` in the create body's shape (custom fields: every key
    the tracker holds a value for)."""
    values: dict[str, Any] = {}
    for name in fields:
        if name == CUSTOM:
            read = remote.get(name)
            read = read if isinstance(read, Mapping) else {}
            values[name] = {key: value for key, value in read.items() if value is not None}
        else:
            values[name] = _read_field(remote, name)
    return values


def is_empty(name: str, value: Any) -> bool:
    """Whether a tracker value of field ``name`` is nobody's edit: nothing set, or (for a
    status) the ``to-do`` a new ticket starts in."""
    if name == "status":
        return not value or value.get("type") == "to-do"
    return value in (None, [], "", {})


def flat(body: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` with each custom field as a field of its own (``unified_custom_fields.K``),
    so that three-way comparisons and PATCHes treat each key apart."""
    out = {name: value for name, value in body.items() if name != CUSTOM}
    custom = body.get(CUSTOM)
    if isinstance(custom, Mapping):
        out.update((f"{CUSTOM}.{key}", value) for key, value in custom.items())
    return out


def custom_key(name: str) -> str | None:
    """The custom field's key if ``name`` is a flat custom field, else None."""
    prefix = CUSTOM + "."
    return name[len(prefix):] if name.startswith(prefix) else None


def complete(remote: Mapping[str, Any]) -> bool:
    """Whether ``remote`` (an entry's last read) holds every field: read by a ticketsync
    that keeps them all (older states kept only the applied ones)."""
    return all(name in remote for name in READ_FIELDS)


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
    number, URL, status, and the remote value of every field.

    An update whose outcome was unknown (``pending``) is settled here only when the tracker
    shows exactly what it sent: then it was applied. Anything else settles nothing: the
    read may predate the PATCH (a listing taken before it was sent, or while it was in
    flight), so the pending values stay until a later read shows them or a later write
    replaces them; they are ticketsync's own write whenever the tracker shows them.
    ``refreshed_at``: the start of a full read-back (since the previous one), if this was.
    """
    by_id = {str(t.get("id")): t for t in tickets}
    entries: dict[str, StateEntry] = {}
    for key, entry in state.tickets.items():
        read = by_id.get(entry.id)
        if read is None:
            entries[key] = entry
            continue
        values = remote_values(read)
        status = status_of(read)
        applied, pending = settle_pending(entry.applied, entry.pending, values, status)
        number, url = read.get("ticket_number"), read.get("ticket_url")
        entries[key] = replace(
            entry, applied=applied, pending=pending, status=status, remote=values,
            ticket_number=number if isinstance(number, str) else entry.ticket_number,
            ticket_url=url if isinstance(url, str) else entry.ticket_url,
        )
    return replace(state, tickets=entries, refreshed_at=refreshed_at or state.refreshed_at)


def settle_pending(applied: Mapping[str, Any], pending: Mapping[str, Any],
                   remote: Mapping[str, Any], status: Mapping[str, Any] | None,
                   ) -> tuple[dict[str, Any], dict[str, Any]]:
    """``applied`` with each pending value that ``remote`` shows taken in, and the pending
    values it does not show (still open). Custom fields settle key by key."""
    shown: dict[str, Any] = {}
    still: dict[str, Any] = {}
    read = flat(remote)
    for name, sent in flat(pending).items():
        theirs = status if name == "status" else read.get(name)
        (shown if same(name, sent, theirs) else still)[name] = sent
    return with_values(applied, shown), nest(still)


def nest(values: Mapping[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`flat`: custom fields back in their map."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        key = custom_key(name)
        if key is None:
            out[name] = value
        else:
            out.setdefault(CUSTOM, {})[key] = value
    return out


def sent_values(body: Mapping[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    """The values of flat ``fields`` that a PATCH of ``body`` sets (None: cleared),
    custom fields in their map."""
    values = flat(body)
    return nest({name: values.get(name) for name in fields})


def with_values(applied: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """``applied`` once ``values`` (as :func:`sent_values` gives them) are applied: a
    None clears the field, or the custom key."""
    merged = flat(applied)
    for name, value in flat(values).items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    out = nest(merged)
    if CUSTOM in applied and CUSTOM not in out:
        out[CUSTOM] = {}
    return out
