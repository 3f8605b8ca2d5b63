"""``ticketsync export``: existing remote tickets as a ticket file, tracked in the state."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ticketsync.cli.common import get_config, sandbox_option, shown
from ticketsync.cli.live import LiveLine
from ticketsync.times import parse_time

if TYPE_CHECKING:
    from ticketsync.account.export import Export
    from ticketsync.declare.names import Resolver
    from ticketsync.stackone.api import RemoteTicket, TicketApi


def _parse_date(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r}: expected a date or a date-time, e.g. 2026-01-31 or "
            "2026-01-31T09:00:00Z") from None


@click.command()
@click.option("--project", "projects", multiple=True, metavar="NAME_OR_ID",
              help="Only the tickets of this project: a name needs the directory file "
                   "(repeatable; default: every project).")
@click.option("--updated-after", callback=_parse_date, metavar="DATE", default=None,
              help="Only the tickets updated after DATE (ISO 8601; a date is midnight UTC).")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The ticket file to write (default: exported.yaml in the first tickets "
                   "folder); never overwritten.")
@click.option("--imports", "as_imports", is_flag=True,
              help="Write an `imports:` block with the declarations and record nothing: "
                   "the tickets are tracked once that file is reviewed and applied.")
@click.option("--dry-run", is_flag=True,
              help="Print the ticket file that would be written; record nothing.")
@sandbox_option
@click.pass_context
def export(
    ctx: click.Context,
    *,
    projects: tuple[str, ...],
    updated_after: datetime | None,
    out: Path | None,
    as_imports: bool,
    dry_run: bool,
    sandbox: bool,
) -> None:
    """Write the tickets a tracker already holds as a ticket file, and track them.

    Every page of StackOne's listing is read (under the rate limit); the tickets the
    state tracks and a file declares are skipped, saying so. Right after, `ticketsync
    plan` says "No changes.". Safe to run again if interrupted. With a directory file,
    people, projects, types and components are written by name.

    \b
    Example: ticketsync export --project Platform --out tickets/platform.yaml
    """
    from ticketsync.account.export import build_export, document
    from ticketsync.cli.common import open_api
    from ticketsync.declare import yamlio
    from ticketsync.declare.loader import load_project, resolver_for
    from ticketsync.errors import ConfigError, InputError
    from ticketsync.run.workspace import Workspace
    from ticketsync.stackone.limiter import RateLimiter
    from ticketsync.state.file import atomic_write_text

    config = get_config(ctx, sandbox=sandbox)
    try:
        declared = set(load_project(config).tickets)
    except ConfigError:  # no ticket files yet: the usual start of an adoption
        declared = set()
    except InputError:
        raise  # every problem, located: the files must be valid to know what is declared
    resolver = resolver_for(config, Path.cwd())[0]
    wanted_ids = {_project_id(resolver, p) for p in projects} if projects else None
    target = out if out is not None else _default_out(config.root, config.tickets)
    if not dry_run and target.exists():
        raise ConfigError(f"{shown(target)} exists: export never overwrites a file; choose "
                          "another --out")
    workspace = Workspace(config, sandbox=sandbox)
    with workspace.session("ticketsync export") as session:
        limiter = RateLimiter(config.rate_limit)
        with open_api(config, sandbox=sandbox, limiter=limiter) as api:
            listed, seen_count = _listing(api, updated_after, wanted_ids)
            result = build_export(listed, session.state, declared, marker=config.marker_field,
                                  resolver=resolver)
            for key, ticket_id in result.skipped:
                click.echo(f"skipped {ticket_id}: already tracked as {key}", err=True)
            for exported in result.tickets:
                for why in exported.left_out:
                    click.echo(f"{exported.key}: not written, {why}", err=True)
                for note in exported.notes:
                    click.echo(f"{exported.key}: {note}", err=True)
            schema = _schema_for(target, config.directory_path)
            text = yamlio.dump(document(result, imports=as_imports), header=_header(
                config.account_id, len(result.tickets), schema))
            if dry_run:
                click.echo(text, nl=False)
                click.echo(f"Dry run: {len(result.tickets)} tickets would be written to "
                           f"{shown(target)}; nothing was recorded.", err=True)
                return
            if not result.tickets:
                click.echo(_nothing(seen_count, len(listed), projects))
                return
            if not as_imports:
                # Recorded first, then written: killed in between, the tickets are tracked
                # (never created again) and a second export writes them.
                seen = {t.ticket.id: t.ticket for t in result.tickets}
                session.adopt([(t.key, t.ticket, t.applied) for t in result.recorded], seen)
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                raise ConfigError(f"{shown(target)} appeared during the export: the tickets "
                                  "are tracked; run export again with another --out")
            atomic_write_text(target, text)
    click.echo(_exported(result, target, imports=as_imports))


def _listing(api: TicketApi, updated_after: datetime | None,
             projects: set[str] | None) -> tuple[list[RemoteTicket], int]:
    """The listed tickets of ``projects`` (ids; None: all) and how many were listed,
    with progress on a terminal."""
    from ticketsync.account.export import wanted
    from ticketsync.cli.apply import is_terminal

    listed: list[RemoteTicket] = []
    seen = 0
    progress = LiveLine(live=is_terminal(sys.stderr))
    for ticket in api.list_tickets(updated_after=updated_after):
        seen += 1
        if wanted(ticket, projects):
            listed.append(ticket)
        if seen % 100 == 0:
            progress.draw(f"listed {seen} tickets...")
    progress.clear()
    return listed, seen


def _project_id(resolver: Resolver, value: str) -> str:
    """``--project``'s value as a project id: a name through the directory file."""
    if resolver.directory is None:
        return value  # ids only; a project named without a directory matches nothing
    found, why = resolver.lookup("project", value)
    if found is None:
        raise click.BadParameter(why, param_hint="'--project'")
    return found


def _exported(result: Export, target: Path, *, imports: bool) -> str:
    again = len(result.tickets) - len(result.recorded)
    note = f" ({again} tracked already, written again)" if again else ""
    if imports:
        note += (f"; nothing recorded: review it, then `ticketsync apply` tracks the "
                 f"{len(result.recorded)} imports")
    return (f"Exported {len(result.tickets)} tickets to {shown(target)}{note}; "
            f"{len(result.skipped)} skipped (already declared).")


def _nothing(seen: int, kept: int, projects: tuple[str, ...]) -> str:
    if kept:
        return "Nothing to export: every listed ticket is tracked already."
    if seen and projects:
        return (f"Nothing to export: none of the {seen} listed tickets is in "
                f"{', '.join(projects)} (a project by id, or by name with a directory file).")
    return "Nothing to export: the tracker listed no tickets."


def _default_out(root: Path, tickets: tuple[str, ...]) -> Path:
    first = tickets[0] if tickets else "tickets/"
    folder = root / first
    if any(ch in first for ch in "*?[") or folder.suffix in (".yaml", ".yml"):
        folder = root / "tickets"
    return folder / "exported.yaml"


#: The shipped ticket-file schema, at this version's tag: for a project without its own.
SCHEMA_URL = ("https://raw.githubusercontent.com/ticketsync/ticketsync/v{version}/schemas/"
              "ticket-file.schema.json")


def _schema_for(target: Path, directory_path: Path) -> str:
    """The modeline's schema: the project's own (names as suggestions, written by
    ``directory pull``) relative to ``target``, else the shipped one at this version."""
    import os

    from ticketsync import __version__
    from ticketsync.declare.editor_schema import editor_schema_path

    own = editor_schema_path(directory_path)
    if own.is_file():
        return Path(os.path.relpath(own.resolve(), target.resolve().parent)).as_posix()
    return SCHEMA_URL.format(version=__version__)


def _header(account: str | None, count: int, schema: str) -> str:
    return (
        f"yaml-language-server: $schema={schema}\n"
        f"Exported by `ticketsync export` from account {account}: {count} tickets.\n"
        "Each key is tracked in the state: rename one with `ticketsync state mv OLD NEW`."
    )


COMMANDS: list[click.Command] = [export]
