"""`ticketsync apply`: show the plan, ask, create what is missing, record every id.

The order of the steps is the safety argument; it lives in :mod:`ticketsync.run.workspace`
(lock, read, fold the journal, plan, brake, apply, commit). This module prompts and prints.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ticketsync.cli.common import (
    get_config,
    is_terminal,
    load_tickets,
    open_api,
    paths_argument,
    projects_option,
    sandbox_hints,
    sandbox_option,
)
from ticketsync.cli.live import LiveLine
from ticketsync.cli.when import at_server_time, now_option, skipped_lines

# is_terminal is re-exported: the commands look it up here when they run (tests pretend).
__all__ = ["COMMANDS", "Applied", "Progress", "apply", "apply_document", "apply_project",
           "import_tickets", "is_terminal", "plan_directory", "summary"]

if TYPE_CHECKING:
    from ticketsync.declare.config import Config
    from ticketsync.declare.directory import Directory
    from ticketsync.model import Plan, State
    from ticketsync.run.apply import ApplyResult, Event



class Progress:
    """Prints events: a live line (count, rate, ETA) on a terminal, one line per ticket else."""

    def __init__(self, total: int, *, live: bool, clock: Callable[[], float] = time.monotonic,
                 err: bool = False, hints: Callable[[str], str] = str):
        self.total, self.clock = total, clock
        self.hints = hints  # --sandbox: a hint followed as printed acts on the sandbox
        # --format json: stdout is the document's alone
        self.line = LiveLine(live=live, err=err)
        self.done = 0
        self.started = clock()

    def __call__(self, event: Event) -> None:
        from ticketsync.run.events import FATES

        if event.kind in FATES:  # a ticket's fate: one of the plan's work done
            self.done += 1
        line = self.hints(self._line(event))
        live = self.line.live
        if line and not (live and event.kind == "created"):  # on a terminal they would scroll
            self.line.echo(line)
        if live:
            self._draw()

    def _line(self, event: Event) -> str:
        if event.kind == "created":
            return f"created {event.key} (id {event.id})"
        if event.kind in ("updated", "closed"):
            return f"{event.kind} {event.key} (id {event.id})"
        if event.kind == "forgotten":
            return f"forgot {event.key} (id {event.id}; the ticket is left as it is)"
        if event.kind == "interrupted":
            return "Interrupted: no new requests; waiting for the ones in flight..."
        return event.message

    def _draw(self) -> None:
        elapsed = max(self.clock() - self.started, 1e-6)
        rate = self.done / elapsed
        left = self.total - self.done
        eta = f"{left / rate:.0f}s" if rate > 0 else "?"
        self.line.draw(f"[{self.done}/{self.total}] {rate:.1f}/s, ETA {eta}")

    def finish(self) -> None:
        self.line.clear()


def summary(result: ApplyResult) -> str:
    """``Apply complete: N created, M updated, K failed.`` (+ adopted, skipped, left)."""
    adopted = f", {result.adopted} adopted" if result.adopted else ""
    counts = f"{result.created} created{adopted}, {result.updated} updated"
    counts += "".join(f", {n} {what}" for n, what in (
        (result.closed, "closed"), (result.forgotten, "forgotten"),
        (result.settled, "settled")) if n)
    counts += "".join(f", {n} {what}" for n, what in (
        (result.moved, "moved"), (result.imported, "imported")) if n)
    counts += f", {result.failed} failed"
    extra = f"; {result.skipped} skipped (their parent failed)" if result.skipped else ""
    if result.unsettled:
        extra += (f"; {result.unsettled} sent without an answer yet (the next apply looks "
                  "them up before sending anything again)")
    if result.interrupted:
        return (
            f"Apply interrupted: {counts}{extra}; {result.not_started} not started: "
            "run `ticketsync apply` again to finish."
        )
    if result.halted:
        return (
            f"Apply stopped: {counts}{extra}; {result.not_started} not started, because "
            f"{result.halted.rstrip('.')}."
        )
    if result.not_started:
        extra += f"; {result.not_started} not started"
    return f"Apply complete: {counts}{extra}."


def _confirm() -> None:
    if not is_terminal(sys.stdin):
        from ticketsync.errors import PlanError

        raise PlanError("stdin is not a terminal: pass --yes to apply without asking")
    if not click.confirm("Apply this plan?", default=False):
        click.echo("Apply cancelled: nothing was changed.", err=True)
        raise click.exceptions.Exit(1)


@dataclass
class Applied:
    """What one project's apply did: the plan, the result, the events of each ticket, the
    state as committed, and where that state lives."""

    plan: Plan
    result: ApplyResult
    events: list[Event]
    state: State
    state_path: Path


@click.command()
@paths_argument
@click.option("--plan", "plan_file", type=click.Path(dir_okay=False), default=None,
              help="Apply a plan saved by `ticketsync plan --out FILE` (refused if stale).")
@click.option("--yes", "-y", is_flag=True, help="Apply without asking.")
@click.option("--force", is_flag=True,
              help="Apply even a plan creating more than max_creates or closing more than "
                   "max_removals.")
@click.option("--overwrite", is_flag=True,
              help="Send the files' value of a field changed in the tracker too (a conflict).")
@click.option("--refresh", type=click.Choice(("changed", "full")), default="changed",
              is_flag=False, flag_value="changed",
              metavar="[=full]",
              help="What is read back before the plan: changed (always: what the tracker "
                   "lists as updated since the last read-back); full also finds tickets "
                   "deleted there, at the cost of one complete listing or one GET per "
                   "tracked ticket, the cheaper.")
@sandbox_option
@click.option("--rate-limit", type=click.IntRange(1), default=None, metavar="N",
              help="Requests per minute for the whole run (default: rate_limit, 900).")
@click.option("--concurrency", type=click.IntRange(1, 256), default=None, metavar="N",
              help="At most N requests in flight (default: concurrency, auto: rate x latency).")
@click.option("--format", "fmt", type=click.Choice(("text", "json")), default="text",
              show_default=True,
              help="json: print the created, updated and failed tickets (ids, numbers, URLs) "
                   "as one JSON document on stdout, for the next CI step; the plan and the "
                   "progress go to stderr.")
@now_option
@projects_option
@click.pass_context
def apply(
    ctx: click.Context,
    *,
    paths: tuple[str, ...],
    plan_file: str | None,
    yes: bool,
    force: bool,
    overwrite: bool,
    refresh: str,
    sandbox: bool,
    rate_limit: int | None,
    concurrency: int | None,
    fmt: str,
    projects: tuple[str, ...],
) -> None:
    """Read the tracked tickets back, show the plan, ask, and apply it: create the missing
    tickets, update the changed ones (never over an edit made in the tracker), act on
    removed declarations; every id and change is recorded.

    Safe to re-run after any failure: a create whose answer was lost is looked up remotely
    before anything is resent, and tickets created by a run that lost its working folder
    are found and adopted. SIGINT or SIGTERM (how CI cancels a job) stops sending, waits
    briefly for requests in flight and writes the state file. Exits 1 if any ticket failed.
    With --projects, applies every project found, one after the other.

    Example: STACKONE_API_KEY=... ticketsync apply --yes
    """
    from ticketsync.cli import EXIT_ERROR, EXIT_INTERRUPTED

    err = fmt == "json"
    options = _RunOptions(plan_file, yes, force, overwrite, sandbox, rate_limit, concurrency,
                          err, full=refresh == "full")
    if projects:
        from ticketsync.cli.common import projects_summary, refuse_with_projects, run_projects

        refuse_with_projects(ctx, **{"PATH arguments": bool(paths),
                                     "--plan": plan_file is not None})
        runs = run_projects(
            ctx, projects, lambda run: apply_project(ctx, run.folder, (), options),
            before=lambda run: click.echo(f"== {run.name} ==", err=err),
            stop=lambda applied: applied.result.interrupted,
        )
        for run in runs:  # a partial apply: its tickets are recorded, the project failed
            if run.value is not None and not run.value.result.ok and run.error is None:
                run.error = summary(run.value.result)
        click.echo(projects_summary(runs, "applied"), err=err)
        if err:
            from ticketsync.run.report import projects_document

            click.echo(_dumps(projects_document([
                (run.name, run.error, None if run.value is None else apply_document(run.value))
                for run in runs])))
        if any(run.value is not None and run.value.result.interrupted for run in runs):
            ctx.exit(EXIT_INTERRUPTED)
        if any(run.error is not None for run in runs):
            ctx.exit(EXIT_ERROR)
        return
    applied = apply_project(ctx, None, paths, options)
    if err:
        click.echo(_dumps(apply_document(applied)))
    if applied.result.interrupted:
        ctx.exit(EXIT_INTERRUPTED)
    if not applied.result.ok:
        ctx.exit(EXIT_ERROR)


@dataclass(frozen=True)
class _RunOptions:
    plan_file: str | None
    yes: bool
    force: bool
    overwrite: bool
    sandbox: bool
    rate_limit: int | None
    concurrency: int | None
    err: bool  # human output to stderr (--format json)
    full: bool = False  # --refresh=full: deletions in the tracker looked for too


def apply_project(
    ctx: click.Context, folder: Path | None, paths: tuple[str, ...], run: _RunOptions
) -> Applied:
    """Apply one project (``folder``: a ``--projects`` folder; None: the usual one) and
    print what people read; raise what stops it before anything is sent."""
    from dataclasses import replace

    from ticketsync.cancel import stop_on_signals
    from ticketsync.errors import PlanError
    from ticketsync.plan import render
    from ticketsync.run.apply import ApplyOptions
    from ticketsync.run.workspace import Workspace
    from ticketsync.stackone.limiter import RateLimiter

    sandbox, err = run.sandbox, run.err
    hints = sandbox_hints if sandbox else str  # a hint followed must act on the sandbox
    config = get_config(ctx, sandbox=sandbox, folder=folder)
    config = replace(
        config,
        rate_limit=run.rate_limit or config.rate_limit,
        concurrency=run.concurrency or config.concurrency,
    )
    project = load_tickets(ctx, config, paths)  # bad input: refused before anything else

    def warn(message: str) -> None:
        click.echo(f"Warning: {message}", err=True)

    events: list[Event] = []
    workspace = Workspace(config, sandbox=sandbox)
    with workspace.session(on_warning=warn) as session:
        if run.plan_file is not None:  # a saved plan is refused before anything is read
            session.plan(project, plan_file=run.plan_file)
        # The key, account and base_url are checked before anything is shown: a plan
        # followed by "no API key" reads as if it had been half applied.
        limiter = RateLimiter(config.rate_limit)
        with open_api(config, sandbox=sandbox, limiter=limiter) as api:
            session.read_back(api, project=project, full=run.full)  # the tracker as it is now
            project = at_server_time(ctx, config, paths, project, api)
            plan = session.plan(project, plan_file=run.plan_file)
            refused = brake_message(plan, force=run.force)
            # As it will act: conflicts sent under --overwrite, ids named (issue #19).
            shown_plan = render.render_text(replace(plan, overwrite=run.overwrite),
                                            plan_directory(config, plan))
            click.echo(hints(shown_plan), nl=False, err=err)
            click.echo(skipped_lines(plan), nl=False, err=err)
            if refused is not None:
                raise PlanError(refused)
            if plan.has_changes and not run.yes:
                _confirm()
            progress = Progress(_work_count(plan), hints=hints,
                                live=is_terminal(sys.stderr if err else sys.stdout), err=err)
            stop = threading.Event()
            options = ApplyOptions(
                concurrency=config.concurrency,
                limiter=limiter,
                marker_field=config.marker_field,
                settle_delay=0.0 if sandbox else ApplyOptions.settle_delay,
                stop=stop,
                overwrite=run.overwrite,
            )

            def on_event(event: Event) -> None:
                events.append(event)
                progress(event)

            try:
                with stop_on_signals(stop, lambda: limiter.halt("the run was stopped")):
                    result = session.apply(plan, api, options=options, on_event=on_event)
            finally:
                progress.finish()
            numbers = _created_numbers(session.state, result.created_keys)
    if plan.has_changes or session.uncertain or result.adopted:
        click.echo(hints(summary(result)), err=err)
        if numbers:
            click.echo(numbers, err=err)
    return Applied(plan, result, events, session.state, config.state_path)


def brake_message(plan: Plan, *, force: bool) -> str | None:
    """Why apply refuses ``plan`` without ``--force`` (None: it does not)."""
    from ticketsync.plan import render
    from ticketsync.plan.build import over_max_creates, over_max_removals

    if force:
        return None
    if over_max_creates(plan):
        return (
            f"{render.brake_message(plan)}: check the plan, then run again with --force "
            "(or raise max_creates in ticketsync.yaml)"
        )
    if over_max_removals(plan):
        return (
            f"{render.removals_brake_message(plan)}: check the plan, then run again with "
            "--force (or raise max_removals in ticketsync.yaml)"
        )
    return None


def plan_directory(config: Config, plan: Plan) -> Directory | None:
    """The directory that names the ids a plan's changes show (people, projects, types,
    components); None when no change shows one, or there is no directory file (most plans
    do not pay for reading it twice)."""
    from ticketsync.declare.loader import resolver_for
    from ticketsync.plan.values import shows_ids

    return resolver_for(config, Path.cwd())[0].directory if shows_ids(plan) else None


def apply_document(applied: Applied) -> dict[str, Any]:
    """``apply --format json`` for one project (:func:`ticketsync.run.report.apply_document`)."""
    from ticketsync.cli.common import shown
    from ticketsync.run.report import apply_document as document

    return document(applied.result, applied.events, applied.state, shown(applied.state_path))


def _dumps(doc: dict[str, Any]) -> str:
    import json

    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False)


def _work_count(plan: Plan) -> int:
    return len(plan.creates) + len(plan.sendable) + len(plan.acting_removals)


def _created_numbers(state: State, keys: list[str], limit: int = 20) -> str:
    """``Created: PLAT-12 (outage), ...``: the tracker's numbers of the new tickets."""
    shown = [f"{state.tickets[k].ticket_number} ({k})" for k in sorted(keys)
             if k in state.tickets and state.tickets[k].ticket_number]
    if not shown:
        return ""
    more = f", and {len(shown) - limit} more" if len(shown) > limit else ""
    return f"Created: {', '.join(shown[:limit])}{more}."


def import_tickets(
    ctx: click.Context, pairs: list[tuple[str, str]], *, sandbox: bool
) -> None:
    """``ticketsync state import``: fetch each ticket, then track it under its key.

    Lives here because it needs what apply has: the API client. The body recorded as last
    applied is the key's declaration when a ticket file declares it (so the next plan shows
    no change); the project's other files need not be valid, nor exist.
    """
    from ticketsync.errors import NotFoundError, StateError
    from ticketsync.run.preview import declared_bodies
    from ticketsync.run.workspace import Workspace

    config = get_config(ctx, sandbox=sandbox)
    shown = " ".join(f"{key} {ticket_id}" for key, ticket_id in pairs[:3])
    workspace = Workspace(config, sandbox=sandbox)
    with (
        workspace.session(f"ticketsync state import {shown}") as session,
        open_api(config, sandbox=sandbox) as api,
    ):
        declared = declared_bodies(config, {key for key, _ in pairs}, session.state)
        try:
            session.import_tickets(pairs, api, lambda key, remote: declared.get(key, {}))
        except NotFoundError as exc:
            raise StateError(
                f"{exc}: ID is StackOne's ticket id (the `id` of the ticket, as `state "
                "list` shows them), not the provider's key such as PROJ-123"
            ) from None
    for key, ticket_id in pairs:
        note = "" if key in declared else f" ({key} is not declared in any ticket file)"
        click.echo(f"Imported {ticket_id} as {key}{note}.")


COMMANDS: list[click.Command] = [apply]
