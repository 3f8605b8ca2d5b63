"""Tickets kept in step with the tracker, against the sandbox over loopback (the README's "Keeping
tickets in step").

Each rule of the three-way table (declared, applied, remote), with the real CLI in this
process and the sandbox in its own (its request log says what was sent). "A person in the
tracker" is the sandbox's store, edited directly, as Jira's UI would.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import enter_sandbox_project, invoke
from sandbox_helpers import SandboxProcess, spawn_sandbox, stored_tickets

from ticketsync.sandbox import TicketStore
from ticketsync.sandbox.shapes import statuses
from ticketsync.state.file import read_state

API_KEY = "lifecycle-key"
ACCOUNT = "acc-lifecycle"
pytestmark = pytest.mark.slow


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SandboxProcess]:
    with spawn_sandbox(tmp_path / "server.db", api_key=API_KEY) as process:
        yield process


@pytest.fixture
def project(tmp_path: Path, server: SandboxProcess, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = enter_sandbox_project(tmp_path / "p", server.url, API_KEY, ACCOUNT, monkeypatch)
    (folder / "tickets").mkdir()
    assert invoke("init")[0] == 0
    return folder


def declare(folder: Path, tickets: dict[str, dict[str, Any]], *, config: str = "") -> None:
    lines = ["defaults:", "  project_id: project-001", "tickets:"]
    for key, fields in tickets.items():
        lines.append(f"  {key}:")
        lines += [f"    {name}: {value!r}" if isinstance(value, str) else
                  f"    {name}: {value}" for name, value in fields.items()]
    (folder / "tickets" / "t.yaml").write_text("\n".join(lines) + "\n")
    (folder / "ticketsync.yaml").write_text(f"account_id: {ACCOUNT}\n{config}")


def remote(server: SandboxProcess, folder: Path, key: str) -> dict[str, Any]:
    ticket_id = read_state(folder / "ticketsync.state.json").tickets[key].id
    return next(dict(t.fields) for t in stored_tickets(server.db_path) if t.id == ticket_id)


def edit_in_the_tracker(server: SandboxProcess, folder: Path, key: str, **fields: Any) -> None:
    ticket_id = read_state(folder / "ticketsync.state.json").tickets[key].id
    with TicketStore(server.db_path) as store:
        assert store.edit(ticket_id, fields) is not None


def patches(server: SandboxProcess) -> list[str]:
    return [line for line in server.log().splitlines() if line.startswith("PATCH ")]


def apply(*args: str) -> tuple[int, str, str]:
    return invoke("apply", "--yes", *args)


BASE = {"a": {"title": "Alpha", "assignees": ["user-1"], "tags": ["x"]},
        "b": {"title": "Beta", "priority": "low"}}


def test_an_edit_in_the_tracker_with_an_unchanged_declaration_is_drift_and_nothing_is_sent(
    server: SandboxProcess, project: Path
) -> None:
    declare(project, BASE)
    assert apply()[0] == 0
    edit_in_the_tracker(server, project, "a", assignees=["user-9"])
    code, out, _ = invoke("plan", "--refresh", "--detailed-exitcode")
    assert (code, out) == (0, "? drift a (edited in the tracker; left as it is)\n"
                              "    assignees: applied [user-1], tracker [user-9]\n"
                              "\nNo changes.\n")
    before = len(patches(server))
    assert apply() == (0, "? drift a (edited in the tracker; left as it is)\n"
                          "    assignees: applied [user-1], tracker [user-9]\n"
                          "\nNo changes.\n", "")
    assert len(patches(server)) == before  # no PATCH: the tracker's edit stands
    assert remote(server, project, "a")["assignees"] == ["user-9"]


def test_a_declaration_changed_sends_only_that_field(server: SandboxProcess,
                                                     project: Path) -> None:
    declare(project, BASE)
    assert apply()[0] == 0
    edit_in_the_tracker(server, project, "a", assignees=["user-9"])  # another field, edited
    declare(project, {**BASE, "a": {**BASE["a"], "title": "Alpha, renamed"}})
    code, out, _ = apply()
    assert code == 0, out
    assert '~ update a\n    title: "Alpha" -> "Alpha, renamed"\n' in out
    assert "Apply complete: 0 created, 1 updated" in out
    sent = patches(server)[-1]
    assert sent.startswith("PATCH /unified/ticketing/tickets/")
    fields = remote(server, project, "a")
    assert (fields["title"], fields["assignees"]) == ("Alpha, renamed", ["user-9"])
    assert invoke("plan", "--refresh")[1].endswith("No changes.\n")


def test_a_field_changed_on_both_sides_is_a_conflict_and_nothing_is_sent(
    server: SandboxProcess, project: Path
) -> None:
    declare(project, BASE)
    assert apply()[0] == 0
    edit_in_the_tracker(server, project, "b", title="Beta (edited in Jira)")
    declare(project, {**BASE, "b": {"title": "Beta, renamed", "priority": "high"}})
    code, out, _ = invoke("plan", "--refresh", "--detailed-exitcode")
    assert code == 2
    # The ticket is held back whole: its priority waits with the conflicting title.
    assert out.startswith(
        "! conflict b (changed in the files and in the tracker: nothing is sent for this "
        "ticket unless apply --overwrite)\n"
        '    priority: "low" -> "high" (waits with the conflict)\n'
        '    title: declared "Beta, renamed", last applied "Beta", tracker "Beta (edited in '
        'Jira)"\n'), out
    before = len(patches(server))
    code, out, _ = apply()
    assert code == 1
    assert "conflict b: title changed in the files and in the tracker; nothing was sent" in out
    assert len(patches(server)) == before  # not even the priority: the ticket is refused
    assert remote(server, project, "b")["title"] == "Beta (edited in Jira)"
    code, out, _ = apply("--overwrite")  # the user says the files win
    assert code == 0, out
    fields = remote(server, project, "b")
    assert (fields["title"], fields["priority"]) == ("Beta, renamed", {"value": "high"})


def test_a_ticket_deleted_in_the_tracker_is_reported_never_recreated(
    server: SandboxProcess, project: Path
) -> None:
    declare(project, BASE)
    assert apply()[0] == 0
    ticket_id = read_state(project / "ticketsync.state.json").tickets["a"].id
    with TicketStore(server.db_path) as store:
        store.delete(ticket_id)
    declare(project, {**BASE, "a": {**BASE["a"], "title": "Alpha, renamed"}})
    code, out, _ = apply()
    assert code == 1 and "failed to update a: it was deleted in the tracker" in out
    code, out, _ = apply()
    assert code == 0
    assert out.startswith("? deleted a: deleted in the tracker; not re-created")
    titles = [t.title for t in stored_tickets(server.db_path)]
    assert titles.count("Alpha") + titles.count("Alpha, renamed") == 0  # never re-created
    assert read_state(project / "ticketsync.state.json").tickets["a"].deleted


def test_removed_close_closes_only_tracked_tickets_and_respects_the_brake(
    server: SandboxProcess, project: Path
) -> None:
    declare(project, {f"k{i}": {"title": f"Ticket {i}"} for i in range(4)},
            config="removed: close\nmax_removals: 2\n")
    assert apply()[0] == 0
    with TicketStore(server.db_path) as store:  # a ticket someone made by hand
        store.create({"title": "Made by hand", "project_id": "project-001"})
    declare(project, {"k0": {"title": "Ticket 0"}}, config="removed: close\nmax_removals: 2\n")
    code, out, err = apply()
    assert code == 1 and "this plan closes 3 tickets, more than max_removals (2)" in err
    assert all(t.fields.get("status") is None for t in stored_tickets(server.db_path))
    code, out, _ = apply("--force")
    assert code == 0, out
    assert "Apply complete: 0 created, 0 updated, 3 closed, 0 failed." in out
    by_title = {t.title: t.fields.get("status") for t in stored_tickets(server.db_path)}
    assert [by_title[f"Ticket {i}"]["name"] for i in (1, 2, 3)] == ["Done"] * 3
    assert by_title["Ticket 0"] is None and by_title["Made by hand"] is None
    state = read_state(project / "ticketsync.state.json")
    assert [state.tickets[f"k{i}"].closed for i in range(4)] == [False, True, True, True]
    assert apply()[1].endswith("No changes.\n")  # closed once, never again


def test_removed_forget_drops_the_entry_and_leaves_the_ticket(
    server: SandboxProcess, project: Path
) -> None:
    declare(project, BASE, config="removed: forget\n")
    assert apply()[0] == 0
    declare(project, {"a": BASE["a"]}, config="removed: forget\n")
    code, out, _ = apply()
    assert code == 0 and "forgot b (id " in out
    assert "b" not in read_state(project / "ticketsync.state.json").tickets
    assert "Beta" in [t.title for t in stored_tickets(server.db_path)]
    assert all(t.fields.get("status") is None for t in stored_tickets(server.db_path))


def test_the_state_links_each_ticket_and_the_markdown_plan_shows_the_links(
    server: SandboxProcess, project: Path
) -> None:
    declare(project, BASE)
    code, out, _ = apply()
    assert code == 0, out
    state = read_state(project / "ticketsync.state.json")
    numbers = {k: e.ticket_number for k, e in state.tickets.items()}
    assert all(n and n.startswith("SBX-") for n in numbers.values())
    assert f"Created: {numbers['a']} (a), {numbers['b']} (b)." in out
    with TicketStore(server.db_path) as store:  # links name the sandbox's home, not its port
        home = store.home_url
    assert state.tickets["a"].ticket_url == f"{home}/browse/{numbers['a']}"
    assert state.tickets["a"].status == {"id": "status-project-001.task.to-do",
                                         "name": "To Do", "type": "to-do"}
    edit_in_the_tracker(server, project, "a", title="Edited")
    markdown = invoke("plan", "--refresh", "--format", "markdown")[1]
    assert f"| `a` ([{numbers['a']}]({home}/browse/{numbers['a']})) | `title` |" in (
        markdown)


def test_kill_9_or_sigterm_while_creating_updating_and_closing_converges_without_clobbering(
    tmp_path: Path,
) -> None:
    """Each trial: a project applied, then a person edits some tickets in the tracker, and
    the files change (new tickets, new titles, removed declarations); an apply doing all of
    it is stopped at random moments, twice: by kill -9, then by SIGTERM (a CI cancel, which
    the apply answers by writing its state); re-runs finish. Every ticket ends as declared,
    one per key, closed when removed, and no field edited in the tracker is overwritten."""
    import random
    import signal
    import subprocess
    import sys

    from sandbox_helpers import count_by_marker
    from test_guarantees import apply_until_done, environment, kill_at_random_moment, start

    from ticketsync.state.journal import journal_path_for

    rng = random.Random(512)
    hits = 0
    with spawn_sandbox(tmp_path / "server.db", "--latency-ms", "10",
                       api_key="tsk-guarantee-9f3b2c7d1e8a4f60b5c2") as server:
        for trial in range(5):
            folder = tmp_path / f"t{trial}"
            (folder / "tickets").mkdir(parents=True)
            config = ("account_id: acc-guarantees\nmarker: {custom_field: ticketsync_key}\n"
                      "removed: close\nconcurrency: 4\n")
            keys = [f"l{trial}-{i:02d}" for i in range(30)]

            def declare_all(titles: dict[str, str], *, folder: Path = folder,
                            config: str = config) -> None:
                lines = ["defaults:", "  project_id: project-001", "tickets:"]
                for key, title in titles.items():
                    lines += [f"  {key}:", f"    title: {title}",
                              "    assignees: [user-1]"]
                (folder / "tickets" / "t.yaml").write_text("\n".join(lines) + "\n")
                (folder / "ticketsync.yaml").write_text(config)

            declare_all({k: f"First {k}" for k in keys[:25]})
            done = subprocess.run(
                [sys.executable, "-m", "ticketsync", "init"], cwd=folder, check=False,
                env=environment(server.url), capture_output=True, text=True)
            assert done.returncode == 0, done.stderr
            apply_until_done(folder, server.url)
            state = read_state(folder / "ticketsync.state.json")
            edited = keys[:5]  # a person reassigns these in the tracker
            with TicketStore(server.db_path) as store:
                for key in edited:
                    store.edit(state.tickets[key].id, {"assignees": ["user-jira"]})
            final = {k: f"First {k}" for k in keys[:20]}
            final.update({k: f"Renamed {k}" for k in keys[5:15]})  # changed in the files
            final.update({k: f"New {k}" for k in keys[25:]})  # new tickets
            declare_all(final)  # keys[20:25] are removed: closed
            journal = journal_path_for(folder / "ticketsync.state.json")
            for sig in (signal.SIGKILL, signal.SIGTERM):
                process = start(folder, server.url, "apply", "--yes", "--force")
                kill_at_random_moment(process, journal, rng, 25, sig)
                hits += journal.exists()  # stopped mid-run: work left in the journal
            apply_until_done(folder, server.url)
            counts = count_by_marker(server.db_path)
            assert {k: counts[k] for k in keys} == dict.fromkeys(keys, 1)
            state = read_state(folder / "ticketsync.state.json")
            stored = {t.id: t.fields for t in stored_tickets(server.db_path)}
            for key in keys:
                fields = stored[state.tickets[key].id]
                if key in final:
                    assert fields["title"] == final[key], key
                    expected = ["user-jira"] if key in edited else ["user-1"]
                    assert fields["assignees"] == expected, key  # never clobbered
                    assert fields.get("status") is None, key
                else:
                    assert fields["status"]["name"] == "Done", key
                    assert state.tickets[key].closed
            assert apply_until_done(folder, server.url)[-1].count("No changes.") == 1
    assert hits >= 3  # the kills really landed while the apply was writing


def test_a_declared_status_is_set_at_creation_and_an_unknown_one_fails_that_ticket_alone(
    server: SandboxProcess, project: Path
) -> None:
    declare(project, {"a": {"title": "Alpha", "status": "In Review"},
                      "b": {"title": "Beta", "status": "Shipped"},
                      "c": {"title": "Gamma", "status": "closed"}})
    # One at a time, so that a (declared first) learns the scope's statuses and b is
    # refused before its create (issue #19): nothing is made only to fail.
    code, out, _ = apply("--concurrency", "1")
    assert code == 1, out
    assert ("failed b: status 'Shipped' is not one this ticket can take; it can take: To Do,"
            " In Progress, In Review, Done, Won't Do; nothing was sent") in out
    assert "Apply complete: 2 created, 0 updated, 1 failed." in out
    assert remote(server, project, "a")["status"]["name"] == "In Review"
    assert remote(server, project, "c")["status"]["name"] == "Done"  # the first closed one
    statuses = [line for line in server.log().splitlines() if "/statuses" in line]
    assert len(statuses) == 1  # fetched once for the project and type, not per ticket
    declare(project, {"a": {"title": "Alpha", "status": "In Review"},
                      "b": {"title": "Beta", "status": "In Progress"},
                      "c": {"title": "Gamma", "status": "closed"}})
    code, out, _ = apply()
    assert code == 0, out
    assert '+ create b  "Beta"\n' in out
    assert remote(server, project, "b")["status"]["name"] == "In Progress"
    assert invoke("plan", "--refresh")[1] == "No changes.\n"


def test_a_status_moved_in_the_tracker_is_drift_and_moving_it_back_is_a_choice(
    server: SandboxProcess, project: Path
) -> None:
    declare(project, {"a": {"title": "Alpha", "status": "In Review"}})
    assert apply()[0] == 0
    done = next(s for s in statuses("project-001", None) if s["name"] == "Done")
    edit_in_the_tracker(server, project, "a", status=done)
    code, out, _ = invoke("plan", "--refresh", "--detailed-exitcode")
    assert (code, out) == (0, '? closed a: closed in the tracker ("Done"); left as it is\n'
                              "\nNo changes.\n")
    declare(project, {"a": {"title": "Alpha", "status": "To Do"}})  # both sides moved it
    code, out, _ = invoke("plan", "--refresh")
    assert ("! conflict a (changed in the files and in the tracker: nothing is sent for this "
            'ticket unless apply --overwrite)\n    status: declared "To Do", last applied '
            '"In Review", tracker "Done"\n') in out
    assert apply("--overwrite")[0] == 0
    assert remote(server, project, "a")["status"]["name"] == "To Do"


def test_a_saved_plan_never_sends_an_update_over_an_edit_made_since_it_was_saved(
    server: SandboxProcess, project: Path
) -> None:
    """plan --out on the pull request, an edit in the tracker, apply --plan on merge: the
    field edited in between is a conflict at apply time, not overwritten."""
    declare(project, BASE)
    assert apply()[0] == 0
    declare(project, {**BASE, "a": {**BASE["a"], "title": "Alpha, renamed"}})
    assert invoke("plan", "--out", "plan.json")[0] == 0
    edit_in_the_tracker(server, project, "a", title="Alpha (edited in Jira meanwhile)")
    code, out, _ = apply("--plan", "plan.json")
    assert code == 1 and "conflict a: title changed in the files and in the tracker" in out
    assert remote(server, project, "a")["title"] == "Alpha (edited in Jira meanwhile)"
