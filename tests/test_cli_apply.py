"""`ticketsync apply` and `state import` through click's CliRunner, with exact output."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from fakes import FakeApi

from ticketsync.cli import apply as apply_cli
from ticketsync.cli import main
from ticketsync.run.apply import ApplyResult, Event
from ticketsync.state.file import read_state
from ticketsync.state.journal import Journal, journal_path_for

TICKETS = """\
defaults:
  project_id: project-001
tickets:
  parent:
    title: The parent
  child:
    title: The child
    parent: parent
  other:
    title: Another one
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("STACKONE_API_KEY", "STACKONE_ACCOUNT_ID", "STACKONE_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "tickets").mkdir()
    (tmp_path / "tickets" / "t.yaml").write_text(TICKETS)
    (tmp_path / "ticketsync.yaml").write_text(
        "account_id: acc-1\nmarker: {custom_field: ticketsync_key}\n"
    )
    return tmp_path


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, project: Path) -> FakeApi:
    """apply talks to an in-memory fake instead of StackOne; the state exists."""
    api = FakeApi()

    @contextmanager
    def open_fake(config: Any, *, sandbox: bool, limiter: Any = None) -> Iterator[FakeApi]:
        yield api

    monkeypatch.setattr(apply_cli, "open_api", open_fake)
    monkeypatch.setenv("STACKONE_API_KEY", "unused-by-the-fake")
    assert run("init").exit_code == 0
    return api


def test_apply_without_a_state_file_refuses(project: Path) -> None:
    result = run("apply", "--yes")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: no state file at ticketsync.state.json: run `ticketsync init` first for a "
        "new project, or restore the file from git (a lost state must not re-create every "
        "ticket)\n"
    )


def test_sandbox_apply_makes_its_own_state_and_is_idempotent(project: Path) -> None:
    first = run("apply", "--sandbox", "--yes")
    assert first.exit_code == 0, first.output
    lines = first.stdout.splitlines()
    assert lines[:5] == [
        '+ create other  "Another one"',
        '+ create parent  "The parent"',
        '+ create child  "The child"',
        "",
        "Plan: 3 to create, 0 to update, 0 unchanged.",
    ]
    assert sorted(line.split(" (id ")[0] for line in lines[5:8]) == [
        "created child", "created other", "created parent",
    ]
    assert lines[8] == "Apply complete: 3 created, 0 updated, 0 failed."
    # The tracker's numbers, by key; other and parent are created together, in any order.
    numbers = {k: e.ticket_number for k, e in read_state(
        project / ".ticketsync" / "sandbox.state.json").tickets.items()}
    assert lines[9:] == [f"Created: {numbers['child']} (child), {numbers['other']} (other), "
                         f"{numbers['parent']} (parent)."]
    assert numbers["child"] == "SBX-3"  # after its parent
    state = read_state(project / ".ticketsync" / "sandbox.state.json")
    assert set(state.tickets) == {"child", "other", "parent"}
    assert state.tickets["child"].applied["parent_id"] == state.tickets["parent"].id
    assert not journal_path_for(project / ".ticketsync" / "sandbox.state.json").exists()
    again = run("apply", "--sandbox", "--yes")
    assert (again.exit_code, again.stdout) == (0, "No changes.\n")


def test_apply_refuses_to_ask_without_a_terminal(fake: FakeApi) -> None:
    result = run("apply")
    assert result.exit_code == 1
    assert result.stderr == "Error: stdin is not a terminal: pass --yes to apply without asking\n"
    assert fake.creates == 0


def test_apply_asks_and_a_no_changes_nothing(
    fake: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(apply_cli, "is_terminal", lambda stream: True)
    result = run("apply", input="n\n")
    assert result.exit_code == 1
    assert "Apply this plan? [y/N]: n\n" in result.stdout
    assert result.stderr == "Apply cancelled: nothing was changed.\n"
    assert fake.creates == 0


def test_apply_asks_and_a_yes_applies(fake: FakeApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(apply_cli, "is_terminal", lambda stream: stream is not None)
    result = run("apply", input="y\n")
    assert result.exit_code == 0, result.output
    assert fake.creates == 3
    assert result.stdout.endswith("Apply complete: 3 created, 0 updated, 0 failed.\n")


def test_the_brake_refuses_without_force(fake: FakeApi, project: Path) -> None:
    (project / "ticketsync.yaml").write_text("account_id: acc-1\nmax_creates: 2\n")
    result = run("apply", "--yes")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: this plan creates 3 tickets, more than max_creates (2): apply refuses it "
        "without --force: check the plan, then run again with --force (or raise "
        "max_creates in ticketsync.yaml)\n"
    )
    assert fake.creates == 0
    forced = run("apply", "--yes", "--force")
    assert forced.exit_code == 0 and fake.creates == 3


def test_a_failed_ticket_exits_1_with_its_message(fake: FakeApi) -> None:
    fake.on_create = lambda body, n: "reject" if body["title"] == "The parent" else None
    result = run("apply", "--yes")
    assert result.exit_code == 1
    out = result.stdout.splitlines()
    assert "failed parent: 422: title: must not be empty" in out
    assert "skipped child: its parent parent was not created" in out
    assert out[-1] == (
        "Apply complete: 1 created, 0 updated, 1 failed; 1 skipped (their parent failed)."
    )


def test_adoptions_are_reported_and_counted(fake: FakeApi) -> None:
    existing = fake.add_remote(
        {"title": "Another one", "project_id": "project-001",
         "unified_custom_fields": {"ticketsync_key": "other"}}
    )
    result = run("apply", "--yes")
    assert result.exit_code == 0, result.output
    assert f"adopted other (id {existing}): it already existed remotely" in result.stdout
    assert result.stdout.endswith("Apply complete: 2 created, 1 adopted, 0 updated, 0 failed.\n")
    assert fake.creates == 2


def test_a_saved_plan_applies_until_the_state_moves_on(fake: FakeApi, project: Path) -> None:
    assert run("plan", "--out", "plan.json").exit_code == 0
    first = run("apply", "--yes", "--plan", "plan.json")
    assert first.exit_code == 0, first.output
    assert fake.creates == 3
    stale = run("apply", "--yes", "--plan", "plan.json")
    assert stale.exit_code == 1
    assert stale.stderr.startswith("Error: the state has moved on since this plan was made")
    assert fake.creates == 3


def test_a_saved_plan_never_resends_what_the_journal_recorded(
    fake: FakeApi, project: Path
) -> None:
    assert run("plan", "--out", "plan.json").exit_code == 0
    state_path = project / "ticketsync.state.json"
    made = fake.add_remote({"title": "Another one", "project_id": "project-001"})
    with Journal(journal_path_for(state_path)) as journal:  # a run killed after one create
        journal.record_intent("other", {"title": "Another one"}, at=datetime.now(UTC))
        journal.record_created("other", made, None, {"title": "Another one"})
    result = run("apply", "--yes", "--plan", "plan.json")
    assert result.exit_code == 0, result.output
    assert fake.creates == 2 and len(fake.tickets) == 3
    assert set(read_state(state_path).tickets) == {"child", "other", "parent"}


def test_no_changes_still_records_a_killed_runs_journal(fake: FakeApi, project: Path) -> None:
    assert run("apply", "--yes").exit_code == 0
    state_path = project / "ticketsync.state.json"
    entry = read_state(state_path).tickets["other"]
    assert run("state", "rm", "other").exit_code == 0
    with Journal(journal_path_for(state_path)) as journal:  # as if the create were just made
        journal.record_created(
            "other", entry.id, entry.remote_id, entry.applied, created_at=entry.created_at
        )
    result = run("apply", "--yes")
    assert (result.exit_code, result.stdout) == (0, "No changes.\n")
    assert read_state(state_path).tickets["other"] == entry
    assert not journal_path_for(state_path).exists()
    assert fake.creates == 3


def test_a_missing_key_is_an_error_with_the_fix(project: Path) -> None:
    assert run("init").exit_code == 0
    result = run("apply", "--yes")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: no API key: set STACKONE_API_KEY (the key is never read from a file), "
        "or use --sandbox to try ticketsync locally\n"
    )


def test_state_import_records_a_fetched_ticket(fake: FakeApi, project: Path) -> None:
    tid = fake.add_remote({"title": "Another one", "project_id": "project-001"})
    result = run("state", "import", "other", tid)
    assert (result.exit_code, result.stdout) == (0, f"Imported {tid} as other.\n")
    entry = read_state(project / "ticketsync.state.json").tickets["other"]
    assert entry.id == tid and entry.remote_id == "R-1"
    assert entry.applied["title"] == "Another one"
    assert "other" not in run("plan").stdout


def test_state_import_refuses_a_missing_ticket(fake: FakeApi) -> None:
    result = run("state", "import", "other", "t-404")
    assert (result.exit_code, result.stderr) == (
        1,
        "Error: 404: no ticket t-404: ID is StackOne's ticket id (the `id` of the ticket, as "
        "`state list` shows them), not the provider's key such as PROJ-123\n",
    )


def test_state_import_of_an_undeclared_key_says_so(fake: FakeApi) -> None:
    tid = fake.add_remote({"title": "Elsewhere"})
    result = run("state", "import", "elsewhere", tid)
    assert result.stdout == (
        f"Imported {tid} as elsewhere (elsewhere is not declared in any ticket file).\n"
    )


def test_summary_lines() -> None:
    assert apply_cli.summary(ApplyResult(created=40, failed=1)) == (
        "Apply complete: 40 created, 0 updated, 1 failed."
    )
    assert apply_cli.summary(ApplyResult(created=2, interrupted=True, not_started=5)) == (
        "Apply interrupted: 2 created, 0 updated, 0 failed; 5 not started: "
        "run `ticketsync apply` again to finish."
    )


def test_progress_on_a_terminal_shows_count_rate_and_eta(
    capsys: pytest.CaptureFixture[str],
) -> None:
    now = [0.0]
    progress = apply_cli.Progress(4, live=True, clock=lambda: now[0])
    now[0] = 1.0
    progress(Event("created", "a", "t-1"))
    progress(Event("failed", "b", None, "failed b: 422"))
    progress.finish()
    out = capsys.readouterr().out
    assert "[1/4] 1.0/s, ETA 3s" in out
    assert "failed b: 422\n" in out and "created a" not in out


def test_a_missing_key_is_reported_before_the_plan_is_shown(project: Path) -> None:
    # A plan followed by "no API key" reads as if part of it had been applied.
    assert run("init").exit_code == 0
    result = run("apply", "--yes")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "Error: no API key: set STACKONE_API_KEY (the key is never read from a file), "
        "or use --sandbox to try ticketsync locally\n"
    )


def test_a_plain_http_base_url_is_refused_before_the_plan_is_shown(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run("init").exit_code == 0
    monkeypatch.setenv("STACKONE_API_KEY", "k-123")
    monkeypatch.setenv("STACKONE_BASE_URL", "http://tickets.example.com")
    result = run("apply", "--yes")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("Error: ")
    assert "http://" in result.stderr and "k-123" not in result.stderr


def test_format_json_lists_each_tickets_fate_for_the_next_step(project: Path) -> None:
    (project / "tickets" / "t.yaml").write_text(TICKETS + (
        "  orphan:\n    title: Its parent does not exist\n    parent_id: tkt-missing\n"))
    result = run("apply", "--sandbox", "--yes", "--format", "json")
    assert result.exit_code == 1  # one ticket failed: the others are created and recorded
    doc = json.loads(result.stdout)  # stdout is the document alone
    state = read_state(project / ".ticketsync" / "sandbox.state.json")
    assert doc["ok"] is False and doc["interrupted"] is False and doc["halted"] is None
    assert doc["state_file"] == ".ticketsync/sandbox.state.json"
    assert doc["summary"] == {"created": 3, "adopted": 0, "updated": 0, "closed": 0,
                              "forgotten": 0, "settled": 0, "failed": 1, "skipped": 0,
                              "not_started": 0, "unsettled": 0}
    assert doc["created"] == [
        {"key": key, "id": state.tickets[key].id, "number": state.tickets[key].ticket_number,
         "url": state.tickets[key].ticket_url} for key in ("child", "other", "parent")]
    # Numbers follow the order the sandbox stored them in, which concurrency decides.
    assert all(item["url"].endswith(f"/browse/{item['number']}") for item in doc["created"])
    assert sorted(item["number"] for item in doc["created"]) == ["SBX-1", "SBX-2", "SBX-3"]
    [failed] = doc["failed"]
    assert failed["key"] == "orphan" and failed["id"] is None
    assert "tkt-missing" in failed["message"]
    assert doc["updated"] == doc["skipped"] == doc["adopted"] == []
    # What people read went to stderr: the plan, one line per ticket, the summary.
    assert '+ create orphan  "Its parent does not exist"' in result.stderr
    assert "Apply complete: 3 created, 0 updated, 1 failed." in result.stderr


def test_format_json_with_nothing_to_do(project: Path) -> None:
    assert run("apply", "--sandbox", "--yes").exit_code == 0
    result = run("apply", "--sandbox", "--yes", "--format", "json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["ok"] is True and doc["created"] == [] and doc["summary"]["created"] == 0
    assert result.stderr == "No changes.\n"


def test_format_json_of_updates(project: Path) -> None:
    assert run("apply", "--sandbox", "--yes").exit_code == 0
    (project / "tickets" / "t.yaml").write_text(TICKETS.replace("Another one", "Renamed"))
    result = run("apply", "--sandbox", "--yes", "--format", "json")
    assert result.exit_code == 0, result.stderr
    [updated] = json.loads(result.stdout)["updated"]
    assert updated["key"] == "other" and updated["number"] and updated["url"]
