"""A ticket as read back, compared with what ticketsync wrote: the third side of every update.

A read ticket arrives parsed (:mod:`ticketsync.stackone.read`), its fields in the create
body's shape (``RemoteTicket.values``): every field a declaration may set, and every key of
its custom fields: a field ticketsync never set is protected like the others (a person's
text in it is the third side of the comparison when a file starts declaring it), and a PATCH
of one custom field sends back the keys people set (a provider may replace the whole map).
Fields are compared with :func:`same`, which knows what a tracker may change without anyone
editing anything: the order of a list of people or tags, the ``html`` beside a ``plain``
text, trailing whitespace. Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from ticketsync.model import State, StateEntry
from ticketsync.stackone.read import CUSTOM, READ_FIELDS, RemoteTicket

# The read shape's field names are read here too, where comparisons are made.
__all__ = ["CUSTOM", "READ_FIELDS", "STATUS_TYPES", "complete", "custom_key", "flat",
           "is_empty", "nest", "same", "sent_values", "settle_pending", "status_is",
           "with_read_back", "with_values"]

#: What ``status:`` may name besides a status's own name: its type (the README's "Keeping tickets in
#: step").
STATUS_TYPES = ("to-do", "in-progress", "closed")
#: Lists whose order carries no meaning to the tracker.
_UNORDERED = ("assignees", "reporters", "tags", "component_ids")


def status_is(declared: str, status: Mapping[str, Any] | None) -> bool:
    """Whether a ticket in ``status`` satisfies ``declared`` (a status name, or a type)."""
    if not status:
        return False
    if declared in STATUS_TYPES:
        return status.get("type") == declared
    name = status.get("name")
    return isinstance(name, str) and name.casefold() == declared.casefold()


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
    by_id = {t.id: t for t in tickets}
    entries: dict[str, StateEntry] = {}
    for key, entry in state.tickets.items():
        read = by_id.get(entry.id)
        if read is None:
            entries[key] = entry
            continue
        applied, pending = settle_pending(entry.applied, entry.pending, read.values, read.status)
        entries[key] = replace(
            entry, applied=applied, pending=pending, status=read.status, remote=read.values,
            ticket_number=entry.ticket_number if read.ticket_number is None
            else read.ticket_number,
            ticket_url=entry.ticket_url if read.ticket_url is None else read.ticket_url,
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
