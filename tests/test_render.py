"""Renderings of a plan, pinned exactly: people, scripts and CI read them."""

from __future__ import annotations

import json

from ticketsync.declare.directory import Directory, Project
from ticketsync.model import Create, Drift, Location, Plan, Removal, Update
from ticketsync.plan.render import (
    MARKDOWN_LIMIT,
    Names,
    render_github,
    render_json,
    render_markdown,
    render_text,
)
from ticketsync.plan.saved import plan_to_json

A = Location("tickets/a.yaml", 3, 3)
B = Location("tickets/b.yaml", 9, 3)

MIXED = Plan(
    creates=(
        Create("prod-outage", {"title": "System outage"}, A),
        Create("postmortem", {"title": "Postmortem | follow-up"}, B, parent="prod-outage"),
    ),
    updates=(Update("rotate", "tkt-4", ("priority", "title"), {"title": "Rotate"}, A),),
    unchanged=5,
    removals=(Removal("old-key", "tkt-9", "keep", "Old"),),
    updates_enabled=False,
    lineage="0b7a3c3e-5d1c-4a53-9f55-3b6c1a2d9e10",
    serial=7,
    inputs_digest="sha256:abc",
)
UPDATES_ON = Plan(creates=(), updates=MIXED.updates, unchanged=5, updates_enabled=True)
LIFECYCLE = Plan(
    updates=(
        Update("rotate", "tkt-4", ("priority",), {"title": "Rotate"}, A, ("title",), (),
               "Rotate", "PLAT-4", "https://jira.example/browse/PLAT-4"),
        Update("typed", "tkt-5", (), {"title": "Typed", "type": "bug"}, B, (), ("type",),
               "Typed"),
    ),
    drift=(
        Drift("edited", ("assignees",), A, title="Edited", number="PLAT-6"),
        Drift("shut", (), B, closed=True, title="Shut"),
        Drift("gone", (), A, deleted=True, title="Gone"),
    ),
    removals=(
        Removal("old", "tkt-7", "close", "Old one", "PLAT-7", "https://jira.example/browse/PLAT-7"),
        Removal("older", "tkt-8", "forget", "Older one"),
    ),
    unchanged=2,
    refreshed=True,
)


def test_text_with_updates_off() -> None:
    assert render_text(MIXED) == (
        '+ create prod-outage  "System outage"\n'
        '+ create postmortem  "Postmortem | follow-up"\n'
        "! changed rotate: priority, title (not applied: updates are off)\n"
        "? untracked old-key: in the state but declared in no file; left alone\n"
        "  (if a ticket was renamed, run `ticketsync state mv OLD NEW`; to forget one, "
        "`ticketsync state rm KEY`; `removed:` in ticketsync.yaml can close or forget them)\n"
        "\n"
        "Plan: 2 to create, 0 to update, 5 unchanged; "
        "1 changed but not applied (updates are off).\n"
    )


def test_text_with_updates_on() -> None:
    assert render_text(UPDATES_ON) == (
        "~ update rotate: priority, title\n\nPlan: 0 to create, 1 to update, 5 unchanged.\n"
    )


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


def test_json_is_the_document_sorted_and_byte_stable() -> None:
    text = render_json(MIXED)
    assert json.loads(text) == plan_to_json(MIXED)
    assert text == render_json(MIXED)
    assert text.startswith('{\n  "creates": [\n') and text.endswith("}\n")


def test_text_of_the_lifecycle_is_pinned() -> None:
    assert render_text(LIFECYCLE) == (
        "~ update rotate: priority\n"
        "! conflict rotate: title (changed in the files and in the tracker; nothing is sent "
        "for this ticket unless apply --overwrite)\n"
        "! cannot update typed: type (StackOne cannot change it once the ticket exists)\n"
        '- close old  "Old one"\n'
        '- forget older  "Older one" (dropped from the state; the ticket is left as it is)\n'
        "? drift edited: assignees (edited in the tracker; left as it is)\n"
        "? closed shut: closed in the tracker (left as it is)\n"
        "? deleted gone: deleted in the tracker; not re-created (`ticketsync state rm gone` "
        "to create it again)\n"
        "\n"
        "Plan: 0 to create, 0 to update, 1 to close, 1 to forget, 1 in conflict, "
        "2 unchanged.\n"
    )


def test_markdown_is_pinned() -> None:
    assert render_markdown(MIXED) == (
        "## ticketsync plan\n\n"
        "**Plan: 2 to create, 0 to update, 5 unchanged; "
        "1 changed but not applied (updates are off).**\n\n"
        "_Not read back from the tracker: edits made there since the last apply are not "
        "shown (`ticketsync plan --refresh`)._\n\n"
        "### To create (2)\n\n"
        "| key | title | parent | status | declared in |\n"
        "| --- | --- | --- | --- | --- |\n"
        "| `prod-outage` | System outage |  |  | `tickets/a.yaml:3` |\n"
        "| `postmortem` | Postmortem \\| follow-up | `prod-outage` |  | `tickets/b.yaml:9` |\n\n"
        "### Changed, not applied (updates are off) (1)\n\n"
        "| ticket | fields | declared in |\n"
        "| --- | --- | --- |\n"
        "| `rotate` | `priority`, `title` | `tickets/a.yaml:3` |\n\n"
        "### In the state but declared in no file (1)\n\n"
        "Left alone. If a ticket was renamed, run `ticketsync state mv OLD NEW`; "
        "to forget one, `ticketsync state rm KEY`.\n\n"
        "- `old-key`\n"
    )


def test_markdown_links_tickets_by_number_and_has_a_section_per_kind() -> None:
    text = render_markdown(LIFECYCLE)
    assert "### Conflicts: changed in the files and in the tracker" in text
    assert "| `rotate` ([PLAT-4](https://jira.example/browse/PLAT-4)) | `title` |" in text
    assert "### To close (declared in no file; `removed: close`) (1)" in text
    assert "| `old` ([PLAT-7](https://jira.example/browse/PLAT-7)) | Old one |" in text
    assert "| `edited` (PLAT-6) | `assignees` |" in text  # a number without a link
    assert "| `gone` | deleted there (not re-created) |" in text
    assert "_Not read back" not in text  # this plan was made after a read-back


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
    assert "more undeclared" in text
    # As much as fits: one more row per section would not.
    assert len(text) > MARKDOWN_LIMIT - 2000


def test_markdown_cells_survive_newlines_and_backticks() -> None:
    plan = Plan(creates=(Create("k", {"title": "two\nlines `x` " + "y" * 300}),))
    row = render_markdown(plan).splitlines()[8]
    assert row.startswith("| `k` | two lines `x` yyy") and row.endswith("… |  |  |  |")


def test_github_annotations() -> None:
    plan = Plan(
        creates=(Create("a", {"title": "Fix 100% of it"}, Location("t/a,b.yaml", 4)),),
        updates=MIXED.updates,
        removals=(Removal("gone", "tkt-2", "keep"),),
        updates_enabled=False,
        max_creates=0,
    )
    assert render_github(plan) == (
        '::notice file=t/a%2Cb.yaml,line=4::create a "Fix 100%25 of it"\n'
        "::notice file=tickets/a.yaml,line=3::changed rotate: priority, title "
        "(not applied: updates are off)\n"
        "::notice::gone is in the state but declared in no file; left alone\n"
        "::warning::this plan creates 1 tickets, more than max_creates (0): "
        "apply refuses it without --force\n"
        "Plan: 1 to create, 0 to update, 0 unchanged; "
        "1 changed but not applied (updates are off).\n"
    )
    assert render_github(UPDATES_ON).splitlines()[0] == (
        "::notice file=tickets/a.yaml,line=3::update rotate: priority, title"
    )


def test_github_annotations_of_the_lifecycle_land_on_the_declarations() -> None:
    assert render_github(LIFECYCLE).splitlines()[:6] == [
        "::notice file=tickets/a.yaml,line=3::update rotate: priority",
        "::warning file=tickets/a.yaml,line=3::conflict rotate: title changed in the files "
        "and in the tracker; nothing is sent for this ticket unless apply --overwrite",
        "::warning file=tickets/b.yaml,line=9::cannot update typed: type (StackOne cannot "
        "change it)",
        "::notice file=tickets/a.yaml,line=3::edited: assignees edited in the tracker",
        "::notice file=tickets/b.yaml,line=9::shut: closed in the tracker",
        "::notice file=tickets/a.yaml,line=3::gone: deleted in the tracker; not re-created",
    ]


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
        "## ticketsync plan: `platform`\n\n**Plan: 2 to create")


# -- ids by name (issue #17, item 9) --------------------------------------------------------

MOVING = Plan(updates=(
    Update("a", "tkt-1", ("project_id",), {"project_id": "p-2"}, A),
    Update("b", "tkt-2", ("project_id", "title"), {"project_id": "p-9", "title": "B"}, B),
))


def _names() -> Names:
    directory = Directory.of("acc", "2026-01-01T00:00:00Z", projects=[
        Project("p-1", "Core"), Project("p-2", "Pla`tform | <b>x</b>")])
    return Names(directory, {"a": {"project_id": "p-1"}, "b": {"project_id": "p-1"}})


def test_moves_between_projects_by_name_and_warned_in_every_format() -> None:
    warning = ("2 tickets move to another project: check that the names in the files still "
               "mean what they did (a directory pull can change what a name means)")
    assert render_text(MOVING, _names()) == (
        "~ update a: project_id\n"
        '    project_id: "Core" (p-1) -> "Pla`tform | <b>x</b>" (p-2)\n'
        "~ update b: project_id, title\n"
        '    project_id: "Core" (p-1) -> p-9\n'  # an id the directory does not know
        f"! {warning}\n"
        "\n"
        "Plan: 0 to create, 2 to update, 0 unchanged.\n")
    # Without the directory (apply, --projects): the fields, and the warning all the same.
    assert render_text(MOVING).splitlines()[:3] == [
        "~ update a: project_id", "~ update b: project_id, title", f"! {warning}"]
    markdown = render_markdown(MOVING, names=_names())
    assert f"\n\n> [!WARNING]\n> {warning}\n" in markdown
    # A name can neither end its code span nor its cell: a longer fence, an escaped pipe.
    assert ('| `a` | `project_id`: `` "Core" (p-1) -> "Pla`tform \\| <b>x</b>" (p-2) `` | '
            "`tickets/a.yaml:3` |") in markdown
    assert render_github(MOVING).splitlines()[-2:] == [
        f"::warning::{warning}", "Plan: 0 to create, 2 to update, 0 unchanged."]
    # Nothing moves while updates are off, nor with nothing moving.
    assert "move to another project" not in render_text(
        Plan(updates=MOVING.updates, updates_enabled=False), _names())
    assert "move to another project" not in render_text(UPDATES_ON)
