"""Renderings of a plan, pinned exactly: people, scripts and CI read them (the README's
"ticketsync plan").

Every kind of line is here in every format, with its values: names through the directory,
long texts as a bounded summary, lists as added/removed.
"""

from __future__ import annotations

import json

from ticketsync.declare.directory import Directory, Project, User
from ticketsync.model import Create, Drift, Location, Plan, Removal, Update
from ticketsync.model import FieldValues as V
from ticketsync.plan.render import (
    MARKDOWN_LIMIT,
    render_github,
    render_json,
    render_markdown,
    render_text,
)
from ticketsync.plan.saved import plan_to_json

MIXED = Plan(
    creates=(Create("prod-outage", {"title": "System outage"}, Location("tickets/a.yaml", 3, 3)),),
    removals=(Removal("old-key", "tkt-9", "keep", "Old"),),
    lineage="0b7a3c3e-5d1c-4a53-9f55-3b6c1a2d9e10", serial=7, inputs_digest="sha256:abc",
)
A = Location("tickets/a.yaml", 3, 3)
B = Location("tickets/b.yaml", 9, 3)
DIRECTORY = Directory.of("acc", "2026-01-01T00:00:00Z",
                         users=[User("user-1", "Alice Ng", "alice@example.com"),
                                User("user-4", "Dana <b>Ops</b>", "dana@example.com")],
                         projects=[Project("p-1", "Core"), Project("p-2", "Platform")])
UPDATES_ON = Plan(updates=(Update("rotate", "tkt-4", ("priority",), {"title": "Rotate"}, A,
                                  values=(V("priority", "low", "high"),)),), unchanged=5)
TEXT_BEFORE = "Users see 502s\nsince the deploy\n" + "more\n" * 40
TEXT_AFTER = "Users see 503s\nsince the deploy\n" + "more\n" * 39 + "fixed\n"
EVERY_KIND = Plan(
    creates=(Create("outage", {"title": "System outage"}, A),),
    updates=(
        Update("rotate", "tkt-4", ("assignees", "content", "priority", "project_id",
                                   "unified_custom_fields.sprint"),
               {"title": "Rotate"}, A, number="PLAT-4",
               url="https://jira.example/browse/PLAT-4", values=(
                   V("assignees", ["user-1"], ["user-4", "user-9"]),
                   V("content", [{"plain": TEXT_BEFORE}], [{"plain": TEXT_AFTER}]),
                   V("priority", {"value": "high"}, {"value": "low"}),
                   V("project_id", "p-1", "p-2"),
                   V("unified_custom_fields.sprint", "S-1", "S-2"),
               )),
        Update("billing", "tkt-5", ("tags",), {"title": "Export v2"}, B, ("title",),
               values=(V("tags", ["a", "b"], ["b", "c"]),
                       V("title", "Export", "Export v2", "Export (paused)"))),
        Update("typed", "tkt-6", (), {"type": "tt-2"}, B, (), ("type",),
               values=(V("type", "tt-1", "tt-2"),)),
        Update("back", "tkt-7", ("status",), {"status": "to-do"}, A, reopen=True,
               values=(V("status", "closed", "to-do", "Done"),)),
    ),
    drift=(
        Drift("edited", ("assignees", "status"), A, number="PLAT-8", values=(
            V("assignees", ["user-1"], ["user-1"], ["user-4"]),
            V("status", "To Do", "To Do", "In Progress"))),
        Drift("shut", (), B, closed=True, status="Won't Do"),
        Drift("gone", (), A, deleted=True),
    ),
    removals=(
        Removal("old", "tkt-9", "close", "Old one", "PLAT-9", "https://jira.example/browse/PLAT-9",
                status="In Progress"),
        Removal("older", "tkt-10", "forget", "Older one"),
        Removal("oldest", "tkt-11", "settle", "Oldest one", status="Done"),
        Removal("kept", "tkt-12", "keep", "Kept one"),
    ),
    unchanged=2,
    refreshed=True,
)


def test_every_kind_of_line_in_text_with_values_and_names() -> None:
    assert render_text(EVERY_KIND, DIRECTORY) == (
        '+ create outage  "System outage"\n'
        '~ update rotate\n'
        '    assignees: + "Dana <b>Ops</b>" (user-4)  + user-9  - "Alice Ng" (user-1)\n'
        '    description: 2 lines changed (first: "Users see 502s" -> "Users see 503s")\n'
        '    priority: "high" -> "low"\n'
        '    project_id: "Core" (p-1) -> "Platform" (p-2)\n'
        '    unified_custom_fields.sprint: "S-1" -> "S-2"\n'
        '! conflict billing (changed in the files and in the tracker: nothing is sent for this '
        'ticket unless apply --overwrite)\n'
        '    tags: + "c"  - "a" (waits with the conflict)\n'
        '    title: declared "Export v2", last applied "Export", tracker "Export (paused)"\n'
        '! cannot update typed (StackOne cannot change it once the ticket exists)\n'
        '    type: tt-1 -> tt-2\n'
        '~ reopen back (closed by `removed: close`, declared again)\n'
        '    status: "closed" -> "to-do"\n'
        '- close old  "Old one"\n'
        '    status: "In Progress" -> a closed status\n'
        '- forget older  "Older one" (dropped from the state; the ticket is left as it is)\n'
        '= settle oldest  "Oldest one" (closed or deleted in the tracker already: recorded as '
        'closed, nothing is sent)\n'
        '? drift edited (edited in the tracker; left as it is)\n'
        '    assignees: applied ["Alice Ng" (user-1)], tracker ["Dana <b>Ops</b>" (user-4)]\n'
        '    status: applied "To Do", tracker "In Progress"\n'
        '? closed shut: closed in the tracker ("Won\'t Do"); left as it is\n'
        '? deleted gone: deleted in the tracker; not re-created (`ticketsync state rm gone` to '
        'create it again)\n'
        '? untracked kept  "Kept one" (in the state but declared in no file; left alone)\n'
        '  (if a ticket was renamed, run `ticketsync state mv OLD NEW`; to forget one, '
        '`ticketsync state rm KEY`; `removed:` in ticketsync.yaml can close or forget them)\n'
        '! 1 ticket moves to another project: check that the names in the files still mean '
        'what they did (a directory pull can change what a name means)\n'
        '\n'
        'Plan: 1 to create, 2 to update, 1 to close, 1 to forget, 1 to settle, 1 in conflict, '
        '1 not updatable, 2 unchanged.\n'
    )


def test_without_a_directory_ids_are_shown_as_they_are() -> None:
    lines = render_text(EVERY_KIND).splitlines()
    assert lines[2] == "    assignees: + user-4  + user-9  - user-1"
    assert lines[5] == "    project_id: p-1 -> p-2"


def test_every_kind_of_line_as_github_annotations_one_per_ticket() -> None:
    assert render_github(EVERY_KIND, DIRECTORY) == (
        '::notice file=tickets/a.yaml,line=3::create outage "System outage"\n'
        '::notice file=tickets/a.yaml,line=3::update rotate%0A  assignees: + "Dana <b>Ops</b>" '
        '(user-4)  + user-9  - "Alice Ng" (user-1)%0A  description: 2 lines changed (first: '
        '"Users see 502s" -> "Users see 503s")%0A  priority: "high" -> "low"%0A  project_id: '
        '"Core" (p-1) -> "Platform" (p-2)%0A  unified_custom_fields.sprint: "S-1" -> "S-2"\n'
        '::warning file=tickets/b.yaml,line=9::conflict billing (changed in the files and in '
        'the tracker: nothing is sent for this ticket unless apply --overwrite)%0A  tags: + '
        '"c"  - "a" (waits with the conflict)%0A  title: declared "Export v2", last applied '
        '"Export", tracker "Export (paused)"\n'
        '::warning file=tickets/b.yaml,line=9::cannot update typed (StackOne cannot change it '
        'once the ticket exists)%0A  type: tt-1 -> tt-2\n'
        '::notice file=tickets/a.yaml,line=3::reopen back (closed by `removed: close`, '
        'declared again)%0A  status: "closed" -> "to-do"\n'
        '::notice::close old  "Old one"%0A  status: "In Progress" -> a closed status\n'
        '::notice::forget older  "Older one" (dropped from the state; the ticket is left as it '
        'is)\n'
        '::notice::settle oldest  "Oldest one" (closed or deleted in the tracker already: '
        'recorded as closed, nothing is sent)\n'
        '::notice file=tickets/a.yaml,line=3::drift edited (edited in the tracker; left as it '
        'is)%0A  assignees: applied ["Alice Ng" (user-1)], tracker ["Dana <b>Ops</b>" '
        '(user-4)]%0A  status: applied "To Do", tracker "In Progress"\n'
        '::notice file=tickets/b.yaml,line=9::closed shut: closed in the tracker ("Won\'t '
        'Do"); left as it is\n'
        '::notice file=tickets/a.yaml,line=3::deleted gone: deleted in the tracker; not '
        're-created (`ticketsync state rm gone` to create it again)\n'
        '::notice::untracked kept  "Kept one" (in the state but declared in no file; left alone)\n'
        '::warning::1 ticket moves to another project: check that the names in the files still '
        'mean what they did (a directory pull can change what a name means)\n'
        'Plan: 1 to create, 2 to update, 1 to close, 1 to forget, 1 to settle, 1 in conflict, '
        '1 not updatable, 2 unchanged.\n'
    )


def test_markdown_of_5000_creates_is_summarised_under_the_limit() -> None:
    creates = tuple(
        Create(f"ticket-{i:05}", {"title": "A long title " * 30}, A) for i in range(5000)
    )
    plan = Plan(creates=creates, removals=tuple(Removal(f"old-{i}", f"t{i}", "keep")
                                                for i in range(3000)))
    text = render_markdown(plan)
    assert len(text) < MARKDOWN_LIMIT
    assert "**Plan: 5000 to create, 0 to update, 0 unchanged.**" in text
    assert "> [!WARNING]\n> this plan creates 5000 tickets, more than max_creates (200)" in text
    shown = text.count("| `ticket-")
    assert 50 < shown < 5000
    assert f"… and {5000 - shown} more to create (see `ticketsync plan --format json`)." in text
    assert "more tickets" in text
    # As much as fits: one more row per section would not.
    assert len(text) > MARKDOWN_LIMIT - 2000


def test_markdown_nests_as_one_projects_section() -> None:
    from ticketsync.plan.render import render_markdown_projects

    text = render_markdown(UPDATES_ON, heading="### `platform`", level=4)
    assert text.startswith("### `platform`\n\n**Plan: 0 to create, 1 to update")
    assert "\n#### To update (1)\n" in text and "\n### To update" not in text
    both = render_markdown_projects([("platform", UPDATES_ON), ("mobile", "boom ```x``` ``")],
                                    summary="2 projects: 1 planned, 1 failed (mobile).")
    assert both.startswith("## ticketsync plan\n\n**2 projects: 1 planned, 1 failed (mobile).**")
    # An error cannot close its code block: the fence is longer than any run of backticks.
    assert "### `mobile`\n\n> [!CAUTION]\n" in both
    assert "````text\nboom ```x``` ``\n````\n" in both


def test_one_project_reads_as_a_lone_plan() -> None:
    from ticketsync.plan.render import render_markdown_projects

    assert render_markdown_projects([(".", MIXED)], summary="") == render_markdown(
        MIXED, diagram=True)
    assert render_markdown_projects([("platform", MIXED)], summary="").startswith(
        "## ticketsync plan: `platform`\n\n**Plan: 1 to create")


# -- ids by name (issue #17, item 9) --------------------------------------------------------

MOVING = Plan(updates=(
    Update("a", "tkt-1", ("project_id",), {"project_id": "p-2"}, A),
    Update("b", "tkt-2", ("project_id", "title"), {"project_id": "p-9", "title": "B"}, B),
))


def test_json_is_the_document_sorted_and_byte_stable() -> None:
    text = render_json(MIXED)
    assert json.loads(text) == plan_to_json(MIXED)
    assert text == render_json(MIXED)
    assert text.startswith('{\n  "creates": [\n') and text.endswith("}\n")


def test_text_without_changes() -> None:
    assert render_text(Plan(unchanged=3)) == "No changes.\n"


def test_text_shows_the_brake() -> None:
    plan = Plan(creates=(Create("a", {"title": "A"}), Create("b", {"title": "B"})), max_creates=1)
    assert render_text(plan) == (
        '+ create a  "A"\n+ create b  "B"\n'
        "! max_creates: this plan creates 2 tickets, more than max_creates (1): "
        "apply refuses it without --force\n"
        "\nPlan: 2 to create, 0 to update, 0 unchanged.\n"
    )
