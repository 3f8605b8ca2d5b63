"""`ticketsync sandbox edit|close|delete|reset`: the sandbox plays the tracker; ticket URLs
that stay the same from run to run and open a page."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from cli_helpers import enter_project, invoke, write
from sandbox_helpers import REQUEST_TIMEOUT, stored_tickets

from ticketsync.sandbox import TicketStore, start_sandbox
from ticketsync.sandbox.shapes import tracker_edit

TICKETS = """\
    defaults: {project_id: project-001}
    tickets:
      alpha: {title: Alpha, assignees: [user-001], tags: [x]}
      beta: {title: Beta, priority: low}
"""
DB = Path(".ticketsync/sandbox.db")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    enter_project(tmp_path, monkeypatch)
    write(tmp_path / "tickets" / "t.yaml", TICKETS)
    code, out, err = invoke("apply", "--sandbox", "--yes")
    assert code == 0, out + err
    return tmp_path


def number(key: str) -> str:
    """The ticket's number (creates run concurrently: their order is not fixed)."""
    doc = json.loads(Path(".ticketsync/sandbox.state.json").read_text(encoding="utf-8"))
    return str(doc["tickets"][key]["ticket_number"])


def fields(key: str) -> dict[str, object]:
    with TicketStore(DB) as store:
        ticket = store.get_number(number(key))
        assert ticket is not None
        return dict(ticket.fields)


def test_edit_by_key_or_number_changes_what_the_tracker_holds(project: Path) -> None:
    code, out, err = invoke("sandbox", "edit", "alpha", "assignees=user-042, user-043",
                            "priority=high", "description=Now with steps",
                            "unified_custom_fields.sprint=S1", "status=in review")
    assert (code, out, err) == (
        0, f"Edited {number('alpha')} (alpha) in the sandbox: assignees, description, "
        "priority, status, unified_custom_fields.sprint.\n", "")
    alpha = fields("alpha")
    assert alpha["assignees"] == ["user-042", "user-043"]
    assert alpha["priority"] == {"value": "high"}
    assert alpha["content"] == [{"plain": "Now with steps"}]
    assert alpha["unified_custom_fields"] == {"sprint": "S1"}
    assert alpha["status"]["name"] == "In Review"  # type: ignore[index]
    beta = number("beta").lower()  # numbers are case-insensitive
    assert invoke("sandbox", "edit", beta, "priority=", "tags=")[0] == 0  # empty: cleared
    assert "priority" not in fields("beta") and "tags" not in fields("beta")


def test_close_sets_a_closed_status_and_delete_removes_the_ticket(project: Path) -> None:
    alpha, beta = number("alpha"), number("beta")
    assert invoke("sandbox", "close", "alpha") == (
        0, f"Closed {alpha} (alpha) in the sandbox: Done.\n", "")
    assert invoke("sandbox", "close", beta, "--status", "won't do")[1] == (
        f"Closed {beta} (beta) in the sandbox: Won't Do.\n")
    code, _, err = invoke("sandbox", "close", "alpha", "--status", "In Review")
    assert code == 64
    assert err.endswith("Error: Invalid value for --status: 'In Review' is not a closed "
                        "status (one of Done, Won't Do)\n")
    assert invoke("sandbox", "delete", "beta") == (0, f"Deleted {beta} (beta) in the sandbox.\n",
                                                   "")
    assert [t.remote_id for t in stored_tickets(DB)] == [alpha]
    assert invoke("sandbox", "edit", beta, "title=x") == (
        1, "", f"Error: {beta} (beta) is not in the sandbox any more: it was deleted "
        "(`ticketsync plan --sandbox --refresh=full` reports it)\n")


def test_bad_fields_and_unknown_tickets_are_one_clear_line(project: Path) -> None:
    code, out, err = invoke("sandbox", "edit", "alpha", "titel=x", "priority=urgent", "oops")
    assert (code, out) == (64, "")
    assert err.splitlines()[-1] == (
        "Error: Invalid value for FIELD=VALUE: 'titel' cannot be edited: did you mean "
        "'title'? the fields are title, description, priority, assignees, tags, status, "
        "unified_custom_fields.KEY; priority 'urgent' is not one of lowest, low, medium, "
        "high, highest; 'oops': expected FIELD=VALUE, e.g. title='New title'")
    assert invoke("sandbox", "edit", "alpah", "title=x") == (
        1, "", "Error: 'alpah' names no ticket of the sandbox: did you mean 'alpha'? give a "
        "key of the sandbox state (`ticketsync state list --sandbox`) or a number like SBX-3\n")
    assert invoke("sandbox", "edit", "alpha", "title=")[2].endswith(
        "title cannot be empty: a ticket always has one\n")
    assert fields("alpha")["title"] == "Alpha"  # nothing changed by a refused edit


def test_a_tracker_command_without_a_sandbox_says_how_to_make_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    enter_project(tmp_path, monkeypatch)
    assert invoke("sandbox", "delete", "SBX-1") == (
        1, "", "Error: .ticketsync/sandbox.db: no sandbox here yet: `ticketsync apply "
        "--sandbox` makes it (or give its file with --db FILE)\n")
    assert not (tmp_path / ".ticketsync").exists()


def test_reset_empties_the_sandbox_and_its_state_and_numbers_start_again(
    project: Path,
) -> None:
    assert invoke("sandbox", "reset") == (
        1, "", "Error: stdin is not a terminal: pass --yes to reset the sandbox\n")
    assert invoke("sandbox", "reset", "--yes") == (
        0, "Reset the sandbox: 2 tickets deleted, .ticketsync/sandbox.state.json removed.\n",
        "")
    assert stored_tickets(DB) == []
    assert not (project / ".ticketsync" / "sandbox.state.json").exists()
    assert invoke("apply", "--sandbox", "--yes")[0] == 0
    assert sorted(number(key) for key in ("alpha", "beta")) == ["SBX-1", "SBX-2"]


def test_an_edit_is_a_tracker_edit_for_the_next_read_back(project: Path) -> None:
    """The edit moves updated_at: the next apply reads it back as drift, sends nothing."""
    assert invoke("sandbox", "edit", "alpha", "assignees=user-042")[0] == 0
    code, out, _ = invoke("apply", "--sandbox", "--yes")
    # (the plan's lines are render's to pin: here, that it is drift and nothing is sent)
    assert (code, out.startswith("? drift alpha"), out.endswith("\nNo changes.\n")) == (
        0, True, True)
    assert fields("alpha")["assignees"] == ["user-042"]


def test_tracker_edit_reports_every_problem_at_once() -> None:
    changes, problems = tracker_edit({"project_id": "p"}, ["status=Nope", "tags=a,,b"])
    assert changes == {"tags": ["a", "b"]}
    assert problems == ["status 'Nope' is not one of this ticket's statuses (To Do, In "
                        "Progress, In Review, Done, Won't Do)"]


def _ticket_urls() -> dict[str, str]:
    doc = json.loads(Path(".ticketsync/sandbox.state.json").read_text(encoding="utf-8"))
    return {key: entry["ticket_url"] for key, entry in doc["tickets"].items()}


def test_ticket_urls_do_not_change_between_runs_in_fresh_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    enter_project(tmp_path, monkeypatch)
    write(tmp_path / "tickets" / "t.yaml", TICKETS)
    command = [sys.executable, "-m", "ticketsync", "apply", "--sandbox", "--yes"]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    first = _ticket_urls()
    # A tracker edit makes the second apply read the ticket back (and rewrite its URL).
    assert invoke("sandbox", "edit", "alpha", "assignees=user-042")[0] == 0
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    with TicketStore(DB) as store:
        home = store.home_url
    assert first == _ticket_urls() == {key: f"{home}/browse/{number(key)}"
                                       for key in ("alpha", "beta")}
    assert home.startswith("http://127.0.0.1:")


def test_a_ticket_url_opens_its_page_while_the_sandbox_serves(tmp_path: Path) -> None:
    with TicketStore(tmp_path / "s.db") as store:
        store.create({"title": "<b>Outage</b>", "assignees": ["user-001"]})
    with start_sandbox(tmp_path / "s.db") as sandbox:
        page = requests.get(f"{sandbox.url}/browse/SBX-1", timeout=REQUEST_TIMEOUT)
        gone = requests.get(f"{sandbox.url}/browse/SBX-9", timeout=REQUEST_TIMEOUT)
    assert (page.status_code, page.headers["Content-Type"]) == (200, "text/html; charset=utf-8")
    assert "<h1>SBX-1: &lt;b&gt;Outage&lt;/b&gt;</h1>" in page.text  # escaped, never markup
    assert "<tr><th>assignees</th><td>user-001</td></tr>" in page.text
    assert "Status: <b>To Do</b>" in page.text
    assert gone.status_code == 404 and "SBX-9: not found" in gone.text


def test_the_sandbox_serves_on_its_home_port_unless_told_otherwise(tmp_path: Path) -> None:
    with start_sandbox(tmp_path / "s.db", port=None) as sandbox:
        assert sandbox.url == sandbox.home_url
        # Its home port taken (here by itself), a second one serves on any free port.
        with start_sandbox(tmp_path / "s.db", port=None) as second:
            assert second.home_url == sandbox.home_url != second.url
