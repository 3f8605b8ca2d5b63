"""``ticketsync validate``: load and check the ticket files; no network, no state."""

from __future__ import annotations

import click

from ticketsync.cli.common import get_config, load_tickets, paths_argument


@click.command()
@paths_argument
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "github"]),
    default="text",
    show_default=True,
    help="github: print problems as GitHub Actions annotations on stdout.",
)
@click.pass_context
def validate(ctx: click.Context, paths: tuple[str, ...], output_format: str) -> None:
    """Check ticket files: YAML, schema, keys, parents. Never touches the network or state.

    PATH... are ticket files, folders (searched recursively) or globs; by default the
    config's `tickets`. Every problem is reported at once as FILE:LINE:COL: error: ...

    \b
    Example: ticketsync validate tickets/ --format github
    """
    project = load_tickets(ctx, get_config(ctx), paths, github=output_format == "github")
    tickets, files = len(project.tickets), len(project.files)
    made = sum(1 for ticket in project.tickets.values() if ticket.origin is not None)
    note = f" ({made} made by templates)" if made else ""
    click.echo(f"{_count(tickets, 'ticket')} in {_count(files, 'file')} OK{note}")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


COMMANDS: list[click.Command] = [validate]
