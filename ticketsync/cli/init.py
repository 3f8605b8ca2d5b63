"""`ticketsync init`: a commented project config and an empty state file."""

from __future__ import annotations

from pathlib import Path

import click

from ticketsync.cli.common import get_config, sandbox_option, shown

CONFIG_TEMPLATE = """\
# ticketsync project config. Every setting is optional; the values shown are the defaults.
# Precedence: command-line option > environment variable > this file > default.

# Where the ticket files are: files, folders (searched recursively) or globs.
tickets: [tickets/]

# The state file: which declared tickets exist remotely, with their ids. Commit it.
state: ticketsync.state.json

# StackOne account to work in (or set STACKONE_ACCOUNT_ID). Not needed with --sandbox.
{account_line}

# Requests per minute for the whole run, and requests in flight at once (auto: as many
# as the rate limit and StackOne's answer time call for; a number caps it).
# rate_limit: 900
# concurrency: auto

# Brakes: apply refuses a plan that creates (or closes) more tickets than this, unless
# --force.
# max_creates: 200
# max_removals: 20

# Update tracked tickets whose declaration changed, field by field, never over an edit
# made in the tracker (that is a conflict: shown by plan, refused by apply). false: report
# the changes only.
# updates: true

# A tracked ticket that no file declares any more: keep (report it), close (set it to a
# closed status) or forget (drop it from the state; the ticket is left alone).
# removed: keep

# Stamp each ticket's key into this unified custom field at creation, so that a run that
# lost its state can recognise the tickets it already created.
# marker: {{custom_field: ticketsync_key}}
"""


@click.command()
@click.option(
    "--account-id", metavar="ID", default=None, help="StackOne account to bind the state to."
)
@sandbox_option
@click.pass_context
def init(ctx: click.Context, account_id: str | None, sandbox: bool) -> None:
    """Start a project: write ticketsync.yaml (if absent) and an empty state file.

    With --sandbox, the state file is the sandbox's own (.ticketsync/sandbox.state.json),
    for trying ticketsync locally. An existing state file is never overwritten: it is what
    prevents duplicate tickets.
    The state belongs to this project's config and to its account (without one, the
    first apply binds it): another project or account is refused from then on.

    \b
    Example: ticketsync init --account-id acc-123
    """
    from ticketsync.errors import StateError
    from ticketsync.run.workspace import Workspace

    config = get_config(ctx, sandbox=sandbox)
    state_path = config.state_path
    if state_path.exists():
        raise StateError(
            f"{shown(state_path)} already exists: refusing to overwrite a state file (it records "
            "the tickets already created); "
            f"`ticketsync state list{' --sandbox' if sandbox else ''}` shows what it tracks"
        )
    config_path = config.config_path  # the state is bound to it (see Workspace.init)
    # A state that cannot be written (its folder blocked) must leave no config behind.
    state_path.parent.mkdir(parents=True, exist_ok=True)
    if Path(config_path).exists():
        click.echo(f"{shown(config_path)} exists: left as it is.")
    else:
        account = account_id or config.account_id
        account_line = f"account_id: {account}" if account else "# account_id: acc-123"
        Path(config_path).write_text(
            CONFIG_TEMPLATE.format(account_line=account_line), encoding="utf-8"
        )
        click.echo(f"Wrote {shown(config_path)} (every setting is commented).")
    state = Workspace(config, sandbox=sandbox).init(account_id or config.account_id)
    bound = (f"account {state.account_id}" if state.account_id
             else "no account yet: the first apply binds it")
    advice = "" if sandbox else " Commit it with your ticket files."
    click.echo(f"Wrote {shown(state_path)} (empty, {bound}).{advice}")
    if not _ignored(Path(config_path).parent / ".gitignore"):
        click.echo(f"Add the line `{LOCAL_FOLDER}` to .gitignore: it holds the sandbox's "
                   f"tickets and state, for this machine only (`echo {LOCAL_FOLDER} >> "
                   ".gitignore`).")


#: What ticketsync keeps for this machine only, beside the project config.
LOCAL_FOLDER = ".ticketsync/"


def _ignored(gitignore: Path) -> bool:
    """Whether ``gitignore`` already has a line for :data:`LOCAL_FOLDER`."""
    try:
        lines = gitignore.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return False
    return any(line.strip().strip("/") == ".ticketsync" for line in lines)


COMMANDS: list[click.Command] = [init]
