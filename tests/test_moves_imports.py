"""Declared moves and imports (the README's "Moves and imports, declared"): every offline rule and
error, exactly; the plan lines; apply against the sandbox over loopback, live and from a saved plan;
the journal's ``moved`` record folded whole."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import enter_project, enter_sandbox_project, invoke, write

from ticketsync.errors import InputError
from ticketsync.model import Import, Location, Move, Project, State, StateEntry, Ticket
from ticketsync.plan.build import build_plan
from ticketsync.sandbox import RunningSandbox
from ticketsync.stackone.read import parse_ticket
from ticketsync.state.file import read_state
from ticketsync.state.recovery import fold

ACCOUNT = "acc-moves"


# -- offline: the loader -----------------------------------------------------------------


def test_every_offline_rule_is_a_located_error_reported_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    enter_project(tmp_path, monkeypatch)
    write(tmp_path / "tickets" / "a.yaml", """\
        moved:
          - {from: still, to: b}
          - {from: x, to: nowhere}
          - {from: a, to: b}
          - {from: b, to: c}
          - {from: p, to: q}
          - {from: q, to: p}
          - {from: same, to: same}
        imports:
          - {to: legacy, number: PLAT-1}
          - {to: other, number: PLAT-1}
          - {to: c, id: abc}
          - {to: ghost, id: def}
          - {to: legacy, id: ghi}
          - {to: both, number: PLAT-2, id: jkl}
          - {to: neither}
        tickets:
          still: {title: Still declared}
          b: {title: B}
          c: {title: C}
          p: {title: P}
          legacy: {title: Legacy}
          other: {title: Other}
          both: {title: Both}
          neither: {title: Neither}
          same: {title: Same}
        """)
    code, out, err = invoke("validate")
    f = "tickets/a.yaml"
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        f"{f}:2:5: error: moved: a chain: still -> b -> c (at {f}:5:5); move still "
         "straight to c and drop the step between",
        f"{f}:2:5: error: moved: still is still declared: a move takes its ticket away "
         "from it; rename the declaration to b, or drop the move",
        f"{f}:3:5: error: moved: nowhere is not declared: declare it (the ticket's new "
         "key), or drop the move",
        f"{f}:4:5: error: moved: a chain: a -> b -> c (at {f}:5:5); move a straight to c "
         "and drop the step between",
        f"{f}:4:5: error: moved: b is moved twice (to here and at {f}:2:5)",
        f"{f}:5:5: error: moved: b is still declared: a move takes its ticket away from "
         "it; rename the declaration to c, or drop the move",
        f"{f}:6:5: error: moved: a cycle: p -> q -> p (at {f}:7:5); a move of a key to "
         "its own old key needs no block: drop both",
        f"{f}:6:5: error: moved: p is still declared: a move takes its ticket away from "
         "it; rename the declaration to q, or drop the move",
        f"{f}:6:5: error: moved: q is not declared: declare it (the ticket's new key), "
         "or drop the move",
        f"{f}:7:5: error: moved: a cycle: q -> p -> q (at {f}:6:5); a move of a key to "
         "its own old key needs no block: drop both",
        f"{f}:8:5: error: moved: moves same to itself: nothing to move",
        f"{f}:11:5: error: imports: number PLAT-1 is imported twice (as legacy at "
         f"{f}:10:5): one ticket, one key",
        f"{f}:12:5: error: imports: c is also the target of a move (at {f}:5:5): one "
         "ticket, one key",
        f"{f}:13:5: error: imports: ghost is not declared: declare the ticket it is "
         "imported as (its fields are what apply makes the ticket hold)",
        f"{f}:14:5: error: imports: legacy is imported twice (also at {f}:10:5)",
        f"{f}:15:5: error: imports[5]: give the ticket's number (number: PLAT-123) or "
         "its StackOne id (id: ...), not both",
        f"{f}:16:5: error: imports[6]: give the ticket's number (number: PLAT-123) or "
         "its StackOne id (id: ...), one of them",
    ]


def test_a_mistyped_field_of_a_move_says_what_it_meant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    enter_project(tmp_path, monkeypatch)
    write(tmp_path / "tickets" / "a.yaml", """\
        moved:
          - {form: a, to: b}
        tickets:
          b: {title: B}
        """)
    code, _, err = invoke("validate")
    assert (code, err.splitlines()) == (1, [
        "tickets/a.yaml:2:5: error: moved[0]: missing required field 'from'",
        "tickets/a.yaml:2:6: error: moved[0].form: unknown field 'form' (did you mean"
        " 'from'?)",
    ])


# -- the planner (pure) ------------------------------------------------------------------

AT = Location("tickets/a.yaml", 2, 5)


def _state(**entries: StateEntry) -> State:
    return State(version=3, lineage="l-1", serial=4, written_at="2026-01-01T00:00:00Z",
                 account_id=ACCOUNT, tickets=entries)


def _entry(ticket_id: str, title: str, number: str | None = None) -> StateEntry:
    body = {"title": title}
    return StateEntry(ticket_id, None, "2026-01-01T00:00:00Z", dict(body), number,
                      remote={**body})


def _project(*, moves: tuple[Move, ...] = (), imports: tuple[Import, ...] = (),
             **titles: str) -> Project:
    tickets = {key: Ticket(key, {"title": title}, Location("tickets/a.yaml", 9, 3))
               for key, title in titles.items()}
    return Project(tickets, moves=moves, imports=imports)


def test_a_renamed_key_with_the_same_declaration_is_a_move_and_nothing_else() -> None:
    state = _state(old=_entry("t-1", "Outage"))
    plan = build_plan(_project(moves=(Move("old", "new", AT),), new="Outage"), state)
    assert (plan.moves, plan.creates, plan.updates, plan.removals, plan.unchanged) == (
        (Move("old", "new", AT),), (), (), (), 1)
    assert plan.has_changes


def test_an_applied_move_and_an_applied_import_left_in_the_file_do_nothing() -> None:
    state = _state(new=_entry("t-1", "Outage"), legacy=_entry("t-2", "Legacy", "PLAT-1"))
    project = _project(moves=(Move("old", "new", AT),),
                       imports=(Import("legacy", "PLAT-1", None, AT),),
                       new="Outage", legacy="Legacy")
    plan = build_plan(project, state)
    assert (plan.moves, plan.imports, plan.has_changes, plan.unchanged) == ((), (), False, 2)


def test_an_imported_ticket_is_compared_with_the_tracker_as_read() -> None:
    read = parse_ticket({"id": "t-9", "ticket_number": "PLAT-9", "title": "Legacy",
                         "priority": {"value": "low"}, "tags": ["theirs"]})
    assert read is not None
    project = Project({"legacy": Ticket("legacy", {"title": "Legacy",
                                                   "priority": {"value": "high"}}, AT)},
                      imports=(Import("legacy", "PLAT-9", None, AT),))
    plan = build_plan(project, _state(), imported={"legacy": read})
    assert plan.imports == (Import("legacy", "PLAT-9", "t-9", AT, "Legacy"),)
    assert plan.creates == ()
    [update] = plan.updates
    # Declared otherwise than the tracker holds: an update, not a conflict; the tags the
    # file does not declare are never touched.
    assert (update.key, update.id, update.fields, update.conflicts) == (
        "legacy", "t-9", ("priority",), ())


def test_an_import_not_read_yet_is_neither_created_nor_updated() -> None:
    project = _project(imports=(Import("legacy", "PLAT-9", None, AT),), legacy="Legacy")
    plan = build_plan(project, _state())
    assert (plan.creates, plan.updates, plan.imports) == (
        (), (), (Import("legacy", "PLAT-9", None, AT),))


@pytest.mark.parametrize(("state", "imports", "message"), [
    (_state(other=_entry("t-1", "Other", "PLAT-1")), (Import("legacy", "PLAT-1", None, AT),),
     "PLAT-1 is tracked already, as other: one ticket, one key (a `moved:` block from other"
     " to legacy renames it)"),
    (_state(other=_entry("t-1", "Other")), (Import("legacy", None, "t-1", AT),),
     "t-1 is tracked already, as other: one ticket, one key (a `moved:` block from other to"
     " legacy renames it)"),
    (_state(legacy=_entry("t-1", "Legacy", "PLAT-1")), (Import("legacy", "PLAT-2", None, AT),),
     "legacy is tracked already, as another ticket (PLAT-1, id t-1): import PLAT-2 as"
     " another key, or `ticketsync state rm legacy` first if that entry is wrong"),
], ids=["number", "id", "key"])
def test_an_import_of_a_tracked_ticket_or_onto_a_tracked_key_is_refused(
    state: State, imports: tuple[Import, ...], message: str
) -> None:
    with pytest.raises(InputError) as caught:
        build_plan(_project(imports=imports, legacy="Legacy", other="Other"), state)
    assert [str(p) for p in caught.value.problems] == [
        f"tickets/a.yaml:2:5: error: imports: {message}"]


def test_a_move_onto_a_tracked_key_is_refused() -> None:
    state = _state(old=_entry("t-1", "Old"), new=_entry("t-2", "New"))
    with pytest.raises(InputError) as caught:
        build_plan(_project(moves=(Move("old", "new", AT),), new="New"), state)
    assert [str(p) for p in caught.value.problems] == [
        "tickets/a.yaml:2:5: error: moved: new is tracked already (id t-2), and so is old"
        " (id t-1): `ticketsync state rm new` first if its entry is wrong, else drop the move"]


# -- the journal ---------------------------------------------------------------------------


def test_a_moved_record_renames_the_entry_once_and_a_folded_one_never_again() -> None:
    state = _state(old=_entry("t-1", "Old"))
    base = {"op": "base", "lineage": "l-1", "serial": 4}
    moved = {"op": "moved", "key": "new", "from": "old"}
    folded, _ = fold(state, [base, moved, moved])
    assert list(folded.tickets) == ["new"] and folded.tickets["new"].id == "t-1"
    stale, _ = fold(state, [{**base, "serial": 3}, moved])
    assert list(stale.tickets) == ["old"]


# -- the sandbox, over loopback ------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path, sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = enter_sandbox_project(tmp_path / "p", sandbox.url, "key", ACCOUNT, monkeypatch)
    (folder / "ticketsync.yaml").write_text(f"account_id: {ACCOUNT}\n")
    write(folder / "tickets" / "t.yaml", """\
        tickets:
          old-key: {title: Checkout outage, priority: high}
        """)
    assert invoke("init")[0] == 0
    assert invoke("apply", "--yes")[0] == 0
    return folder


def _declare_move_and_import(folder: Path, number: str) -> None:
    write(folder / "tickets" / "t.yaml", f"""\
        moved:
          - {{from: old-key, to: checkout-outage}}
        imports:
          - {{to: legacy-outage, number: {number}}}
        tickets:
          checkout-outage: {{title: Checkout outage, priority: high}}
          legacy-outage: {{title: Legacy outage, priority: high}}
          postmortem: {{title: Postmortem, parent: legacy-outage}}
        """)


def test_moves_and_imports_are_planned_applied_and_then_nothing(
    project: Path, sandbox: RunningSandbox
) -> None:
    made = sandbox.store.create({"title": "Legacy outage", "priority": {"value": "low"}})
    number = made.remote_id
    _declare_move_and_import(project, number)
    code, out, _ = invoke("plan")
    assert (code, out) == (0, (
        '+ create postmortem  "Postmortem"\n'
        "> move old-key -> checkout-outage\n"
        f"< import legacy-outage ({number})\n"
        "    its field changes are known once it is read (`ticketsync plan --refresh`; apply"
        " reads it first)\n"
        "\n"
        "Plan: 1 to create, 0 to update, 1 to move, 1 to import, 1 unchanged.\n"))
    code, out, _ = invoke("plan", "--refresh")
    assert (code, out) == (0, (
        '+ create postmortem  "Postmortem"\n'
        "> move old-key -> checkout-outage\n"
        f"< import legacy-outage ({number})\n"
        "~ update legacy-outage\n"
        '    priority: "low" -> "high"\n'
        "\n"
        "Plan: 1 to create, 1 to update, 1 to move, 1 to import, 1 unchanged.\n"))
    before = len(sandbox.store.all())
    code, out, _ = invoke("apply", "--yes")
    assert code == 0, out
    assert "moved old-key -> checkout-outage\n" in out
    assert f"imported legacy-outage ({number}, id {made.id})\n" in out
    assert "Apply complete: 1 created, 1 updated, 1 moved, 1 imported, 0 failed." in out
    assert len(sandbox.store.all()) == before + 1  # the postmortem only
    state = read_state(project / "ticketsync.state.json")
    assert sorted(state.tickets) == ["checkout-outage", "legacy-outage", "postmortem"]
    assert state.tickets["legacy-outage"].id == made.id
    stored = sandbox.store.get(made.id)
    assert stored is not None and stored.fields["priority"] == {"value": "high"}
    child = sandbox.store.get(state.tickets["postmortem"].id)
    assert child is not None and child.fields["parent_id"] == made.id
    assert invoke("plan", "--refresh")[:2] == (0, "No changes.\n")


def test_a_saved_plan_carries_its_moves_and_imports(
    project: Path, sandbox: RunningSandbox
) -> None:
    made = sandbox.store.create({"title": "Legacy outage", "priority": {"value": "high"}})
    number = made.remote_id
    _declare_move_and_import(project, number)
    code, _, err = invoke("plan", "--refresh", "--out", "plan.json")
    assert code == 0, err
    code, out, err = invoke("apply", "--plan", "plan.json", "--yes")
    assert code == 0, out + err
    assert "> move old-key -> checkout-outage\n" in out and "moved old-key" in out
    state = read_state(project / "ticketsync.state.json")
    assert state.tickets["legacy-outage"].id == made.id
    assert "old-key" not in state.tickets
    assert invoke("plan")[:2] == (0, "No changes.\n")


def test_an_import_not_found_is_refused_before_anything_is_sent(
    project: Path, sandbox: RunningSandbox
) -> None:
    _declare_move_and_import(project, "SBX-404")
    text = (project / "tickets" / "t.yaml").read_text()
    (project / "tickets" / "t.yaml").write_text(text.replace(
        "imports:\n", "imports:\n  - {to: ghost, id: no-such-id}\n").replace(
        "tickets:\n", "tickets:\n  ghost: {title: Ghost}\n"))
    before = [t.fields for t in sandbox.store.all()]
    code, out, err = invoke("apply", "--yes")
    where = f"in account {ACCOUNT} (a ticket of another account is not found either)"
    assert (code, out, err) == (1, "", (
        f"tickets/t.yaml:4:5: error: imports: no ticket has the id no-such-id {where}: check"
        " the id (`number:` takes the tracker's number)\n"
        f"tickets/t.yaml:5:5: error: imports: no ticket has the number SBX-404 {where}: check"
        " the number, or give its StackOne id (id: ...)\n"))
    assert [t.fields for t in sandbox.store.all()] == before
    assert "old-key" in read_state(project / "ticketsync.state.json").tickets  # not moved



def test_the_readmes_moves_and_imports_session_is_what_ticketsync_prints(
    tmp_path: Path, sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    import re

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme[readme.index("### Moves and imports, declared"):]
    text = section[section.index("```yaml\n") + 8: section.index("```\n")]
    session = section[section.index("```console\n") + 11:]
    session = session[: session.index("\n```\n")]
    folder = enter_sandbox_project(tmp_path / "p", sandbox.url, "key", ACCOUNT, monkeypatch)
    (folder / "ticketsync.yaml").write_text(f"account_id: {ACCOUNT}\n")
    write(folder / "tickets" / "platform.yaml", """\
        tickets:
          outage: {title: Checkout outage, priority: high}
        """)
    assert invoke("init")[0] == 0 and invoke("apply", "--yes")[0] == 0  # SBX-1
    made = sandbox.store.create({"title": "Legacy outage", "priority": {"value": "low"}})
    assert made.remote_id == "SBX-2"
    (folder / "tickets" / "platform.yaml").write_text(text)
    for command in re.split(r"^\$ ", session, flags=re.M)[1:]:
        typed, *shown = command.rstrip("\n").split("\n")
        code, out, _ = invoke(*typed.split()[1:])
        assert (code, out.splitlines()) == (0, shown), typed
    assert invoke("apply", "--yes")[0] == 0
    assert invoke("plan", "--refresh")[:2] == (0, "No changes.\n")
