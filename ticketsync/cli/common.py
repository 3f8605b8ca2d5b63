"""What several commands share: the resolved config, path arguments, common options."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TextIO, TypeVar

import click

from ticketsync.declare.config import Config
from ticketsync.declare.paths import display_path

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from ticketsync.model import Plan, Project
    from ticketsync.stackone.api import TicketApi
    from ticketsync.stackone.limiter import RateLimiter

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def get_config(
    ctx: click.Context, *, sandbox: bool = False, folder: Path | None = None
) -> Config:
    """The run's config: ``--config`` or ./ticketsync.yaml, then environment, then defaults.

    With ``sandbox``, the same project aimed at the built-in sandbox (own state file).
    ``folder``: the project folder of a ``--projects`` run (its own ticketsync.yaml).
    """
    from ticketsync.declare.config import load_config

    root_obj = ctx.find_root().obj or {}
    config_file = root_obj.get("config_file") if folder is None else None
    config = load_config(config_file, cwd=folder or Path.cwd(), env=os.environ)
    return config.sandboxed() if sandbox else config


def load_tickets(
    ctx: click.Context, config: Config, paths: tuple[str, ...], *, github: bool = False
) -> Project:
    """Load the project; with ``github``, input problems become ``::error`` annotations.

    Without ``github`` an :class:`InputError` propagates and the group prints each problem
    as ``FILE:LINE:COL: error: ...`` on stderr. Either way the exit code is 1.
    """
    from ticketsync.declare.loader import load_project
    from ticketsync.errors import InputError

    try:
        from ticketsync.cli.when import given_now

        return load_project(config, list(paths), now=given_now(ctx))
    except InputError as exc:
        if not github:
            raise
        from ticketsync.plan.render import render_problems_github

        click.echo(render_problems_github(exc.problems), nl=False)
        ctx.exit(1)


def is_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is a terminal. A function of its own so tests can pretend: the
    commands look it up as ``ticketsync.cli.apply.is_terminal`` when they run."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def read_api_key(variable: str = "STACKONE_API_KEY") -> str:
    """The key from ``variable`` (config ``api_key_env``, default ``STACKONE_API_KEY``), else
    a hidden prompt on a terminal, else an error."""
    key = os.environ.get(variable, "").strip()
    if key:
        return key
    if is_terminal(sys.stdin):
        return str(click.prompt("StackOne API key", hide_input=True)).strip()
    from ticketsync.errors import ConfigError

    raise ConfigError(
        f"no API key: set {variable} (the key is never read from a file), "
        "or use --sandbox to try ticketsync locally"
    )


def open_api(config: Config, *, sandbox: bool,
             limiter: RateLimiter | None = None) -> AbstractContextManager[TicketApi]:
    """The run's API (:func:`ticketsync.stackone.connect.open_api`), the key read from
    the environment or asked for on a terminal, and only when StackOne is the target."""
    from ticketsync.stackone import connect

    return connect.open_api(config, lambda: read_api_key(config.api_key_env), sandbox=sandbox,
                            limiter=limiter)


#: ``path`` relative to the working folder when it is inside it, as users typed it: every
#: message shows paths one way, the library's as the commands'.
shown = display_path


def paths_argument(func: F) -> F:
    """``[PATH...]``: ticket files, folders or globs; default: the config's ``tickets``."""
    return click.argument("paths", nargs=-1, type=click.Path(), metavar="[PATH]...")(func)


def sandbox_option(func: F) -> F:
    """``--sandbox``: target the built-in local sandbox (no account, key or network)."""
    return click.option(
        "--sandbox",
        is_flag=True,
        help="Use the built-in local sandbox and its own state file (no key, no network).",
    )(func)


#: What ``plan --refresh`` reads back: ``changed`` (``--refresh``: one listing of what
#: StackOne says changed since the last read-back) or ``full`` (that, and every tracked
#: ticket it did not show looked for: the only way to see a deletion).
REFRESH_MODES = ("changed", "full")
_REFRESH_PATHS = "ticketsync.refresh_paths"


class RefreshMode(click.ParamType[str]):
    """``--refresh[=full]``. A bare ``--refresh`` used to be a flag, so ``plan --refresh
    tickets/`` must still mean the ticket files at ``tickets/``: a value that is no mode
    but an existing path is handed back to the PATH arguments (:func:`refresh_paths`)."""

    name = "mode"

    def convert(self, value: str, param: click.Parameter | None,
                ctx: click.Context | None) -> str:
        if value in REFRESH_MODES:
            return value
        if ctx is not None and (Path(value).exists() or any(c in value for c in "*?[")):
            ctx.meta.setdefault(_REFRESH_PATHS, []).append(value)
            return "changed"
        self.fail(f"{value!r} is not one of {', '.join(REFRESH_MODES)} (--refresh alone: "
                  "changed)", param, ctx)


def refresh_option(func: F) -> F:
    """``--refresh[=full]``: read the tracked tickets back first (needs the key)."""
    return click.option(
        "--refresh", type=RefreshMode(), is_flag=False, flag_value="changed", default=None,
        metavar="[=full]",
        help="Read the tracked tickets back from StackOne first (needs the key): shows "
        "edits made in the tracker since the last apply, and conflicts. --refresh=full also "
        "finds tickets deleted there, at the cost of one complete listing or one GET per "
        "tracked ticket, the cheaper.",
    )(func)


def refresh_paths(ctx: click.Context) -> tuple[str, ...]:
    """The PATH arguments written right after a bare ``--refresh`` (see RefreshMode)."""
    return tuple(ctx.meta.get(_REFRESH_PATHS, ()))


def refresh_note(mode: str, plan: Plan) -> str:
    """Which read-back the plan rests on, in one line (``plan --refresh``, on stderr)."""
    if mode == "full":
        gone = sum(1 for d in plan.drift if d.deleted)
        return (f"Refresh: full: every tracked ticket was looked for in the tracker; "
                f"{gone} deleted there.")
    return ("Refresh: changed: what the tracker lists as updated since the last read-back; "
            "a ticket deleted there shows only with --refresh=full.")


#: The commands that take ``--sandbox``: a hint naming one, printed by a run under
#: ``--sandbox``, must name it with ``--sandbox`` too, or it acts on the real project.
SANDBOX_COMMANDS = frozenset({"init", "plan", "apply", "export", "state list", "state show",
                              "state rm", "state mv", "state import", "directory pull"})
_HINT = re.compile(r"`ticketsync ([^`]*)`")


def sandbox_hints(text: str) -> str:
    """``text`` with ``--sandbox`` added to every `` `ticketsync COMMAND ...` `` hint whose
    command takes it (for what a ``--sandbox`` run prints)."""

    def add(match: re.Match[str]) -> str:
        inner = match.group(1)
        words = inner.split()
        name = " ".join(words[:2]) if words[:1] in (["state"], ["directory"]) else (
            words[0] if words else "")
        if name not in SANDBOX_COMMANDS or "--sandbox" in words:
            return match.group(0)
        return f"`ticketsync {inner} --sandbox`"

    return _HINT.sub(add, text)


def projects_option(func: F) -> F:
    """``--projects PATH``: run in every project folder at or under PATH (repeatable)."""
    return click.option(
        "--projects",
        "projects",
        multiple=True,
        metavar="PATH",
        type=click.Path(file_okay=False),
        help="Run in every project folder (one holding a ticketsync.yaml) at or under PATH, "
        "one after the other, each with its own state, lock and key; repeatable.",
    )(func)


@dataclass
class ProjectRun(Generic[T]):
    """One project of a ``--projects`` run: its folder, its name as shown (relative to the
    working folder, ``.`` for it), and what the run gave, or the error that stopped it."""

    name: str
    folder: Path
    value: T | None = None
    error: str | None = None


def refuse_with_projects(ctx: click.Context, **given: bool) -> None:
    """A usage error for what a ``--projects`` run cannot take (``given``: option -> used)."""
    root_obj = ctx.find_root().obj or {}
    if root_obj.get("config_file") is not None:
        given["--config"] = True
    for option, used in given.items():
        if used:
            raise click.UsageError(
                f"{option} cannot be combined with --projects: each project uses the "
                "ticketsync.yaml and ticket files of its own folder"
            )


def run_projects(
    ctx: click.Context,
    roots: Sequence[str],
    run: Callable[[ProjectRun[T]], T],
    *,
    github: bool = False,
    before: Callable[[ProjectRun[T]], None] = lambda project: None,
    stop: Callable[[T], bool] = lambda value: False,
) -> list[ProjectRun[T]]:
    """Run ``run`` for every project found at or under ``roots``, one after the other.

    A failure of one project is printed (input problems as ``FILE:LINE:COL: error: ...``,
    or as annotations with ``github``; others as ``Error: PROJECT: ...``) and recorded
    in its :class:`ProjectRun`: it never stops the next project, and since each project
    has its own state file and lock, it cannot touch another's. ``stop(value)`` true (an
    interrupted apply) leaves the remaining projects not started.
    """
    from ticketsync.declare.projects import find_projects

    base = Path.cwd()
    runs: list[ProjectRun[T]] = [
        ProjectRun(display_path(folder, base), folder)
        for folder in find_projects([Path(root) for root in roots])
    ]
    for number, project in enumerate(runs):
        before(project)
        project.error = _run_one(ctx, project, run, github=github)
        if project.value is not None and stop(project.value):
            for rest in runs[number + 1 :]:
                rest.error = "not started: the run was interrupted"
            break
    return runs


def _run_one(
    ctx: click.Context, project: ProjectRun[T], run: Callable[[ProjectRun[T]], T], *,
    github: bool,
) -> str | None:
    """Run one project; the error that stopped it, printed, or None."""
    from ticketsync.errors import InputError, TicketSyncError

    debug = bool((ctx.find_root().obj or {}).get("debug"))
    try:
        project.value = run(project)
        return None
    except InputError as exc:
        if github:
            from ticketsync.plan.render import render_problems_github

            click.echo(render_problems_github(exc.problems), nl=False)
        else:
            for problem in exc.problems:
                click.echo(str(problem), err=True)
        return "\n".join(str(problem) for problem in exc.problems)
    except (TicketSyncError, OSError, click.ClickException) as exc:
        if debug:
            import traceback

            traceback.print_exc()
        if isinstance(exc, OSError):
            from ticketsync.cli import describe_os_error

            message = describe_os_error(exc)
        elif isinstance(exc, click.ClickException):
            message = exc.format_message()
        else:
            message = str(exc)
        click.echo(f"Error: {project.name}: {message}", err=True)
        if github:  # visible in the pull request's checks too, not only in the log
            from ticketsync.plan.render import github_escape

            click.echo(f"::error title=ticketsync {project.name}::{github_escape(message)}")
        return message
    except click.exceptions.Exit as exc:  # a declined confirmation: said already
        return f"stopped (exit {exc.exit_code})"


def projects_summary(runs: Sequence[ProjectRun[Any]], done: str, *extra: str) -> str:
    """``N projects: K DONE, ..., M failed (a, b).`` for the end of a ``--projects`` run."""
    failed = [run.name for run in runs if run.error is not None]
    counts = [f"{len(runs) - len(failed)} {done}", *extra, f"{len(failed)} failed"]
    names = f" ({', '.join(failed)})" if failed else ""
    noun = "project" if len(runs) == 1 else "projects"
    return f"{len(runs)} {noun}: {', '.join(counts)}{names}."
