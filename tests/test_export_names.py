"""Export by name: each name written is one the loader reads back as the very same id."""

from __future__ import annotations

from typing import Any

import pytest

from ticketsync.account.export import Namer, build_export
from ticketsync.declare.directory import Component, Directory, Project, TicketType, User
from ticketsync.declare.names import Resolver
from ticketsync.model import State
from ticketsync.stackone.read import parse_ticket

DIRECTORY = Directory.of(
    "acc", "2026-12-01T00:00:00Z",
    users=[
        User("u1", "Sam Lee", "sam@example.com", "sam"),
        User("u2", "Sam Lee", None, "slee"),  # same name, no email: the username
        User("u3", "Kim Park"),  # a name only, unique
        User("u4", "Sam Lee"),  # a name shared, nothing else: only the id reads back
        User("u5", "Ex Employee", "ex@example.com", active=False),
    ],
    projects=[Project("p1", "Platform"), Project("p2", "Platform"), Project("p3", "Ops")],
    ticket_types=[TicketType("t0", "Task"), TicketType("t1", "Bug", "p3"),
                  TicketType("t2", "Bug", "p1")],
    components=[Component("c1", "API", "p3"), Component("c2", None, "p3")],
)
STATE = State(2, "lineage", 1, "2026-12-01T00:00:00Z", "acc", {})


@pytest.fixture
def namer() -> Namer:
    return Namer(Resolver(DIRECTORY))


@pytest.mark.parametrize(("kind", "value", "scope", "written"), [
    ("user", "u1", None, "sam@example.com"),
    ("user", "u2", None, "slee"),
    ("user", "u3", None, "Kim Park"),
    ("user", "u4", None, "u4"),
    ("project", "p3", None, "Ops"),
    ("project", "p1", None, "p1"),  # two projects named Platform: the id
    ("type", "t0", "p3", "Task"),
    ("type", "t1", "p3", "Bug"),
    ("type", "t2", "p1", "Bug"),  # the same name, scoped by the ticket's project
    ("component", "c1", "p3", "API"),
    ("component", "c2", "p3", "c2"),  # no name
])
def test_the_shortest_name_that_reads_back(namer: Namer, kind: str, value: str,
                                           scope: str | None, written: str) -> None:
    assert namer.name(kind, value, scope) == written
    assert namer.resolver.lookup(kind, written, scope) == (value, "")


def test_what_cannot_be_declared_says_why(namer: Namer) -> None:
    assert namer.name("user", "u5") is None and "deactivated" in namer.why
    assert namer.name("user", "u9") is None and "not a user in the directory" in namer.why
    assert namer.names("user", ["u1", "u5"], None) is None


def _export(ticket: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], tuple[str, ...]]:
    read = parse_ticket({"id": "r1", "created_at": "2026-01-01T00:00:00Z", **ticket})
    assert read is not None
    [one] = build_export([read], STATE, (), resolver=Resolver(DIRECTORY)).tickets
    return one.fields, one.applied, one.left_out


def test_a_ticket_of_an_ambiguous_project_keeps_ids_under_the_apis_fields() -> None:
    fields, applied, left_out = _export({
        "title": "x", "project_id": "p1", "type": "t2", "creator_id": "u4",
        "assignees": ["u1", "u3"]})
    assert fields == {"title": "x", "project_id": "p1", "type": "Bug", "creator_id": "u4",
                      "assignees": ["sam@example.com", "Kim Park"]}
    assert applied == {"assignees": ["u1", "u3"], "creator_id": "u4", "project_id": "p1",
                       "title": "x", "type": "t2"}
    assert left_out == ()


def test_a_field_that_cannot_be_declared_is_left_out_of_file_and_body() -> None:
    fields, applied, left_out = _export({
        "title": "x", "project_id": "p9", "component_ids": ["c1"], "reporters": ["u5"]})
    assert fields == {"title": "x", "components": ["API"]}  # unscoped: found anywhere
    assert applied == {"component_ids": ["c1"], "title": "x"}
    assert [why.split(":")[0] for why in left_out] == ["project", "reporters"]
    assert "'p9' is not a project in the directory" in left_out[0]
