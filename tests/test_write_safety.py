"""Every write path changes only what a reviewed file declares, never over a person's edit.

Against the sandbox over loopback, with the real CLI in this process. "A person in the
tracker" edits the sandbox's store directly, as Jira's UI would. Each test names the rule
it tries to break (adoption: docs/design.md, "No duplicates"; updates, closes and
removals: the README's "Keeping tickets in step").
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import enter_sandbox_project, invoke
from sandbox_helpers import MakeSandbox, stored_tickets

from ticketsync.sandbox import Fault, Faults, RunningSandbox
from ticketsync.sandbox.shapes import statuses
from ticketsync.state.file import read_state

API_KEY = "write-safety-key"
ACCOUNT = "acc-write-safety"
STATE = "ticketsync.state.json"


@pytest.fixture
def server(make_sandbox: MakeSandbox) -> RunningSandbox:
    return make_sandbox(api_key=API_KEY, faults=Faults())


@pytest.fixture
def project(tmp_path: Path, server: RunningSandbox, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = enter_sandbox_project(tmp_path / "p", server.url, API_KEY, ACCOUNT, monkeypatch)
    (folder / "tickets").mkdir()
    assert invoke("init")[0] == 0
    return folder


def declare(folder: Path, tickets: dict[str, dict[str, Any]], *, config: str = "") -> None:
    """Write the project's one ticket file (values as YAML flow) and its config."""
    import json

    lines = ["defaults:", "  project_id: project-001", "tickets:" if tickets else "tickets: {}"]
    for key, fields in tickets.items():
        lines.append(f"  {key}:")
        lines += [f"    {name}: {json.dumps(value)}" for name, value in fields.items()]
    (folder / "tickets" / "t.yaml").write_text("\n".join(lines) + "\n")
    (folder / "ticketsync.yaml").write_text(f"account_id: {ACCOUNT}\n{config}")


def ticket_id(folder: Path, key: str) -> str:
    return read_state(folder / STATE).tickets[key].id


def tracker(server: RunningSandbox, folder: Path, key: str) -> dict[str, Any]:
    wanted = ticket_id(folder, key)
    return next(dict(t.fields) for t in stored_tickets(server.db_path) if t.id == wanted)


def person_edits(server: RunningSandbox, folder: Path, key: str, **fields: Any) -> None:
    assert server.store.edit(ticket_id(folder, key), fields) is not None


def status(name: str) -> dict[str, Any]:
    return next(s for s in statuses("project-001", None) if s["name"] == name)


def patches(server: RunningSandbox) -> int:
    return server.faults.requests("update")


def apply(*args: str) -> tuple[int, str, str]:
    return invoke("apply", "--yes", *args)


# -- 1. a field ticketsync never set is a person's -----------------------------------------

PERSON = {
    "description": ("content", [{"plain": "A long text a person wrote in the tracker."}],
                    "short summary"),
    "priority": ("priority", {"value": "highest"}, "low"),
    "assignees": ("assignees", ["user-9"], ["user-1"]),
    "reporters": ("reporters", ["user-8"], ["user-2"]),
    "unified_custom_fields": ("unified_custom_fields", {"sprint": "S-12"}, {"sprint": "S-13"}),
}


@pytest.mark.parametrize("field", sorted(PERSON))
def test_a_field_first_declared_after_a_person_filled_it_is_a_conflict_never_replaced(
    server: RunningSandbox, project: Path, field: str
) -> None:
    stored, theirs, mine = PERSON[field]
    declare(project, {"a": {"title": "T1"}})
    assert apply()[0] == 0
    person_edits(server, project, "a", **{stored: theirs})
    assert invoke("plan", "--refresh")[1] == "No changes.\n"  # nothing declared there
    declare(project, {"a": {"title": "T1", field: mine}})
    code, out, _ = invoke("plan", "--refresh", "--detailed-exitcode")
    shown = f"{stored}.sprint" if field == "unified_custom_fields" else stored
    assert code == 2 and out.startswith("! conflict a (changed in the files and in the tracker")
    assert f"\n    {'description' if shown == 'content' else shown}: declared " in out
    before = patches(server)
    code, out, _ = apply()
    assert code == 1 and f"conflict a: {shown} changed in the files and in the tracker" in out
    assert patches(server) == before  # nothing sent to this ticket
    assert tracker(server, project, "a")[stored] == theirs


def test_a_field_first_declared_that_the_tracker_holds_nothing_for_is_sent(
    server: RunningSandbox, project: Path
) -> None:
    declare(project, {"a": {"title": "T1"}, "b": {"title": "T2"}})
    assert apply()[0] == 0
    person_edits(server, project, "b", priority={"value": "low"})  # already what is declared
    declare(project, {"a": {"title": "T1", "description": "short summary", "tags": ["x"]},
                      "b": {"title": "T2", "priority": "low"}})
    code, out, _ = apply()
    assert code == 0, out
    assert ('~ update a\n    description: 1 line changed (first: (none) -> "short summary")\n'
            '    tags: + "x"\n~ update b\n    priority: (none) -> "low"\n') in out
    fields = tracker(server, project, "a")
    assert (fields["content"], fields["tags"]) == ([{"plain": "short summary"}], ["x"])
    assert invoke("plan", "--refresh")[1] == "No changes.\n"


def test_a_ticket_closed_in_the_tracker_is_not_reopened_by_a_status_added_to_the_file(
    server: RunningSandbox, project: Path
) -> None:
    declare(project, {"a": {"title": "T1"}})
    assert apply()[0] == 0
    person_edits(server, project, "a", status=status("Won't Do"))
    declare(project, {"a": {"title": "T1", "status": "In Progress"}})
    code, out, _ = apply()
    assert code == 1 and "conflict a: status changed in the files and in the tracker" in out
    assert tracker(server, project, "a")["status"]["name"] == "Won't Do"
    assert apply("--overwrite")[0] == 0  # the user says the file wins
    assert tracker(server, project, "a")["status"]["name"] == "In Progress"


def test_an_older_state_that_never_read_a_field_reads_the_ticket_before_sending_it(
    server: RunningSandbox, project: Path
) -> None:
    """A state written by an older ticketsync kept only the applied fields' remote values:
    the tracker's side of a newly declared field is unknown, so apply reads that ticket
    (one GET) before it would send, and finds the person's text."""
    import json

    declare(project, {"a": {"title": "T1"}})
    assert apply()[0] == 0
    person_edits(server, project, "a", content=[{"plain": "A person's text."}])
    assert invoke("plan", "--refresh")[0] == 0
    doc = json.loads((project / STATE).read_text())
    doc["tickets"]["a"]["remote"] = {"title": "T1"}  # as an older ticketsync kept it
    (project / STATE).write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    declare(project, {"a": {"title": "T1", "description": "short summary"}})
    code, out, _ = apply()
    assert code == 1 and "conflict a: content changed in the files and in the tracker" in out
    assert tracker(server, project, "a")["content"] == [{"plain": "A person's text."}]


# -- 2. each custom field is a field of its own ----------------------------------------------

def test_a_patch_of_one_custom_field_keeps_the_keys_people_set(
    server: RunningSandbox, project: Path
) -> None:
    declare(project, {"a": {"title": "T1", "unified_custom_fields": {"cf1": "A"}}})
    assert apply()[0] == 0
    person_edits(server, project, "a",
                 unified_custom_fields={"cf1": "A", "cf2": "theirs", "sprint": "S-12"})
    declare(project, {"a": {"title": "T1", "unified_custom_fields": {"cf1": "B"}}})
    code, out, _ = apply()
    assert code == 0, out
    assert '~ update a\n    unified_custom_fields.cf1: "A" -> "B"\n' in out
    assert tracker(server, project, "a")["unified_custom_fields"] == {
        "cf1": "B", "cf2": "theirs", "sprint": "S-12"}
    assert invoke("plan", "--refresh")[1] == "No changes.\n"
    # A key dropped from the file is cleared; the person's keys stay.
    declare(project, {"a": {"title": "T1"}})
    assert apply()[0] == 0
    assert tracker(server, project, "a")["unified_custom_fields"] == {
        "cf1": None, "cf2": "theirs", "sprint": "S-12"}
    assert invoke("plan", "--refresh")[1] == "No changes.\n"


# -- 3. adoption by lookup takes only what this state made -----------------------------------

def test_a_hand_made_ticket_sharing_the_title_is_never_adopted(
    server: RunningSandbox, project: Path
) -> None:
    hand_made = server.store.create({"title": "Shared title", "project_id": "project-001"})
    declare(project, {"a": {"title": "Shared title", "description": "Ours.",
                            "assignees": ["user-1"]}})
    code, out, _ = apply()
    assert code == 0, out
    assert f"note: a: not adopted: {hand_made.id}" in out
    assert "Apply complete: 1 created, 0 updated, 0 failed." in out
    mine = tracker(server, project, "a")
    assert ticket_id(project, "a") != hand_made.id
    assert (mine["content"], mine["assignees"]) == ([{"plain": "Ours."}], ["user-1"])
    assert server.store.get(hand_made.id).fields == {  # type: ignore[union-attr]
        "title": "Shared title", "project_id": "project-001"}


def test_a_ticket_created_before_the_window_is_never_adopted(
    server: RunningSandbox, project: Path
) -> None:
    """Identical body, right title and project, edited by a person a minute ago (so the
    lookup lists it): but created hours before this state's window opened, so it is no
    lost create of this state's."""
    server.faults.clock_offset = -3 * 3600  # made three hours ago...
    old = server.store.create({"title": "Weekly sync", "project_id": "project-001"})
    server.faults.clock_offset = 0
    assert server.store.edit(old.id, {"tags": ["ops"]}) is not None  # ...touched just now
    declare(project, {"a": {"title": "Weekly sync"}})
    code, out, _ = apply()
    assert code == 0, out
    assert ticket_id(project, "a") != old.id and f"note: a: not adopted: {old.id}" in out
    assert "Apply complete: 1 created, 0 updated, 0 failed." in out


def test_with_a_marker_a_same_key_ticket_of_another_project_is_not_adopted(
    server: RunningSandbox, project: Path
) -> None:
    other = server.store.create({"title": "Another team's", "project_id": "project-002",
                                 "unified_custom_fields": {"ticketsync_key": "a"}})
    declare(project, {"a": {"title": "Ours"}}, config="marker: {custom_field: ticketsync_key}\n")
    code, out, _ = apply()
    assert code == 0, out
    assert ticket_id(project, "a") != other.id
    assert server.store.get(other.id).fields["title"] == "Another team's"  # type: ignore[union-attr]


def test_a_lost_create_is_still_adopted_when_it_holds_the_body(
    server: RunningSandbox, project: Path
) -> None:
    """The rule that keeps strangers out must keep the lost create in: the answer of the
    create is dropped after the tracker stored it, and the run adopts it (no duplicate)."""
    server.faults.add(Fault.STORE_THEN_DROP, op="create", times=1)
    declare(project, {"a": {"title": "Lost", "description": "Body.", "assignees": ["user-1"],
                            "priority": "high", "unified_custom_fields": {"cf": "x"}}})
    code, out, _ = apply()
    assert code == 0, out
    assert "adopted a" in out
    assert [t.title for t in stored_tickets(server.db_path)] == ["Lost"]


# -- 4, 6, 8. removals --------------------------------------------------------------------

def test_removed_close_never_recloses_a_ticket_closed_or_deleted_in_the_tracker(
    server: RunningSandbox, project: Path
) -> None:
    keys = ["a", "b", "c", "d", "e", "f"]
    config = "removed: close\nmax_removals: 3\n"
    declare(project, {k: {"title": k.upper()} for k in keys}, config=config)
    assert apply()[0] == 0
    person_edits(server, project, "a", status=status("Won't Do"))
    for key in "bcde":
        person_edits(server, project, key, status=status("Done"))
    assert server.store.delete(ticket_id(project, "f"))
    declare(project, {}, config=config)
    before = patches(server)
    code, out, err = apply()  # 5 closed, 1 deleted: none counts toward the brake of 3
    assert code == 0, out + err
    assert "settled a: already closed in the tracker; nothing was sent" in out
    assert "settled f: deleted in the tracker; nothing was sent" in out
    assert "Apply complete: 0 created, 0 updated, 6 settled, 0 failed." in out
    assert patches(server) == before
    assert server.store.get(ticket_id(project, "a")).fields["status"]["name"] == (  # type: ignore[union-attr]
        "Won't Do")
    state = read_state(project / STATE)
    assert all(state.tickets[k].closed for k in keys)
    # Settled for good: a person reopening one later is not closed again.
    person_edits(server, project, "b", status=status("In Progress"))
    assert apply() == (0, "No changes.\n", "")


def test_a_ticket_deleted_in_the_tracker_and_then_removed_needs_no_close(
    server: RunningSandbox, project: Path
) -> None:
    """The deletion is not seen by the default refresh: the close's 404 settles it."""
    config = "removed: close\n"
    declare(project, {"a": {"title": "A"}, "b": {"title": "B"}}, config=config)
    assert apply()[0] == 0
    assert server.store.delete(ticket_id(project, "b"))
    declare(project, {"a": {"title": "A"}}, config=config)
    code, out, _ = apply()
    assert code == 0, out
    assert "settled b: deleted in the tracker; nothing was sent" in out
    assert "state rm" not in out
    assert apply() == (0, "No changes.\n", "")
    assert read_state(project / STATE).tickets["b"].deleted


def test_removed_forget_is_braked_like_a_close(server: RunningSandbox, project: Path) -> None:
    config = "removed: forget\nmax_removals: 5\n"
    declare(project, {f"k{i:02d}": {"title": f"T{i}"} for i in range(30)}, config=config)
    assert apply()[0] == 0
    (project / "tickets" / "other.yaml").write_text("tickets:\n  new: {title: New}\n")
    (project / "tickets" / "t.yaml").rename(project / "moved-away.yaml")  # a mistake
    code, out, err = apply()
    assert code == 1
    assert "Error: this plan forgets 30 tickets, more than max_removals (5)" in err
    assert len(read_state(project / STATE).tickets) == 30
    code, out, _ = apply("--force")
    assert code == 0 and "Apply complete: 1 created, 0 updated, 30 forgotten, 0 failed." in out


# -- 10. a re-declared closed key is reopened -----------------------------------------------

def test_a_template_item_removed_then_added_back_is_reopened(
    server: RunningSandbox, project: Path
) -> None:
    def write(items: list[str]) -> None:
        lines = ["templates:", "  onboarding:", "    for_each: [" + ", ".join(items) + "]",
                 "    tickets:", "      laptop:", "        title: 'Laptop for {item}'",
                 "        project_id: project-001", "tickets: {}"]
        (project / "tickets" / "t.yaml").write_text("\n".join(lines) + "\n")
        (project / "ticketsync.yaml").write_text(f"account_id: {ACCOUNT}\nremoved: close\n")

    write(["alice", "bob"])
    assert apply()[0] == 0
    write(["alice"])
    code, out, _ = apply()
    assert code == 0 and "closed onboarding.bob.laptop" in out
    write(["alice", "bob"])
    code, out, _ = invoke("plan", "--refresh", "--detailed-exitcode")
    assert code == 2 and "~ reopen onboarding.bob.laptop" in out
    assert apply()[0] == 0
    assert tracker(server, project, "onboarding.bob.laptop")["status"]["name"] == "To Do"
    assert not read_state(project / STATE).tickets["onboarding.bob.laptop"].closed
    assert invoke("plan", "--refresh")[1] == "No changes.\n"


# -- 5. an uncertain PATCH is ticketsync's own write -----------------------------------------

def test_a_patch_that_acted_but_lost_its_answer_stays_ours(
    server: RunningSandbox, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ticketsync.stackone.retry

    monkeypatch.setattr(ticketsync.stackone.retry, "backoff", lambda attempt: 0.01)
    declare(project, {"a": {"title": "One"}})
    assert apply()[0] == 0
    server.faults.add(Fault.STORE_THEN_502, op="update", times=6)  # every attempt
    declare(project, {"a": {"title": "Two"}})
    code, out, _ = apply()
    assert code == 1 and "failed to update a" in out
    assert tracker(server, project, "a")["title"] == "Two"  # it acted
    assert read_state(project / STATE).tickets["a"].pending == {"title": "Two"}
    # Reverting the file: the tracker's "Two" is our write, not a person's: sent back.
    declare(project, {"a": {"title": "One"}})
    code, out, _ = apply()
    assert code == 0 and '~ update a\n    title: "Two" -> "One"\n' in out, out
    assert "drift" not in out, out
    assert tracker(server, project, "a")["title"] == "One"
    assert invoke("plan", "--refresh")[1] == "No changes.\n"


def test_a_patch_that_acted_and_a_file_moved_on_is_no_conflict(
    server: RunningSandbox, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ticketsync.stackone.retry

    monkeypatch.setattr(ticketsync.stackone.retry, "backoff", lambda attempt: 0.01)
    declare(project, {"a": {"title": "One"}})
    assert apply()[0] == 0
    server.faults.add(Fault.STORE_THEN_408, op="update", times=6)
    declare(project, {"a": {"title": "Two"}})
    assert apply()[0] == 1
    declare(project, {"a": {"title": "Three"}})
    code, out, _ = apply()
    assert code == 0 and "conflict" not in out, out
    assert tracker(server, project, "a")["title"] == "Three"


# -- 11. the status right after a create -----------------------------------------------------

def test_declared_statuses_show_no_drift_after_the_apply_that_set_them(
    server: RunningSandbox, project: Path
) -> None:
    """The read-back after the writes must not overtake a status PATCH: here the listing
    comes back (after one retry) while the ticket's statuses are still being fetched (two
    retries), which a read-back overlapping the create's answer would record as To Do."""
    server.faults.add(Fault.FAIL_BEFORE_STORE, op="list", nth={2})  # the read-back's page
    server.faults.add(Fault.FAIL_BEFORE_STORE, op="statuses", nth={1, 2})
    declare(project, {"a": {"title": "Alpha", "status": "In Review"},
                      "b": {"title": "Beta", "status": "Won't Do"}})
    code, out, _ = apply()
    assert code == 0, out
    assert read_state(project / STATE).tickets["a"].status["name"] == "In Review"  # type: ignore[index]
    # The state as written (no refresh): each ticket's status is the one it was set to.
    assert invoke("plan", "--detailed-exitcode")[:2] == (0, "No changes.\n")
    assert invoke("plan", "--refresh", "--detailed-exitcode")[:2] == (0, "No changes.\n")


def test_a_create_whose_answer_was_lost_gets_its_status_in_the_same_run(
    server: RunningSandbox, project: Path
) -> None:
    server.faults.add(Fault.STORE_THEN_DROP, op="create", times=3)
    declare(project, {f"k{i}": {"title": f"T{i}", "status": "In Review"} for i in range(3)})
    code, out, _ = apply()
    assert code == 0, out
    assert out.count("adopted k") == 3
    assert {t.fields["status"]["name"] for t in stored_tickets(server.db_path)} == {"In Review"}
    assert invoke("plan", "--refresh")[1] == "No changes.\n"


@pytest.fixture(autouse=True)
def _quiet(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("CI", raising=False)
    yield


def test_a_saved_plan_patch_of_one_custom_field_keeps_the_keys_people_set(
    server: RunningSandbox, project: Path
) -> None:
    """plan --out on the pull request, apply --plan on merge: the saved plan holds no
    tracker map; the one read at apply time is sent back with the changed key."""
    declare(project, {"a": {"title": "T1", "unified_custom_fields": {"cf1": "A"}}})
    assert apply()[0] == 0
    person_edits(server, project, "a", unified_custom_fields={"cf1": "A", "cf2": "theirs"})
    declare(project, {"a": {"title": "T1", "unified_custom_fields": {"cf1": "B"}}})
    assert invoke("plan", "--out", "plan.json")[0] == 0
    person_edits(server, project, "a",  # and one more key after the plan was saved
                 unified_custom_fields={"cf1": "A", "cf2": "theirs", "sprint": "S-3"})
    code, out, _ = apply("--plan", "plan.json")
    assert code == 0, out
    assert tracker(server, project, "a")["unified_custom_fields"] == {
        "cf1": "B", "cf2": "theirs", "sprint": "S-3"}
