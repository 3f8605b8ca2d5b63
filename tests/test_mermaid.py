"""The tree of tickets to create as a Mermaid diagram: exact, escaped, bounded."""

from __future__ import annotations

import re

from ticketsync.model import Create, Location, Plan
from ticketsync.plan.render import (
    MARKDOWN_LIMIT,
    MERMAID_NODES,
    render_markdown,
    render_mermaid,
    render_mermaid_projects,
)

A = Location("tickets/a.yaml", 3, 3)
TREE = Plan(creates=(
    Create("outage", {"title": "System outage"}, A),
    Create("lone", {"title": "Nothing to do with it"}, A),
    Create("postmortem", {"title": "Postmortem"}, A, parent="outage"),
    Create("fix", {"title": "Fix it", "parent_id": "tkt-77"}, A),
))

#: A node: ``ID["LABEL"]`` whose label holds nothing that could end it, the line, the code
#: block, or open HTML (``<br/>`` is ours).
NODE = re.compile(r'^ *[a-z0-9]+\["([^"\[\]{}<>`|\n]|<br/>)*"\](:::[a-z]+)?$')


def test_the_tree_is_pinned() -> None:
    assert render_mermaid(TREE) == (
        "flowchart LR\n"
        "    classDef tracked stroke-dasharray: 4 4\n"
        "    classDef more fill:none,stroke:none\n"
        '    nt0["tkt-77<br/>already tracked"]:::tracked\n'
        '    n0["outage<br/>System outage"]\n'
        '    n1["postmortem<br/>Postmortem"]\n'
        '    n2["fix<br/>Fix it"]\n'
        '    n3["lone<br/>Nothing to do with it"]\n'
        "    n0 --> n1\n"
        "    nt0 -.-> n2\n"
    )


def test_hostile_titles_cannot_break_out_of_their_label() -> None:
    titles = [
        'He said "hi"', "a] --> b[owned", "```\n## injected", "<img src=x onerror=alert(1)>",
        "#quot; & #35;", "line one\nline two\r\nthree\u2028four", "%% comment", "a; b{c}|d",
        "click n0 call alert()", "tab\there", "\x00\x1b[31m", "naïve ☃ 🎉",
    ]
    plan = Plan(creates=tuple(
        Create(f"k{i}", {"title": t}, A, parent="k0" if i else None) for i, t in enumerate(titles)
    ))
    lines = render_mermaid(plan).splitlines()
    nodes = [line for line in lines if "[" in line]
    assert len(nodes) == len(titles)
    for line in nodes:
        assert NODE.match(line), line
    text = "\n".join(lines)
    assert "```" not in text and "<img" not in text
    assert "He said #34;hi#34;" in text  # shown as the quote, never as one
    assert "line one line two three four" in text
    assert "naïve #9731; #127881;" in text


def test_a_huge_plan_is_summarised() -> None:
    creates = [Create("root", {"title": "Root"}, A)]
    creates += [Create(f"child-{i:05}", {"title": f"Child {i}"}, A, parent="root")
                for i in range(5000)]
    text = render_mermaid(Plan(creates=tuple(creates)))
    assert text.count('"]') == MERMAID_NODES + 1  # the shown ones and "... more"
    assert '["… and 4701 more to create"]:::more' in text


def test_trees_come_before_lone_tickets_when_cut() -> None:
    creates = [Create(f"lone-{i:03}", {"title": "Alone"}, A) for i in range(500)]
    creates += [Create("zz-parent", {"title": "P"}, A),
                Create("zz-child", {"title": "C"}, A, parent="zz-parent")]
    text = render_mermaid(Plan(creates=tuple(creates)), max_nodes=10)
    assert '"zz-parent<br/>P"' in text and "n0 --> n1" in text
    assert "492 more" in text


def test_template_instances_are_grouped_by_their_origin_not_by_dots_in_keys() -> None:
    alice, bob = "onboarding.alice", "onboarding.bob"
    plan = Plan(
        creates=(
            Create("onboarding.alice.laptop", {"title": "Laptop"}, A, origin=alice),
            Create(
                "onboarding.alice.accounts",
                {"title": "Accounts"},
                A,
                parent="onboarding.alice.laptop",
                origin=alice,
            ),
            Create("onboarding.bob.laptop", {"title": "Laptop"}, A, origin=bob),
            Create(
                "onboarding.bob.accounts",
                {"title": "Accounts"},
                A,
                parent="onboarding.bob.laptop",
                origin=bob,
            ),
            Create("release.v1.2", {"title": "A plain key with dots"}, A),
        )
    )
    text = render_mermaid(plan)
    assert '    subgraph ng0["onboarding.alice"]\n        n0["onboarding.alice.laptop<br/>' in text
    assert '    subgraph ng1["onboarding.bob"]' in text
    assert text.count("    end\n") == 2  # the key with dots is no template instance


def test_nothing_to_create_is_still_a_diagram() -> None:
    assert render_mermaid(Plan()).splitlines()[-1] == '    nnone["Nothing to create"]:::more'


def test_the_markdown_plan_shows_the_tree_after_the_table() -> None:
    text = render_markdown(TREE, diagram=True)
    table = text.index("### To create (4)")
    block = text.index("```mermaid\nflowchart LR\n")
    assert table < block
    assert text[block:].split("```\n", 1)[0].endswith("nt0 -.-> n2\n")
    assert text.endswith("```\n")


def test_a_plan_without_parents_has_no_diagram() -> None:
    plan = Plan(creates=(Create("a", {"title": "A"}, A), Create("b", {"title": "B"}, A)))
    assert render_markdown(plan, diagram=True) == render_markdown(plan)


def test_the_comment_with_a_huge_hostile_tree_stays_under_the_limit() -> None:
    title = '"]`<>#;\n' * 40
    creates = [Create("r" * 128, {"title": title}, A)]
    creates += [Create(f"{i:05}" + "k" * 120, {"title": title}, A, parent="r" * 128)
                for i in range(3000)]
    text = render_markdown(Plan(creates=tuple(creates)), diagram=True)
    assert len(text) < MARKDOWN_LIMIT
    assert "```mermaid" in text and "more to create" in text
    diagram = text.split("```mermaid\n", 1)[1].split("```", 1)[0]
    assert len(diagram) <= 20_000


def test_several_projects_share_one_diagram() -> None:
    text = render_mermaid_projects([("platform", TREE), ('mo"bile', Plan())])
    assert '    subgraph p0["platform"]\n' in text
    assert '    subgraph p1["mo#34;bile"]\n' in text
    assert "        p0n0 --> p0n1\n" in text
    assert '        p1nnone["Nothing to create"]:::more\n' in text
