"""The directory end to end: names -> ids -> state -> plan says `No changes.` (and a rename
in the tracker changes nothing); `directory show`; the editor schema; the quickstart's."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest
from cli_helpers import enter_project, invoke
from sandbox_helpers import API_KEY, MakeSandbox, stored_tickets

from ticketsync.account.pull import pull_directory
from ticketsync.declare.directory import read_directory
from ticketsync.declare.editor_schema import dump_editor_schema, editor_schema
from ticketsync.stackone.client import StackOneClient
from ticketsync.state.file import read_state

ROOT = Path(__file__).resolve().parent.parent
QUICKSTART = ROOT / "examples" / "quickstart"
NAMES = ROOT / "tests" / "fixtures" / "names"

TICKETS = """\
defaults:
  project: Platform
tickets:
  outage:
    title: Outage
    assignees: [alice@example.com, Bob Chen]
    reporters: [carol]
    creator: alice
    type: Incident
    components: [API, Database]
  on-mobile:
    title: Crash on start
    project: Mobile
    type: Crash
    components: [API]
"""


def test_names_to_ids_to_state_to_plan_and_a_rename_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = enter_project(tmp_path, monkeypatch)
    (project / "tickets").mkdir()
    (project / "tickets" / "t.yaml").write_text(TICKETS)
    assert invoke("directory", "pull", "--sandbox")[0] == 0
    code, out, err = invoke("apply", "--sandbox", "--yes")
    assert code == 0, err
    assert "Apply complete: 2 created, 0 updated, 0 failed." in out
    state = read_state(project / ".ticketsync" / "sandbox.state.json")
    assert state.tickets["outage"].applied == {
        "title": "Outage", "project_id": "project-001", "type": "ticket-type-101",
        "assignees": ["user-001", "user-002"], "reporters": ["user-003"],
        "creator_id": "user-001", "component_ids": ["component-001", "component-002"],
    }
    assert state.tickets["on-mobile"].applied["component_ids"] == ["component-008"]
    sent = {t.title: dict(t.fields) for t in stored_tickets(project / ".ticketsync" /
                                                             "sandbox.db")}
    assert sent["Crash on start"]["type"] == "ticket-type-103"  # the provider got ids
    assert invoke("plan", "--sandbox") == (0, "No changes.\n", "")
    # Alice is renamed in the tracker, the directory pulled again: nothing to change.
    path = project / "ticketsync.directory.json"
    doc = json.loads(path.read_text())
    doc["users"][1].update(name="Alice Martin-Okafor")  # the file names her by email
    doc["users"][2].update(username="bchen")  # and Bob by display name
    path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    assert invoke("plan", "--sandbox") == (0, "No changes.\n", "")
    # A file that names someone else is a change, in ids.
    (project / "tickets" / "t.yaml").write_text(TICKETS.replace("Bob Chen", "dan"))
    code, out, _ = invoke("plan", "--sandbox")
    assert out.startswith('~ update outage\n    assignees: + "Dan Evans" (user-004)  - '
                          '"Bob Chen" (user-002)\n')


def test_the_quickstart_directory_is_the_default_sandboxs(make_sandbox: MakeSandbox) -> None:
    shipped = read_directory(QUICKSTART / "ticketsync.directory.json")
    client = StackOneClient(make_sandbox().url, API_KEY, "sandbox")
    try:
        pulled = pull_directory(client, "sandbox")
    finally:
        client.close()
    assert pulled.same_content(shipped), (
        "examples/quickstart/ticketsync.directory.json is not the sandbox's default seed: "
        "run `ticketsync directory pull --sandbox` in examples/quickstart")
    schema = (QUICKSTART / "ticket-file.schema.json").read_text(encoding="utf-8")
    assert schema == dump_editor_schema(shipped)
    for ticket_file in (QUICKSTART / "tickets").glob("*.yaml"):
        first = ticket_file.read_text(encoding="utf-8").splitlines()[0]
        assert first == "# yaml-language-server: $schema=../ticket-file.schema.json"


def test_the_editor_schema_suggests_names_and_accepts_any_string() -> None:
    directory = read_directory(NAMES / "ticketsync.directory.json")
    schema = editor_schema(directory)
    ticket = schema["$defs"]["ticket"]["properties"]
    assert ticket["assignees"]["items"]["anyOf"][0]["enum"] == [
        "alice@example.com", "bob@example.com", "carol@example.com", "sam.lee2@example.com",
        "sam.lee@example.com"]  # active users only
    assert ticket["project"]["anyOf"][0]["enum"] == [
        "Data", "Mobile", "Onboarding", "Platform", "Sandbox", "Support"]
    assert ticket["components"]["items"]["anyOf"][0]["enum"] == [
        "API", "Accounts", "Database", "iOS"]
    assert schema["$defs"]["defaults"]["properties"]["type"]["anyOf"][0]["enum"] == [
        "Bug", "Crash", "Incident", "Request", "Task"]
    assert "$id" not in schema and "acc-names" in schema["title"]
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    document = {"defaults": {"project": "Platform"},
                "tickets": {"a": {"title": "A", "assignees": ["user-001", "someone"],
                                  "type": "ticket-type-101", "components": ["x"]}}}
    assert list(validator.iter_errors(document)) == []
    document["tickets"]["a"]["priority"] = "urgent"  # still the ticket-file schema
    assert list(validator.iter_errors(document))


# -- directory show ------------------------------------------------------------------------


@pytest.fixture
def names_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    project = enter_project(tmp_path, monkeypatch)
    shutil.copy(NAMES / "ticketsync.directory.json", project)
    return project


def test_show_prints_what_the_directory_holds(names_project: Path) -> None:
    code, out, err = invoke("directory", "show")
    assert (code, err) == (0, "")
    assert out.splitlines()[:4] == [
        "ticketsync.directory.json: account acc-names, pulled 2026-12-01T09:30:00Z: 6 users "
        "(1 deactivated), 7 projects, 8 ticket types, 5 components",
        "Projects (7):",
        "  project-001  Platform",
        "    ticket types: Incident (ticket-type-101)",
    ]
    assert "Account-wide ticket types (2): Task (ticket-type-001), Bug (ticket-type-002)" in out
    assert out.splitlines()[-3:] == [
        "  user-004  Dan Evans     dan@example.com       dan     (deactivated)",
        "  user-005  Sam Lee       sam.lee@example.com   samlee",
        "  user-006  Sam Lee       sam.lee2@example.com  slee",
    ]


@pytest.mark.parametrize(
    ("args", "code", "expected"),
    [
        (["ALICE@example.com"], 0, [
            "user-001  Alice Martin  alice@example.com  alice  a user, matched by email (any "
            "case)",
            "-> assignees, reporters, creator: user-001"]),
        (["Sam Lee"], 0, [
            "user-005  Sam Lee  sam.lee@example.com   samlee  a user, matched by display name",
            "user-006  Sam Lee  sam.lee2@example.com  slee    a user, matched by display name",
            "-> assignees, reporters, creator: error: 'Sam Lee' matches 2 users: user-005 (Sam "
            "Lee, sam.lee@example.com), user-006 (Sam Lee, sam.lee2@example.com); write an "
            "email or an id"]),
        (["dan"], 0, [
            "user-004  Dan Evans  dan@example.com  dan  (deactivated)  a user, matched by "
            "username (any case)",
            "-> assignees, reporters, creator: error: 'dan' is a deactivated user: user-004 "
            "(Dan Evans, dan@example.com); name an active user (if they are back, run "
            "`ticketsync directory pull`)"]),
        (["Platform"], 0, [
            "project-001  Platform: a project, matched by name",
            "-> project: project-001"]),
        (["Incident", "--project", "Support"], 0, [
            "ticket-type-101  Incident in Platform (project-001): a ticket type, matched by name",
            "ticket-type-106  Incident in Support (project-006): a ticket type, matched by name",
            "-> type (in project Support (project-006)): ticket-type-106"]),
        (["iOS", "--project", "Platform"], 0, [
            "component-006  iOS in Mobile (project-003): a component, matched by name",
            "-> components (in project Platform (project-001)): error: component 'iOS' is not "
            "in project Platform (project-001): it is in Mobile (project-003)"]),
        (["Bug"], 0, [
            "ticket-type-002  Bug (account-wide): a ticket type, matched by name",
            "ticket-type-104  Bug in Data (project-004): a ticket type, matched by name",
            "-> type: ticket-type-002"]),
        (["alise@example.com"], 1, [
            "'alise@example.com' names no user, project, ticket type or component in the "
            "directory (did you mean 'alice@example.com'?); if it is new, run `ticketsync "
            "directory pull`"]),
        (["API", "--project", "Platfrom"], 1, [
            "--project: 'Platfrom' is not a project in the directory (did you mean "
            "'Platform'?); if it is new, run `ticketsync directory pull`"]),
    ],
)
def test_show_says_how_a_name_resolves_and_why(
    names_project: Path, args: list[str], code: int, expected: list[str]
) -> None:
    assert invoke("directory", "show", *args) == (code, "\n".join(expected) + "\n", "")


def test_show_without_a_directory_says_to_pull(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    enter_project(tmp_path, monkeypatch)
    assert invoke("directory", "show") == (1, "", (
        "Error: no directory file at ticketsync.directory.json: run `ticketsync directory "
        "pull` (needs the key)\n"))


def test_a_saved_plan_is_stale_once_the_directory_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The directory is an input like the ticket files: after a pull, a name may mean
    # another id, so a plan saved before it must be made again.
    project = enter_project(tmp_path, monkeypatch)
    (project / "tickets").mkdir()
    (project / "tickets" / "t.yaml").write_text(TICKETS)
    assert invoke("directory", "pull", "--sandbox")[0] == 0
    assert invoke("init", "--sandbox")[0] == 0
    assert invoke("plan", "--sandbox", "--out", "plan.json")[0] == 0
    path = project / "ticketsync.directory.json"
    doc = json.loads(path.read_text())
    doc["users"][42]["active"] = False  # someone leaves: the files are still valid
    path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    code, _, err = invoke("apply", "--sandbox", "--yes", "--plan", "plan.json")
    assert code == 1
    assert "have changed since this plan was made" in err
