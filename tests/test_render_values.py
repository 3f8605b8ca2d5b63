"""Values in every line (issue #19): counts that agree with the lines, under --overwrite
too; hostile titles and values that cannot forge a line or markup in any format; the
hint of a renamed key; the JSON values."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest
from test_render import DIRECTORY, EVERY_KIND, A

from ticketsync.model import Create, Drift, Plan, Removal, Update
from ticketsync.model import FieldValues as V
from ticketsync.plan.render import (
    render_github,
    render_json,
    render_markdown,
    render_mermaid,
    render_text,
)
from ticketsync.plan.saved import plan_from_json, plan_to_json, summary_counts


def test_markdown_shows_a_row_per_field_with_its_values() -> None:
    text = render_markdown(EVERY_KIND, directory=DIRECTORY)
    assert (
        "| `rotate` ([PLAT-4](https://jira.example/browse/PLAT-4)) | `assignees` | "
        '`+ "Dana <b>Ops</b>" (user-4)  + user-9  - "Alice Ng" (user-1)` | `tickets/a.yaml:3` |\n'
        '|  | `description` | `2 lines changed (first: "Users see 502s" -> "Users see 503s")` '
        "|  |\n"
        '|  | `priority` | `"high" -> "low"` |  |\n'
        '|  | `project_id` | `"Core" (p-1) -> "Platform" (p-2)` |  |\n'
    ) in text
    assert ('| `billing` | `tags` | `+ "c"  - "a" (waits with the conflict)` | '
            '`tickets/b.yaml:9` |\n|  | `title` | `declared "Export v2", last applied '
            '"Export", tracker "Export (paused)"` |  |\n') in text
    assert ('| `old` ([PLAT-9](https://jira.example/browse/PLAT-9)) | Old one | `status`: '
            '`"In Progress" -> a closed status` |') in text
    assert ("| `edited` (PLAT-8) | `assignees` | `applied [\"Alice Ng\" (user-1)], tracker "
            "[\"Dana <b>Ops</b>\" (user-4)]` | `tickets/a.yaml:3` |") in text
    assert "| `shut` |  | closed in the tracker (\"Won't Do\"); left as it is |" in text
    assert "### Cannot be updated through StackOne (1)" in text


@pytest.mark.parametrize("overwrite", [False, True])
@pytest.mark.parametrize("enabled", [False, True])
def test_the_counts_agree_with_the_lines_in_every_format(overwrite: bool, enabled: bool
                                                         ) -> None:
    plan = replace(EVERY_KIND, overwrite=overwrite, updates_enabled=enabled)
    counts = summary_counts(plan)
    text = render_text(plan)
    heads = [line.split(" ")[:2] for line in text.splitlines() if not line.startswith(" ")]
    assert counts["update"] == sum(h in (["~", "update"], ["~", "reopen"]) for h in heads)
    assert counts["conflict"] == sum(h == ["!", "conflict"] for h in heads)
    assert counts["changed_not_applied"] == sum(h == ["!", "changed"] for h in heads)
    assert counts["fixed"] == sum(h == ["!", "cannot"] for h in heads)
    assert plan_to_json(plan)["summary"] == counts
    summary = text.splitlines()[-1]
    assert render_github(plan).splitlines()[-1] == summary
    assert f"**{summary}**" in render_markdown(plan)


def test_under_overwrite_a_conflict_is_an_update_that_says_what_it_replaces() -> None:
    text = render_text(replace(EVERY_KIND, overwrite=True))
    assert ("~ update billing\n"
            '    tags: + "c"  - "a"\n'
            '    title: "Export" -> "Export v2" (replaces the tracker\'s "Export (paused)")\n'
            ) in text
    assert "unless apply --overwrite" not in text
    assert text.endswith("Plan: 1 to create, 3 to update (1 over a tracker edit), 1 to close, "
                         "1 to forget, 1 to settle, 1 not updatable, 2 unchanged.\n")


#: What a tracker or a file may hold: a forged line, a carriage return, an ANSI escape,
#: a control character, a workflow command, backticks, a pipe, HTML.
HOSTILE = ("x\n\nNo changes.\n::error::forged\r::add-mask::secret\x1b[2J\x07 "
           "`code` | <img src=x onerror=alert(1)> <b>bold</b> [link](http://x) $x$ @team")
HOSTILE_PLAN = Plan(
    creates=(Create("new", {"title": HOSTILE}, A),),
    updates=(Update("upd", "t-1", ("title", "unified_custom_fields.k"), {"title": HOSTILE}, A,
                    values=(V("title", "Old", HOSTILE), V("unified_custom_fields.k", 1, HOSTILE))),
             Update("con", "t-2", (), {}, A, ("title",), title=HOSTILE,
                    values=(V("title", HOSTILE, "A", HOSTILE),))),
    drift=(Drift("dri", ("assignees",), A, values=(V("assignees", ["u"], ["u"], [HOSTILE]),)),
           Drift("shu", (), A, closed=True, status=HOSTILE)),
    removals=(Removal("clo", "t-3", "close", HOSTILE, HOSTILE, "javascript:alert(1)", HOSTILE),
              Removal("kee", "t-4", "keep", HOSTILE)),
)
#: What each line of the text plan may start with: ours only.
OURS = re.compile(r"(\+ create|~ update|! conflict|\? drift|\? closed|- close|\? untracked| {4}\w"
                  r"|  \(if a|Plan: |$)")


def test_nothing_in_a_value_forges_a_text_line() -> None:
    text = render_text(HOSTILE_PLAN)
    assert all(OURS.match(line) for line in text.splitlines()), text
    assert "\x1b" not in text and "\r" not in text and "\x07" not in text
    assert "No changes." not in text.splitlines()  # inside quotes, never a line of its own
    assert '+ create new  "x\\n\\nNo changes.\\n::error::forged\\r::add-mask::secret\\x1b[2J' \
        in text


def test_nothing_in_a_value_becomes_a_workflow_command_in_github_output() -> None:
    for line in render_github(HOSTILE_PLAN).splitlines():
        assert re.match(r"::(notice|warning)( file=tickets/a\.yaml,line=3)?::|Plan: ", line)
        assert "\r" not in line and "\x1b" not in line


def test_nothing_in_a_value_becomes_markup_in_markdown() -> None:
    text = render_markdown(HOSTILE_PLAN)
    for line in text.splitlines():
        if line.startswith("|"):
            # A row: backslash-escaped pipes only, so the cell count is the header's.
            assert len(re.findall(r"(?<!\\)\|", line)) in (5, 4, 6), line
    assert "javascript:" not in text  # a link only to http(s)
    assert "\x1b" not in text and "\r" not in text
    assert "\nNo changes." not in text
    assert ("| `new` | x  No changes. ::error::forged ::add-mask::secret \\[2J  \\`code\\` \\| "
            "\\<img src=x onerror=alert(1)\\> \\<b\\>bold\\</b\\> \\[link\\](http://x) "
            "\\$x\\$ \\@team |") in text


def test_nothing_in_a_title_escapes_a_mermaid_label() -> None:
    diagram = render_mermaid(HOSTILE_PLAN)
    assert diagram.splitlines()[-1] == (
        '    n0["new<br/>x No changes. ::error::forged ::add-mask::secret #91;2J #96;cod#8230;"]')


def test_a_renamed_key_says_how_to_keep_the_ticket() -> None:
    plan = Plan(creates=(Create("new-key", {"title": "Rotate keys"}, A),),
                removals=(Removal("old-key", "t-1", "close", "Rotate keys"),))
    assert render_text(plan) == (
        '+ create new-key  "Rotate keys"\n'
        '- close old-key  "Rotate keys"\n'
        "    renamed to new-key? `ticketsync state mv old-key new-key` keeps this ticket "
        "instead of creating another with its title\n"
        "\n"
        "Plan: 1 to create, 0 to update, 1 to close, 0 unchanged.\n")
    warning = ("1 to create has the title of a ticket declared in no file: a renamed key "
               "makes a new ticket unless the state is told (`ticketsync state mv OLD NEW`)")
    assert f"> [!WARNING]\n> {warning}\n" in render_markdown(plan)
    assert f"::warning::{warning}" in render_github(plan)


def test_long_texts_and_lists_are_bounded() -> None:
    many = [f"user-{i}" for i in range(50)]
    plan = Plan(updates=(Update("k", "t", ("assignees", "content", "title"), {}, A, values=(
        V("assignees", [], many),
        V("content", [{"plain": "a\n" * 5000}], [{"plain": "b\n" * 5000}]),
        V("title", "t" * 500, "u" * 500),
    )),))
    lines = render_text(plan).splitlines()
    assert lines[1] == ("    assignees: " + "  ".join(f"+ user-{i}" for i in range(10))
                        + "  + 40 more")
    assert lines[2] == '    description: 5000 lines changed (first: "a" -> "b")'
    assert lines[3] == f'    title: "{"t" * 79}…" -> "{"u" * 79}…"'


def test_the_json_document_carries_every_value_and_round_trips() -> None:
    doc = json.loads(render_json(EVERY_KIND))
    billing = next(u for u in doc["updates"] if u["key"] == "billing")
    assert billing["values"] == {
        "tags": {"before": ["a", "b"], "after": ["b", "c"], "tracker": None},
        "title": {"before": "Export", "after": "Export v2", "tracker": "Export (paused)"}}
    assert doc["drift"][0]["values"]["status"] == {
        "before": "To Do", "after": "To Do", "tracker": "In Progress"}
    assert doc["drift"][1]["status"] == "Won't Do"
    assert doc["removals"][0]["status"] == "In Progress"
    assert plan_from_json(doc) == EVERY_KIND
