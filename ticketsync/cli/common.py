"""What several commands share: the resolved config, path arguments, common options."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ticketsync.config import Config

if TYPE_CHECKING:
    from ticketsync.model import Project

F = TypeVar("F", bound=Callable[..., Any])


def get_config(ctx: click.Context, *, sandbox: bool = False) -> Config:
    """The run's config: ``--config`` or ./ticketsync.yaml, then environment, then defaults.

    With ``sandbox``, the same project aimed at the built-in sandbox (own state file).
    """
    from ticketsync.config import load_config

    root_obj = ctx.find_root().obj or {}
    config_file = root_obj.get("config_file")
    config = load_config(config_file, cwd=Path.cwd(), env=os.environ)
    return config.sandboxed() if sandbox else config


def load_tickets(
    ctx: click.Context, config: Config, paths: tuple[str, ...], *, github: bool = False
) -> Project:
    """Load the project; with ``github``, input problems become ``::error`` annotations.

    Without ``github`` an :class:`InputError` propagates and the group prints each problem
    as ``FILE:LINE:COL: error: ...`` on stderr. Either way the exit code is 1.
    """
    from ticketsync.errors import InputError
    from ticketsync.loader import load_project

    try:
        return load_project(config, list(paths))
    except InputError as exc:
        if not github:
            raise
        from ticketsync.render import render_problems_github

        click.echo(render_problems_github(exc.problems), nl=False)
        ctx.exit(1)


def shown(path: Path) -> str:
    """``path`` relative to the working folder when it is inside it, as users typed it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


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
