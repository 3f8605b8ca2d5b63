"""A pull that changes what a name means (issue #17, item 9): the pull says which names now
name another id, and the plan shows the tickets that would move, both projects by name,
with a warning. Against the sandbox over loopback, exact output."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import enter_sandbox_project, invoke, write
from sandbox_helpers import API_KEY, MakeSandbox

from ticketsync.account.pull import Moved, moved_lines, moved_names
from ticketsync.declare.directory import Directory, Project, TicketType, User
from ticketsync.model import FieldValues, Plan, Update
from ticketsync.plan.render import render_markdown, render_text
from ticketsync.sandbox import RunningSandbox

ACCOUNT = "acc-moves"
COUNTS = "320 users (13 deactivated), 8 projects, 11 ticket types, 15 components"
TICKETS = """\
    tickets:
      a:
        title: Rotate the keys
        project: Platform
      b:
        title: Renew the certificate
        project: Platform
      c:
        title: Back up the warehouse
        project: Data
"""
PLATFORM_MOVED = (
    '! project "Platform" now names project-003 (was project-001, now named "Core"): '
    'tickets that declare "Platform" will move to project-003 on the next apply; to keep '
    'them in project-001, write "Core"; check `ticketsync plan`')
MOVES = ("! 2 tickets move to another project: check that the names in the files still "
         "mean what they did (a directory pull can change what a name means)")


@pytest.fixture
def running(make_sandbox: MakeSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
            ) -> RunningSandbox:
    """A project with tickets `project: Platform` (and one of Data), applied."""
    sandbox = make_sandbox()
    enter_sandbox_project(tmp_path / "project", sandbox.url, API_KEY, ACCOUNT, monkeypatch)
    write(Path("tickets/ops.yaml"), TICKETS)
    assert invoke("directory", "pull")[0] == 0
    assert invoke("init")[0] == 0
    code, out, err = invoke("apply", "--yes")
    assert (code, err) == (0, ""), out
    return sandbox


def _swap(sandbox: RunningSandbox) -> None:
    """In the tracker: Platform is renamed Core, then Mobile renamed Platform."""
    sandbox.directory.rename("projects", "project-001", "Core")
    sandbox.directory.rename("projects", "project-003", "Platform")


def test_the_pull_says_which_names_now_name_another_id(running: RunningSandbox) -> None:
    _swap(running)
    # The state tracks tickets of two projects: their statuses are learned too.
    counts = f"{COUNTS}, 2 workflows (statuses of a project and type)"
    assert invoke("directory", "pull") == (0, (
        f"Wrote ticketsync.directory.json: {counts} (projects: 2 changed).\n"
        f"{PLATFORM_MOVED}\n"
        "Editor completion: ticket-file.schema.json (commit both).\n"), "")
    # "Mobile" names nothing now: validate says so, the pull need not.
    assert invoke("directory", "pull")[1] == (
        f"No changes: ticketsync.directory.json is up to date ({counts}).\n")


def test_the_plan_shows_both_projects_by_name_and_warns(running: RunningSandbox) -> None:
    _swap(running)
    assert invoke("directory", "pull")[0] == 0
    assert invoke("validate")[0] == 0  # the names still resolve: nothing else catches it
    assert invoke("plan") == (0, (
        "~ update a\n"
        '    project_id: "Core" (project-001) -> "Platform" (project-003)\n'
        "~ update b\n"
        '    project_id: "Core" (project-001) -> "Platform" (project-003)\n'
        f"{MOVES}\n"
        "\n"
        "Plan: 0 to create, 2 to update, 1 unchanged.\n"), "")
    markdown = invoke("plan", "--format", "markdown")[1]
    assert ("> [!WARNING]\n> 2 tickets move to another project: check that the names in "
            "the files still mean what they did (a directory pull can change what a name "
            "means)\n") in markdown
    rows = [line.split(" | ", 1)[1] for line in markdown.splitlines()
            if line.startswith("| `a` ") or line.startswith("| `b` ")]  # then the link
    assert rows == [
        '`project_id` | `"Core" (project-001) -> "Platform" (project-003)` | '
        "`tickets/ops.yaml:2` |",
        '`project_id` | `"Core" (project-001) -> "Platform" (project-003)` | '
        "`tickets/ops.yaml:5` |"]
    # Writing the project's new name keeps the tickets where they are.
    write(Path("tickets/ops.yaml"), TICKETS.replace("Platform", "Core"))
    assert invoke("plan") == (0, "No changes.\n", "")


def test_the_apply_warns_too(running: RunningSandbox) -> None:
    _swap(running)
    assert invoke("directory", "pull")[0] == 0
    code, out, _ = invoke("apply", "--yes")
    assert code == 0
    moving = '    project_id: "Core" (project-001) -> "Platform" (project-003)\n'
    assert out.startswith(f"~ update a\n{moving}~ update b\n{moving}"
                          f"{MOVES}\n\nPlan: 0 to create, 2 to update, 1 unchanged.\n")


# -- the pieces ---------------------------------------------------------------------------


def _directory(*, users: tuple[User, ...] = (), projects: tuple[Project, ...] = (),
               types: tuple[TicketType, ...] = ()) -> Directory:
    return Directory.of("acc", "2026-01-01T00:00:00Z", users=users, projects=projects,
                        ticket_types=types)


def test_moved_names_of_every_kind() -> None:
    alice, dana = User("u-1", "Alice", "alice@example.com", "alice"), User("u-4", "Dana")
    before = _directory(
        users=(alice, dana),
        projects=(Project("p-1", "Platform"), Project("p-2", "Mobile")),
        types=(TicketType("t-1", "Bug"), TicketType("t-2", "Defect"),
               TicketType("t-9", "Incident", "p-1")))
    after = _directory(
        users=(alice._replace(email="alice@old.example.com", active=False),
               dana._replace(email="alice@example.com")),
        projects=(Project("p-2", "Platform"),),  # p-1 is gone
        types=(TicketType("t-1", "Defect"), TicketType("t-2", "Bug"),
               TicketType("t-9", "Incident", "p-1")))
    moved = moved_names(before, after)
    assert moved_lines(moved, after) == [
        '! user "alice@example.com" now names u-4 (was u-1, now deactivated): tickets that '
        'declare "alice@example.com" will get u-4 on the next apply; check `ticketsync plan`',
        '! project "Platform" now names p-2 (was p-1, no longer listed): tickets that declare '
        '"Platform" will move to p-2 on the next apply; check `ticketsync plan`',
        '! ticket type "Bug" now names t-2 (was t-1, now named "Defect"): tickets that '
        'declare "Bug" will get t-2 on the next apply; to keep t-1, write "Defect"; check '
        "`ticketsync plan`",
        '! ticket type "Defect" now names t-1 (was t-2, now named "Bug"): tickets that '
        'declare "Defect" will get t-1 on the next apply; to keep t-2, write "Bug"; check '
        "`ticketsync plan`",
    ]
    assert moved_names(after, after) == []


def test_a_name_from_the_tracker_cannot_forge_a_line() -> None:
    before = _directory(projects=(Project("p-1", "Platform"), Project("p-2", "Mobile")))
    after = _directory(projects=(Project("p-1", 'Core\n~ update x: "title"\x1b[2K'),
                                 Project("p-2", "Platform")))
    [line] = moved_lines(moved_names(before, after), after)
    assert line.startswith('! project "Platform" now names p-2 (was p-1, now named '
                           '"Core\\n~ update x: \\"title\\"\\x1b[2K"): ')
    update = Update("a", "tkt-1", ("project_id",), {"project_id": "p-2"},
                    values=(FieldValues("project_id", "p-1", "p-2"),))
    assert render_text(Plan(updates=(update,)), after).splitlines()[1] == (
        '    project_id: "Core\\n~ update x: \\"title\\"\\x1b[2K" (p-1) -> "Platform" (p-2)')


def test_many_moved_names_are_counted_past_a_few() -> None:
    moved = [Moved("project", f"P{n:02d}", f"p-{n}", f"q-{n}", "no longer listed", None)
             for n in range(25)]
    lines = moved_lines(moved, _directory(), shown=3)
    assert lines[3:] == ["! and 22 more names that now name another id: check "
                         "`ticketsync plan`"]
    assert len(lines) == 4


def test_people_types_and_components_by_name_in_the_plan() -> None:
    directory = _directory(users=(User("u-1", "Alice"), User("u-2", "Bob")),
                           projects=(Project("p-1", "Platform"),),
                           types=(TicketType("t-1", "Bug"), TicketType("t-2", "Incident")))
    update = Update("a", "tkt-1", ("assignees", "title"),
                    {"assignees": ["u-2", "u-3"], "type": "t-2", "title": "A"},
                    fixed=("type",), conflicts=("reporters",), values=(
                        FieldValues("assignees", ["u-1"], ["u-2", "u-3"]),
                        FieldValues("reporters", ["u-1", "u-2"], None, ["u-2"]),
                        FieldValues("title", "Old", "A"),
                        FieldValues("type", "t-1", "t-2")))
    plan = Plan(updates=(update,))
    assert render_text(plan, directory) == (
        "! conflict a (changed in the files and in the tracker: nothing is sent for this "
        "ticket unless apply --overwrite)\n"
        '    assignees: + "Bob" (u-2)  + u-3  - "Alice" (u-1) (waits with the conflict)\n'
        '    reporters: declared (none), last applied ["Alice" (u-1), "Bob" (u-2)], tracker '
        '["Bob" (u-2)]\n'
        '    title: "Old" -> "A" (waits with the conflict)\n'
        "! cannot update a (StackOne cannot change it once the ticket exists)\n"
        '    type: "Bug" (t-1) -> "Incident" (t-2)\n'
        "\n"
        "Plan: 0 to create, 0 to update, 1 in conflict, 1 not updatable, 0 unchanged.\n")
    # without the directory, the ids
    assert render_text(plan).splitlines()[1] == (
        "    assignees: + u-2  + u-3  - u-1 (waits with the conflict)")
    assert '| `a` | `assignees` | `+ "Bob" (u-2)  + u-3  - "Alice" (u-1) (waits with the ' \
        "conflict)` |  |" in render_markdown(plan, directory=directory)
