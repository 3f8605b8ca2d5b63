"""The sandbox's directory: the list endpoints (short pages like tickets), the default
seed, ``--seed FILE``, and the ids of create bodies checked like a provider would."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sandbox_helpers import TICKETS, Client, MakeSandbox, spawn_sandbox

from ticketsync.sandbox import Faults, RunningSandbox, SandboxDirectory, default_directory
from ticketsync.sandbox.directory import CursorError, page

ROOT = Path(__file__).resolve().parent.parent
BASE = "/unified/ticketing"


@pytest.fixture
def client(sandbox: RunningSandbox) -> Iterator[Client]:
    c = Client(sandbox.url)
    yield c
    c.close()


def _all(client: Client, path: str, **params: str) -> tuple[list[dict[str, Any]], int]:
    """Every record of a listing, and how many pages it took."""
    records: list[dict[str, Any]] = []
    query = dict(params)
    pages = 0
    while True:
        response = client.call("GET", path, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        records += body["data"]
        pages += 1
        if not body["next"]:
            return records, pages
        query = {**params, "next": body["next"]}


# -- the default seed ----------------------------------------------------------------------


def test_the_default_seed_is_a_realistic_account() -> None:
    seed = default_directory()
    assert len(seed.users) >= 300
    inactive = [u["id"] for u in seed.users if not u["active"]]
    assert len(inactive) >= 5 and all(i >= "user-100" for i in inactive)
    names = Counter(u["name"] for u in seed.users)
    assert [n for n, count in names.items() if count > 1] == ["Sam Lee"]
    assert len({u["email"] for u in seed.users}) == len(seed.users)
    assert len({u["username"] for u in seed.users}) == len(seed.users)
    assert len(seed.projects) >= 5
    own_types = Counter(t["project_id"] for t in seed.ticket_types if t["project_id"])
    assert len(own_types) >= 4  # several projects have types of their own
    assert len({c["project_id"] for c in seed.components}) == len(seed.projects)


def test_the_ids_the_quickstart_and_the_tests_use_exist() -> None:
    seed = default_directory()
    users = {u["id"]: u for u in seed.users}
    for n in range(100):  # bench/gen.py assigns user-000 ... user-099
        assert users[f"user-{n:03d}"]["active"]
    assert {f"project-{n:03d}" for n in range(7)} <= {p["id"] for p in seed.projects}
    assert {f"component-{n:03d}" for n in range(10)} <= {c["id"] for c in seed.components}
    task = [t for t in seed.ticket_types if t["id"] == "ticket-type-001"]
    assert task == [{"id": "ticket-type-001", "name": "Task", "project_id": None}]


# -- the list endpoints --------------------------------------------------------------------


def test_users_are_listed_page_by_page_in_stackones_shape(client: Client) -> None:
    users, pages = _all(client, f"{BASE}/users", page_size="100")
    assert pages == 4 and len(users) == 320
    assert users[1] == {
        "id": "user-001", "remote_id": "user-001", "name": "Alice Martin",
        "primary_email": "alice@example.com", "username": "alice", "active": True,
        "first_name": "Alice", "last_name": "Martin",
        "type": {"value": "agent", "source_value": "agent"},
    }
    assert _all(client, f"{BASE}/users")[1] == 13  # page_size defaults to 25


def test_short_pages_follow_the_page_cap_like_tickets(make_sandbox: MakeSandbox) -> None:
    running = make_sandbox(faults=Faults(page_cap=7))
    client = Client(running.url)
    try:
        projects, pages = _all(client, f"{BASE}/projects", page_size="100")
        assert [p["id"] for p in projects] == [f"project-{n:03d}" for n in range(8)]
        assert pages == 2  # 7, then 1
        users, pages = _all(client, f"{BASE}/users", page_size="100")
        assert [u["id"] for u in users] == [f"user-{n:03d}" for n in range(320)]
        assert pages == 46
        _, pages = _all(client, f"{BASE}/projects/project-001/ticket_types", page_size="10")
        assert pages == 1  # 6 types: not cut
        _, pages = _all(client, f"{BASE}/ticket_types", page_size="100")
        assert pages == 2  # 11 types: 7, then 4
    finally:
        client.close()


def test_a_projects_types_and_components(client: Client) -> None:
    types, _ = _all(client, f"{BASE}/projects/project-001/ticket_types")
    assert [(t["id"], t["name"], t["project_id"]) for t in types] == [
        ("ticket-type-001", "Task", None), ("ticket-type-002", "Bug", None),
        ("ticket-type-003", "Story", None), ("ticket-type-004", "Epic", None),
        ("ticket-type-101", "Incident", "project-001"),
        ("ticket-type-102", "Postmortem", "project-001"),
    ]
    components, _ = _all(client, f"{BASE}/projects/project-003/components")
    assert [(c["id"], c["name"]) for c in components] == [
        ("component-006", "iOS"), ("component-007", "Android"), ("component-008", "API")]
    every_type, _ = _all(client, f"{BASE}/ticket_types")
    assert len(every_type) == 11


def test_listing_errors(client: Client) -> None:
    missing = client.call("GET", f"{BASE}/projects/project-404/components")
    assert (missing.status_code, missing.json()["message"]) == (
        404, "Project project-404 not found")
    assert client.call("GET", f"{BASE}/users", params={"page_size": "101"}).status_code == 400
    bad = client.call("GET", f"{BASE}/users", params={"next": "bm9wZQ"})
    assert (bad.status_code, bad.json()["message"]) == (400, "next: invalid cursor 'bm9wZQ'")
    assert client.call("POST", f"{BASE}/users", json={}).status_code == 404
    anonymous = Client(client.url, key="")
    try:
        assert anonymous.call("GET", f"{BASE}/users").status_code == 401
        # who may not list learns nothing, not even which projects exist
        assert anonymous.call("GET", f"{BASE}/projects/project-404/components").status_code \
            == 401
    finally:
        anonymous.close()


def test_paging_by_offset_cursors() -> None:
    records = [{"id": str(n)} for n in range(5)]
    first = page(records, limit=2, cursor=None)
    assert [r["id"] for r in first.records] == ["0", "1"] and first.next
    second = page(records, limit=2, cursor=first.next)
    last = page(records, limit=2, cursor=second.next)
    assert [r["id"] for r in last.records] == ["4"] and last.next is None
    with pytest.raises(CursorError):
        page(records, limit=2, cursor="!!")
    # A page cut short by the cap has a next, even at the very end, as tickets do.
    fourteen = [{"id": str(n)} for n in range(14)]
    one = page(fourteen, limit=10, cursor=None, cap=7)
    two = page(fourteen, limit=10, cursor=one.next, cap=7)
    three = page(fourteen, limit=10, cursor=two.next, cap=7)
    assert [len(p.records) for p in (one, two, three)] == [7, 7, 0]
    assert three.next is None


# -- ids in create bodies --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"assignees": ["user-001", "user-999"]},
         "assignees[1]: 'user-999' is not a user of this account"),
        ({"creator_id": "user-112"}, "creator_id: 'user-112' is a deactivated user"),
        ({"reporters": ["user-400"]}, "reporters[0]: 'user-400' is not a user of this account"),
        ({"project_id": "project-042"}, "project_id: 'project-042' is not a project of this "
         "account"),
        ({"type": "ticket-type-999"}, "type: 'ticket-type-999' is not a ticket type of this "
         "account"),
        ({"component_ids": ["component-001", "component-077"]},
         "component_ids[1]: 'component-077' is not a component of this account"),
    ],
)
def test_ids_shaped_like_the_directorys_must_exist(
    client: Client, body: dict[str, Any], message: str
) -> None:
    response = client.create({"title": "t", **body})
    assert (response.status_code, response.json()["message"]) == (
        422, f"Invalid request: {message}")


def test_made_up_ids_of_other_shapes_pass_by_default(client: Client) -> None:
    # What existing tests and scripts send: kept working (the sandbox cannot tell them
    # from a provider's ids it does not model).
    body = {"title": "t", "assignees": ["user-9", "u1"], "project_id": "p-1", "type": "bug",
            "component_ids": ["c-1"], "creator_id": "user-jira", "organization_id": "org-1"}
    assert client.create(body).status_code == 201
    # The default does not hold components to the ticket's project (benchmarks mix them)
    assert client.create({"title": "t", "project_id": "project-002",
                          "component_ids": ["component-001"]}).status_code == 201


def test_updates_are_checked_too(client: Client) -> None:
    ticket_id = client.create({"title": "t"}).json()["data"]["id"]
    response = client.call("PATCH", f"{TICKETS}/{ticket_id}",
                           json={"assignees": ["user-999"], "creator_id": "user-999"})
    assert (response.status_code, response.json()["message"]) == (
        422, "Invalid request: assignees[0]: 'user-999' is not a user of this account")


def test_all_checks_every_id_and_the_projects_own(make_sandbox: MakeSandbox, tmp_path: Path
                                                  ) -> None:
    from ticketsync.sandbox import start_sandbox

    with start_sandbox(tmp_path / "all.db", directory=default_directory(check_ids="all")) as s:
        client = Client(s.url)
        try:
            bad = client.create({"title": "t", "project_id": "project-001", "assignees": ["u1"],
                                 "type": "ticket-type-103", "component_ids": ["component-006"]})
            assert bad.json()["message"] == (
                "Invalid request: assignees[0]: 'u1' is not a user of this account; type: "
                "'ticket-type-103' is not a ticket type of project project-001; "
                "component_ids[0]: 'component-006' is not a component of project project-001"
            )
            good = client.create({"title": "t", "project_id": "project-001",
                                  "type": "ticket-type-002", "component_ids": "component-001"})
            assert good.status_code == 201
        finally:
            client.close()


def test_off_checks_nothing() -> None:
    directory = default_directory(check_ids="off")
    assert directory.problems({"assignees": ["user-999"], "project_id": "project-999"}) == []
    with pytest.raises(ValueError, match="check_ids must be one of seeded, all, off"):
        SandboxDirectory(check_ids="some")


# -- --seed FILE -------------------------------------------------------------------------------


def test_a_seed_file_replaces_the_default(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({
        "users": [{"id": "u-1", "name": "Zoe", "email": "zoe@x.io", "username": "zoe",
                   "active": True}],
        "projects": [{"id": "p-1", "name": "Apps"}],
    }))
    with spawn_sandbox(tmp_path / "s.db", "--seed", str(seed), "--check-ids", "all") as server:
        client = Client(server.url)
        try:
            users, _ = _all(client, f"{BASE}/users")
            assert [u["primary_email"] for u in users] == ["zoe@x.io"]
            assert client.create({"title": "t", "assignees": ["user-001"]}).status_code == 422
            assert client.create({"title": "t", "assignees": ["u-1"],
                                  "project_id": "p-1"}).status_code == 201
        finally:
            client.close()


def test_a_bad_seed_file_is_refused(tmp_path: Path) -> None:
    from cli_helpers import invoke

    seed = tmp_path / "seed.json"
    seed.write_text('{"users": [{"id": "u-1"}]}')
    code, out, err = invoke("sandbox", "--db", str(tmp_path / "s.db"), "--seed", str(seed))
    assert (code, out) == (1, "")
    assert err.startswith(f"Error: {seed}: the directory file is corrupt (users.0: 'active' is "
                          "a required property")
    seed.write_text("not json")
    code, out, err = invoke("sandbox", "--db", str(tmp_path / "s.db"), "--seed", str(seed))
    assert err.startswith(f"Error: {seed}: not a directory file (not JSON: ")
