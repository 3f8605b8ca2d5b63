"""The planner: plain values in, a Plan out; no files, no clock, no network."""

from __future__ import annotations

from typing import Any

import pytest

from ticketsync.errors import PlanError
from ticketsync.model import Create, FieldValues, Location, Plan, Project, Ticket, Update
from ticketsync.plan.build import build_plan, over_max_removals
from ticketsync.plan.saved import plan_from_json, plan_to_json
from ticketsync.state.file import State, StateEntry

LINEAGE = "0b7a3c3e-5d1c-4a53-9f55-3b6c1a2d9e10"


def ticket(key: str, title: str, file: str = "tickets/a.yaml", line: int = 1,
           parent: str | None = None, **body: Any) -> Ticket:
    return Ticket(key, {"title": title, **body}, Location(file, line, 5), parent)


def project(*tickets: Ticket, digest: str = "sha256:abc") -> Project:
    return Project({t.key: t for t in sorted(tickets, key=lambda t: t.key)},
                   files=("tickets/a.yaml", "tickets/b.yaml"), digest=digest)


def state(**applied: tuple[str, dict[str, Any]] | StateEntry) -> State:
    tickets = {key: value if isinstance(value, StateEntry)
               else StateEntry(value[0], None, "2024-05-01T12:00:00Z", value[1])
               for key, value in applied.items()}
    return State(2, LINEAGE, 7, "2024-05-01T12:00:00Z", "acc-1", tickets)


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
               Location("tickets/a.yaml", 1, 5), title="New title",
               # The values a reviewer sees: last applied, declared (never read back).
               values=(FieldValues("priority", None, {"value": "high"}),
                       FieldValues("tags", ["x"], None),
                       FieldValues("title", "Old title", "New title"))),
    )
    assert plan.unchanged == 1 and plan.creates == () and plan.has_changes


def test_updates_off_still_lists_changes_but_they_are_not_changes_to_make() -> None:
    plan = build_plan(project(ticket("a", "New")), state(a=("tkt-1", {"title": "Old"})),
                      updates=False)
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
    assert [(r.key, r.action) for r in plan.removals] == [("aa", "keep"), ("zz", "keep")]
    assert not plan.has_changes and plan.unchanged == 1


@pytest.mark.parametrize("removed", ["close", "forget"])
def test_removed_close_or_forget_acts_on_tracked_keys_only(removed: str) -> None:
    closed_before = StateEntry("tkt-4", None, "x", {"title": "Old", "status": "closed"},
                               closed=True)
    plan = build_plan(
        project(ticket("kept", "Kept")),
        state(kept=("tkt-1", {"title": "Kept"}), gone=("tkt-2", {"title": "Gone"}),
              done=closed_before),
        removed=removed,
    )
    # Closed by ticketsync already: settled, never listed again (forget still drops it).
    expected = ([] if removed == "close" else [("done", "forget")]) + [("gone", removed)]
    assert [(r.key, r.action) for r in plan.removals] == expected
    assert plan.has_changes and plan.removals[-1].title == "Gone"


def test_the_removals_brake() -> None:
    tracked = {f"k{i}": (f"tkt-{i}", {"title": str(i)}) for i in range(3)}
    plan = build_plan(project(), state(**tracked), removed="close", max_removals=2)
    assert over_max_removals(plan)
    assert not over_max_removals(build_plan(project(), state(**tracked), max_removals=2))


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
    updates=False,
)


def test_the_json_document_is_pinned() -> None:
    assert plan_to_json(MIXED) == {
        "format_version": 3,
        "lineage": LINEAGE,
        "serial": 7,
        "inputs_digest": "sha256:abc",
        "refreshed": False,
        "refresh": "none",
        "creates": [
            {"key": "new-parent", "title": "New parent", "body": {"title": "New parent"},
             "parent": None, "status": None, "file": "tickets/b.yaml", "line": 3, "col": 5},
            {"key": "new-child", "title": "New child", "body": {"title": "New child"},
             "parent": "new-parent", "status": None, "file": "tickets/a.yaml", "line": 9,
             "col": 5},
        ],
        "updates": [
            {"key": "changed", "id": "tkt-1", "title": "Changed", "number": None, "url": None,
             "fields": ["priority"], "conflicts": [], "fixed": [], "reopen": False,
             "body": {"title": "Changed", "priority": {"value": "high"}},
             "values": {"priority": {"before": None, "after": {"value": "high"},
                                     "tracker": None}},
             "file": "tickets/a.yaml", "line": 12, "col": 5},
        ],
        "drift": [],
        "removals": [{"key": "gone", "id": "tkt-2", "title": "Gone", "number": None,
                      "url": None, "action": "keep", "status": None}],
        "unchanged": 0,
        "updates_enabled": False,
        "max_creates": 200,
        "max_removals": 20,
        "over_max_creates": False,
        "over_max_removals": False,
        "summary": {"create": 2, "update": 0, "overwrite": 0, "conflict": 0, "fixed": 0,
                    "close": 0, "forget": 0, "keep": 1, "settle": 0, "drift": 0,
                    "unchanged": 0, "changed_not_applied": 1, "move": 0, "import": 0},
        "moves": [],
        "imports": [],
    }


def test_the_json_document_validates_and_round_trips() -> None:
    from ticketsync.declare import schema

    doc = plan_to_json(MIXED)
    assert schema.check("plan", doc) == []
    assert plan_from_json(doc) == MIXED
    bare = Plan(creates=(Create("k", {"title": "T"}),), extra={"by": "a script"})
    assert plan_from_json(plan_to_json(bare)) == bare


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([], r"not a valid plan document: \(top level\)"),
        ({"format_version": 4}, r"newer ticketsync \(format_version 4\)"),
        ({"format_version": 1}, r"older ticketsync \(format_version 1, before updates were "
                                r"three-way\): make the plan again"),
        ({"format_version": 2}, r"^the plan was made by an older ticketsync \(format_version 2, "
                                r"before plans showed values\): make the plan again with this "
                                r"one$"),
        ({**plan_to_json(MIXED), "creates": [{"key": 1}]}, r"not a valid plan document: creates"),
    ],
)
def test_a_bad_plan_document_is_a_plan_error(doc: Any, message: str) -> None:
    with pytest.raises(PlanError, match=message):
        plan_from_json(doc)


# -- the three-way comparison (the README's "Keeping tickets in step"): declared (files), applied
# (state), remote -------

def read_back(id_: str, applied: dict[str, Any], remote: dict[str, Any],
              status: dict[str, Any] | None = None, **extra: Any) -> StateEntry:
    """A tracked ticket whose fields were read back as ``remote``."""
    return StateEntry(id_, None, "x", applied, remote=remote, status=status, **extra)


TODO = {"id": "s1", "name": "To Do", "type": "to-do"}
REVIEW = {"id": "s3", "name": "In Review", "type": "in-progress"}
DONE = {"id": "s4", "name": "Done", "type": "closed"}


def one(declared: Ticket, entry: StateEntry) -> Plan:
    return build_plan(project(declared), state(**{declared.key: entry}))


def test_declared_as_applied_and_edited_in_the_tracker_is_drift_never_an_update() -> None:
    plan = one(ticket("a", "Title", tags=["x"]),
               read_back("t1", {"title": "Title", "tags": ["x"]},
                         {"title": "Title", "tags": ["x", "added-in-jira"]}))
    assert plan.updates == () and not plan.has_changes and plan.unchanged == 1
    assert [(d.key, d.fields, d.closed) for d in plan.drift] == [("a", ("tags",), False)]


def test_changed_in_the_files_only_updates_that_field_only() -> None:
    plan = one(ticket("a", "New title", tags=["x"]),
               read_back("t1", {"title": "Old", "tags": ["x"]}, {"title": "Old", "tags": ["x"]}))
    assert [(u.fields, u.conflicts) for u in plan.updates] == [(("title",), ())]


def test_changed_on_both_sides_is_a_conflict_and_nothing_else_of_it_is_sent_blindly() -> None:
    plan = one(ticket("a", "Mine", tags=["x", "y"]),
               read_back("t1", {"title": "Old", "tags": ["x"]},
                         {"title": "Theirs", "tags": ["x"]}))
    assert [(u.fields, u.conflicts) for u in plan.updates] == [(("tags",), ("title",))]
    assert plan.drift == ()


def test_the_tracker_already_holding_the_declared_value_is_recorded_not_a_conflict() -> None:
    plan = one(ticket("a", "Same edit"),
               read_back("t1", {"title": "Old"}, {"title": "Same edit"}))
    assert [(u.fields, u.conflicts) for u in plan.updates] == [(("title",), ())]


def test_lists_and_text_compare_like_with_like_across_the_shapes() -> None:
    """A tracker that reorders people, adds an html rendering or trims a newline has not
    edited anything."""
    applied = {"title": "T", "assignees": ["u1", "u2"], "content": [{"plain": "Text\n"}],
               "priority": {"value": "high"}}
    plan = one(ticket("a", "T", assignees=["u1", "u2"], content=[{"plain": "Text\n"}],
                      priority={"value": "high"}),
               read_back("t1", applied, {"title": "T", "assignees": ["u2", "u1"],
                                         "content": [{"plain": "Text", "html": "<p>Text</p>"}],
                                         "priority": {"value": "high"}}))
    assert plan.updates == () and plan.drift == ()


def test_an_update_whose_outcome_was_unknown_is_ours_when_the_tracker_shows_it() -> None:
    entry = read_back("t1", {"title": "Old"}, {"title": "New"}, pending={"title": "New"})
    assert one(ticket("a", "New"), entry).updates == ()  # our write landed: nothing to do
    entry = read_back("t1", {"title": "Old"}, {"title": "Old"}, pending={"title": "New"})
    assert [u.fields for u in one(ticket("a", "New"), entry).updates] == [("title",)]


def test_a_status_never_set_is_set_whatever_the_tracker_s_default() -> None:
    declared = Ticket("a", {"title": "T"}, Location("t.yaml"), None, status="In Review")
    plan = one(declared, read_back("t1", {"title": "T"}, {"title": "T"}, status=TODO))
    assert [(u.fields, u.body["status"]) for u in plan.updates] == [(("status",),
                                                                     "In Review")]


def test_a_status_moved_in_the_tracker_is_drift_and_a_declared_move_is_a_conflict() -> None:
    applied = {"title": "T", "status": "In Review"}
    kept = Ticket("a", {"title": "T"}, Location("t.yaml"), None, status="In Review")
    moved = Ticket("a", {"title": "T"}, Location("t.yaml"), None, status="To Do")
    entry = read_back("t1", applied, {"title": "T"}, status={**DONE, "name": "Won't Do"})
    drift = one(kept, entry)
    assert drift.updates == () and [(d.fields, d.closed) for d in drift.drift] == [((), True)]
    assert [u.conflicts for u in one(moved, entry).updates] == [("status",)]
    by_type = Ticket("a", {"title": "T"}, Location("t.yaml"), None, status="closed")
    assert [u.fields for u in one(by_type, entry).updates] == [("status",)]  # it already is


def test_a_field_stackone_cannot_update_is_reported_not_sent() -> None:
    plan = one(ticket("a", "T", type="bug"),
               read_back("t1", {"title": "T", "type": "task"}, {"title": "T", "type": "task"}))
    assert [(u.fields, u.fixed) for u in plan.updates] == [((), ("type",))]
    assert not plan.has_changes


def test_a_ticket_deleted_in_the_tracker_is_reported_never_updated_or_recreated() -> None:
    entry = read_back("t1", {"title": "Old"}, {}, deleted=True)
    plan = one(ticket("a", "New"), entry)
    assert plan.creates == () and plan.updates == () and plan.unchanged == 0
    assert [(d.key, d.deleted) for d in plan.drift] == [("a", True)]
