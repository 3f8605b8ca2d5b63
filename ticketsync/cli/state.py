"""`ticketsync state`: inspect and repair the state file.

Every command that writes holds the state lock and writes atomically, like apply does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from ticketsync.cli.common import get_config, sandbox_option

if TYPE_CHECKING:
    from ticketsync.config import Config
    from ticketsync.state import State

KEY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@click.group()
def state() -> None:
    """Inspect and repair the state file (which tickets exist, with their ids).

    \b
    Example: ticketsync state mv old-key new-key
    """


def _read(ctx: click.Context, sandbox: bool) -> tuple[Config, State]:
    """The state with a crashed apply's journal folded in (read-only), as apply would see it."""
    from ticketsync.recovery import load_effective_state

    config = get_config(ctx, sandbox=sandbox)
    return config, load_effective_state(config.state_path, account_id=config.account_id)


@contextmanager
def locked_state(
    ctx: click.Context, sandbox: bool, command: str
) -> Iterator[tuple[Config, State, Callable[[State], State]]]:
    """Hold the lock, read the state, and hand over a function that writes the new one.

    The state is read *after* the lock is taken: read before, it could be overwritten by
    a concurrent apply's newer state. A crashed apply's journal is folded in first and
    compacted after the write, so a journaled ticket can neither be lost nor come back
    after `state rm`; its still-uncertain intents stay in the journal.
    """
    from ticketsync.journal import journal_path_for
    from ticketsync.lock import StateLock
    from ticketsync.recovery import commit_state, recover
    from ticketsync.state import read_state

    config = get_config(ctx, sandbox=sandbox)
    path = config.state_path
    journal_path = journal_path_for(path)

    def warn(message: str) -> None:
        click.echo(f"Warning: {message}", err=True)

    with StateLock(path, command=command, on_stale=warn):
        current, uncertain = recover(
            read_state(path, account_id=config.account_id), journal_path
        )

        def write(new: State) -> State:
            # A key with an open intent may already exist remotely: tracking another ticket
            # under it would strand that one (and with a marker, two tickets would carry it).
            pending = sorted(
                i.key for i in uncertain if i.key in new.tickets and i.key not in current.tickets
            )
            if pending:
                from ticketsync.errors import StateError

                raise StateError(
                    f"{pending[0]}: an interrupted apply left a create of it whose outcome is "
                    "unknown: run `ticketsync apply` first to settle it, then try again"
                )
            return commit_state(path, new, uncertain)

        yield config, current, write


@state.command("list")
@sandbox_option
@click.pass_context
def list_(ctx: click.Context, sandbox: bool) -> None:
    """List the tracked tickets: key, StackOne id, provider id, creation time.

    \b
    Example: ticketsync state list
    """
    _, current = _read(ctx, sandbox)
    for key in sorted(current.tickets):
        entry = current.tickets[key]
        click.echo(f"{key}\t{entry.id}\t{entry.remote_id or '-'}\t{entry.created_at}")


@state.command()
@click.argument("key")
@sandbox_option
@click.pass_context
def show(ctx: click.Context, key: str, sandbox: bool) -> None:
    """Show what the state records for KEY, as JSON.

    \b
    Example: ticketsync state show prod-outage
    """
    from ticketsync.errors import StateError

    _, current = _read(ctx, sandbox)
    entry = current.tickets.get(key)
    if entry is None:
        raise StateError(f"{key!r} is not in the state (see `ticketsync state list`)")
    doc = {"key": key, **entry.to_json()}
    click.echo(json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False))


@state.command()
@click.argument("key")
@sandbox_option
@click.pass_context
def rm(ctx: click.Context, key: str, sandbox: bool) -> None:
    """Forget KEY: the remote ticket is left as it is, the state no longer tracks it.

    If KEY is still declared, the next apply creates it again (use `state mv` for a
    renamed key).

    \b
    Example: ticketsync state rm prod-outage
    """
    from ticketsync.state import without

    with locked_state(ctx, sandbox, f"ticketsync state rm {key}") as (_, current, write):
        entry = current.tickets.get(key)
        write(without(current, key))
    assert entry is not None  # without() raised otherwise
    click.echo(f"Removed {key} (id {entry.id}) from the state; the remote ticket is untouched.")


@state.command()
@click.argument("old")
@click.argument("new")
@sandbox_option
@click.pass_context
def mv(ctx: click.Context, old: str, new: str, sandbox: bool) -> None:
    """Track the ticket of OLD under the key NEW (after renaming a key in a file).

    \b
    Example: ticketsync state mv prod-outage checkout-outage
    """
    from ticketsync.state import renamed

    if not KEY_PATTERN.match(new):
        raise click.BadParameter(
            f"{new!r} is not a valid key (letters, digits, '.', '_', '-'; up to 128)",
            param_hint="NEW",
        )
    if old == new:
        raise click.BadParameter(
            f"{new!r} is OLD itself: nothing to move (NEW is the key's new name)",
            param_hint="NEW",
        )
    with locked_state(ctx, sandbox, f"ticketsync state mv {old} {new}") as (_, current, write):
        write(renamed(current, old, new))
    click.echo(f"Moved {old} to {new} in the state.")


@state.command("import")
@click.argument("key")
@click.argument("ticket_id", metavar="ID")
@sandbox_option
@click.pass_context
def import_(ctx: click.Context, key: str, ticket_id: str, sandbox: bool) -> None:
    """Track the existing remote ticket ID as KEY (after an ambiguous reconciliation).

    The ticket is fetched first, so a mistyped id is refused. Its recorded body is KEY's
    declaration if KEY is declared (so the next plan shows no change), else empty.

    \b
    Example: ticketsync state import prod-outage 8187e5da-dc77-475e-9949-af0f1fa4e4e3
    """
    from ticketsync.cli.apply import import_ticket  # owns the API client and the journal

    if not KEY_PATTERN.match(key):
        raise click.BadParameter(
            f"{key!r} is not a valid key (letters, digits, '.', '_', '-'; up to 128)",
            param_hint="KEY",
        )
    import_ticket(ctx, key, ticket_id, sandbox=sandbox)


COMMANDS: list[click.Command] = [state]
