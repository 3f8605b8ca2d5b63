"""The sandbox over real HTTP on loopback: endpoints, auth, pagination, faults, restarts."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from sandbox_helpers import (
    TICKETS,
    Client,
    MakeSandbox,
    count_by_title,
    spawn_sandbox,
)

from ticketsync.cli import main
from ticketsync.sandbox import Faults, RunningSandbox


@pytest.fixture
def client(sandbox: RunningSandbox) -> Iterator[Client]:
    c = Client(sandbox.url)
    yield c
    c.close()


def _created_id(response: requests.Response) -> str:
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["id"])


# -- endpoints -------------------------------------------------------------------------------


def test_create_answers_201_with_ids(client: Client) -> None:
    response = client.create({"title": "Outage"})
    body = response.json()
    assert response.status_code == 201
    assert body["statusCode"] == 201 and body["message"] and body["timestamp"].endswith("Z")
    assert body["data"]["remote_id"] == "SBX-1"


def test_get_answers_the_read_shape(client: Client) -> None:
    ticket_id = _created_id(
        client.create(
            {
                "title": "Outage",
                "content": [{"plain": "502s"}],
                "priority": {"value": "high"},
                "project_id": "project-001",
                "component_ids": ["component-001"],
                "type": "ticket-type-001",
                "unified_custom_fields": {"ticketsync_key": "prod-outage"},
            }
        )
    )
    response = client.call("GET", f"{TICKETS}/{ticket_id}")
    data = response.json()["data"]
    assert response.status_code == 200
    assert data["id"] == ticket_id and data["ticket_number"] == "SBX-1"
    assert data["projects"][0]["id"] == "project-001" and "project_id" not in data
    assert [c["id"] for c in data["components"]] == ["component-001"]
    assert data["type"] == {
        "id": "ticket-type-001",
        "name": "ticket-type-001",
        "project_id": "project-001",
    }
    assert data["content"] == [{"plain": "502s"}]
    assert data["unified_custom_fields"] == {"ticketsync_key": "prod-outage"}
    assert data["status"]["type"]["value"] == "to-do"
    assert data["created_at"] == data["updated_at"]


def test_get_and_patch_of_an_unknown_id_are_404(client: Client) -> None:
    assert client.call("GET", f"{TICKETS}/nope").status_code == 404
    assert client.call("PATCH", f"{TICKETS}/nope", json={"title": "x"}).status_code == 404


def test_patch_changes_fields_and_answers_without_data(client: Client) -> None:
    ticket_id = _created_id(client.create({"title": "a", "tags": ["x"]}))
    time.sleep(0.005)
    response = client.call("PATCH", f"{TICKETS}/{ticket_id}", json={"title": "b"})
    assert response.status_code == 200 and "data" not in response.json()
    data = client.call("GET", f"{TICKETS}/{ticket_id}").json()["data"]
    assert (data["title"], data["tags"]) == ("b", ["x"])
    assert data["updated_at"] > data["created_at"]


def test_unknown_routes_and_methods_are_404(client: Client) -> None:
    assert client.call("GET", "/unified/ticketing/comments").status_code == 404
    assert client.call("DELETE", f"{TICKETS}/x").status_code == 404


# -- auth ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer abc"},
        {"Authorization": "Basic !!!"},
        {"Authorization": "Basic Og=="},
    ],  # ":" : an empty key
    ids=["none", "bearer", "garbage", "empty-key"],
)
def test_requests_without_a_key_are_401(sandbox: RunningSandbox, headers: dict[str, str]) -> None:
    response = requests.get(
        sandbox.url + TICKETS, headers={"x-account-id": "a", **headers}, timeout=10
    )
    assert response.status_code == 401
    assert response.json()["statusCode"] == 401


def test_a_configured_key_is_the_only_one_accepted(make_sandbox: MakeSandbox) -> None:
    running = make_sandbox(api_key="right")
    wrong, right = Client(running.url, key="wrong"), Client(running.url, key="right")
    try:
        assert wrong.call("GET").status_code == 401
        assert right.call("GET").status_code == 200
    finally:
        wrong.close()
        right.close()


def test_a_missing_account_id_is_400(sandbox: RunningSandbox) -> None:
    c = Client(sandbox.url, account=None)
    try:
        response = c.create({"title": "x"})
    finally:
        c.close()
    assert response.status_code == 400
    assert "x-account-id" in response.json()["message"]
    assert len(sandbox.store) == 0


# -- request bodies ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": 5}, "title"),
        ({"tags": "a"}, "tags"),
        ({"assignees": [1]}, "assignees[0]"),
        ({"content": "text"}, "content"),
        ({"content": [{"plain": 3}]}, "content[0].plain"),
        ({"priority": "high"}, "priority"),
        ({"priority": {"value": "urgent"}}, "priority.value"),
        ({"unified_custom_fields": []}, "unified_custom_fields"),
        ({"component_ids": [1]}, "component_ids[0]"),
    ],
)
def test_bodies_breaking_the_spec_are_400_naming_the_field(
    client: Client, body: dict[str, Any], field: str
) -> None:
    response = client.create(body)
    assert response.status_code == 400
    assert f"{field} must" in response.json()["message"]
    assert response.json()["provider_errors"] == []


@pytest.mark.parametrize("raw", [b"{not json", b"[1]", b""])
def test_a_body_that_is_not_a_json_object_is_400(client: Client, raw: bytes) -> None:
    response = client.call("POST", data=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 400


def test_nulls_and_unknown_fields_are_allowed_as_the_spec_says(
    sandbox: RunningSandbox, client: Client
) -> None:
    ticket_id = _created_id(client.create({"title": None, "tags": None, "extra": {"a": 1}}))
    stored = sandbox.store.get(ticket_id)
    assert stored is not None and "extra" not in stored.fields


@pytest.mark.parametrize("value", [["component-001", "component-002"], "component-001"])
def test_component_ids_may_be_an_array_or_a_string(client: Client, value: object) -> None:
    ticket_id = _created_id(client.create({"title": "t", "component_ids": value}))
    data = client.call("GET", f"{TICKETS}/{ticket_id}").json()["data"]
    assert [c["id"] for c in data["components"]] == (value if isinstance(value, list) else [value])


def test_a_parent_id_must_name_a_ticket(client: Client) -> None:
    assert client.create({"title": "orphan", "parent_id": "missing"}).status_code == 422
    parent = _created_id(client.create({"title": "parent"}))
    assert client.create({"title": "child", "parent_id": parent}).status_code == 201


# -- listing ---------------------------------------------------------------------------------


def _list_all(client: Client, **params: str) -> tuple[list[dict[str, Any]], list[int]]:
    tickets: list[dict[str, Any]] = []
    sizes: list[int] = []
    cursor: str | None = None
    for _ in range(100):
        query = dict(params, **({"next": cursor} if cursor else {}))
        body = client.call("GET", params=query).json()
        tickets += body["data"]
        sizes.append(len(body["data"]))
        cursor = body["next"]
        if cursor is None:
            return tickets, sizes
    raise AssertionError("the cursor never ended")


def test_pages_follow_next_to_the_end(client: Client) -> None:
    made = [_created_id(client.create({"title": f"t{i}"})) for i in range(7)]
    tickets, sizes = _list_all(client, page_size="3")
    assert [t["id"] for t in tickets] == made
    assert sizes == [3, 3, 1]


def test_short_pages_still_have_a_next(make_sandbox: MakeSandbox) -> None:
    running = make_sandbox(faults=Faults(page_cap=2))
    c = Client(running.url)
    try:
        made = [_created_id(c.create({"title": f"t{i}"})) for i in range(5)]
        tickets, sizes = _list_all(c, page_size="10")
    finally:
        c.close()
    assert [t["id"] for t in tickets] == made
    assert sizes == [2, 2, 1]


def test_filter_updated_after(client: Client) -> None:
    first = _created_id(client.create({"title": "old"}))
    time.sleep(0.01)
    since = client.call("GET", f"{TICKETS}/{first}").json()["data"]["updated_at"]
    time.sleep(0.01)
    later = _created_id(client.create({"title": "new"}))
    tickets, _ = _list_all(client, **{"filter[updated_after]": since})
    assert [t["id"] for t in tickets] == [later]


@pytest.mark.parametrize(
    "params",
    [
        {"page_size": "101"},
        {"page_size": "0"},
        {"page_size": "ten"},
        {"filter[updated_after]": "yesterday"},
        {"next": "bogus"},
    ],
)
def test_bad_list_parameters_are_400(client: Client, params: dict[str, str]) -> None:
    assert client.call("GET", params=params).status_code == 400


# -- concurrency, restarts, processes ----------------------------------------------------------


def test_sixteen_concurrent_clients(sandbox: RunningSandbox) -> None:
    errors: list[str] = []

    def work(n: int) -> None:
        c = Client(sandbox.url)
        try:
            for i in range(25):
                response = c.create({"title": f"{n}-{i}"})
                if response.status_code != 201:
                    errors.append(response.text)
        finally:
            c.close()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert len(sandbox.store) == 400


def test_tickets_survive_a_restart(make_sandbox: MakeSandbox, tmp_path: Path) -> None:
    db = tmp_path / "kept.db"
    first = make_sandbox(db_path=db)
    c = Client(first.url)
    ticket_id = _created_id(c.create({"title": "kept"}))
    c.close()
    first.stop()
    second = make_sandbox(db_path=db)
    c = Client(second.url)
    try:
        assert c.call("GET", f"{TICKETS}/{ticket_id}").json()["data"]["title"] == "kept"
    finally:
        c.close()


def test_a_separate_process_serves_breaks_and_stops_cleanly(tmp_path: Path) -> None:
    db = tmp_path / "proc.db"
    with spawn_sandbox(db, "--fault", "store-then-drop:op=create,nth=1", api_key="k") as proc:
        assert proc.url.startswith("http://127.0.0.1:")
        c = Client(proc.url, key="k")
        try:
            with pytest.raises(requests.ConnectionError):
                c.create({"title": "dropped"})
            assert c.create({"title": "kept"}).status_code == 201
            other = Client(proc.url, key="other")
            assert other.call("GET").status_code == 401
            other.close()
        finally:
            c.close()
        assert count_by_title(db) == {"dropped": 1, "kept": 1}  # read while it serves
        assert proc.stop() == 0
    assert "Traceback" not in proc.log()


def test_a_killed_server_keeps_what_it_stored(tmp_path: Path) -> None:
    proc = spawn_sandbox(tmp_path / "k.db")
    c = Client(proc.url)
    try:
        for i in range(20):
            _created_id(c.create({"title": f"t{i}"}))
    finally:
        c.close()
        proc.kill()
    assert sum(count_by_title(tmp_path / "k.db").values()) == 20


def test_the_command_refuses_a_non_loopback_host() -> None:
    result = CliRunner().invoke(main, ["sandbox", "--host", "0.0.0.0"])
    assert result.exit_code == 1
    assert "--allow-remote" in result.output


@pytest.mark.parametrize("args", [["--fault", "nope"], ["--rate-limit", "5/hour"]])
def test_the_command_refuses_bad_fault_options(args: list[str]) -> None:
    assert CliRunner().invoke(main, ["sandbox", *args]).exit_code == 64
