"""Templates through the whole tool: validate, plan, apply on the sandbox (the README's
"Templates")."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import copy_example, enter_project, invoke

ROOT = Path(__file__).resolve().parent.parent
QUICKSTART = ROOT / "examples" / "quickstart"


@pytest.fixture
def quickstart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "quickstart"
    copy_example(QUICKSTART, folder)
    return enter_project(folder, monkeypatch)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


@pytest.mark.slow
def test_adding_an_item_plans_only_its_tickets_and_reordering_changes_nothing(
    quickstart: Path,
) -> None:
    assert invoke("validate") == (0, "15 tickets in 3 files OK (12 made by templates)\n", "")
    assert invoke("apply", "--sandbox", "--yes")[0] == 0
    onboarding = quickstart / "tickets" / "onboarding.yaml"
    edit(
        onboarding,
        "      eli: {name: Eli Novak",
        '      fay: {name: Fay Diaz, buddy: carol@example.com, start: "2027-02-01"}\n'
        "      eli: {name: Eli Novak",
    )
    code, out, _ = invoke("plan", "--sandbox", "--detailed-exitcode")
    assert (code, out) == (
        2,
        (
            "  from template onboarding, item fay:\n"
            '+ create onboarding.fay.laptop  "Order a laptop for Fay Diaz (starts 2027-02-01)"\n'
            '+ create onboarding.fay.accounts  "Create accounts for Fay Diaz"\n'
            '+ create onboarding.fay.first-week  "Plan the first week with Fay Diaz"\n'
            "\nPlan: 3 to create, 0 to update, 15 unchanged.\n"
        ),
    )
    # Items and tickets in another order, values reformatted: the same tickets.
    text = onboarding.read_text(encoding="utf-8")
    dana = text[text.index("      dana:") : text.index("      eli:")]
    reordered = (
        text.replace(dana, "")
        .replace("      eli:", "      eli:")
        .replace("    tickets:\n", "    tickets:\n", 1)
    )
    reordered = reordered.replace(
        '      fay: {name: Fay Diaz, buddy: carol@example.com, start: "2027-02-01"}\n', ""
    )
    reordered = reordered.replace(
        "    for_each:\n",
        "    for_each:\n      dana:\n        name: Dana Ortiz\n        start: '2026-12-07'\n"
        "        buddy: bob@example.com\n",
    )
    onboarding.write_text(reordered, encoding="utf-8")
    assert invoke("plan", "--sandbox") == (0, "No changes.\n", "")


@pytest.mark.slow
def test_removing_an_item_leaves_its_tickets_undeclared(quickstart: Path) -> None:
    assert invoke("apply", "--sandbox", "--yes")[0] == 0
    edit(quickstart / "tickets" / "release.yaml", "for_each: [v2.4, v2.5]", "for_each: [v2.5]")
    code, out, _ = invoke("plan", "--sandbox")
    assert code == 0
    assert [line.split("  ")[0] for line in out.splitlines() if line.startswith("?")] == [
        "? untracked release.v2.4.freeze",
        "? untracked release.v2.4.notes",
        "? untracked release.v2.4.rollout",
    ]


def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **files: str) -> Path:
    (tmp_path / "tickets").mkdir()
    for name, text in files.items():
        (tmp_path / "tickets" / f"{name}.yaml").write_text(text, encoding="utf-8")
    return enter_project(tmp_path, monkeypatch)


TEMPLATE = """\
defaults:
  project_id: project-001
templates:
  onboarding:
    for_each:
      alice: {email: alice@example.com}
    tickets:
      laptop:
        title: Laptop for {item}
      accounts:
        title: Accounts for {item}
        parent: laptop
"""


def test_a_generated_key_colliding_with_a_declared_one_names_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project(
        tmp_path,
        monkeypatch,
        a=TEMPLATE + "tickets:\n  onboarding.alice.laptop:\n    title: Declared by hand\n",
        b="tickets:\n  onboarding.alice.accounts:\n    title: And in another file\n",
    )
    code, _, err = invoke("validate")
    assert code == 1
    assert err.splitlines() == [
        "tickets/a.yaml:6:7: error: templates.onboarding.for_each.alice: the template makes "
        "the key 'onboarding.alice.laptop' (from tickets/a.yaml:8:7), also declared at "
        "tickets/a.yaml:14:3: rename the item or one of them",
        "tickets/b.yaml:2:3: error: tickets.onboarding.alice.accounts: duplicate ticket key: "
        "also at tickets/a.yaml:6:7",
    ]


def test_problems_in_a_template_are_located_in_it_and_name_the_item(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (
        TEMPLATE.replace("parent: laptop", "parent: lapton")
        .replace(
            "title: Laptop for {item}", "title: Laptop for {item}\n        assignees: ['{email}']"
        )
        .replace("      accounts:", "      accounts:\n        priorty: high")
    )
    project(tmp_path, monkeypatch, a=text)
    code, _, err = invoke("validate")
    assert code == 1
    assert err.splitlines() == [
        "tickets/a.yaml:12:9: error: templates.onboarding.tickets.accounts.priorty: unknown "
        "field 'priorty' (did you mean 'priority'?)",
    ]
    project_b = tmp_path / "b"
    project_b.mkdir()
    project(
        project_b,
        monkeypatch,
        a=TEMPLATE.replace("parent: laptop", "parent: lapton").replace(
            "title: Laptop for {item}", "title: Laptop for {item}\n        assignees: ['{email}']"
        ),
    )
    code, _, err = invoke("validate")
    assert code == 1 and len(err.splitlines()) == 2
    assert err.splitlines()[0].startswith(
        "tickets/a.yaml:10:21: error: templates.onboarding.tickets.laptop.assignees[0]: "
    )
    assert err.splitlines()[0].endswith("(item alice at tickets/a.yaml:6:7)")
    assert err.splitlines()[1] == (
        "tickets/a.yaml:13:17: error: templates.onboarding.tickets.accounts.parent: 'lapton' "
        "is not a declared ticket key (did you mean 'laptop'?)"
    )
