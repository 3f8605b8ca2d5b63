"""Saved plans: written atomically, read strictly, refused once the world moved on."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from ticketsync.errors import PlanError
from ticketsync.model import Create, Location, Plan, Project, Ticket
from ticketsync.plan.render import render_json
from ticketsync.plan.saved import check_plan_current, load_plan, save_plan
from ticketsync.state.file import State

LINEAGE = "0b7a3c3e-5d1c-4a53-9f55-3b6c1a2d9e10"
STATE = State(1, LINEAGE, 7, "2024-05-01T12:00:00Z", "acc-1", {})
PROJECT = Project(
    {"a": Ticket("a", {"title": "A"}, Location("t.yaml", 2, 3))}, ("t.yaml",), "sha256:abc"
)
PLAN = Plan(
    creates=(Create("a", {"title": "A"}, Location("t.yaml", 2, 3)),),
    lineage=LINEAGE, serial=7, inputs_digest="sha256:abc",
)


def test_save_then_load_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    save_plan(path, PLAN)
    assert path.read_text(encoding="utf-8") == render_json(PLAN)
    assert load_plan(path) == PLAN
    check_plan_current(load_plan(path), STATE, PROJECT)


def test_a_saved_plan_keeps_its_recurring_templates(tmp_path: Path) -> None:
    """An apply of the saved plan tracks a lost run's past instances by them (README:
    recurring); a plan without any says nothing of them."""
    path = tmp_path / "plan.json"
    save_plan(path, replace(PLAN, recurring=frozenset({"weekly", "monthly"})))
    assert '"recurring": [\n    "monthly",\n    "weekly"\n  ]' in path.read_text(encoding="utf-8")
    assert load_plan(path).recurring == {"weekly", "monthly"}
    save_plan(path, PLAN)
    assert "recurring" not in path.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("state", "project", "message"),
    [
        (replace(STATE, serial=8), PROJECT,
         r"^the state has moved on since this plan was made \(serial 7, now 8\): "
         r"run `ticketsync plan --out plan.json` again$"),
        (replace(STATE, lineage="x"), PROJECT, r"made for another state \(lineage 0b7a"),
        (STATE, replace(PROJECT, digest="sha256:new"),
         r"the ticket files or the directory file have changed since this plan was made"),
    ],
)
def test_a_stale_plan_is_refused(state: State, project: Project, message: str) -> None:
    with pytest.raises(PlanError, match=message):
        check_plan_current(PLAN, state, project, plan_path="plan.json")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, r"no such plan file: make one with `ticketsync plan --out "),
        (b"{not json", r"plan\.json:1:2: the plan is not valid JSON"),
        (b"\xff", r"cannot read the plan"),
        (b"{}", r"plan\.json: not a valid plan document"),
    ],
)
def test_a_bad_plan_file_is_a_plan_error_naming_it(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "plan.json"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(PlanError, match=message):
        load_plan(path)


def test_an_unwritable_plan_is_a_plan_error(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="cannot write the plan"):
        save_plan(tmp_path / "missing" / "plan.json", PLAN)


def test_a_plan_saved_by_an_older_ticketsync_is_refused_with_the_next_step(
    tmp_path: Path,
) -> None:
    path = tmp_path / "plan.json"
    path.write_text('{"format_version": 2, "creates": []}\n', encoding="utf-8")
    with pytest.raises(PlanError) as caught:
        load_plan(path)
    assert str(caught.value) == (
        f"{path}: the plan was made by an older ticketsync (format_version 2, before plans "
        "showed values): make the plan again with this one: is it a plan saved by "
        f"`ticketsync plan --out`? Make a new one with `ticketsync plan --out {path}`")
