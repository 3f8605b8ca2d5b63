"""A ticket as StackOne reads it back, parsed once (ticketsync/stackone/read.py): whatever a
server sends, each field is read or None, and only a record without an id is no ticket."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ticketsync.stackone.read import READ_FIELDS, RemoteTicket, parse_ticket, parse_tickets

#: A ticket as StackOne's TicketingReadTicket shows it (the read shape).
FULL: dict[str, Any] = {
    "id": "t-1", "remote_id": "10001", "ticket_number": "PLAT-1",
    "ticket_url": "https://jira.example.com/browse/PLAT-1", "title": "Outage",
    "created_at": "2026-01-02T03:04:05.678Z", "updated_at": "2026-01-03T00:00:00+01:00",
    "status": {"id": "s1", "name": "In Progress", "type": {"value": "in-progress"}},
    "projects": [{"id": "p1", "remote_id": "PLAT", "name": "Platform"}],
    "components": [{"id": "c1", "name": "API"}, "c2"],
    "type": {"id": "bug", "name": "Bug"}, "organization": {"id": "o1"},
    "priority": {"id": "pr", "value": "high", "source_value": "High"},
    "content": [{"plain": "Down", "html": "<p>Down</p>"}],
    "assignees": ["u1"], "reporters": [], "tags": ["ops"], "creator_id": "u2",
    "parent_id": None, "unified_custom_fields": {"tsk": "outage", "gone": None},
}


def parsed(record: Any) -> RemoteTicket:
    ticket = parse_ticket(record)
    assert ticket is not None
    return ticket


def test_a_full_ticket_is_read_into_typed_fields() -> None:
    ticket = parsed(FULL)
    assert (ticket.id, ticket.remote_id, ticket.ticket_number, ticket.title) == (
        "t-1", "10001", "PLAT-1", "Outage")
    assert ticket.ticket_url == "https://jira.example.com/browse/PLAT-1"
    assert ticket.created_at == datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    assert ticket.updated_at == datetime(2026, 1, 2, 23, 0, tzinfo=UTC)
    assert ticket.created_text == "2026-01-02T03:04:05.678Z"  # kept as written, for an entry
    assert ticket.status == {"id": "s1", "name": "In Progress", "type": "in-progress"}
    assert ticket.project_ids == {"p1", "PLAT"}


def test_values_are_in_the_create_bodys_shape() -> None:
    values = parsed(FULL).values
    assert list(values) == list(READ_FIELDS)
    assert values == {
        "title": "Outage", "content": [{"plain": "Down", "html": "<p>Down</p>"}],
        "creator_id": "u2", "reporters": [], "assignees": ["u1"], "parent_id": None,
        "priority": {"value": "high"}, "tags": ["ops"], "organization_id": "o1",
        "project_id": "p1", "component_ids": ["c1", "c2"], "type": "bug",
        "unified_custom_fields": {"tsk": "outage"},  # a key without a value is none set
    }


def test_a_write_shaped_record_reads_the_same() -> None:
    """A provider (or an older payload) answering with the create body's flat fields."""
    ticket = parsed({"id": "t", "project_id": "p9", "component_ids": ["c1"], "type": "bug",
                     "priority": "high"})
    assert ticket.project_ids == {"p9"}
    assert (ticket.values["project_id"], ticket.values["component_ids"]) == ("p9", ["c1"])
    assert (ticket.values["type"], ticket.values["priority"]) == ("bug", "high")


@pytest.mark.parametrize("record", [
    None, "t-1", 7, [], ["t-1"], {}, {"id": None}, {"id": 7}, {"id": ""}, {"id": ["t-1"]},
    {"title": "no id"},
])
def test_a_record_without_a_string_id_is_no_ticket(record: Any) -> None:
    assert parse_ticket(record) is None


def test_a_listing_skips_the_records_that_are_no_ticket() -> None:
    records = [{"id": "a"}, {"title": "x"}, None, {"id": 3}, {"id": "b"}]
    assert [t.id for t in parse_tickets(records)] == ["a", "b"]


GARBAGE: dict[str, Any] = {
    "id": "t-1", "remote_id": 10001, "ticket_number": 1, "ticket_url": {"href": "x"},
    "title": ["T"], "created_at": "yesterday", "updated_at": 1767225600,
    "status": "Done", "projects": "p1", "components": {"id": "c1"}, "type": ["bug"],
    "organization": "o1", "priority": 3, "unified_custom_fields": ["tsk"],
}


def test_garbage_fields_parse_to_none_never_an_error() -> None:
    ticket = parsed(GARBAGE)
    # Every other field: none (a time that is text is kept as written, unread).
    assert ticket == RemoteTicket(id="t-1", created_text="yesterday", values=ticket.values)
    assert ticket.values["unified_custom_fields"] == {}
    # Not the read shape's list: the flat field, which this record does not have.
    assert ticket.values["component_ids"] is None
    assert (ticket.values["organization_id"], ticket.values["priority"]) == ("o1", 3)


@pytest.mark.parametrize(("status", "read"), [
    ("Done", None),
    (None, None),
    ({}, {"id": None, "name": None, "type": None}),
    ({"id": 5, "name": ["Done"], "type": "closed"}, {"id": None, "name": None, "type": "closed"}),
    ({"name": "Done", "type": {"value": 3}}, {"id": None, "name": "Done", "type": None}),
    ({"name": "Done", "type": {}}, {"id": None, "name": "Done", "type": None}),
])
def test_a_status_is_read_as_the_state_keeps_it(status: Any, read: Any) -> None:
    """Strings or None, as the state file's schema takes them (status: {id, name, type})."""
    assert parsed({"id": "t", "status": status}).status == read


@pytest.mark.parametrize("projects", [
    None, "p1", [None, 1, "p1"], [{"id": None, "remote_id": ""}], [{"id": 1}],
])
def test_unreadable_projects_are_no_project(projects: Any) -> None:
    ticket = parsed({"id": "t", "projects": projects})
    assert ticket.project_ids == frozenset()


@pytest.mark.parametrize("moment", ["", "yesterday", "2026-13-01T00:00:00Z", 0, None, {}])
def test_an_unreadable_time_is_none(moment: Any) -> None:
    ticket = parsed({"id": "t", "created_at": moment, "updated_at": moment})
    assert (ticket.created_at, ticket.updated_at) == (None, None)
    assert ticket.created_text == (moment if isinstance(moment, str) else None)
