"""``ticketsync directory pull`` / ``directory show``: the committed directory file (the
README's "Names: the directory")."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

import click

from ticketsync.cli.common import get_config, sandbox_option
from ticketsync.cli.live import LiveLine

if TYPE_CHECKING:
    from ticketsync.account.pull import Progress
    from ticketsync.declare.config import Config
    from ticketsync.declare.directory import Directory


@click.group()
def directory() -> None:
    """The directory file: the account's users, projects, ticket types and components,
    which let ticket files say `alice@example.com`, `Platform` or `Bug` instead of ids.

    \b
    Example: ticketsync directory pull && git add ticketsync.directory.json
    """


@directory.command()
@click.option("--rate-limit", type=click.IntRange(1), default=None, metavar="N",
              help="Requests per minute for the whole pull (default: rate_limit, 900).")
@click.option("--concurrency", type=click.IntRange(1, 256), default=None, metavar="N",
              help="At most N listings in flight (default: concurrency, auto: rate x latency).")
@sandbox_option
@click.pass_context
def pull(ctx: click.Context, *, rate_limit: int | None, concurrency: int | None,
         sandbox: bool) -> None:
    """Fetch the account's users, projects, ticket types and components (every page) into
    the directory file (config `directory`, default ticketsync.directory.json), and
    ticket-file.schema.json beside it for editor completion. Needs the key.

    Commit both, like the state. Pull again when people join or leave, or projects, types or
    components change: a pull that finds nothing new leaves the file as it is. A name the
    ticket files may use that now means another id (a project renamed, another one given
    its old name) is pointed out, one line each: the next apply would act on the new one.
    A file that is corrupt, of another account or of a newer version is refused, never
    overwritten; an interrupted pull leaves the previous file intact.

    \b
    Example: STACKONE_API_KEY=... ticketsync directory pull
    """
    from dataclasses import replace

    from ticketsync.account.pull import (
        ChainFirstLimiter,
        changes,
        existing_directory,
        moved_lines,
        moved_names,
        pull_directory,
        save_directory,
    )
    from ticketsync.cli.apply import is_terminal
    from ticketsync.cli.common import open_api, shown
    from ticketsync.declare.editor_schema import editor_schema_path

    config = get_config(ctx, sandbox=sandbox)
    config = replace(config, rate_limit=rate_limit or config.rate_limit,
                     concurrency=concurrency or config.concurrency)
    path = config.directory_path
    previous = existing_directory(path, config.account_id)  # refused before any request
    samples = _samples(config, sandbox=sandbox)
    limiter = ChainFirstLimiter(config.rate_limit)
    progress = _Progress(live=is_terminal(sys.stderr))
    with open_api(config, sandbox=sandbox, limiter=limiter) as api:
        account_id = config.account_id or ""
        try:
            pulled = pull_directory(api, account_id, limiter=limiter,
                                    concurrency=config.concurrency, on_progress=progress,
                                    samples=samples, previous=previous)
        finally:
            progress.finish()
    path.parent.mkdir(parents=True, exist_ok=True)
    changed = save_directory(path, pulled, previous)
    counts = _counts(pulled)
    schema_file = shown(editor_schema_path(path))
    if changed:
        what = str(changes(previous, pulled)) if previous is not None else ""
        click.echo(f"Wrote {shown(path)}: {counts}" + (f" ({what})" if what else "") + ".")
        if previous is not None:
            # The change nothing else catches: a name that still resolves, to another id.
            for line in moved_lines(moved_names(previous, pulled), pulled):
                click.echo(line)
        click.echo(f"Editor completion: {schema_file} (commit both).")
    else:
        click.echo(f"No changes: {shown(path)} is up to date ({counts}).")


def _samples(config: Config, *, sandbox: bool) -> dict[tuple[str, str | None], str]:
    """A ticket the state tracks of each (project, type), to learn its statuses from
    (the first by key); none without a state."""
    from ticketsync.run.workspace import Workspace

    workspace = Workspace(config, sandbox=sandbox)
    if not workspace.exists():
        return {}
    samples: dict[tuple[str, str | None], str] = {}
    for _, entry in sorted(workspace.read().tickets.items()):
        project, kind = entry.applied.get("project_id"), entry.applied.get("type")
        if isinstance(project, str) and not entry.deleted:
            samples.setdefault((project, kind if isinstance(kind, str) else None), entry.id)
    return samples


def _counts(directory: Directory) -> str:
    inactive = sum(1 for u in directory.users if not u.active)
    users = _n(len(directory.users), "user") + (f" ({inactive} deactivated)" if inactive else "")
    workflows = ([_n(len(directory.statuses), "workflow") + " (statuses of a project and "
                  "type)"] if directory.statuses else [])
    return ", ".join([users, _n(len(directory.projects), "project"),
                      _n(len(directory.ticket_types), "ticket type"),
                      _n(len(directory.components), "component"), *workflows])


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


class _Progress:
    """A live line on a terminal (listings done, records, rate); nothing in CI logs."""

    def __init__(self, *, live: bool) -> None:
        self.line = LiveLine(live=live)
        self.started = time.monotonic()

    def __call__(self, progress: Progress) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        self.line.draw(f"Pulling the directory: {progress.done}/{progress.total} listings, "
                       f"{progress.records:,} records, {progress.records / elapsed:.0f}/s")

    def finish(self) -> None:
        self.line.clear()


@directory.command()
@click.argument("query", required=False)
@click.option("--project", "project", metavar="NAME_OR_ID", default=None,
              help="Resolve QUERY as a type or component within this project, as a ticket "
              "of it would.")
@click.pass_context
def show(ctx: click.Context, query: str | None, project: str | None) -> None:
    """Print what the directory file holds, or how QUERY resolves: as a person (id, email,
    username or display name), a project, a ticket type and a component, and why.

    Offline: reads the directory file only. Exits 1 when QUERY names nothing.

    \b
    Example: ticketsync directory show alice@example.com
    """
    from ticketsync.cli.common import shown
    from ticketsync.declare.directory import read_directory
    from ticketsync.declare.explain import explain, summary
    from ticketsync.errors import ConfigError

    config = get_config(ctx)
    path = config.directory_path
    try:
        found = read_directory(path, account_id=config.account_id)
    except FileNotFoundError:
        raise ConfigError(f"no directory file at {shown(path)}: run `ticketsync directory "
                          "pull` (needs the key)") from None
    if query is None:
        click.echo(f"{shown(path)}: account {found.account_id}, pulled {found.pulled_at}: "
                   f"{_counts(found)}")
        click.echo(summary(found), nl=False)
        return
    lines, ok = explain(found, query, project)
    click.echo("\n".join(lines))
    if not ok:
        ctx.exit(1)


COMMANDS: list[click.Command] = [directory]
