"""A state belongs to one account and one project config (issue #17, items 13 and 7).

Against the sandbox over loopback, in its own process (its request log says what was
sent): a state ``init`` left without an account is bound to the account of its first
write that talks to StackOne, and refuses any other from then on, before anything is
sent; two project configs pointing at one state file are refused, naming both, by a run
of either (once the state knows its project) and by ``--projects`` up front.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import enter_sandbox_project, invoke, write
from sandbox_helpers import SandboxProcess, spawn_sandbox, stored_tickets

from ticketsync.sandbox import TicketStore

API_KEY = "binding-key"
STATE = "ticketsync.state.json"
pytestmark = pytest.mark.slow


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SandboxProcess]:
    with spawn_sandbox(tmp_path / "server.db", api_key=API_KEY) as process:
        yield process


def requests_sent(server: SandboxProcess) -> list[str]:
    return [line for line in server.log().splitlines()
            if line.split(" ", 1)[0] in ("GET", "POST", "PATCH", "PUT", "DELETE")]


def declare(folder: Path, *keys: str) -> None:
    tickets = "".join(f"\n  {key}: {{title: Ticket {key}}}" for key in keys) or " {}"
    write(folder / "tickets" / "t.yaml",
          f"defaults: {{project_id: project-001}}\ntickets:{tickets}\n")


def state_doc(path: Path) -> dict[str, object]:
    doc: dict[str, object] = json.loads(path.read_text(encoding="utf-8"))
    return doc


# --- item 13: the account --------------------------------------------------------------


@pytest.fixture
def unbound(tmp_path: Path, server: SandboxProcess, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project whose state ``init`` wrote without an account."""
    folder = enter_sandbox_project(tmp_path / "p", server.url, API_KEY, "acc-9", monkeypatch)
    monkeypatch.delenv("STACKONE_ACCOUNT_ID")
    code, out, _ = invoke("init")
    assert code == 0
    assert (f"Wrote {STATE} (empty, no account yet: the first apply binds it). "
            "Commit it with your ticket files.\n") in out
    assert state_doc(folder / STATE)["account_id"] is None
    declare(folder, "a", "b")
    return folder


def test_the_first_apply_binds_the_state_and_another_account_is_refused_before_sending(
    unbound: Path, server: SandboxProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STACKONE_ACCOUNT_ID", "acc-9")
    code, _, err = invoke("apply", "--yes")
    assert code == 0, err
    assert state_doc(unbound / STATE)["account_id"] == "acc-9"
    before, sent, stored = (unbound / STATE).read_bytes(), requests_sent(server), (
        stored_tickets(server.db_path))
    assert len(stored) == 2
    declare(unbound, "a", "b", "c")  # something to do, were it allowed
    monkeypatch.setenv("STACKONE_ACCOUNT_ID", "acc-10")
    code, out, err = invoke("apply", "--yes")
    assert (code, out) == (1, "")
    assert err == (
        f"Error: state file {STATE} belongs to account acc-9, not acc-10: check "
        "STACKONE_ACCOUNT_ID and account_id in ticketsync.yaml; it was left as it is\n"
    )
    assert requests_sent(server) == sent  # nothing was sent
    assert stored_tickets(server.db_path) == stored
    assert (unbound / STATE).read_bytes() == before  # byte for byte
    monkeypatch.setenv("STACKONE_ACCOUNT_ID", "acc-9")  # the right account goes on
    code, _, err = invoke("apply", "--yes")
    assert code == 0, err
    assert len(stored_tickets(server.db_path)) == 3


def test_state_import_binds_the_state_too(
    unbound: Path, server: SandboxProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    with TicketStore(server.db_path) as store:
        ticket_id = store.create({"title": "Ticket a", "project_id": "project-001"}).id
    monkeypatch.setenv("STACKONE_ACCOUNT_ID", "acc-9")
    code, out, err = invoke("state", "import", "a", ticket_id)
    assert (code, out) == (0, f"Imported {ticket_id} as a.\n"), err
    assert state_doc(unbound / STATE)["account_id"] == "acc-9"
    monkeypatch.setenv("STACKONE_ACCOUNT_ID", "acc-10")
    code, _, err = invoke("apply", "--yes")
    assert code == 1 and "belongs to account acc-9, not acc-10" in err


def test_an_apply_with_nothing_to_do_leaves_the_state_unbound_and_unwritten(
    unbound: Path, server: SandboxProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing was created in the account: nothing ties the state to it yet (a mistyped
    account that created nothing must not lock the state out of the right one)."""
    declare(unbound)
    before = (unbound / STATE).read_bytes()
    monkeypatch.setenv("STACKONE_ACCOUNT_ID", "acc-typo")
    code, _, err = invoke("apply", "--yes")
    assert code == 0, err
    assert (unbound / STATE).read_bytes() == before


def test_the_sandbox_state_stays_its_own(
    unbound: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--sandbox`` has a state of its own, bound to the sandbox account and to no
    project, whatever STACKONE_ACCOUNT_ID says; the project's state is not touched."""
    before = (unbound / STATE).read_bytes()
    monkeypatch.setenv("STACKONE_ACCOUNT_ID", "acc-9")
    for _ in range(2):
        code, _, err = invoke("apply", "--sandbox", "--yes")
        assert code == 0, err
    sandbox_state = state_doc(unbound / ".ticketsync" / "sandbox.state.json")
    assert sandbox_state["account_id"] == "sandbox" and "project" not in sandbox_state
    assert sorted(sandbox_state["tickets"]) == ["a", "b"]  # type: ignore[call-overload]
    assert (unbound / STATE).read_bytes() == before


# --- item 7: the project ---------------------------------------------------------------


def shared_projects(root: Path, url: str) -> None:
    """p1 and p2, each with a ticket of its own, both with ``state: ../shared.state.json``
    and ``removed: close``."""
    for name in ("p1", "p2"):
        write(root / name / "ticketsync.yaml", (
            f"state: ../shared.state.json\nremoved: close\naccount_id: acc-1\nbase_url: {url}\n"))
        declare(root / name, f"{name}-only")


@pytest.fixture
def repo(tmp_path: Path, server: SandboxProcess, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = enter_sandbox_project(tmp_path / "repo", server.url, API_KEY, "acc-1", monkeypatch)
    shared_projects(root, server.url)
    return root


def test_init_binds_the_state_to_its_config(repo: Path) -> None:
    assert invoke("-C", "p1", "init")[0] == 0
    assert state_doc(repo / "shared.state.json")["project"] == "p1/ticketsync.yaml"
    assert invoke("init")[0] == 0  # defaults only: bound to where its config would be
    assert state_doc(repo / STATE)["project"] == "ticketsync.yaml"


def test_a_second_project_on_the_same_state_is_refused_naming_both_configs(
    repo: Path, server: SandboxProcess
) -> None:
    assert invoke("-C", "p1", "init")[0] == 0
    code, _, err = invoke("-C", "p1", "apply", "--yes")
    assert code == 0, err
    before, sent = (repo / "shared.state.json").read_bytes(), requests_sent(server)
    code, out, err = invoke("-C", "p2", "apply", "--yes")
    assert (code, out) == (1, "")
    assert err == (
        "Error: state file ../shared.state.json belongs to the project of "
        "../p1/ticketsync.yaml, not ticketsync.yaml: give each project a `state:` file of its "
        'own in its config (if that config was moved here, set "project": '
        '"p2/ticketsync.yaml" in the state file); it was left as it is\n'
    )
    assert requests_sent(server) == sent  # p1's ticket was not closed: nothing was sent
    assert (repo / "shared.state.json").read_bytes() == before
    assert [t.title for t in stored_tickets(server.db_path)] == ["Ticket p1-only"]
    assert invoke("-C", "p2", "plan", "--refresh")[0] in (0, 1)  # read-only: never writes
    assert (repo / "shared.state.json").read_bytes() == before


def test_an_older_state_is_bound_by_its_first_write(repo: Path, server: SandboxProcess) -> None:
    """A state written before ``project`` existed (format 2) is read as it is and bound to
    the config of the first run that writes it; the other project is refused after."""
    assert invoke("-C", "p1", "init")[0] == 0
    doc = state_doc(repo / "shared.state.json")
    del doc["project"]
    (repo / "shared.state.json").write_text(json.dumps({**doc, "version": 2}, indent=2))
    code, _, err = invoke("-C", "p1", "apply", "--yes")
    assert code == 0, err
    upgraded = state_doc(repo / "shared.state.json")
    assert (upgraded["version"], upgraded["project"]) == (3, "p1/ticketsync.yaml")
    code, _, err = invoke("-C", "p2", "apply", "--yes")
    assert code == 1 and "belongs to the project of" in err


def test_projects_sharing_a_state_file_are_refused_up_front(
    repo: Path, server: SandboxProcess
) -> None:
    for command in ("plan", "apply"):
        code, out, err = invoke(command, "--projects", ".", *(
            ("--yes",) if command == "apply" else ()))
        assert (code, out) == (1, "")
        assert err == (
            "Error: p1/ticketsync.yaml and p2/ticketsync.yaml both keep their state in "
            "shared.state.json: two projects sharing a state file would close each other's "
            "tickets; give each project a `state:` file of its own\n"
        )
    assert requests_sent(server) == []
    assert not (repo / "shared.state.json").exists()
