"""The plan ``ticketsync plan`` shows: what apply would do, read-only.

Apply's own order (lock, fold, read back, plan) lives in :mod:`ticketsync.run.workspace`;
a preview takes the same steps without the lock and without writing anything: the state
with a crashed apply's journal folded in (in memory), read back when asked, then the plan
built as apply builds it (:func:`ticketsync.run.workspace.plan_for`).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace

from ticketsync.declare.config import Config
from ticketsync.model import Body, Plan, Project, State
from ticketsync.stackone.api import TicketApi
from ticketsync.state.file import new_state

__all__ = ["declared_bodies", "preview_plan", "preview_state"]


def preview_state(config: Config, *, sandbox: bool) -> State | None:
    """The state a preview compares with: the state file with a crashed apply's journal
    folded in (read-only: what that run created must not show as "to create" again).
    None: there is no state file (apply refuses then; a preview plans every ticket)."""
    from ticketsync.run.workspace import Workspace

    workspace = Workspace(config, sandbox=sandbox)
    return workspace.read() if workspace.exists() else None


def preview_plan(config: Config, project: Project, state: State | None, *,
                 api: TicketApi | None = None, full: bool = False) -> Plan:
    """``project``'s plan against ``state`` (None: no state file), read back first through
    ``api`` when given (``full``: deletions looked for too)."""
    from ticketsync.run.workspace import plan_for, read_back, read_imports

    if state is None:
        # No lineage: a plan saved now can never be applied to a state made later. Nothing
        # is tracked, so a read-back has nothing to read (its window starts at written_at).
        state, tracked = replace(new_state(config.account_id), lineage="", written_at=""), False
    else:
        tracked = True
    imported = None
    if api is not None:
        if tracked:
            state = read_back(api, state, project=project, marker=config.marker_field,
                              full=full)[0]
        if project.imports:  # declared imports: their changes are known once read
            imported = read_imports(api, state, project, account=config.account_id)
    plan = plan_for(config, project, state, refreshed=api is not None, imported=imported)
    return replace(plan, full_refresh=full and api is not None)


def declared_bodies(config: Config, keys: Collection[str], state: State) -> dict[str, Body]:
    """The create bodies of the untracked ``keys`` as ``config``'s project declares them
    (``state import`` records one as last applied, so the next plan shows no change);
    none when the project does not load: its files need not be valid, nor exist."""
    from ticketsync.declare.loader import load_project
    from ticketsync.errors import ConfigError, InputError
    from ticketsync.plan.build import create_for

    try:
        project = load_project(config)
    except (InputError, ConfigError):
        return {}
    return {key: create_for(project.tickets[key], project, state).body
            for key in sorted(keys) if key in project.tickets and key not in state.tickets}
