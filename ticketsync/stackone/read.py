"""A ticket as StackOne reads it back, parsed once where the JSON enters: :class:`RemoteTicket`.

StackOne reads a ticket back (``TicketingReadTicket``) in another shape than it is written
(docs/stackone-quirks.md): ``projects`` instead of ``project_id``, ``components`` instead of
``component_ids``, ``type`` and ``organization`` as objects, ``priority`` with a
``source_value``, and a ``status``, a number, a URL and timestamps besides. A server's
answer is untrusted: any field may be missing or of another type. So :func:`parse_ticket`
reads each field once, here, into what the rest of ticketsync reads: a field it cannot
read is None (or empty), never an error; only a record without an id is no ticket at all.
The fields a declaration may set are kept in the create body's shape (``values``), which
is what every comparison with a declaration reads. Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ticketsync.model import Status
from ticketsync.times import read_time

#: The custom fields: each key of the map is a field of its own.
CUSTOM = "unified_custom_fields"
#: Every field of a create body, as kept from a read-back: an entry whose ``remote`` holds
#: all of them knows the tracker's value of each (an absent custom key: none was set).
READ_FIELDS = ("title", "content", "creator_id", "reporters", "assignees", "parent_id",
               "priority", "tags", "organization_id", "project_id", "component_ids", "type",
               CUSTOM)


@dataclass(frozen=True)
class RemoteTicket:
    """One ticket as StackOne read it back (``TicketingReadTicket``), parsed.

    ``values``: every field of :data:`READ_FIELDS` in the create body's shape (custom
    fields: each key the tracker holds a value for). ``project_ids``: every id its
    projects are known by (unified ``id`` and ``remote_id``, and a flat ``project_id``).
    ``created_text``: ``created_at`` as StackOne wrote it (None: not a string), which an
    entry and its journal record keep as they are; ``created_at``/``updated_at`` the times
    it says (None: unreadable).
    """

    id: str
    remote_id: str | None = None
    ticket_number: str | None = None
    ticket_url: str | None = None
    title: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    created_text: str | None = None
    status: Status | None = None
    project_ids: frozenset[str] = frozenset()
    values: Mapping[str, Any] = field(default_factory=dict)


def parse_ticket(data: Any) -> RemoteTicket | None:
    """The ticket a StackOne record holds; None when it is not one (not an object, or no
    id: nothing could fetch, update or track it). Every other field that cannot be read
    is None, or empty."""
    if not isinstance(data, Mapping):
        return None
    ticket_id = data.get("id")
    if not isinstance(ticket_id, str) or not ticket_id:
        return None
    created = data.get("created_at")
    return RemoteTicket(
        id=ticket_id,
        remote_id=_string(data.get("remote_id")),
        ticket_number=_string(data.get("ticket_number")),
        ticket_url=_string(data.get("ticket_url")),
        title=_string(data.get("title")),
        created_at=read_time(created),
        updated_at=read_time(data.get("updated_at")),
        created_text=_string(created),
        status=_status(data.get("status")),
        project_ids=_project_ids(data),
        values=_values(data),
    )


def parse_tickets(records: Iterable[Any]) -> Iterator[RemoteTicket]:
    """The tickets of a listing's ``records``; a record that is none is skipped (no id:
    nothing could match, fetch or track it)."""
    for record in records:
        ticket = parse_ticket(record)
        if ticket is not None:
            yield ticket


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _status(status: Any) -> Status | None:
    if not isinstance(status, Mapping):
        return None
    kind = status.get("type")
    kind = kind.get("value") if isinstance(kind, Mapping) else kind
    return Status(id=_string(status.get("id")), name=_string(status.get("name")),
                  type=_string(kind))


def _project_ids(data: Mapping[str, Any]) -> frozenset[str]:
    ids: set[str] = set()
    projects = data.get("projects")
    if isinstance(projects, list):
        for project in projects:
            if isinstance(project, Mapping):
                for name in ("id", "remote_id"):
                    value = project.get(name)
                    if isinstance(value, str) and value:
                        ids.add(value)
    # Some providers (and older payloads) still carry a flat project_id: accept it too.
    flat = data.get("project_id")
    if isinstance(flat, str) and flat:
        ids.add(flat)
    return frozenset(ids)


def _id_of(value: Any) -> Any:
    return value.get("id") if isinstance(value, Mapping) else value


def _values(data: Mapping[str, Any]) -> dict[str, Any]:
    """The record's :data:`READ_FIELDS` in the create body's shape."""
    values = {name: data.get(name) for name in READ_FIELDS}
    projects = data.get("projects")
    if isinstance(projects, list) and projects:
        values["project_id"] = _id_of(projects[0])
    components = data.get("components")
    if isinstance(components, list):
        values["component_ids"] = [_id_of(c) for c in components]
    values["type"] = _id_of(data.get("type"))
    values["organization_id"] = _id_of(data.get("organization"))
    priority = values["priority"]
    if isinstance(priority, Mapping):
        values["priority"] = {"value": priority.get("value")}
    custom = values[CUSTOM]
    custom = custom if isinstance(custom, Mapping) else {}
    values[CUSTOM] = {key: value for key, value in custom.items() if value is not None}
    return values
