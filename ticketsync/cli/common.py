"""What several commands share: the resolved config, path arguments, common options."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ticketsync.config import Config

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


def shown(path: Path) -> str:
    """``path`` relative to the working folder when it is inside it, as users typed it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def paths_argument(func: F) -> F:
    """``[PATH...]``: ticket files, folders or globs; default: the config's ``tickets``."""
    return click.argument("paths", nargs=-1, type=click.Path())(func)


def sandbox_option(func: F) -> F:
    """``--sandbox``: target the built-in local sandbox (no account, key or network)."""
    return click.option(
        "--sandbox",
        is_flag=True,
        help="Use the built-in local sandbox and its own state file (no key, no network).",
    )(func)
