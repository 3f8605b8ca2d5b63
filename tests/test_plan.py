"""The planner: plain values in, a Plan out; no files, no clock, no network."""

from __future__ import annotations

from typing import Any

import pytest

from ticketsync.errors import PlanError
from ticketsync.model import Create, Location, Plan, Project, Ticket, Update
from ticketsync.plan import build_plan
from ticketsync.planfile import plan_from_json, plan_to_json
from ticketsync.state import State, StateEntry

LINEAGE = "0b7a3c3e-5d1c-4a53-9f55-3b6c1a2d9e10"


def ticket(key: str, title: str, file: str = "tickets/a.yaml", line: int = 1,
           parent: str | None = None, **body: Any) -> Ticket:
    return Ticket(key, {"title": title, **body}, Location(file, line, 5), parent)


def project(*tickets: Ticket, digest: str = "sha256:abc") -> Project:
    return Project({t.key: t for t in sorted(tickets, key=lambda t: t.key)},
                   files=("tickets/a.yaml", "tickets/b.yaml"), digest=digest)


def state(**applied: tuple[str, dict[str, Any]]) -> State:
    tickets = {key: StateEntry(id_, None, "2024-05-01T12:00:00Z", body)
               for key, (id_, body) in applied.items()}
    return State(1, LINEAGE, 7, "2024-05-01T12:00:00Z", "acc-1", tickets)


def test_everything_new_is_created_parents_first_then_by_key() -> None:
    plan = build_plan(
        project(
            ticket("b-child", "Child", parent="z-parent"),
            ticket("z-parent", "Parent", file="tickets/b.yaml"),
            ticket("a-grandchild", "Grandchild", parent="b-child"),
            ticket("m-alone", "Alone"),
        ),
        state(),
    )
    assert [(c.key, c.parent) for c in plan.creates] == [
        ("m-alone", None), ("z-parent", None), ("b-child", "z-parent"),
        ("a-grandchild", "b-child"),
    ]
    assert all("parent_id" not in c.body for c in plan.creates)
    assert (plan.lineage, plan.serial, plan.inputs_digest) == (LINEAGE, 7, "sha256:abc")
    assert plan.has_changes


def test_a_tracked_parent_gives_its_id_and_no_ordering_constraint() -> None:
    plan = build_plan(
        project(ticket("parent", "P"), ticket("child", "C", parent="parent")),
        state(parent=("tkt-9", {"title": "P"})),
    )
    assert plan.creates == (
        Create("child", {"title": "C", "parent_id": "tkt-9"}, Location("tickets/a.yaml", 1, 5)),
    )
    assert plan.unchanged == 1


def test_changed_fields_of_tracked_tickets_become_updates() -> None:
    plan = build_plan(
        project(
            ticket("same", "Same", priority={"value": "low"}),
            ticket("moved", "New title", priority={"value": "high"}, parent="same"),
        ),
        state(
            same=("tkt-1", {"title": "Same", "priority": {"value": "low"}}),
            moved=("tkt-2", {"title": "Old title", "tags": ["x"], "parent_id": "tkt-1"}),
        ),
        updates=True,
    )
    assert plan.updates == (
        Update("moved", "tkt-2", ("priority", "tags", "title"),
               {"title": "New title", "priority": {"value": "high"}, "parent_id": "tkt-1"},
               Location("tickets/a.yaml", 1, 5)),
    )
    assert plan.unchanged == 1 and plan.creates == () and plan.has_changes


def test_updates_off_still_lists_changes_but_they_are_not_changes_to_make() -> None:
    plan = build_plan(project(ticket("a", "New")), state(a=("tkt-1", {"title": "Old"})))
    assert [u.fields for u in plan.updates] == [("title",)]
    assert not plan.updates_enabled and not plan.has_changes


def test_a_new_parent_for_a_tracked_child_changes_its_parent_id() -> None:
    plan = build_plan(
        project(ticket("p2", "P2"), ticket("c", "C", parent="p2")),
        state(p2=("tkt-2", {"title": "P2"}), c=("tkt-3", {"title": "C", "parent_id": "tkt-1"})),
    )
    assert [(u.key, u.fields, u.body["parent_id"]) for u in plan.updates] == [
        ("c", ("parent_id",), "tkt-2")
    ]


def test_an_untracked_parent_of_a_tracked_child_is_not_a_change_yet() -> None:
    # The parent was `state rm`'d: it is created again, its id is unknown until then.
    plan = build_plan(
        project(ticket("p", "P"), ticket("c", "C", parent="p")),
        state(c=("tkt-3", {"title": "C", "parent_id": "tkt-1"})),
    )
    assert [c.key for c in plan.creates] == ["p"] and plan.updates == ()
    assert plan.unchanged == 1


def test_tracked_but_undeclared_keys_are_listed_sorted_and_left_alone() -> None:
    plan = build_plan(
        project(ticket("kept", "Kept")),
        state(kept=("tkt-1", {"title": "Kept"}), zz=("tkt-2", {}), aa=("tkt-3", {})),
    )
    assert plan.undeclared == ("aa", "zz")
    assert not plan.has_changes and plan.unchanged == 1


def test_a_parent_neither_declared_nor_tracked_is_a_plan_error() -> None:
    with pytest.raises(PlanError, match="parent 'ghost' is neither declared nor in the state"):
        build_plan(project(ticket("c", "C", parent="ghost")), state())


def test_a_parent_cycle_is_a_plan_error() -> None:
    with pytest.raises(PlanError, match="parent cycle among a, b"):
        build_plan(project(ticket("a", "A", parent="b"), ticket("b", "B", parent="a")), state())


def test_the_brake_and_options_are_carried() -> None:
    plan = build_plan(project(ticket("a", "A"), ticket("b", "B")), state(),
                      updates=True, max_creates=1)
    assert (plan.max_creates, plan.updates_enabled) == (1, True)
    assert plan_to_json(plan)["over_max_creates"] is True


def test_the_same_inputs_give_an_equal_plan() -> None:
    def make() -> Plan:
        return build_plan(
            project(*(ticket(f"k{i:03}", f"T{i}", parent=f"k{i // 3:03}" if i else None)
                      for i in range(60))),
            state(k000=("tkt-0", {"title": "T0"})),
        )

    assert make() == make()
    assert plan_to_json(make()) == plan_to_json(make())


MIXED = build_plan(
    project(
        ticket("new-parent", "New parent", file="tickets/b.yaml", line=3),
        ticket("new-child", "New child", line=9, parent="new-parent"),
        ticket("changed", "Changed", line=12, priority={"value": "high"}),
    ),
    state(changed=("tkt-1", {"title": "Changed"}), gone=("tkt-2", {"title": "Gone"})),
)


def test_the_json_document_is_pinned() -> None:
    assert plan_to_json(MIXED) == {
        "format_version": 1,
        "lineage": LINEAGE,
        "serial": 7,
        "inputs_digest": "sha256:abc",
        "creates": [
            {"key": "new-parent", "title": "New parent", "body": {"title": "New parent"},
             "parent": None, "file": "tickets/b.yaml", "line": 3, "col": 5},
            {"key": "new-child", "title": "New child", "body": {"title": "New child"},
             "parent": "new-parent", "file": "tickets/a.yaml", "line": 9, "col": 5},
        ],
        "updates": [
            {"key": "changed", "id": "tkt-1", "fields": ["priority"],
             "body": {"title": "Changed", "priority": {"value": "high"}},
             "file": "tickets/a.yaml", "line": 12, "col": 5},
        ],
        "unchanged": 0,
        "undeclared": ["gone"],
        "updates_enabled": False,
        "max_creates": 200,
        "over_max_creates": False,
        "summary": {"create": 2, "update": 0, "unchanged": 0, "undeclared": 1,
                    "changed_not_applied": 1},
    }


def test_the_json_document_validates_and_round_trips() -> None:
    from ticketsync import schema

    doc = plan_to_json(MIXED)
    assert schema.check("plan", doc) == []
    assert plan_from_json(doc) == MIXED
    bare = Plan(creates=(Create("k", {"title": "T"}),), extra={"by": "a script"})
    assert plan_from_json(plan_to_json(bare)) == bare


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([], r"not a valid plan document: \(top level\)"),
        ({"format_version": 2}, r"newer ticketsync \(format_version 2\)"),
        ({**plan_to_json(MIXED), "creates": [{"key": 1}]}, r"not a valid plan document: creates"),
    ],
)
def test_a_bad_plan_document_is_a_plan_error(doc: Any, message: str) -> None:
    with pytest.raises(PlanError, match=message):
        plan_from_json(doc)


def test_ten_thousand_tickets_plan_quickly() -> None:
    import time

    tickets = [ticket(f"k{i:05}", f"Ticket {i}", priority={"value": "low"}) for i in range(10_000)]
    tracked = state(**{t.key: (f"tkt-{i}", dict(t.body)) for i, t in enumerate(tickets)})
    start = time.perf_counter()
    plan = build_plan(project(*tickets), tracked)
    assert plan.unchanged == 10_000
    assert time.perf_counter() - start < 1.0
