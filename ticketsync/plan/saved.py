"""The plan's JSON document, and saved plans: ``plan --out FILE`` writes one,
``apply --plan FILE`` reads and checks it.

The document (:func:`plan_to_json`) is a published format (``schemas/plan.schema.json``):
scripts read it (``plan --format json``), and ``plan --out`` saves it.

A saved plan is only safe to apply to the exact state and inputs it was made from: applied
to a state that moved on (another apply ran in between), its creates could duplicate
tickets that now exist. So a saved plan carries the state's ``lineage`` and ``serial`` and a
digest of the inputs, and :func:`check_plan_current` refuses any mismatch.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from ticketsync.declare import documents
from ticketsync.errors import PlanError
from ticketsync.model import (
    Action,
    Create,
    Drift,
    FieldValues,
    Import,
    Location,
    Move,
    Plan,
    Project,
    Removal,
    State,
    Update,
)
from ticketsync.plan.build import over_max_creates, over_max_removals
from ticketsync.state.file import atomic_write_text

#: The plan document's format; bump it only for a change old readers would misread.
PLAN_FORMAT_VERSION = 3
#: What each older format lacked, for the message that refuses it.
_OLDER = {1: "before updates were three-way", 2: "before plans showed values"}
#: The plan as a document: a plan of another format is made again, never converted.
_FORMAT = documents.Format(
    schema="plan",
    version=PLAN_FORMAT_VERSION,
    field="format_version",
    error=PlanError,
    corrupt=lambda what: f"not a valid plan document: {what}",
    count_more=False,
    newer=lambda version: (f"the plan was made by a newer ticketsync (format_version {version}): "
                           "upgrade ticketsync, or make the plan again with this one"),
    older=lambda version: (f"the plan was made by an older ticketsync (format_version {version}, "
                           f"{_OLDER.get(version, 'an older format')}): make the plan again "
                           "with this one"),
)


def save_plan(path: Path, plan: Plan) -> None:
    """Write ``plan`` as its JSON document, atomically."""
    try:
        atomic_write_text(path, dump_plan(plan))
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
    doc = documents.decode(text, replace(_FORMAT, not_json=lambda exc: (
        f"{path}:{exc.lineno}:{exc.colno}: the plan is not valid JSON ({exc.msg}): "
        f"{except_text}")))
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
        raise PlanError(
            f"the ticket files or the directory file have changed since this plan was made: "
            f"{again}"
        )


# --- the JSON document ---------------------------------------------------------------


def _where(location: Location | None) -> dict[str, Any]:
    if location is None:
        return {"file": None, "line": None, "col": None}
    return {"file": location.file, "line": location.line, "col": location.col}


def _origin(origin: str | None) -> dict[str, Any]:
    # Only for a ticket a template made: the documents of plans without templates stay
    # as they were.
    return {"origin": origin} if origin is not None else {}


def summary_counts(plan: Plan) -> dict[str, int]:
    """The plan's counts, as every rendering gives them: one source, so that a summary
    never disagrees with the lines above it.

    A ticket with a conflict is sent whole or not at all: without ``overwrite`` it counts
    as a conflict only (its other fields wait with it), with it as an update (and among
    ``overwrite``, the updates that replace a tracker edit).
    """
    on = plan.updates_enabled
    return {
        "create": len(plan.creates),
        "update": sum(1 for u in plan.updates if on and (
            (u.conflicts and plan.overwrite) or (u.fields and not u.conflicts))),
        "overwrite": sum(1 for u in plan.updates if on and plan.overwrite and u.conflicts),
        "conflict": sum(1 for u in plan.updates if on and not plan.overwrite and u.conflicts),
        "fixed": sum(1 for u in plan.updates if on and u.fixed),
        **{action.value: sum(r.action == action for r in plan.removals) for action in Action},
        "drift": len(plan.drift),
        "unchanged": plan.unchanged,
        "changed_not_applied": 0 if plan.updates_enabled else sum(
            1 for u in plan.updates if u.fields or u.conflicts),
        "move": len(plan.moves),
        "import": len(plan.imports),
    }


def _values(values: tuple[FieldValues, ...]) -> dict[str, Any]:
    return {"values": {v.field: {"before": v.before, "after": v.after, "tracker": v.tracker}
                       for v in values}}


def _read_values(item: Mapping[str, Any]) -> tuple[FieldValues, ...]:
    return tuple(FieldValues(name, v["before"], v["after"], v["tracker"])
                 for name, v in sorted(item["values"].items()))


def refresh_mode(plan: Plan) -> str:
    """Which read-back the plan was made after: ``none`` (the state as last read),
    ``changed`` (what StackOne listed as updated since the last read-back: every apply,
    ``plan --refresh``) or ``full`` (that, and every tracked ticket looked for)."""
    if not plan.refreshed:
        return "none"
    return "full" if plan.full_refresh else "changed"


def plan_to_json(plan: Plan) -> dict[str, Any]:
    """The documented plan document (``schemas/plan.schema.json``, format_version 3)."""
    doc: dict[str, Any] = {
        "format_version": PLAN_FORMAT_VERSION,
        "lineage": plan.lineage,
        "serial": plan.serial,
        "inputs_digest": plan.inputs_digest,
        "refreshed": plan.refreshed,
        "refresh": refresh_mode(plan),
        "creates": [
            {"key": c.key, "title": c.title, "body": dict(c.body), "parent": c.parent,
             "status": c.status, **_where(c.location), **_origin(c.origin)}
            for c in plan.creates
        ],
        "updates": [
            {"key": u.key, "id": u.id, "title": u.title, "number": u.number, "url": u.url,
             "fields": list(u.fields), "conflicts": list(u.conflicts), "fixed": list(u.fixed),
             "reopen": u.reopen, "body": dict(u.body), **_values(u.values),
             **_where(u.location)}
            for u in plan.updates
        ],
        "drift": [
            {"key": d.key, "title": d.title, "number": d.number, "url": d.url,
             "fields": list(d.fields), "closed": d.closed, "deleted": d.deleted,
             "status": d.status, **_values(d.values), **_where(d.location)}
            for d in plan.drift
        ],
        "removals": [
            {"key": r.key, "id": r.id, "title": r.title, "number": r.number, "url": r.url,
             "action": r.action, "status": r.status}
            for r in plan.removals
        ],
        "unchanged": plan.unchanged,
        "updates_enabled": plan.updates_enabled,
        "max_creates": plan.max_creates,
        "max_removals": plan.max_removals,
        "over_max_creates": over_max_creates(plan),
        "over_max_removals": over_max_removals(plan),
        "summary": summary_counts(plan),
        **_moves_and_imports(plan),
    }
    if plan.extra:
        doc["extra"] = dict(plan.extra)
    return doc


def _moves_and_imports(plan: Plan) -> dict[str, Any]:
    """The declared moves and imports still to do (the README's "Moves and imports, declared"); an
    import not read yet (a plan made offline) has no ``id`` unless its file gave one, and no
    ``title``."""
    return {
        "moves": [{"from": m.source, "to": m.target, **_where(m.location)}
                  for m in plan.moves],
        "imports": [{"key": i.key, "number": i.number, "id": i.id, "title": i.title,
                     **_where(i.location)} for i in plan.imports],
        # What an apply of the saved plan needs to know its past periods' instances by.
        **({"recurring": sorted(plan.recurring)} if plan.recurring else {}),
    }


def _location(item: Mapping[str, Any]) -> Location | None:
    if item.get("file") is None:
        return None
    return Location(item["file"], item.get("line") or 1, item.get("col") or 1)


def plan_from_json(doc: Any) -> Plan:
    """The Plan of a plan document; :class:`PlanError` if it is not a valid one."""
    documents.check(doc, _FORMAT)
    return Plan(
        creates=tuple(Create(c["key"], c["body"], _location(c), c["parent"], c["status"],
                             c.get("origin"))
                      for c in doc["creates"]),
        updates=tuple(
            Update(u["key"], u["id"], tuple(u["fields"]), u["body"], _location(u),
                   tuple(u["conflicts"]), tuple(u["fixed"]), u["title"], u.get("number"),
                   u.get("url"), reopen=u["reopen"], values=_read_values(u))
            for u in doc["updates"]
        ),
        unchanged=doc["unchanged"],
        drift=tuple(Drift(d["key"], tuple(d["fields"]), _location(d), d["closed"], d["deleted"],
                          d["title"], d.get("number"), d.get("url"), _read_values(d),
                          d["status"]) for d in doc["drift"]),
        removals=tuple(Removal(r["key"], r["id"], Action(r["action"]), r["title"], r["number"],
                               r.get("url"), r["status"]) for r in doc["removals"]),
        updates_enabled=doc["updates_enabled"],
        max_creates=doc["max_creates"],
        max_removals=doc["max_removals"],
        lineage=doc["lineage"],
        serial=doc["serial"],
        inputs_digest=doc["inputs_digest"],
        refreshed=doc["refreshed"],
        full_refresh=doc.get("refresh") == "full",
        extra=doc.get("extra", {}),
        moves=tuple(Move(m["from"], m["to"], _location(m)) for m in doc.get("moves", ())),
        imports=tuple(Import(i["key"], i["number"], i["id"], _location(i), i["title"])
                      for i in doc.get("imports", ())),
        recurring=frozenset(doc.get("recurring", ())),
    )


def dump_plan(plan: Plan) -> str:
    """The plan document as text: deterministic (sorted keys, 2-space indent)."""
    return json.dumps(plan_to_json(plan), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
