"""Issue #19: every problem at once, before anything is sent.

A schema error never hides a name, parent or key error; the messages people meet most
(`tickets: []`, a top-level typo, an empty title, two emails that differ only in case) say
what to write; and a `status:` the ticket cannot take is refused offline when the
directory file knows its workflow, and by apply before the create otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import enter_project, enter_sandbox_project, invoke, write
from sandbox_helpers import SandboxProcess, spawn_sandbox, stored_tickets

from ticketsync.declare.directory import (
    Directory,
    Project,
    Status,
    TicketType,
    Workflow,
    dump_directory,
    parse_directory,
)

API_KEY = "all-at-once-key"
ACCOUNT = "acc-all-at-once"

PLATFORM_WORKFLOW = Workflow("project-001", "ticket-type-001", (
    Status("s-1", "To Do", "to-do"), Status("s-2", "In Progress", "in-progress"),
    Status("s-3", "Done", "closed")))


def _directory(**extra: Any) -> Directory:
    users = extra.pop("users", ())
    return Directory.of(
        "acc-1", "2026-01-01T00:00:00Z", users=users,
        projects=[Project("project-001", "Platform")],
        ticket_types=[TicketType("ticket-type-001", "Task", None)],
        statuses=[PLATFORM_WORKFLOW], **extra)


def _errors(*args: str) -> str:
    code, out, err = invoke("validate", *args)
    assert (code, out) == (1, "")
    return err


def test_a_file_with_five_mistakes_reports_all_five_in_one_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: the two schema errors hid the key, parent, name and status errors.
    enter_project(tmp_path, monkeypatch)
    (tmp_path / "ticketsync.directory.json").write_text(dump_directory(_directory()))
    write(tmp_path / "tickets" / "ops.yaml", """\
        defaults: {project: Platform, type: Task}
        tickets:
          prod-outage:
            title: Outage
            priority: urgent
          Bad Key:
            title: x
          postmortem:
            title: Postmortem
            parent: prod-outag
          handover:
            title: Handover
            assignees: [dana@example.com]
            tittle: typo
          review:
            title: Review
            status: Doing
        """)
    assert _errors() == (
        "tickets/ops.yaml:5:15: error: tickets.prod-outage.priority: 'urgent' is not one of"
        " lowest, low, medium, high, highest\n"
        "tickets/ops.yaml:6:3: error: tickets: invalid ticket key 'Bad Key': use letters,"
        " digits, '.', '_' or '-', starting with a letter or digit (at most 128)\n"
        "tickets/ops.yaml:10:13: error: tickets.postmortem.parent: 'prod-outag' is not a"
        " declared ticket key (did you mean 'prod-outage'?)\n"
        "tickets/ops.yaml:13:17: error: tickets.handover.assignees[0]: 'dana@example.com' is"
        " not a user in the directory; if they joined since the last pull, run `ticketsync"
        " directory pull`\n"
        "tickets/ops.yaml:14:5: error: tickets.handover.tittle: unknown field 'tittle' (did"
        " you mean 'title'?)\n"
        "tickets/ops.yaml:17:13: error: tickets.review.status: 'Doing' is not a status of"
        ' tickets of project Platform (project-001), type "Task" (did you mean \'Done\'?);'
        " they can take: To Do, In Progress, Done (or a type: to-do, in-progress, closed);"
        " if the workflow changed, run `ticketsync directory pull`\n"
    )


@pytest.mark.parametrize(("text", "message"), [
    ("tickets: []\n", "1:10: error: tickets: an empty list: tickets is a mapping of keys to"
     " tickets; for none, write 'tickets: {}', else write each ticket under its key (my-key:"
     " then its fields)"),
    ("tickets:\n  - title: A\n", "2:3: error: tickets: a list: tickets is a mapping of keys"
     " to tickets; write each ticket under its key (my-key: then its fields), not as a list"
     " item ('- ')"),
    # The typo alone, not also "missing required field 'tickets'", nor "not a ticket file".
    ("ticket:\n  a: {title: A}\n", "1:1: error: ticket: unknown field 'ticket' (did you mean"
     " 'tickets'?)"),
    ("tickets:\n  a:\n    title: ''\n", "3:12: error: tickets.a.title: the title is empty:"
     " give the ticket a title"),
])
def test_messages_for_people_not_for_regexes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str
) -> None:
    enter_project(tmp_path, monkeypatch)
    (tmp_path / "a.yaml").write_text(text)
    assert _errors("a.yaml") == f"a.yaml:{message}\n"


def test_two_emails_differing_only_in_case_advise_the_id_located(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ticketsync.declare.directory import User

    enter_project(tmp_path, monkeypatch)
    users = [User("user-001", "Kim Park", "kim@example.com"),
             User("user-002", "Kim Lee", "Kim@example.com")]
    (tmp_path / "ticketsync.directory.json").write_text(
        dump_directory(_directory(users=users)))
    write(tmp_path / "tickets" / "a.yaml",
          "tickets:\n  a: {title: A, reporters: [KIM@example.com]}\n")
    assert _errors() == (
        "tickets/a.yaml:2:29: error: tickets.a.reporters[0]: 'KIM@example.com' matches 2 users"
        " whose emails differ only in case: user-001 (Kim Park, kim@example.com), user-002"
        " (Kim Lee, Kim@example.com); emails match whatever their case: write the id of the"
        " one you mean\n"
    )


def test_a_status_type_the_workflow_lacks_and_a_scope_the_directory_does_not_know(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    enter_project(tmp_path, monkeypatch)
    workflow = Workflow("project-001", None, (Status("s-9", "Open", "to-do"),))
    directory = _directory()
    directory = Directory.of(directory.account_id, directory.pulled_at,
                             projects=directory.projects, ticket_types=directory.ticket_types,
                             statuses=[*directory.statuses, workflow])
    (tmp_path / "ticketsync.directory.json").write_text(dump_directory(directory))
    write(tmp_path / "tickets" / "a.yaml", """\
        defaults: {project: Platform}
        tickets:
          untyped: {title: A, status: closed}
          typed: {title: B, status: done, type: Task}
          unknown: {title: C, status: Whatever, project_id: project-001, type: other-type}
        """)
    # 'unknown' has a scope the directory knows nothing of: apply checks it instead.
    assert _errors() == (
        "tickets/a.yaml:3:31: error: tickets.untyped.status: no status of type 'closed' of"
        " tickets of project Platform (project-001), without a type; they can take: Open (or"
        " a type: to-do, in-progress, closed); if the workflow changed, run `ticketsync"
        " directory pull`\n"
        "tickets/a.yaml:5:72: error: tickets.unknown.type: 'other-type' is not a ticket type"
        " in the directory; if it is new, run `ticketsync directory pull`\n"
    )


def test_a_directory_file_with_statuses_round_trips_and_older_files_still_read() -> None:
    directory = _directory()
    text = dump_directory(directory)
    data = json.loads(text)
    assert data["version"] == 2
    assert data["statuses"] == [{"project_id": "project-001", "type": "ticket-type-001",
                                 "statuses": [
                                     {"id": "s-1", "name": "To Do", "type": "to-do"},
                                     {"id": "s-2", "name": "In Progress", "type": "in-progress"},
                                     {"id": "s-3", "name": "Done", "type": "closed"}]}]
    assert parse_directory(data, "d.json") == directory
    # Without statuses: version 1, byte for byte what older ticketsyncs wrote and read.
    older = Directory.of("acc-1", "2026-01-01T00:00:00Z", projects=directory.projects)
    old_data = json.loads(dump_directory(older))
    assert old_data["version"] == 1
    assert "statuses" not in old_data
    assert parse_directory(old_data, "d.json") == older


# -- apply: before the create, when the directory cannot tell --------------------------------


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SandboxProcess]:
    with spawn_sandbox(tmp_path / "server.db", api_key=API_KEY) as process:
        yield process


@pytest.mark.slow
def test_apply_refuses_a_status_before_the_create_from_a_tracked_ticket_of_the_scope(
    tmp_path: Path, server: SandboxProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = enter_sandbox_project(tmp_path / "p", server.url, API_KEY, ACCOUNT, monkeypatch)
    (folder / "ticketsync.yaml").write_text(f"account_id: {ACCOUNT}\n")
    assert invoke("init")[0] == 0
    head = "defaults: {project_id: project-001}\ntickets:\n  a: {title: Alpha}\n"
    write(folder / "tickets" / "t.yaml", head)
    assert invoke("apply", "--yes")[0] == 0
    write(folder / "tickets" / "t.yaml", head + "  b: {title: Beta, status: Doing}\n"
          "  c: {title: Gamma, status: In Review}\n")
    assert invoke("validate")[0] == 0  # no directory: validate cannot know
    code, out, _ = invoke("apply", "--yes")
    assert code == 1, out
    assert ("failed b: status 'Doing' is not one this ticket can take; it can take: To Do,"
            " In Progress, In Review, Done, Won't Do; nothing was sent\n") in out
    assert "Apply complete: 1 created, 0 updated, 1 failed." in out
    assert sorted(t.fields["title"] for t in stored_tickets(server.db_path)) == [
        "Alpha", "Gamma"]  # Beta was never sent
