"""``ticketsync validate``: load and check the ticket files; no network, no state."""

from __future__ import annotations

import click

from ticketsync.cli.common import get_config, paths_argument
from ticketsync.model import Problem


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

    Example: ticketsync validate tickets/ --format github
    """
    from ticketsync.errors import InputError
    from ticketsync.loader import load_project

    config = get_config(ctx)
    try:
        project = load_project(config, paths)
    except InputError as exc:
        if output_format != "github":
            raise
        for problem in exc.problems:
            click.echo(github_annotation(problem))
        ctx.exit(1)
    tickets, files = len(project.tickets), len(project.files)
    click.echo(f"{_count(tickets, 'ticket')} in {_count(files, 'file')} OK")


def github_annotation(problem: Problem) -> str:
    """A ``::error`` workflow command for a :class:`~ticketsync.model.Problem`."""
    where = problem.location
    text = f"{problem.path}: {problem.message}" if problem.path else problem.message
    return (
        f"::error file={_escape(where.file, prop=True)},line={where.line},col={where.col}"
        f"::{_escape(text)}"
    )


def _escape(text: str, *, prop: bool = False) -> str:
    # GitHub's workflow-command escaping; properties also escape ':' and ','.
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


COMMANDS: list[click.Command] = [validate]
