"""`ticketsync state`: inspect and repair the state file.

Every command that writes holds the state lock and writes atomically, like apply does.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, TextIO

import click

from ticketsync.cli.common import get_config, sandbox_option

if TYPE_CHECKING:
    from ticketsync.run.workspace import Workspace


@click.group()
def state() -> None:
    """Inspect and repair the state file (which tickets exist, with their ids).

    \b
    Example: ticketsync state mv old-key new-key
    """


def _workspace(ctx: click.Context, sandbox: bool) -> Workspace:
    from ticketsync.run.workspace import Workspace

    return Workspace(get_config(ctx, sandbox=sandbox), sandbox=sandbox)


def _warn(message: str) -> None:
    click.echo(f"Warning: {message}", err=True)


def _check_key(key: str, hint: str) -> None:
    from ticketsync.model import KEY_RULE, is_valid_key

    if not is_valid_key(key):
        raise click.BadParameter(f"{key!r} is not a valid key ({KEY_RULE})", param_hint=hint)


@state.command("list")
@sandbox_option
@click.pass_context
def list_(ctx: click.Context, sandbox: bool) -> None:
    """List the tracked tickets, a line each, tab-separated: key, the tracker's number,
    status, StackOne id, URL ("-" where not known yet: they come with the next apply).
    On a terminal the number links to the ticket.

    \b
    Example: ticketsync state list
    """
    from ticketsync.cli.apply import is_terminal

    current = _workspace(ctx, sandbox).read()
    links = is_terminal(sys.stdout)
    for key in sorted(current.tickets):
        entry = current.tickets[key]
        number = entry.ticket_number or entry.remote_id or "-"
        if links and entry.ticket_url and entry.ticket_url.startswith(("https://", "http://")):
            number = f"\x1b]8;;{entry.ticket_url}\x1b\\{number}\x1b]8;;\x1b\\"  # OSC 8
        named = entry.status.get("name") if entry.status else None
        status = "deleted" if entry.deleted else named or "-"
        if entry.closed:
            status += " (closed by ticketsync)"
        click.echo(f"{key}\t{number}\t{status}\t{entry.id}\t{entry.ticket_url or '-'}")


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

    current = _workspace(ctx, sandbox).read()
    entry = current.tickets.get(key)
    if entry is None:
        raise StateError(f"{key!r} is not in the state (see `ticketsync state list`)")
    doc = {"key": key, **entry.to_json()}
    click.echo(json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False))


@state.command()
@click.argument("keys", nargs=-1, required=True, metavar="KEY...")
@sandbox_option
@click.pass_context
def rm(ctx: click.Context, keys: tuple[str, ...], sandbox: bool) -> None:
    """Forget KEY...: the remote tickets are left as they are, the state no longer tracks
    them. The state file is written once, whatever the number of keys.

    If a KEY is still declared, the next apply creates it again (use `state mv` for a
    renamed key).

    \b
    Example: ticketsync state rm prod-outage prod-outage-postmortem
    """
    from ticketsync.state.file import without

    unique = list(dict.fromkeys(keys))
    workspace = _workspace(ctx, sandbox)
    command = f"ticketsync state rm {' '.join(unique[:3])}{' ...' if len(unique) > 3 else ''}"
    with workspace.session(command, on_warning=_warn) as session:
        ids = {key: session.state.tickets[key].id for key in unique
               if key in session.state.tickets}
        session.edit(without(session.state, *unique))
    for key in unique:
        click.echo(f"Removed {key} (id {ids[key]}) from the state; the remote ticket is "
                   "untouched.")


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
    from ticketsync.state.file import renamed

    _check_key(new, "NEW")
    if old == new:
        raise click.BadParameter(
            f"{new!r} is OLD itself: nothing to move (NEW is the key's new name)",
            param_hint="NEW",
        )
    workspace = _workspace(ctx, sandbox)
    with workspace.session(f"ticketsync state mv {old} {new}", on_warning=_warn) as session:
        session.edit(renamed(session.state, old, new))
    click.echo(f"Moved {old} to {new} in the state.")


@state.command("import")
@click.argument("pairs", nargs=-1, metavar="[KEY ID]...")
@click.option("--file", "pairs_file", type=click.File("r", encoding="utf-8"), default=None,
              help="Read KEY ID pairs from FILE (one pair a line; '#' comments; - for stdin).")
@sandbox_option
@click.pass_context
def import_(
    ctx: click.Context, pairs: tuple[str, ...], pairs_file: TextIO | None,
    sandbox: bool,
) -> None:
    """Track existing remote tickets: each ID under its KEY (after an ambiguous
    reconciliation, or to adopt tickets made by hand). The state is written once.

    Every ticket is fetched first, so a mistyped id is refused before anything is written.
    The recorded body is KEY's declaration if a ticket file declares it (so the next plan
    shows no change), else empty; the other ticket files need not be valid.

    \b
    Example: ticketsync state import prod-outage 8187e5da-dc77-475e-9949-af0f1fa4e4e3
    """
    from ticketsync.cli.apply import import_tickets  # owns the API client

    words = list(pairs)
    where = "arguments"
    if pairs_file is not None:
        where = pairs_file.name
        for line in pairs_file:
            words.extend(line.split("#", 1)[0].split())
    if not words:
        raise click.UsageError("give KEY ID pairs, or --file FILE")
    if len(words) % 2:
        raise click.UsageError(f"KEY ID pairs: {words[-1]!r} in the {where} has no ID")
    found = list(zip(words[::2], words[1::2], strict=True))
    seen: dict[str, str] = {}
    for key, ticket_id in found:
        _check_key(key, "KEY")
        if key in seen:
            raise click.UsageError(f"{key} is given twice ({seen[key]} and {ticket_id})")
        seen[key] = ticket_id
    import_tickets(ctx, found, sandbox=sandbox)


COMMANDS: list[click.Command] = [state]
