"""`ticketsync apply`: show the plan, ask, create what is missing, record every id.

The order of the steps is the safety argument, so it is spelled out in :func:`apply`:
lock, read the state, fold the journal of a previous run, plan, refuse what must be
refused *before* anything is sent, then apply with every id journaled, and finally write
the state file once and compact the journal. Whatever happens in between, the state file
on disk stays a complete document and the journal holds what it does not.
"""

from __future__ import annotations

import os
import secrets
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, TextIO

import click

from ticketsync.cli.common import get_config, load_tickets, paths_argument, sandbox_option

if TYPE_CHECKING:
    from ticketsync.api import TicketApi
    from ticketsync.apply import ApplyResult, Event
    from ticketsync.config import Config
    from ticketsync.model import Plan, Project
    from ticketsync.state import State

KEY_VARIABLE = "STACKONE_API_KEY"


def is_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is a terminal (a function of its own so tests can pretend)."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def read_api_key() -> str:
    """The key from ``STACKONE_API_KEY``, else a hidden prompt on a terminal, else an error."""
    key = os.environ.get(KEY_VARIABLE, "").strip()
    if key:
        return key
    if is_terminal(sys.stdin):
        return str(click.prompt("StackOne API key", hide_input=True)).strip()
    from ticketsync.errors import ConfigError

    raise ConfigError(
        f"no API key: set {KEY_VARIABLE} (the key is never read from a file), "
        "or use --sandbox to try ticketsync locally"
    )


@contextmanager
def open_api(config: Config, *, sandbox: bool) -> Iterator[TicketApi]:
    """A client for the run: StackOne, or an in-process sandbox on a loopback port.

    The sandbox gets a random key for this run only: nothing to configure, nothing to leak.
    ``requests`` is imported here, never by ``validate`` or ``plan``.
    """
    from dataclasses import replace

    from ticketsync.client import make_client

    if not sandbox:
        client = make_client(config, read_api_key())
        try:
            yield client
        finally:
            client.close()
        return
    from ticketsync.sandbox import start_sandbox

    key = secrets.token_urlsafe(24)
    config.sandbox_db.parent.mkdir(parents=True, exist_ok=True)
    with start_sandbox(config.sandbox_db, api_key=key) as server:
        client = make_client(replace(config, base_url=server.url), key)
        try:
            yield client
        finally:
            client.close()


def read_or_start_state(config: Config, *, sandbox: bool) -> State:
    """The state file, refused if absent, except the sandbox's own, made on first use."""
    from ticketsync.state import new_state, read_state, write_state

    path = config.state_path
    if sandbox and not path.exists():  # elsewhere read_state refuses: run `ticketsync init`
        path.parent.mkdir(parents=True, exist_ok=True)
        write_state(path, new_state(config.account_id))
    return read_state(path, account_id=config.account_id)


def save_state(path: Path, base: State) -> State:
    """Fold the journal into ``base``, write the state file, then compact the journal.

    The order matters: the journal loses records only once the state file holding them is
    durably in place (``write_state`` fsyncs and renames atomically). The state is dated
    no later than the oldest intent left open: CI commits the state without the journal,
    and the next run's lookup must still reach back to that create (see
    :func:`ticketsync.recovery.state_written_at`).
    """
    from ticketsync.journal import journal_path_for
    from ticketsync.recovery import commit_state, compact, recover

    journal_path = journal_path_for(path)
    folded, uncertain = recover(base, journal_path)
    if folded.tickets != base.tickets:
        return commit_state(path, folded, uncertain)
    compact(journal_path, uncertain)
    return base


class Progress:
    """Prints events: a live line (count, rate, ETA) on a terminal, one line per ticket else."""

    def __init__(self, total: int, *, live: bool, clock: Callable[[], float] = time.monotonic):
        self.total, self.live, self.clock = total, live, clock
        self.done = 0
        self.started = clock()
        self._shown = False

    def __call__(self, event: Event) -> None:
        if event.kind in ("created", "adopted", "updated", "failed", "skipped"):
            self.done += 1
        line = self._line(event)
        if self.live:
            self._clear()
            if line and event.kind != "created":  # every ticket on a terminal would scroll
                click.echo(line)
            self._draw()
        elif line:
            click.echo(line)

    def _line(self, event: Event) -> str:
        if event.kind == "created":
            return f"created {event.key} (id {event.id})"
        if event.kind == "updated":
            return f"updated {event.key} (id {event.id})"
        if event.kind == "interrupted":
            return "Interrupted: no new requests; waiting for the ones in flight..."
        return event.message

    def _draw(self) -> None:
        elapsed = max(self.clock() - self.started, 1e-6)
        rate = self.done / elapsed
        left = self.total - self.done
        eta = f"{left / rate:.0f}s" if rate > 0 else "?"
        click.echo(f"\r[{self.done}/{self.total}] {rate:.1f}/s, ETA {eta}", nl=False)
        self._shown = True

    def _clear(self) -> None:
        if self._shown:
            click.echo("\r\x1b[2K", nl=False)
            self._shown = False

    def finish(self) -> None:
        if self.live:
            self._clear()


def summary(result: ApplyResult) -> str:
    """``Apply complete: N created, M updated, K failed.`` (+ adopted, skipped, left)."""
    adopted = f", {result.adopted} adopted" if result.adopted else ""
    counts = f"{result.created} created{adopted}, {result.updated} updated, {result.failed} failed"
    extra = f"; {result.skipped} skipped (their parent failed)" if result.skipped else ""
    if result.interrupted:
        return (
            f"Apply interrupted: {counts}{extra}; {result.not_started} not started: "
            "run `ticketsync apply` again to finish."
        )
    if result.not_started:
        extra += f"; {result.not_started} not started"
    return f"Apply complete: {counts}{extra}."


@contextmanager
def stop_on_ctrl_c(stop: threading.Event | None) -> Iterator[None]:
    """Turn the first Ctrl-C into ``stop.set()``; a second one interrupts at once.

    A KeyboardInterrupt can land anywhere, even between a journal write and its fsync,
    which would cut the run short of recording its requests in flight. A flag is only
    looked at between steps, so the run stops submitting and drains cleanly.
    """
    if stop is None or threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def choose_plan(
    config: Config, project: Project, on_disk: State, state: State, plan_file: str | None
) -> Plan:
    """The plan to apply: built from the recovered ``state``, or ``--plan FILE`` if current.

    A saved plan is checked against the state file it was made from (``on_disk``); the
    tickets the journal shows as created since are dropped from it, never re-sent.
    """
    from dataclasses import replace

    from ticketsync.plan import build_plan

    if plan_file is None:
        return build_plan(project, state, updates=config.updates, max_creates=config.max_creates)
    from ticketsync.planfile import check_plan_current, load_plan

    plan = load_plan(Path(plan_file))
    check_plan_current(plan, on_disk, project, plan_path=plan_file)
    return replace(plan, creates=tuple(c for c in plan.creates if c.key not in state.tickets))


def _confirm() -> None:
    if not is_terminal(sys.stdin):
        from ticketsync.errors import PlanError

        raise PlanError("stdin is not a terminal: pass --yes to apply without asking")
    if not click.confirm("Apply this plan?", default=False):
        click.echo("Apply cancelled: nothing was changed.", err=True)
        raise click.exceptions.Exit(1)


@click.command()
@paths_argument
@click.option("--plan", "plan_file", type=click.Path(dir_okay=False), default=None,
              help="Apply a plan saved by `ticketsync plan --out FILE` (refused if stale).")
@click.option("--yes", "-y", is_flag=True, help="Apply without asking.")
@click.option("--force", is_flag=True, help="Apply even a plan creating more than max_creates.")
@sandbox_option
@click.option("--rate-limit", type=click.IntRange(1), default=None, metavar="N",
              help="Requests per minute for the whole run (default: rate_limit, 900).")
@click.option("--concurrency", type=click.IntRange(1, 64), default=None, metavar="N",
              help="Requests in flight at once (default: concurrency, 16).")
@click.pass_context
def apply(
    ctx: click.Context,
    *,
    paths: tuple[str, ...],
    plan_file: str | None,
    yes: bool,
    force: bool,
    sandbox: bool,
    rate_limit: int | None,
    concurrency: int | None,
) -> None:
    """Create the missing tickets (after showing the plan and asking), recording each id.

    Safe to re-run after any failure: a create whose answer was lost is looked up remotely
    before anything is resent, and tickets created by a run that lost its working folder
    are found and adopted. Exits 1 if any ticket failed.

    Example: STACKONE_API_KEY=... ticketsync apply --yes
    """
    from dataclasses import replace

    from ticketsync import render
    from ticketsync.apply import ApplyOptions, apply_plan
    from ticketsync.cli import EXIT_ERROR, EXIT_INTERRUPTED
    from ticketsync.errors import PlanError
    from ticketsync.journal import Journal, journal_path_for
    from ticketsync.lock import StateLock
    from ticketsync.plan import over_max_creates
    from ticketsync.recovery import recover

    config = get_config(ctx, sandbox=sandbox)
    config = replace(
        config,
        rate_limit=rate_limit or config.rate_limit,
        concurrency=concurrency or config.concurrency,
    )
    project = load_tickets(ctx, config, paths)  # bad input: refused before anything else
    path = config.state_path
    if sandbox:
        path.parent.mkdir(parents=True, exist_ok=True)

    def warn(message: str) -> None:
        click.echo(f"Warning: {message}", err=True)

    with StateLock(path, on_stale=warn):
        on_disk = read_or_start_state(config, sandbox=sandbox)
        # A previous run's journal first: what it created is tracked, what it left
        # uncertain is looked up before anything is sent again.
        state, uncertain = recover(on_disk, journal_path_for(path))
        plan = choose_plan(config, project, on_disk, state, plan_file)
        if over_max_creates(plan) and not force:
            click.echo(render.render_text(plan), nl=False)
            raise PlanError(
                f"{render.brake_message(plan)}: check the plan, then run again with --force "
                "(or raise max_creates in ticketsync.yaml)"
            )
        if not plan.has_changes and not uncertain:
            click.echo(render.render_text(plan), nl=False)
            save_state(path, on_disk)  # still record what a killed run journaled
            return
        # Key, account and base_url are checked before the plan is shown: a plan followed
        # by "no API key" reads as if it had been half applied.
        with open_api(config, sandbox=sandbox) as api:
            click.echo(render.render_text(plan), nl=False)
            if plan.has_changes and not yes:
                _confirm()
            total = len(plan.creates) + (len(plan.updates) if plan.updates_enabled else 0)
            progress = Progress(total, live=is_terminal(sys.stdout))
            options = ApplyOptions(
                concurrency=config.concurrency,
                marker_field=config.marker_field,
                reconcile_delay=0.0 if sandbox else ApplyOptions.reconcile_delay,
                stop=threading.Event(),
            )
            try:
                with Journal(journal_path_for(path)) as journal, stop_on_ctrl_c(options.stop):
                    result = apply_plan(
                        plan, api, journal, state,
                        uncertain=uncertain, options=options, on_event=progress,
                    )
            finally:
                progress.finish()
                # Reached on errors and Ctrl-C too: whatever was journaled gets recorded.
                save_state(path, on_disk)
    click.echo(summary(result))
    if result.interrupted:
        ctx.exit(EXIT_INTERRUPTED)
    if not result.ok:
        ctx.exit(EXIT_ERROR)


def import_ticket(ctx: click.Context, key: str, ticket_id: str, *, sandbox: bool) -> None:
    """``ticketsync state import KEY ID``: fetch the ticket, then track it as KEY.

    Lives here because it needs what apply has: the API client, the journal folding, and
    the declared body (recorded as ``applied``, so the next plan shows no change).
    """
    from ticketsync.errors import NotFoundError, StateError
    from ticketsync.journal import journal_path_for
    from ticketsync.loader import load_project
    from ticketsync.lock import StateLock
    from ticketsync.plan import build_plan
    from ticketsync.recovery import commit_state, recover
    from ticketsync.state import StateEntry, with_entry

    config = get_config(ctx, sandbox=sandbox)
    project = load_project(config)
    path = config.state_path
    with StateLock(path, command=f"ticketsync state import {key} {ticket_id}"):
        on_disk = read_or_start_state(config, sandbox=sandbox)
        journal_path = journal_path_for(path)
        state, uncertain = recover(on_disk, journal_path)
        if key in state.tickets:
            raise StateError(
                f"{key} is already tracked as {state.tickets[key].id}: run "
                f"`ticketsync state rm {key}` first if that is wrong"
            )
        owner = next((k for k, e in state.tickets.items() if e.id == ticket_id), None)
        if owner is not None:
            raise StateError(f"{ticket_id} is already tracked as {owner}: one ticket, one key")
        with open_api(config, sandbox=sandbox) as api:
            try:
                remote = api.get_ticket(ticket_id)
            except NotFoundError as exc:
                raise StateError(
                    f"{exc}: ID is StackOne's ticket id (the `id` of the ticket, as `state "
                    "list` shows them), not the provider's key such as PROJ-123"
                ) from None
        plan = build_plan(project, state)
        applied = next((dict(c.body) for c in plan.creates if c.key == key), {})
        remote_id, created_at = remote.get("remote_id"), remote.get("created_at")
        entry = StateEntry(
            id=ticket_id,
            remote_id=remote_id if isinstance(remote_id, str) else None,
            created_at=created_at if isinstance(created_at, str) else "",
            applied=applied,
        )
        left_open = [intent for intent in uncertain if intent.key != key]
        commit_state(path, with_entry(state, key, entry), left_open)
    declared = "" if applied else f" ({key} is not declared in any ticket file)"
    click.echo(f"Imported {ticket_id} as {key}{declared}.")


COMMANDS: list[click.Command] = [apply]
