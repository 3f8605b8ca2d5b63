"""`ticketsync export`: existing tickets adopted as code, round trip to `No changes.`."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import enter_sandbox_project, invoke, traceback_of_ours
from sandbox_helpers import SandboxProcess, spawn_sandbox, stored_tickets

from ticketsync import __version__
from ticketsync.declare import yamlio
from ticketsync.sandbox import TicketStore
from ticketsync.sandbox.shapes import statuses
from ticketsync.state.file import read_state

API_KEY = "export-key"
ACCOUNT = "acc-export"
pytestmark = pytest.mark.slow
ODD_TITLES = ["yes", "123", "2026-01-01", "null", "it's \"quoted\"", "ünïcode ✓ 漢字",
              "a: colon", "- dash", "# hash", "  spaced  ", "~", "on"]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SandboxProcess]:
    with spawn_sandbox(tmp_path / "server.db", api_key=API_KEY) as process:
        yield process


@pytest.fixture
def project(tmp_path: Path, server: SandboxProcess, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = enter_sandbox_project(tmp_path / "p", server.url, API_KEY, ACCOUNT, monkeypatch)
    (folder / "ticketsync.yaml").write_text(
        f"account_id: {ACCOUNT}\nmarker: {{custom_field: ticketsync_key}}\n")
    assert invoke("init")[0] == 0
    return folder


def tracker_holds(server: SandboxProcess) -> dict[str, str]:
    """A tracker with history: every field, parents, odd titles, content in parts,
    statuses moved, a ticket of another project. Returns title -> id."""
    made: dict[str, str] = {}
    in_review = next(s for s in statuses("project-001", "ticket-type-001")
                     if s["name"] == "In Review")
    with TicketStore(server.db_path) as store:
        parent = store.create({
            "title": "Every field", "project_id": "project-001", "type": "ticket-type-001",
            "content": [{"plain": "Line one.\nLine two.\n", "html": "<p>Line one.</p>"}],
            "priority": {"value": "high", "source_value": "P1"}, "assignees": ["user-001"],
            "reporters": ["user-002", "user-003"], "tags": ["platform", "yes"],
            "component_ids": ["component-001"], "creator_id": "user-004",
            "organization_id": "org-001",
            "unified_custom_fields": {"ref": "REF-1", "points": 3},
        })
        made["Every field"] = parent.id
        store.edit(parent.id, {"status": in_review})
        child = store.create({"title": "A child", "project_id": "project-001",
                              "parent_id": parent.id})
        made["A child"] = child.id
        parts = store.create({"title": "Two parts", "project_id": "project-001",
                              "content": [{"plain": "first"}, {"plain": "second"}]})
        made["Two parts"] = parts.id
        for title in ODD_TITLES:
            made[title] = store.create({"title": title, "project_id": "project-001"}).id
        made["Elsewhere"] = store.create({"title": "Elsewhere",
                                          "project_id": "project-002"}).id
    return made


def test_export_then_plan_says_no_changes(server: SandboxProcess, project: Path) -> None:
    made = tracker_holds(server)
    code, out, err = invoke("export", "--project", "project-001")
    assert code == 0, out + err
    assert out.startswith(f"Exported {len(made) - 1} tickets to tickets/exported.yaml")
    written = yamlio.read_document(project / "tickets" / "exported.yaml", "x").data["tickets"]
    by_title = {fields["title"]: (key, fields) for key, fields in written.items()}
    assert set(by_title) == set(made) - {"Elsewhere"}  # the project filter, client-side
    key, every = by_title["Every field"]
    assert key.startswith("sbx-") and every == {
        # one plain part (its html is the tracker's rendering): the shorthand
        "title": "Every field", "description": "Line one.\nLine two.\n",
        "priority": "high", "assignees": ["user-001"], "reporters": ["user-002", "user-003"],
        "tags": ["platform", "yes"], "creator_id": "user-004", "project_id": "project-001",
        "type": "ticket-type-001", "organization_id": "org-001",
        "component_ids": ["component-001"],
        "unified_custom_fields": {"ref": "REF-1", "points": 3}, "status": "In Review",
    }
    assert by_title["A child"][1]["parent"] == key  # a key, the parent being exported too
    assert by_title["Two parts"][1]["content"] == [{"plain": "first"}, {"plain": "second"}]
    assert invoke("validate")[0] == 0
    assert invoke("plan", "--refresh")[:2] == (0, "No changes.\n")
    state = read_state(project / "ticketsync.state.json")
    assert {e.id for e in state.tickets.values()} == set(made.values()) - {made["Elsewhere"]}
    assert state.tickets[key].ticket_number and state.tickets[key].status == {
        "id": in_review_id(), "name": "In Review", "type": "in-progress"}
    assert invoke("apply", "--yes") == (0, "No changes.\n", "")


def in_review_id() -> str:
    return next(s["id"] for s in statuses("project-001", "ticket-type-001")
                if s["name"] == "In Review")


def test_tracked_tickets_are_skipped_and_an_existing_file_is_never_overwritten(
    server: SandboxProcess, project: Path
) -> None:
    tracker_holds(server)
    assert invoke("export", "--out", "tickets/first.yaml")[0] == 0
    code, out, err = invoke("export", "--out", "tickets/first.yaml")
    assert code == 1 and err == ("Error: tickets/first.yaml exists: export never overwrites "
                                 "a file; choose another --out\n")
    with TicketStore(server.db_path) as store:
        store.create({"title": "Made since", "project_id": "project-001"})
    code, out, err = invoke("export", "--out", "tickets/second.yaml")
    assert code == 0 and out.startswith("Exported 1 tickets to tickets/second.yaml; ")
    assert err.count("skipped ") == len(stored_tickets(server.db_path)) - 1
    assert invoke("plan", "--refresh")[:2] == (0, "No changes.\n")


def test_dry_run_prints_the_file_and_records_nothing(server: SandboxProcess,
                                                     project: Path) -> None:
    tracker_holds(server)
    before = (project / "ticketsync.state.json").read_bytes()
    code, out, err = invoke("export", "--dry-run", "--updated-after", "2000-01-01")
    assert code == 0 and out.startswith(  # no directory: the shipped schema at this version
        "# yaml-language-server: $schema=https://raw.githubusercontent.com/ticketsync/"
        f"ticketsync/v{__version__}/schemas/ticket-file.schema.json\n")
    assert "tickets:\n" in out and "would be written to tickets/exported.yaml" in err
    assert (project / "ticketsync.state.json").read_bytes() == before
    assert not (project / "tickets" / "exported.yaml").exists()


def test_odd_titles_survive_the_round_trip_as_strings(server: SandboxProcess,
                                                      project: Path) -> None:
    made = tracker_holds(server)
    assert invoke("export")[0] == 0
    data = yamlio.read_document(project / "tickets" / "exported.yaml", "x").data
    titles = {fields["title"] for fields in data["tickets"].values()}
    assert titles == set(made)  # 'yes', '123', '2026-01-01', 'null' stayed strings
    keys = list(data["tickets"])
    assert len(set(keys)) == len(keys)


def test_kill_9_during_an_export_then_a_rerun_tracks_each_ticket_once(
    tmp_path: Path, project: Path
) -> None:
    """Killed at any instant (while listing, between recording and writing the file) by
    kill -9, SIGTERM (a CI cancel) or SIGINT (Ctrl-C), a second export finishes the job:
    every ticket tracked once, declared once."""
    rng = random.Random(3)
    slow_db = tmp_path / "slow.db"
    with TicketStore(slow_db) as store:
        for i in range(300):
            store.create({"title": f"Old ticket {i}", "project_id": "project-001"})
    # 30 pages of 10, 40 ms each: long enough for the export to be killed at any point.
    with spawn_sandbox(slow_db, "--latency-ms", "40", "--page-cap", "10",
                       api_key=API_KEY) as slow:
        env = {**os.environ, "STACKONE_BASE_URL": slow.url}
        interrupted = 0
        for trial in range(6):
            target = project / "tickets" / f"export{trial}.yaml"
            process = subprocess.Popen(
                [sys.executable, "-m", "ticketsync", "export", "--out", str(target)],
                cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True)
            time.sleep(rng.uniform(0.5, 2.0))
            process.send_signal((signal.SIGKILL, signal.SIGTERM, signal.SIGINT)[trial % 3])
            _, err = process.communicate(timeout=30)
            assert not traceback_of_ours(err), err
            interrupted += not target.exists()
            again = ticketsync(project, env, "export", "--out",
                               str(project / "tickets" / f"again{trial}.yaml"))
            assert again.returncode == 0, again.stderr
            state = read_state(project / "ticketsync.state.json")
            ids = [e.id for e in state.tickets.values()]
            assert len(ids) == len(set(ids)) == 300  # each ticket tracked once
            declared: dict[str, Any] = {}
            for path in (project / "tickets").glob("*.yaml"):
                declared.update(yamlio.read_document(path, path.name).data["tickets"])
            assert set(declared) == set(state.tickets)  # and declared once
            for path in (project / "tickets").glob("*.yaml"):  # start the next trial afresh
                path.unlink()
            assert ticketsync(project, env, "state", "rm", *state.tickets).returncode == 0
    print(f"{interrupted} of 6 exports killed before their file was written")
    assert interrupted >= 3


def ticketsync(folder: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ticketsync", *args], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_an_export_of_2000_tickets_through_short_pages_and_faults_round_trips(
    tmp_path: Path, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages of 50, a 429 storm and answers dropped mid-listing (reads are simply read
    again): every ticket exported once, and the next plan says No changes."""
    db = tmp_path / "big.db"
    with TicketStore(db) as store:
        for i in range(2000):
            store.create({"title": f"Ticket {i}", "project_id": "project-001",
                          "tags": ["t"] if i % 3 else [], "priority": {"value": "low"}})
    with spawn_sandbox(db, "--page-cap", "50", "--fault", "429:op=list,times=3",
                       "--fault", "store-then-drop:op=list,p=0.1,seed=4",
                       api_key=API_KEY) as faulty:
        monkeypatch.setenv("STACKONE_BASE_URL", faulty.url)
        code, out, err = invoke("export")
        assert code == 0, out + err
        assert out.startswith("Exported 2000 tickets to tickets/exported.yaml")
        assert invoke("plan", "--refresh")[:2] == (0, "No changes.\n")
        log = faulty.log()
    assert " 429 " in log and "dropped" in log  # the faults really fired
    state = read_state(project / "ticketsync.state.json")
    assert len({e.id for e in state.tickets.values()}) == 2000


def test_with_a_directory_references_are_written_by_name_and_still_round_trip(
    server: SandboxProcess, project: Path
) -> None:
    made = tracker_holds(server)
    with TicketStore(server.db_path) as store:  # assigned to someone who has left
        made["Left"] = store.create({"title": "Left", "project_id": "project-001",
                                     "assignees": ["user-001", "user-112"]}).id
    assert invoke("directory", "pull")[0] == 0
    code, out, err = invoke("export", "--project", "Platform")  # a project by name
    assert code == 0, out + err
    first = (project / "tickets" / "exported.yaml").read_text().splitlines()[0]
    # The project's own schema, with the account's names as suggestions.
    assert first == "# yaml-language-server: $schema=../ticket-file.schema.json"
    assert (project / "tickets" / "../ticket-file.schema.json").is_file()
    written = yamlio.read_document(project / "tickets" / "exported.yaml", "x").data["tickets"]
    by_title = {fields["title"]: (key, fields) for key, fields in written.items()}
    key, every = by_title["Every field"]
    assert every == {
        "title": "Every field", "description": "Line one.\nLine two.\n", "priority": "high",
        "tags": ["platform", "yes"], "organization_id": "org-001",
        "project": "Platform", "type": "Task", "components": ["API"],
        "creator": "dan@example.com", "assignees": ["alice@example.com"],
        "reporters": ["bob@example.com", "carol@example.com"],
        "unified_custom_fields": {"ref": "REF-1", "points": 3}, "status": "In Review",
    }
    assert by_title["A child"][1]["parent"] == key
    left_key, left = by_title["Left"]
    assert "assignees" not in left and left["project"] == "Platform"
    assert err.splitlines() == [
        f"{left_key}: not written, assignees: 'user-112' is a deactivated user: user-112 "
        "(Morgan Fischer, morgan.fischer@example.com); name an active user (if they are "
        "back, run `ticketsync directory pull`)"]
    assert "Elsewhere" not in by_title
    assert invoke("validate")[0] == 0
    assert invoke("plan", "--refresh")[:2] == (0, "No changes.\n")
    assert invoke("apply", "--yes") == (0, "No changes.\n", "")
    # The tracker keeps the departed assignee: nothing declared, nothing sent.
    stored = {t.id: t.fields for t in stored_tickets(server.db_path)}
    assert stored[made["Left"]]["assignees"] == ["user-001", "user-112"]


def test_a_project_name_needs_to_resolve(server: SandboxProcess, project: Path) -> None:
    tracker_holds(server)
    assert invoke("directory", "pull")[0] == 0
    code, out, err = invoke("export", "--project", "Platfrom")
    assert code == 64 and "Invalid value for '--project': 'Platfrom' is not a project" in err
    assert "did you mean" in err and "Traceback" not in err
    assert invoke("directory", "pull")[0] == 0
    (project / "ticketsync.directory.json").unlink()
    code, out, err = invoke("export", "--project", "Platform")  # no directory: ids only
    assert code == 0 and out.startswith("Nothing to export: none of the ")
    assert "by name with a directory file" in out


def test_export_imports_writes_imports_for_review_and_records_nothing(
    server: SandboxProcess, project: Path
) -> None:
    """Adoption through review: the file holds an imports: block beside the declarations,
    the state is untouched until it is applied; then the tickets are tracked as they are."""
    made = tracker_holds(server)
    before = (project / "ticketsync.state.json").read_bytes()
    code, out, err = invoke("export", "--project", "project-001", "--imports")
    assert code == 0, out + err
    count = len(made) - 1
    assert out.startswith(f"Exported {count} tickets to tickets/exported.yaml; nothing "
                          f"recorded: review it, then `ticketsync apply` tracks the {count} "
                          "imports;")
    assert (project / "ticketsync.state.json").read_bytes() == before
    doc = yamlio.read_document(project / "tickets" / "exported.yaml", "x").data
    assert {entry["id"] for entry in doc["imports"]} == set(made.values()) - {made["Elsewhere"]}
    assert {entry["to"] for entry in doc["imports"]} == set(doc["tickets"])
    code, out, _ = invoke("plan", "--refresh")
    assert code == 0 and out.count("< import ") == count, out
    code, out, _ = invoke("apply", "--yes")
    assert code == 0, out
    state = read_state(project / "ticketsync.state.json")
    assert {e.id for e in state.tickets.values()} == set(made.values()) - {made["Elsewhere"]}
    assert invoke("plan", "--refresh")[:2] == (0, "No changes.\n")
    assert invoke("export", "--project", "project-001", "--imports", "--out",
                  "tickets/again.yaml")[:2] == (
        0, "Nothing to export: every listed ticket is tracked already.\n")
