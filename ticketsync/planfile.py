"""Saved plans: ``plan --out FILE`` writes one, ``apply --plan FILE`` reads and checks it.

A saved plan is only safe to apply to the exact state and inputs it was made from: applied
to a state that moved on (another apply ran in between), its creates could duplicate
tickets that now exist. So a saved plan carries the state's ``lineage`` and ``serial`` and a
digest of the inputs, and :func:`check_plan_current` refuses any mismatch.
"""

from __future__ import annotations

import json
from pathlib import Path

from ticketsync.errors import PlanError
from ticketsync.model import Plan, Project
from ticketsync.plan import plan_from_json
from ticketsync.render import render_json
from ticketsync.state import State, atomic_write_text


def save_plan(path: Path, plan: Plan) -> None:
    """Write ``plan`` as its JSON document, atomically."""
    try:
        atomic_write_text(path, render_json(plan))
    except FileNotFoundError:
        raise PlanError(
            f"{path}: cannot write the plan: the folder {path.parent} does not exist: "
            "create it, or choose another --out"
        ) from None
    except OSError as exc:
        raise PlanError(
            f"{path}: cannot write the plan: {exc.strerror}: choose another --out"
        ) from None


def load_plan(path: Path) -> Plan:
    """Read a plan saved by :func:`save_plan`; :class:`PlanError` naming the file if bad."""
    except_text = (
        f"is it a plan saved by `ticketsync plan --out`? Make a new one with "
        f"`ticketsync plan --out {path}`"
    )
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PlanError(
            f"{path}: no such plan file: make one with `ticketsync plan --out {path}`"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(f"{path}: cannot read the plan ({exc}): {except_text}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlanError(
            f"{path}:{exc.lineno}:{exc.colno}: the plan is not valid JSON ({exc.msg}): "
            f"{except_text}"
        ) from None
    try:
        return plan_from_json(doc)
    except PlanError as exc:
        raise PlanError(f"{path}: {exc}: {except_text}") from None


def check_plan_current(
    plan: Plan, state: State, project: Project, *, plan_path: str = "FILE"
) -> None:
    """Raise :class:`PlanError` unless ``plan`` was made from this ``state`` and ``project``."""
    again = f"run `ticketsync plan --out {plan_path}` again"
    if plan.lineage != state.lineage:
        raise PlanError(
            f"the plan was made for another state (lineage {plan.lineage or 'none'}, this one "
            f"is {state.lineage}): {again}"
        )
    if plan.serial != state.serial:
        raise PlanError(
            f"the state has moved on since this plan was made (serial {plan.serial}, now "
            f"{state.serial}): {again}"
        )
    if plan.inputs_digest != project.digest:
        raise PlanError(f"the ticket files have changed since this plan was made: {again}")
