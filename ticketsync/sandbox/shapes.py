"""StackOne's JSON shapes for the sandbox: request-body checks, read tickets, error bodies.

The checks follow what StackOne's spec states for ``TicketingTicketCreateRequestDto`` and
``TicketingTicketUpdateRequestDto`` (tests/test_contract.py holds them to the spec): no
field is required, every field may be null, unknown fields are allowed (the DTOs do not
forbid them; the sandbox ignores them, as StackOne's mapping would). One deliberate
departure: ``component_ids`` is accepted as a string *or* an array of strings, because the
spec types it as a string while StackOne's own examples, and ticketsync, send an array
(docs/stackone-quirks.md).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ticketsync.sandbox.store import UPDATE_FIELDS, StoredTicket
from ticketsync.times import format_time

PRIORITIES = ("lowest", "low", "medium", "high", "highest", "unmapped_value")
STATUS_TYPES = ("to-do", "in-progress", "closed", "unmapped_value")

_STRINGS = ("title", "creator_id", "parent_id", "organization_id", "project_id", "type")
_STRING_LISTS = ("reporters", "assignees", "tags")
# What a PATCH may change: the store's list, the one copy of TicketingTicketUpdateRequestDto.
_UPDATE_FIELDS = frozenset(UPDATE_FIELDS)

_JSON_TYPES = {str: "string", bool: "boolean", int: "number", float: "number", list: "array"}


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "object"
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _check_string(name: str, value: Any) -> list[str]:
    return [] if value is None or isinstance(value, str) else [f"{name} must be a string"]


def _check_string_list(name: str, value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        return [f"{name} must be an array of strings, not {_kind(value)}"]
    return [
        f"{name}[{i}] must be a string, not {_kind(item)}"
        for i, item in enumerate(value)
        if not isinstance(item, str)
    ]


def _check_content(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        return [f"content must be an array of {{plain, html}} objects, not {_kind(value)}"]
    problems = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            problems.append(f"content[{i}] must be an object, not {_kind(item)}")
            continue
        for key in ("plain", "html"):
            if item.get(key) is not None and not isinstance(item[key], str):
                problems.append(f"content[{i}].{key} must be a string")
    return problems


def _check_enum_object(name: str, value: Any, key: str, allowed: tuple[str, ...]) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, dict):
        return [f"{name} must be an object with a {key!r}, not {_kind(value)}"]
    problems = []
    if value.get("id") is not None and not isinstance(value["id"], str):
        problems.append(f"{name}.id must be a string")
    choice = value.get(key)
    if choice is not None and choice not in allowed:
        problems.append(f"{name}.{key} must be one of {', '.join(allowed)}, not {choice!r}")
    return problems


def _check_status(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, dict):
        return [f"status must be an object, not {_kind(value)}"]
    problems = _check_string("status.id", value.get("id"))
    problems += _check_string("status.name", value.get("name"))
    problems += _check_enum_object("status.type", value.get("type"), "value", STATUS_TYPES)
    return problems


def check_body(body: Any, *, update: bool = False) -> list[str]:
    """Every way ``body`` breaks the create (or update) DTO, one message per field."""
    if not isinstance(body, dict):
        return [f"the request body must be a JSON object, not {_kind(body)}"]
    problems: list[str] = []
    for name in sorted(body):
        value = body[name]
        if update and name not in _UPDATE_FIELDS:
            continue  # not part of the update DTO: allowed, and ignored
        if name in _STRINGS:
            problems += _check_string(name, value)
        elif name in _STRING_LISTS:
            problems += _check_string_list(name, value)
        elif name == "component_ids":
            if not isinstance(value, str):  # the quirk: a string or an array of strings
                problems += _check_string_list(name, value)
        elif name == "content":
            problems += _check_content(value)
        elif name == "priority":
            problems += _check_enum_object(name, value, "value", PRIORITIES)
        elif name == "unified_custom_fields":
            if value is not None and not isinstance(value, dict):
                problems.append(f"unified_custom_fields must be an object, not {_kind(value)}")
        elif name == "status" and update:
            problems += _check_status(value)
    return problems


#: The workflow of every sandbox project and ticket type: (name, type), in board order.
WORKFLOW = (
    ("To Do", "to-do"),
    ("In Progress", "in-progress"),
    ("In Review", "in-progress"),
    ("Done", "closed"),
    ("Won't Do", "closed"),
)


def statuses(project_id: Any, ticket_type: Any) -> list[dict[str, Any]]:
    """The statuses a ticket of ``project_id`` and ``ticket_type`` can take, in StackOne's
    shape. Their ids differ per project and type, as a provider's do."""
    scope = f"{project_id or 'none'}.{ticket_type or 'task'}"
    return [
        {"id": f"status-{scope}.{name.lower().replace(' ', '-').replace(chr(39), '')}",
         "name": name, "type": {"value": kind, "source_value": name}}
        for name, kind in WORKFLOW
    ]


def status_problem(fields: Mapping[str, Any], status: Any) -> str | None:
    """Why a ticket with ``fields`` cannot take ``status`` (None: it can)."""
    if not isinstance(status, Mapping):
        return None
    allowed = statuses(fields.get("project_id"), fields.get("type"))
    wanted = status.get("id")
    if any(s["id"] == wanted for s in allowed):
        return None
    names = ", ".join(s["name"] for s in allowed)
    return f"status {wanted!r} is not one of this ticket's statuses ({names})"


#: What ``ticketsync sandbox edit`` changes, as a person would in the tracker; custom
#: fields are ``unified_custom_fields.KEY``.
EDITABLE = ("title", "description", "priority", "assignees", "tags", "status")
_CUSTOM = "unified_custom_fields."


def find_status(fields: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    """The status named ``name`` (case-insensitive) that a ticket with ``fields`` can take."""
    found = statuses(fields.get("project_id"), fields.get("type"))
    return next((s for s in found if s["name"].casefold() == name.strip().casefold()), None)


def tracker_edit(fields: Mapping[str, Any], assignments: Sequence[str]
                 ) -> tuple[dict[str, Any], list[str]]:
    """The changes ``FIELD=VALUE`` ``assignments`` make to a stored ticket with ``fields``
    (None: the field is cleared, as an empty VALUE does), and every problem with them.

    ``description`` becomes ``content``, a ``priority`` its object, ``assignees`` and
    ``tags`` a comma list, ``status`` a status name of the ticket's workflow.
    """
    changes: dict[str, Any] = {}
    problems: list[str] = []
    custom = dict(fields.get("unified_custom_fields") or {})
    for text in assignments:
        name, equals, value = text.partition("=")
        name = name.strip()
        if not equals:
            problems.append(f"{text!r}: expected FIELD=VALUE, e.g. title='New title'")
        elif name.startswith(_CUSTOM) and len(name) > len(_CUSTOM):
            key = name[len(_CUSTOM):]
            if value:
                custom[key] = value
            else:
                custom.pop(key, None)
            changes["unified_custom_fields"] = dict(custom) or None
        elif name not in EDITABLE:
            close = difflib.get_close_matches(name, [*EDITABLE, _CUSTOM + "KEY"], n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            problems.append(f"{name!r} cannot be edited: {hint}the fields are "
                            f"{', '.join(EDITABLE)}, {_CUSTOM}KEY")
        else:
            problem = _edit_one(fields, name, value, changes)
            if problem:
                problems.append(problem)
    return changes, problems


def _edit_one(fields: Mapping[str, Any], name: str, value: str,
              changes: dict[str, Any]) -> str | None:
    """Put ``name=value`` into ``changes``; why it cannot be (None: it can)."""
    if name == "title":
        if not value.strip():
            return "title cannot be empty: a ticket always has one"
        changes["title"] = value
    elif name == "description":
        changes["content"] = [{"plain": value}] if value else None
    elif name == "priority":
        allowed = PRIORITIES[:-1]  # not unmapped_value: a person picks a real one
        if value and value not in allowed:
            return f"priority {value!r} is not one of {', '.join(allowed)}"
        changes["priority"] = {"value": value} if value else None
    elif name in ("assignees", "tags"):
        items = [item.strip() for item in value.split(",") if item.strip()]
        changes[name] = items or None
    else:  # status
        status = find_status(fields, value)
        if status is None:
            names = ", ".join(name for name, _ in WORKFLOW)
            return f"status {value!r} is not one of this ticket's statuses ({names})"
        changes["status"] = status
    return None


def timestamp(now: datetime | None = None) -> str:
    """``now`` (default: this machine's time) in StackOne's form (UTC, milliseconds, ``Z``)."""
    return format_time(now or datetime.now(UTC), "ms")


def error_body(status: int, message: str) -> dict[str, Any]:
    """StackOne's error body; a 400 also carries ``data`` and ``provider_errors``."""
    body: dict[str, Any] = {"statusCode": status, "message": message, "timestamp": timestamp()}
    if status == 400:
        body["data"] = {"statusCode": status, "message": message, "headers": {}}
        body["provider_errors"] = []
    return body


def read_ticket(ticket: StoredTicket, base_url: str) -> dict[str, Any]:
    """The ticket as StackOne reads it back (``TicketingReadTicket``), not as it was sent.

    ``project_id`` becomes ``projects``, ``component_ids`` ``components``, ``type`` an
    object, ``organization_id`` an ``organization``; the provider adds a number, a URL, a
    status and the timestamps. Matching code must compare across these shapes.
    """
    f: Mapping[str, Any] = ticket.fields
    project = f.get("project_id")
    components = f.get("component_ids")
    if isinstance(components, str):
        components = [components]
    ticket_type = f.get("type")
    organization = f.get("organization_id")
    return {
        "id": ticket.id,
        "remote_id": ticket.remote_id,
        "unified_custom_fields": f.get("unified_custom_fields"),
        "title": f.get("title"),
        "creator_id": f.get("creator_id"),
        "reporters": f.get("reporters"),
        "assignees": f.get("assignees"),
        "content": f.get("content"),
        "parent_id": f.get("parent_id"),
        "priority": f.get("priority"),
        "tags": f.get("tags"),
        "projects": ([{"id": project, "remote_id": project, "name": project}] if project else []),
        "ticket_number": ticket.remote_id,
        "type": (
            {"id": ticket_type, "name": ticket_type, "project_id": project} if ticket_type else None
        ),
        "closed_at": None,
        "ticket_url": f"{base_url}/browse/{ticket.remote_id}",
        "status": f.get("status") or statuses(project, ticket_type)[0],
        "organization": (
            {"id": organization, "remote_id": organization, "name": organization}
            if organization
            else None
        ),
        "components": [
            {"id": c, "remote_id": c, "name": c, "project_id": project} for c in components or []
        ],
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
    }
