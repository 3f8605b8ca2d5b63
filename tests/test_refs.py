"""References between tickets (README: "References between tickets"): ``{ref:KEY}``,
``{ref:KEY.url}``, ``{ref:KEY.title}``.

Offline: each rule and error of the loader, with its exact message and location. Planning:
plain values (a state in, a plan out). End to end: the CLI in this process and the sandbox
in its own (its request log says what was sent).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import enter_project, enter_sandbox_project, invoke, write
from fakes import FakeApi
from sandbox_helpers import SandboxProcess, spawn_sandbox, stored_tickets
from test_apply import Run

from ticketsync.declare.refs import Target, resolve_text
from ticketsync.errors import PlanError
from ticketsync.model import Create, Location, Plan, Project, State, StateEntry, Ticket
from ticketsync.plan.build import build_plan
from ticketsync.plan.references import order
from ticketsync.plan.render import render_text
from ticketsync.sandbox import TicketStore
from ticketsync.state.file import read_state, write_state

API_KEY = "refs-key"
ACCOUNT = "acc-refs"


# -- offline: the loader's rules ------------------------------------------------------------


def test_an_undeclared_key_is_located_at_its_placeholder_with_did_you_mean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    enter_project(tmp_path, monkeypatch)
    write(tmp_path / "tickets" / "a.yaml", """\
        tickets:
          a:
            title: "Follow-up of {ref:b} and {ref:bb}"
            description: Blocked by {ref:c.url}, see {ref:cc.title}
        templates:
          onboarding:
            for_each: [alice]
            tickets:
              laptop: {title: "Laptop for {item}"}
              accounts:
                title: "After {ref:onboarding.{item}.laptop}, {ref:onboarding.{item}.laptp}"
        """)
    write(tmp_path / "tickets" / "b.yaml", """\
        tickets:
          b: {title: B}
          c: {title: C}
        """)
    code, out, err = invoke("validate")
    assert code == 1 and out == ""
    lines = err.splitlines()
    assert lines[:3] == [
        "tickets/a.yaml:3:38: error: tickets.a.title: {ref:bb}: 'bb' is not a declared ticket "
        "key (did you mean 'b'?); a reference names a ticket declared in this project",
        "tickets/a.yaml:4:46: error: tickets.a.description: {ref:cc.title}: 'cc' is not a "
        "declared ticket key (did you mean 'c'?); a reference names a ticket declared in "
        "this project",
        "tickets/a.yaml:11:55: error: templates.onboarding.tickets.accounts.title: "
        "{ref:onboarding.alice.laptp}: 'onboarding.alice.laptp' is not a declared ticket key "
        "(did you mean 'onboarding.alice.laptop'?); a reference names a ticket declared in "
        "this project",
    ]


def test_a_reference_in_defaults_is_located_there_and_a_doubled_brace_is_literal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    enter_project(tmp_path, monkeypatch)
    write(tmp_path / "tickets" / "a.yaml", """\
        defaults:
          description: "Part of {ref:epic}"
        tickets:
          a: {title: "Literal {{ref:nothing}} here"}
        """)
    code, _, err = invoke("validate")
    assert code == 1
    assert err.splitlines()[0] == (
        "tickets/a.yaml:2:25: error: defaults.description: {ref:epic}: 'epic' is not a "
        "declared ticket key; a reference names a ticket declared in this project")
    assert "nothing" not in err


# -- planning: plain values -----------------------------------------------------------------


def _ticket(key: str, title: str, description: str | None = None) -> Ticket:
    body: dict[str, Any] = {"title": title}
    if description is not None:
        body["content"] = [{"plain": description}]
    return Ticket(key, body, Location("t.yaml", 1, 1))


def _project(*tickets: Ticket) -> Project:
    return Project({t.key: t for t in tickets})


def _state(**entries: StateEntry) -> State:
    return State(3, "lineage", 1, "2026-01-01T00:00:00Z", None, entries)


def _entry(ticket_id: str, title: str, number: str | None = None, url: str | None = None,
           **applied: Any) -> StateEntry:
    return StateEntry(ticket_id, None, "2026-01-01T00:00:00Z", {"title": title, **applied},
                      ticket_number=number, ticket_url=url)


def test_a_tracked_ticket_is_cited_by_number_url_and_title_resolved_when_planning() -> None:
    project = _project(_ticket("a", "A"), _ticket(
        "b", "After {ref:a}", "See {ref:a.url} ({ref:a.title})"))
    plan = build_plan(project, _state(a=_entry("id-a", "A", "PLAT-1", "https://t/PLAT-1")))
    assert [c.key for c in plan.creates] == ["b"]
    assert dict(plan.creates[0].body) == {
        "title": "After PLAT-1", "content": [{"plain": "See https://t/PLAT-1 (A)"}]}
    assert render_text(plan) == (
        '+ create b  "After PLAT-1"\n\nPlan: 1 to create, 0 to update, 1 unchanged.\n')


def test_without_a_number_the_id_stands_in() -> None:
    assert resolve_text("x {ref:a} y", {"a": Target("id-a")}, {"a"}) == "x id-a y"
    plan = build_plan(_project(_ticket("a", "A"), _ticket("b", "After {ref:a}")),
                      _state(a=_entry("id-a", "A")))
    assert plan.creates[0].title == "After id-a"


def test_the_resolved_text_as_applied_is_no_change_and_a_new_number_is_an_update() -> None:
    project = _project(_ticket("a", "A"), _ticket("b", "After {ref:a}"))
    tracked = _state(a=_entry("id-a", "A", "PLAT-1"), b=_entry("id-b", "After PLAT-1", "PLAT-2"))
    assert not build_plan(project, tracked).has_changes
    moved = _state(a=_entry("id-a", "A", "OPS-7"), b=_entry("id-b", "After PLAT-1", "PLAT-2"))
    plan = build_plan(project, moved)
    assert [(u.key, u.fields, u.body["title"]) for u in plan.updates] == [
        ("b", ("title",), "After OPS-7")]


def test_a_cited_ticket_of_the_same_plan_is_created_first_and_the_plan_says_so() -> None:
    project = _project(_ticket("a", "Follow-up of {ref:z}"), _ticket("z", "Zed"))
    plan = build_plan(project, _state())
    assert [c.key for c in plan.creates] == ["z", "a"]
    assert plan.creates[1].title == "Follow-up of {ref:z}"  # resolved at apply time
    assert render_text(plan) == (
        '+ create z  "Zed"\n'
        '+ create a  "Follow-up of {ref:z}"\n'
        "    (references z: filled in after it is created)\n"
        "\n"
        "Plan: 2 to create, 0 to update, 0 unchanged.\n")


def test_a_cycle_waits_one_way_and_fills_the_other_in_after_the_creates() -> None:
    project = _project(_ticket("x", "X cites {ref:y}"), _ticket("y", "Y cites {ref:x}"),
                       _ticket("s", "Self: {ref:s}"))
    plan = build_plan(project, _state())
    creates = {c.key: c for c in plan.creates}
    found = order(creates)
    assert dict(found.later) == {"x": {"y"}, "s": {"s"}}
    assert found.waits["y"] == {"x"}
    assert [c.key for c in plan.creates] == ["s", "x", "y"]
    assert render_text(plan).splitlines()[:6] == [
        '+ create s  "Self: {ref:s}"',
        "    (references s: a cycle, filled in by an update right after the creates)",
        '+ create x  "X cites {ref:y}"',
        "    (references y: a cycle, filled in by an update right after the creates)",
        '+ create y  "Y cites {ref:x}"',
        "    (references x: filled in after it is created)",
    ]


def test_a_key_with_a_dot_wins_over_an_attribute() -> None:
    project = _project(_ticket("a", "A"), _ticket("a.url", "U"), _ticket("b", "{ref:a.url}"))
    plan = build_plan(project, _state(a=_entry("id-a", "A", "PLAT-1", "https://t/1"),
                                      **{"a.url": _entry("id-u", "U", "PLAT-2")}))
    assert plan.creates[0].title == "PLAT-2"


def test_a_reference_to_a_ticket_neither_declared_nor_tracked_is_refused() -> None:
    with pytest.raises(PlanError) as raised:
        build_plan(_project(_ticket("b", "After {ref:gone}")), _state())
    assert str(raised.value) == (
        "t.yaml:1:1: b: {ref:gone}: 'gone' is neither declared nor in the state")


# -- end to end, over loopback --------------------------------------------------------------


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SandboxProcess]:
    with spawn_sandbox(tmp_path / "server.db", api_key=API_KEY) as process:
        yield process


@pytest.fixture
def project(tmp_path: Path, server: SandboxProcess, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = enter_sandbox_project(tmp_path / "p", server.url, API_KEY, ACCOUNT, monkeypatch)
    (folder / "ticketsync.yaml").write_text(f"account_id: {ACCOUNT}\n")
    assert invoke("init")[0] == 0
    return folder


def _declare(folder: Path, name: str, tickets: dict[str, dict[str, str]]) -> None:
    lines = ["defaults:", "  project_id: project-001", "tickets:"]
    for key, fields in tickets.items():
        lines.append(f"  {key}:")
        lines += [f"    {field}: {json.dumps(value)}" for field, value in fields.items()]
    write(folder / "tickets" / name, "\n".join(lines) + "\n")


def _remote(server: SandboxProcess, folder: Path) -> dict[str, dict[str, Any]]:
    state = read_state(folder / "ticketsync.state.json")
    by_id = {t.id: dict(t.fields) for t in stored_tickets(server.db_path)}
    return {key: by_id[entry.id] for key, entry in state.tickets.items()}


def _numbers(folder: Path) -> dict[str, str | None]:
    state = read_state(folder / "ticketsync.state.json")
    return {key: entry.ticket_number for key, entry in state.tickets.items()}


def _patches(server: SandboxProcess) -> list[str]:
    return [line for line in server.log().splitlines() if line.startswith("PATCH ")]


def test_references_across_files_are_created_first_resolved_and_then_no_change(
    server: SandboxProcess, project: Path
) -> None:
    _declare(project, "a.yaml", {"a": {"title": "Follow-up of {ref:b}",
                                       "description": "See {ref:b.url} ({ref:b.title})"}})
    _declare(project, "b.yaml", {"b": {"title": "Outage"}})
    code, out, err = invoke("plan")
    assert (code, err) == (0, "")
    assert out == ('+ create b  "Outage"\n'
                   '+ create a  "Follow-up of {ref:b}"\n'
                   "    (references b: filled in after it is created)\n"
                   "\n"
                   "Plan: 2 to create, 0 to update, 0 unchanged.\n")
    code, out, err = invoke("apply", "--yes")
    assert code == 0, out + err
    numbers = _numbers(project)
    remote = _remote(server, project)
    url = read_state(project / "ticketsync.state.json").tickets["b"].ticket_url
    assert url and numbers["b"]
    assert remote["a"]["title"] == f"Follow-up of {numbers['b']}"
    assert remote["a"]["content"][0]["plain"] == f"See {url} (Outage)"
    assert _patches(server) == []  # created resolved: nothing to fill in
    assert invoke("plan")[1] == "No changes.\n"


def test_a_cycle_is_filled_in_by_one_patch_and_converges(
    server: SandboxProcess, project: Path
) -> None:
    _declare(project, "t.yaml", {"x": {"title": "X, see {ref:y}"},
                                 "y": {"title": "Y, see {ref:x}"}})
    code, out, err = invoke("apply", "--yes")
    assert code == 0, out + err
    assert "Apply complete: 2 created, 1 updated, 0 failed." in out
    numbers, remote = _numbers(project), _remote(server, project)
    assert remote["x"]["title"] == f"X, see {numbers['y']}"
    assert remote["y"]["title"] == f"Y, see {numbers['x']}"
    assert len(_patches(server)) == 1
    assert invoke("plan")[1] == "No changes.\n"


def test_a_template_cites_a_ticket_of_its_own_instance(
    server: SandboxProcess, project: Path
) -> None:
    write(project / "tickets" / "onboarding.yaml", """\
        defaults: {project_id: project-001}
        templates:
          onboarding:
            for_each: [alice, bob]
            tickets:
              laptop: {title: "Laptop for {item}"}
              accounts: {title: "Accounts for {item}, after {ref:onboarding.{item}.laptop}"}
        """)
    assert invoke("apply", "--yes")[0] == 0
    numbers, remote = _numbers(project), _remote(server, project)
    for item in ("alice", "bob"):
        assert remote[f"onboarding.{item}.accounts"]["title"] == (
            f"Accounts for {item}, after {numbers[f'onboarding.{item}.laptop']}")
    assert invoke("plan")[1] == "No changes.\n"


def test_a_tracked_ticket_that_now_cites_a_new_one_is_updated_once_it_exists(
    server: SandboxProcess, project: Path
) -> None:
    _declare(project, "t.yaml", {"a": {"title": "Alpha"}})
    assert invoke("apply", "--yes")[0] == 0
    _declare(project, "t.yaml", {"a": {"title": "Alpha", "description": "Blocked by {ref:n}"},
                                 "n": {"title": "New"}})
    code, out, err = invoke("apply", "--yes")
    assert code == 0, out + err
    numbers, remote = _numbers(project), _remote(server, project)
    assert remote["a"]["content"][0]["plain"] == f"Blocked by {numbers['n']}"
    assert invoke("plan")[1] == "No changes.\n"


def test_a_lost_run_of_citing_tickets_is_adopted_not_duplicated(
    server: SandboxProcess, project: Path
) -> None:
    """§4.1's second mechanism: the run's journal and state died with its runner; the
    next run, from the committed state, finds the cited ticket and the one citing it (sent
    resolved) and adopts both."""
    (project / "ticketsync.yaml").write_text(
        f"account_id: {ACCOUNT}\nmarker: {{custom_field: ticketsync_key}}\n")
    committed = (project / "ticketsync.state.json").read_bytes()
    _declare(project, "t.yaml", {"a": {"title": "Outage"},
                                 "b": {"title": "Follow-up of {ref:a}"}})
    assert invoke("apply", "--yes")[0] == 0
    (project / "ticketsync.state.json").write_bytes(committed)
    code, out, err = invoke("apply", "--yes")
    assert code == 0, out + err
    assert "Apply complete: 0 created, 2 adopted" in out
    assert len(stored_tickets(server.db_path)) == 2
    assert invoke("plan")[1] == "No changes.\n"


def test_a_ticket_citing_one_that_fails_is_skipped_and_a_cycle_keeps_its_placeholder(
    tmp_path: Path,
) -> None:
    api = FakeApi(on_create=lambda b, n: "reject" if b["title"].startswith("Y") else None)
    run = Run(tmp_path, api)
    plan = Plan(creates=(
        Create("a", {"title": "A cites {ref:z}"}), Create("x", {"title": "X cites {ref:y}"}),
        Create("y", {"title": "Y cites {ref:x}"}), Create("z", {"title": "Y, the bad one"})))
    result = run(plan)
    assert (result.created, result.failed, result.skipped) == (1, 2, 2)
    assert set(run.state.tickets) == {"x"}
    assert run.state.tickets["x"].applied == {"title": "X cites {ref:y}"}
    assert sorted(result.messages)[-2:] == [
        "skipped a: it references z, which was not created",
        "skipped the update of x: it references y, which was not created"]


def test_a_half_made_cycle_is_filled_in_by_the_next_run_once_the_other_exists(
    tmp_path: Path,
) -> None:
    """A run stopped between a cycle's creates left x with its placeholder: the next plan
    updates x (sent once y exists, resolved), in that same run."""
    project = _project(_ticket("x", "X cites {ref:y}"), _ticket("y", "Y cites {ref:x}"))
    api = FakeApi()
    x_id = api.add_remote({"title": "X cites {ref:y}"})
    state = _state(x=_entry(x_id, "X cites {ref:y}", "SBX-1"))
    plan = build_plan(project, state)
    assert [c.key for c in plan.creates] == ["y"]
    assert plan.creates[0].title == "Y cites SBX-1"
    assert [(u.key, u.fields) for u in plan.updates] == [("x", ("title",))]
    run = Run(tmp_path, api, state)
    result = run(plan)
    assert (result.created, result.updated, result.ok) == (1, 1, True)
    y_id = run.state.tickets["y"].id
    assert api.tickets[x_id]["title"] == f"X cites {y_id}"  # the fake's tickets have no number
    assert run.state.tickets["x"].applied["title"] == f"X cites {y_id}"


def test_a_saved_plan_carries_its_placeholders_and_apply_resolves_them(
    server: SandboxProcess, project: Path
) -> None:
    _declare(project, "t.yaml", {"x": {"title": "X, see {ref:y}"},
                                 "y": {"title": "Y, see {ref:x}"}})
    assert invoke("plan", "--out", "plan.json")[0] == 0
    saved = json.loads((project / "plan.json").read_text())
    assert [c["title"] for c in saved["creates"]] == ["X, see {ref:y}", "Y, see {ref:x}"]
    code, out, err = invoke("apply", "--plan", "plan.json", "--yes")
    assert code == 0, out + err
    numbers, remote = _numbers(project), _remote(server, project)
    assert remote["x"]["title"] == f"X, see {numbers['y']}"
    assert remote["y"]["title"] == f"Y, see {numbers['x']}"
    assert invoke("plan")[1] == "No changes.\n"


@pytest.mark.parametrize("marker", [True, False], ids=["marker", "title"])
def test_a_lost_run_of_a_filled_in_cycle_is_adopted_not_duplicated(
    server: SandboxProcess, project: Path, marker: bool
) -> None:
    """The journal and state died with the runner after a cycle's fill-in PATCH: the next
    run, from the committed state, finds both tickets (their texts resolved since) and
    adopts them: a placeholder matches whatever the reference became."""
    config = f"account_id: {ACCOUNT}\n" + (
        "marker: {custom_field: ticketsync_key}\n" if marker else "")
    (project / "ticketsync.yaml").write_text(config)
    committed = (project / "ticketsync.state.json").read_bytes()
    _declare(project, "t.yaml", {"x": {"title": "X, see {ref:y}"},
                                 "y": {"title": "Y, see {ref:x}"}})
    assert invoke("apply", "--yes")[0] == 0
    assert all("{ref:" not in (t.title or "") for t in stored_tickets(server.db_path))
    (project / "ticketsync.state.json").write_bytes(committed)
    code, out, err = invoke("apply", "--yes")
    assert code == 0, out + err
    assert "Apply complete: 0 created, 2 adopted" in out
    assert len(stored_tickets(server.db_path)) == 2
    assert invoke("plan")[1] == "No changes.\n"


def test_a_fill_in_citing_a_ticket_the_lookup_adopts_is_sent_not_skipped(
    server: SandboxProcess, project: Path
) -> None:
    """A runner killed between the creates of a cycle: x is tracked (its text still holds
    the placeholder), y was created but its answer died with the runner. The next run
    adopts y in its lookup, before the updates are queued: x's fill-in, which cites y,
    must go then, not wait for a create that will never come (it was skipped, exit 1)."""
    (project / "ticketsync.yaml").write_text(
        f"account_id: {ACCOUNT}\nmarker: {{custom_field: ticketsync_key}}\n")
    before = read_state(project / "ticketsync.state.json")
    _declare(project, "t.yaml", {"x": {"title": "X, see {ref:y}"},
                                 "y": {"title": "Y, see {ref:x}"}})
    assert invoke("apply", "--yes")[0] == 0
    after = read_state(project / "ticketsync.state.json")
    x = after.tickets["x"]
    placeholder = {**x.applied, "title": "X, see {ref:y}"}
    with TicketStore(server.db_path) as store:  # x as it was before its fill-in
        store.edit(x.id, {"title": "X, see {ref:y}"})
    # The state as the killed run's journal folds it: x created, y never answered.
    write_state(project / "ticketsync.state.json", replace(
        after, written_at=before.written_at, refreshed_at=before.refreshed_at,
        tickets={"x": replace(x, applied=placeholder,
                              remote={**x.remote, "title": "X, see {ref:y}"})}))
    code, out, err = invoke("apply", "--yes")
    assert code == 0, out + err
    assert "1 adopted, 1 updated, 0 failed." in out and "skipped" not in out
    remote = _remote(server, project)
    numbers = {key: e.ticket_number for key, e in
               read_state(project / "ticketsync.state.json").tickets.items()}
    assert remote["x"]["title"] == f"X, see {numbers['y']}"
    assert len(stored_tickets(server.db_path)) == 2
    assert invoke("plan")[1] == "No changes.\n"
