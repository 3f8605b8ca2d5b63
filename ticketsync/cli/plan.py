"""`ticketsync plan`: what apply would do. Never writes (except --out), never needs a key."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ticketsync.cli.common import (
    ProjectRun,
    get_config,
    load_tickets,
    paths_argument,
    projects_option,
    refresh_option,
    sandbox_option,
)
from ticketsync.cli.when import now_option, skipped_lines

if TYPE_CHECKING:
    from ticketsync.declare.config import Config
    from ticketsync.declare.directory import Directory
    from ticketsync.model import Plan, Project

FORMATS = ("text", "json", "markdown", "github", "mermaid")


def _also_option(ctx: click.Context, param: click.Parameter,
                 value: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """``--also FORMAT=FILE`` as (format, file) pairs, each format one of :data:`FORMATS`."""
    pairs = []
    for given in value:
        fmt, eq, file = given.partition("=")
        if not eq or not file or fmt not in FORMATS:
            raise click.BadParameter(
                f"{given!r}: give FORMAT=FILE, FORMAT one of {', '.join(FORMATS)} "
                "(e.g. --also markdown=plan.md)", ctx, param)
        pairs.append((fmt, file))
    return tuple(pairs)


def _write_also(file: str, text: str) -> None:
    """One ``--also`` document, whole: written beside its place, then renamed over it."""
    from ticketsync.state.file import atomic_write_text

    atomic_write_text(Path(file), text)


@click.command()
@paths_argument
@click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
    help="text for people, json for scripts, markdown for a pull-request comment (with a "
    "diagram of the tickets to create), github for GitHub Actions annotations, mermaid for "
    "the diagram alone.",
)
@click.option(
    "--detailed-exitcode", is_flag=True,
    help="Exit 2 when there are changes, 0 when there are none (1 is still an error).",
)
@click.option(
    "--out", "out", type=click.Path(dir_okay=False), default=None,
    help="Also save the plan to FILE, for `ticketsync apply --plan FILE`.",
)
@click.option(
    "--also", "also", multiple=True, metavar="FORMAT=FILE", callback=_also_option,
    help="Also write the same plan in FORMAT to FILE (repeatable): one plan, one read-back "
    "with --refresh, however many formats (what the CI step does).",
)
@refresh_option
@sandbox_option
@now_option
@projects_option
@click.pass_context
def plan(
    ctx: click.Context,
    *,
    paths: tuple[str, ...],
    fmt: str,
    detailed_exitcode: bool,
    out: str | None,
    also: tuple[tuple[str, str], ...],
    refresh: str | None,
    sandbox: bool,
    projects: tuple[str, ...],
) -> None:
    """Show what apply would do to match the ticket files: create, update, close.

    Reads the ticket files and the state file only: no key, no network, no writes
    (except the saved plan with --out). With --refresh it also reads the tracked tickets
    back from StackOne (one listing of what changed since the last read-back), still
    writing nothing; --refresh=full also finds the tickets deleted there. With
    --projects, plans every project found, one section each.

    \b
    Example: ticketsync plan --format markdown > plan.md
    """
    from ticketsync.cli import EXIT_CHANGES, EXIT_ERROR
    from ticketsync.cli.common import refresh_note, refresh_paths, sandbox_hints

    paths = (*paths, *refresh_paths(ctx))
    if projects:
        from ticketsync.cli.common import refuse_with_projects, run_projects

        refuse_with_projects(ctx, **{"PATH arguments": bool(paths), "--out": out is not None})

        from ticketsync.cli.apply import plan_directory

        directories: dict[str, Directory | None] = {}

        def one(run: ProjectRun[Plan]) -> Plan:
            config = get_config(ctx, sandbox=sandbox, folder=run.folder)
            made = make_plan(config, load_tickets(ctx, config, ()), refresh=refresh,
                             sandbox=sandbox)
            directories[run.name] = plan_directory(config, made)  # ids shown by name
            return made

        runs = run_projects(ctx, projects, one, github=fmt == "github")
        click.echo(render_projects(runs, fmt, directories), nl=False)
        for other, file in also:
            _write_also(file, render_projects(runs, other, directories))
        if any(run.error is not None for run in runs):
            ctx.exit(EXIT_ERROR)
        if detailed_exitcode and any(run.value and run.value.has_changes for run in runs):
            ctx.exit(EXIT_CHANGES)
        return
    config = get_config(ctx, sandbox=sandbox)
    project = load_tickets(ctx, config, paths, github=fmt == "github")
    from ticketsync.cli.apply import plan_directory

    result = make_plan(config, project, refresh=refresh, sandbox=sandbox)
    directory = plan_directory(config, result)
    shown_plan = render_plan(result, fmt, directory)
    click.echo(sandbox_hints(shown_plan) if sandbox else shown_plan, nl=False)
    if refresh is not None and fmt == "text":
        click.echo(refresh_note(refresh, result), err=True)
    if fmt == "text":
        click.echo(skipped_lines(result), nl=False)
    for other, file in also:
        also_plan = render_plan(result, other, directory)
        _write_also(file, sandbox_hints(also_plan) if sandbox else also_plan)
    if out is not None:
        from ticketsync.plan.saved import save_plan

        save_plan(Path(out), result)
        hint = f"`ticketsync apply --plan {out}{' --sandbox' if sandbox else ''}`"
        click.echo(f"Saved the plan to {out}: apply it with {hint}.", err=True)
    if detailed_exitcode and result.has_changes:
        ctx.exit(EXIT_CHANGES)


def make_plan(config: Config, project: Project, *, refresh: bool | str | None,
              sandbox: bool) -> Plan:
    """The plan of one project (:func:`ticketsync.run.preview.preview_plan`), read back
    first with ``refresh`` (``full``: deletions looked for too); a missing state file is
    said, not refused (plan changes nothing, but apply will refuse: say why now)."""
    from ticketsync.cli.common import open_api, shown
    from ticketsync.run.preview import preview_plan, preview_state

    state = preview_state(config, sandbox=sandbox)
    if state is None:
        advice = (
            "`ticketsync apply --sandbox` makes it on first use"
            if sandbox
            else "Run `ticketsync init` for a new project, or restore the state from git"
        )
        click.echo(
            f"Note: no state file at {shown(config.state_path)}: every declared ticket would "
            f"be created. {advice}.",
            err=True,
        )
    if not refresh:
        return preview_plan(config, project, state)
    with open_api(config, sandbox=sandbox) as api:
        return preview_plan(config, project, state, api=api, full=refresh == "full")


def render_plan(result: Plan, fmt: str, directory: Directory | None = None) -> str:
    """One project's plan in ``fmt`` (``directory``: ids shown by name, where formats do)."""
    from ticketsync.plan import render

    if fmt == "markdown":
        return render.render_markdown(result, diagram=True, directory=directory)
    if fmt == "text":
        return render.render_text(result, directory)
    if fmt == "github":
        return render.render_github(result, directory)
    if fmt == "json":
        return render.render_json(result)
    return render.render_mermaid(result)


def render_projects(runs: Sequence[ProjectRun[Plan]], fmt: str,
                    directories: Mapping[str, Directory | None] | None = None) -> str:
    """The plans of a ``--projects`` run in ``fmt``: one document, a section per project
    (``directories``: by project name, the directory that shows its plan's ids by name).

    File paths are relative to the working folder (``platform/tickets/a.yaml``), so that
    annotations land on the right file from the repository's root.
    """
    from ticketsync.cli.common import projects_summary
    from ticketsync.plan import render

    named = directories or {}
    changed = sum(1 for run in runs if run.value is not None and run.value.has_changes)
    summary = projects_summary(runs, "planned", f"{changed} with changes")
    if fmt == "markdown":
        items = [(run.name, run.value if run.value is not None else str(run.error))
                 for run in runs]
        return render.render_markdown_projects(items, summary=summary, directories=named)
    if fmt == "mermaid":
        return render.render_mermaid_projects(
            [(run.name, run.value) for run in runs if run.value is not None])
    if fmt == "json":
        import json

        from ticketsync.plan.saved import plan_to_json

        doc = {"format_version": 1, "ok": all(run.error is None for run in runs), "projects": [
            {"project": run.name, "ok": run.error is None, "error": run.error,
             "has_changes": run.value is not None and run.value.has_changes,
             "plan": plan_to_json(run.value) if run.value is not None else None}
            for run in runs]}
        return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    parts = []
    for run in runs:
        if fmt == "github":
            if run.value is not None:  # the annotations, then the summary named by project
                *annotations, last = render.render_github(
                    run.value, named.get(run.name)).splitlines()
                parts += [*annotations, f"{run.name}: {last}"]
            continue
        text = (render.render_text(run.value, named.get(run.name)) if run.value is not None
                else "Not planned: see the error above.\n")
        parts.append(f"== {run.name} ==\n{text}")
    parts.append(summary)
    return "\n".join(parts) + "\n"


COMMANDS: list[click.Command] = [plan]
