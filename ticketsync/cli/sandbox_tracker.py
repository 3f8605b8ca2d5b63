"""``ticketsync sandbox edit|close|delete|reset``: the sandbox plays the tracker.

What a person does in Jira between two runs (reassign a ticket, close it, delete it), done
to the sandbox's database directly: it works whether a ``ticketsync sandbox`` serves it or
not (SQLite in WAL mode takes a second writer), and every change moves the ticket's
``updated_at``, so the next read-back sees it as a tracker edit.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ticketsync.cli.common import get_config, shown

if TYPE_CHECKING:
    from ticketsync.sandbox import StoredTicket, TicketStore

F = TypeVar("F", bound=Callable[..., Any])
_DB_HELP = "SQLite file of the tickets (default: .ticketsync/sandbox.db in the project)."


def _db_option(func: F) -> F:
    return click.option("--db", "db", type=click.Path(dir_okay=False, path_type=Path),
                        default=None, help=_DB_HELP)(func)


@contextmanager
def _store(ctx: click.Context, db: Path | None) -> Iterator[TicketStore]:
    from ticketsync.errors import ConfigError
    from ticketsync.sandbox import TicketStore

    given = db or (ctx.parent.params.get("db") if ctx.parent else None)  # sandbox --db X edit
    path = Path(given) if given else get_config(ctx).sandbox_db
    if not path.exists():
        raise ConfigError(f"{shown(path)}: no sandbox here yet: `ticketsync apply --sandbox` "
                          "makes it (or give its file with --db FILE)")
    with TicketStore(path) as store:
        yield store


def _sandbox_keys(ctx: click.Context) -> dict[str, tuple[str, str | None]]:
    """The keys of the project's sandbox state: key -> (id, number)."""
    from ticketsync.run.workspace import Workspace

    workspace = Workspace(get_config(ctx, sandbox=True), sandbox=True)
    if not workspace.exists():
        return {}
    return {key: (entry.id, entry.ticket_number or entry.remote_id)
            for key, entry in workspace.read().tickets.items()}


def _find(ctx: click.Context, store: TicketStore, which: str) -> tuple[StoredTicket, str]:
    """The ticket ``which`` names (a number like SBX-3, a key of the sandbox state, or an
    id), and how to show it (``SBX-3 (key)``)."""
    from ticketsync.errors import NotFoundError

    keys = _sandbox_keys(ctx)
    owner = {ticket_id: key for key, (ticket_id, _) in keys.items()}
    ticket = store.get_number(which) or (store.get(keys[which][0]) if which in keys else None)
    ticket = ticket or store.get(which)
    if ticket is not None:
        key = owner.get(ticket.id)
        return ticket, f"{ticket.remote_id} ({key})" if key else ticket.remote_id
    numbers = {(number or "").upper(): key for key, (_, number) in keys.items()}
    key = which if which in keys else numbers.get(which.strip().upper())
    if key is not None:
        number = keys[key][1] or keys[key][0]
        raise NotFoundError(f"{number} ({key}) is not in the sandbox any more: it was "
                            "deleted (`ticketsync plan --sandbox --refresh=full` reports it)")
    import difflib

    near = difflib.get_close_matches(which, list(keys), n=1)
    hint = f"did you mean {near[0]!r}? " if near else ""
    raise NotFoundError(f"{which!r} names no ticket of the sandbox: {hint}give a key of the "
                        "sandbox state (`ticketsync state list --sandbox`) or a number like "
                        "SBX-3")


@click.command()
@click.argument("which", metavar="KEY_OR_NUMBER")
@click.argument("assignments", metavar="FIELD=VALUE...", nargs=-1, required=True)
@_db_option
@click.pass_context
def edit(ctx: click.Context, which: str, assignments: tuple[str, ...], db: Path | None) -> None:
    """Edit a ticket in the sandbox as a person would in the tracker.

    KEY_OR_NUMBER: a key of the sandbox state or a number (SBX-3). FIELD: title,
    description, priority (lowest...highest), assignees and tags (comma lists), status (a
    status name: To Do, In Progress, In Review, Done, Won't Do) or
    unified_custom_fields.KEY. An empty VALUE clears the field.

    \b
    Example: ticketsync sandbox edit rotate-db-credentials assignees=user-042 priority=low
    """
    from ticketsync.sandbox.shapes import tracker_edit

    with _store(ctx, db) as store:
        ticket, name = _find(ctx, store, which)
        changes, problems = tracker_edit(ticket.fields, assignments)
        if problems:
            raise click.BadParameter("; ".join(problems), param_hint="FIELD=VALUE")
        store.edit(ticket.id, changes)
    fields = sorted({text.partition("=")[0].strip() for text in assignments})
    click.echo(f"Edited {name} in the sandbox: {', '.join(fields)}.")


@click.command()
@click.argument("which", metavar="KEY_OR_NUMBER")
@click.option("--status", "status_name", metavar="NAME", default=None,
              help="The closed status to set (default: the first one, Done).")
@_db_option
@click.pass_context
def close(ctx: click.Context, which: str, status_name: str | None, db: Path | None) -> None:
    """Close a ticket in the sandbox as a person would in the tracker.

    \b
    Example: ticketsync sandbox close SBX-3 --status "Won't Do"
    """
    from ticketsync.sandbox.shapes import WORKFLOW, find_status

    closed = [name for name, kind in WORKFLOW if kind == "closed"]
    with _store(ctx, db) as store:
        ticket, name = _find(ctx, store, which)
        status = find_status(ticket.fields, status_name or closed[0])
        if status is None or status["type"]["value"] != "closed":
            raise click.BadParameter(f"{status_name!r} is not a closed status (one of "
                                     f"{', '.join(closed)})", param_hint="--status")
        store.edit(ticket.id, {"status": status})
    click.echo(f"Closed {name} in the sandbox: {status['name']}.")


@click.command()
@click.argument("which", metavar="KEY_OR_NUMBER", nargs=-1, required=True)
@_db_option
@click.pass_context
def delete(ctx: click.Context, which: tuple[str, ...], db: Path | None) -> None:
    """Delete tickets in the sandbox as a person would in the tracker.

    An apply never re-creates a tracked ticket deleted there: `ticketsync plan --sandbox
    --refresh=full` reports it (`? deleted KEY`).

    \b
    Example: ticketsync sandbox delete rotate-db-credentials
    """
    with _store(ctx, db) as store:
        found = [_find(ctx, store, one) for one in which]  # all named, or nothing deleted
        for ticket, name in found:
            store.delete(ticket.id)
            click.echo(f"Deleted {name} in the sandbox.")


@click.command()
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@_db_option
@click.pass_context
def reset(ctx: click.Context, yes: bool, db: Path | None) -> None:
    """Empty the sandbox: delete its tickets and forget its state, for a fresh start.

    The next `ticketsync apply --sandbox` creates every declared ticket again, numbered
    from SBX-1. Ticket links keep their address.

    \b
    Example: ticketsync sandbox reset --yes
    """
    from ticketsync.state.journal import journal_path_for
    from ticketsync.state.lock import StateLock

    config = get_config(ctx, sandbox=True)
    state_path = config.state_path
    with _store(ctx, db) as store:
        count = len(store)
        if not yes:
            from ticketsync.cli.apply import is_terminal
            from ticketsync.errors import PlanError

            if not is_terminal(sys.stdin):
                raise PlanError("stdin is not a terminal: pass --yes to reset the sandbox")
            if not click.confirm(f"Delete the {count} tickets of the sandbox and forget its "
                                 "state?", default=False):
                click.echo("Reset cancelled: nothing was changed.", err=True)
                raise click.exceptions.Exit(1)
        # The lock: an apply --sandbox running now must not write the state back after.
        state_path.parent.mkdir(parents=True, exist_ok=True)
        with StateLock(state_path, command="ticketsync sandbox reset"):
            store.clear()
            for path in (state_path, journal_path_for(state_path)):
                path.unlink(missing_ok=True)
    click.echo(f"Reset the sandbox: {count} tickets deleted, {shown(state_path)} removed.")


TRACKER_COMMANDS: list[click.Command] = [edit, close, delete, reset]
