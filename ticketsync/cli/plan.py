"""`ticketsync plan`: what apply would do. Never writes (except --out), never needs a key."""

from __future__ import annotations

from pathlib import Path

import click

from ticketsync.cli.common import get_config, load_tickets, paths_argument, sandbox_option

FORMATS = ("text", "json", "markdown", "github")


@click.command()
@paths_argument
@click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
    help="text for people, json for scripts, markdown for a pull-request comment, "
    "github for GitHub Actions annotations.",
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
    "--refresh", is_flag=True,
    help="Read the tracked tickets back from StackOne first (needs the key): shows edits "
    "made in the tracker since the last apply, and conflicts.",
)
@sandbox_option
@click.pass_context
def plan(
    ctx: click.Context,
    *,
    paths: tuple[str, ...],
    fmt: str,
    detailed_exitcode: bool,
    out: str | None,
    refresh: bool,
    sandbox: bool,
) -> None:
    """Show what apply would do to match the ticket files: create, update, close.

    Reads the ticket files and the state file only: no key, no network, no writes
    (except the saved plan with --out). With --refresh it also reads the tracked tickets
    back from StackOne (one listing of what changed since the last read-back), still
    writing nothing.

    \b
    Example: ticketsync plan --format markdown > plan.md
    """
    from dataclasses import replace

    from ticketsync import render
    from ticketsync.cli import EXIT_CHANGES
    from ticketsync.cli.common import shown
    from ticketsync.plan import build_plan
    from ticketsync.state import new_state
    from ticketsync.workspace import Workspace

    config = get_config(ctx, sandbox=sandbox)
    project = load_tickets(ctx, config, paths, github=fmt == "github")
    workspace = Workspace(config, sandbox=sandbox)
    state_path = config.state_path
    if workspace.exists():
        # With the journal of a crashed apply folded in (read-only): what that run created
        # must not show up as "to create" again.
        state = workspace.read()
    else:
        # Not an error here (plan changes nothing), but apply will refuse: say why now.
        advice = (
            "`ticketsync apply --sandbox` makes it on first use"
            if sandbox
            else "Run `ticketsync init` for a new project, or restore the state from git"
        )
        click.echo(
            f"Note: no state file at {shown(state_path)}: every declared ticket would be "
            f"created. {advice}.",
            err=True,
        )
        # No lineage: a plan saved now can never be applied to a state made later.
        state = replace(new_state(config.account_id), lineage="", written_at="")
    if refresh:
        from ticketsync.cli.apply import open_api
        from ticketsync.workspace import read_back

        with open_api(config, sandbox=sandbox) as api:
            state = read_back(api, state)[0]
    result = build_plan(project, state, updates=config.updates, removed=config.removed,
                        max_creates=config.max_creates, max_removals=config.max_removals,
                        refreshed=refresh, marker=config.marker_field)
    renderers = {
        "text": render.render_text,
        "json": render.render_json,
        "markdown": render.render_markdown,
        "github": render.render_github,
    }
    click.echo(renderers[fmt](result), nl=False)
    if out is not None:
        from ticketsync.planfile import save_plan

        save_plan(Path(out), result)
        click.echo(f"Saved the plan to {out}: apply it with `ticketsync apply --plan {out}`.",
                   err=True)
    if detailed_exitcode and result.has_changes:
        ctx.exit(EXIT_CHANGES)


COMMANDS: list[click.Command] = [plan]
