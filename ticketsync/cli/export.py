"""``ticketsync export``: existing remote tickets as a ticket file, tracked in the state."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from ticketsync.cli.common import get_config, sandbox_option, shown


def _parse_date(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{value!r}: expected a date or a date-time, e.g. 2026-01-31 or "
            "2026-01-31T09:00:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@click.command()
@click.option("--project", "projects", multiple=True, metavar="ID",
              help="Only the tickets of this project (repeatable; default: every project).")
@click.option("--updated-after", callback=_parse_date, metavar="DATE", default=None,
              help="Only the tickets updated after DATE (ISO 8601; a date is midnight UTC).")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The ticket file to write (default: exported.yaml in the first tickets "
                   "folder); never overwritten.")
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
    dry_run: bool,
    sandbox: bool,
) -> None:
    """Write the tickets a tracker already holds as a ticket file, and track them.

    Every page of StackOne's listing is read (under the rate limit); the tickets the
    state tracks and a file declares are skipped, saying so. Right after, `ticketsync
    plan` says "No changes.". Safe to run again if interrupted.

    \b
    Example: ticketsync export --project project-001 --out tickets/platform.yaml
    """
    from ticketsync import yamlio
    from ticketsync.cli.apply import is_terminal, open_api
    from ticketsync.errors import ConfigError, InputError
    from ticketsync.export import build_export, document, wanted
    from ticketsync.limiter import RateLimiter
    from ticketsync.loader import load_project
    from ticketsync.state import atomic_write_text
    from ticketsync.workspace import Workspace

    config = get_config(ctx, sandbox=sandbox)
    try:
        declared = set(load_project(config).tickets)
    except ConfigError:  # no ticket files yet: the usual start of an adoption
        declared = set()
    except InputError:
        raise  # every problem, located: the files must be valid to know what is declared
    target = out if out is not None else _default_out(config.root, config.tickets)
    if not dry_run and target.exists():
        raise ConfigError(f"{shown(target)} exists: export never overwrites a file; choose "
                          "another --out")
    workspace = Workspace(config, sandbox=sandbox)
    with workspace.session("ticketsync export") as session:
        limiter = RateLimiter(config.rate_limit)
        with open_api(config, sandbox=sandbox, limiter=limiter) as api:
            listed = []
            live = is_terminal(sys.stderr)
            for ticket in api.list_tickets(updated_after=updated_after):
                if wanted(ticket, set(projects) if projects else None):
                    listed.append(ticket)
                if live and len(listed) % 100 == 0:
                    click.echo(f"\rlisted {len(listed)} tickets...", nl=False, err=True)
            if live:
                click.echo("\r\x1b[2K", nl=False, err=True)
            result = build_export(listed, session.state, declared, marker=config.marker_field)
            for key, ticket_id in result.skipped:
                click.echo(f"skipped {ticket_id}: already tracked as {key}", err=True)
            text = yamlio.dump(document(result), header=_header(config.account_id,
                                                                 len(result.tickets)))
            if dry_run:
                click.echo(text, nl=False)
                click.echo(f"Dry run: {len(result.tickets)} tickets would be written to "
                           f"{shown(target)}; nothing was recorded.", err=True)
                return
            if not result.tickets:
                click.echo("Nothing to export: every listed ticket is tracked already.")
                return
            # Recorded first, then written: killed in between, the tickets are tracked
            # (never created again) and a second export writes them.
            by_id = {str(ticket.get("id")): ticket for ticket in listed}
            seen = {t.entry.id: by_id[t.entry.id] for t in result.tickets}
            session.adopt([(t.key, t.entry) for t in result.recorded], seen)
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                raise ConfigError(f"{shown(target)} appeared during the export: the tickets "
                                  "are tracked; run export again with another --out")
            atomic_write_text(target, text)
    again = len(result.tickets) - len(result.recorded)
    note = f" ({again} tracked already, written again)" if again else ""
    click.echo(f"Exported {len(result.tickets)} tickets to {shown(target)}{note}; "
               f"{len(result.skipped)} skipped (already declared).")


def _default_out(root: Path, tickets: tuple[str, ...]) -> Path:
    first = tickets[0] if tickets else "tickets/"
    folder = root / first
    if any(ch in first for ch in "*?[") or folder.suffix in (".yaml", ".yml"):
        folder = root / "tickets"
    return folder / "exported.yaml"


def _header(account: str | None, count: int) -> str:
    return (
        "yaml-language-server: $schema=https://github.com/ticketsync/ticketsync/schemas/"
        "ticket-file.schema.json\n"
        f"Exported by `ticketsync export` from account {account}: {count} tickets.\n"
        "Each key is tracked in the state: rename one with `ticketsync state mv OLD NEW`."
    )


COMMANDS: list[click.Command] = [export]
