"""Issue #19: an exported ticket whose title the tracker holds empty is said so, once,
and the advice to give it a title works."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import enter_sandbox_project, invoke
from sandbox_helpers import SandboxProcess, spawn_sandbox, stored_tickets

from ticketsync.sandbox import TicketStore

API_KEY = "export-empty-key"
ACCOUNT = "acc-export-empty"
pytestmark = pytest.mark.slow


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SandboxProcess]:
    with spawn_sandbox(tmp_path / "server.db", api_key=API_KEY) as process:
        yield process


def test_an_empty_title_is_written_as_the_number_and_said(
    tmp_path: Path, server: SandboxProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = enter_sandbox_project(tmp_path / "p", server.url, API_KEY, ACCOUNT, monkeypatch)
    (folder / "ticketsync.yaml").write_text(f"account_id: {ACCOUNT}\n")
    assert invoke("init")[0] == 0
    with TicketStore(server.db_path) as store:
        made = store.create({"title": "", "project_id": "project-001"})
    number = made.remote_id  # the sandbox's ticket number: SBX-1
    key = number.lower()
    code, out, err = invoke("export")
    assert code == 0, out + err
    assert err == (f"{key}: the tracker's title is empty, so the file says '{number}': write"
                   " the title it should have there, then `ticketsync apply --overwrite` sets"
                   " it in the tracker\n")
    exported = folder / "tickets" / "exported.yaml"
    text = exported.read_text()
    assert f"title: {number}\n" in text
    exported.write_text(text.replace(f"title: {number}\n", "title: Checkout outage\n"))
    code, out, err = invoke("apply", "--yes", "--overwrite")
    assert code == 0, out + err
    [ticket] = stored_tickets(server.db_path)
    assert ticket.fields["title"] == "Checkout outage"
