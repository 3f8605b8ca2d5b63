"""``--now``: the instant whose periods recurring templates declare (the README's "Recurring
tickets").

Without it, a run evaluates schedules at this machine's time, and a run that talks to
StackOne at StackOne's (:func:`at_server_time`): a runner whose clock is off must not
create next week's instance early, nor this week's twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ticketsync.times import parse_time

if TYPE_CHECKING:
    from ticketsync.declare.config import Config
    from ticketsync.model import Plan, Project
    from ticketsync.stackone.api import TicketApi

F = TypeVar("F", bound=Callable[..., Any])
#: Where the option's value waits in ``ctx.meta`` for :func:`given_now`.
NOW_KEY = "ticketsync.now"


def parse_now(text: str) -> datetime:
    """``YYYY-MM-DD`` (that day, 00:00 UTC) or an ISO 8601 date and time (UTC when it
    names no zone). Raises ValueError."""
    from ticketsync.declare.schedule import parse_date

    day = parse_date(text)
    if day is not None:
        return datetime(day.year, day.month, day.day, tzinfo=UTC)
    if "T" not in text and " " not in text:
        raise ValueError(text)
    return parse_time(text)


def _store(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is None:
        return
    try:
        ctx.meta[NOW_KEY] = parse_now(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date: write YYYY-MM-DD (such as 2026-12-07) or a date and "
            "time such as 2026-12-07T09:00:00Z") from None


def now_option(func: F) -> F:
    """``--now DATE``: evaluate recurring templates' schedules at another instant."""
    return click.option(
        "--now", metavar="DATE", default=None, expose_value=False, callback=_store,
        help="Evaluate recurring templates (every:) as if it were DATE (YYYY-MM-DD or an "
        "ISO date and time), to preview or test a schedule. Default: StackOne's time when "
        "the run talks to it, else this machine's.",
    )(func)


def given_now(ctx: click.Context) -> datetime | None:
    """The run's ``--now``, if one was given."""
    value = ctx.meta.get(NOW_KEY)
    return value if isinstance(value, datetime) else None


def at_server_time(ctx: click.Context, config: Config, paths: Sequence[str],
                   project: Project, api: TicketApi) -> Project:
    """``project`` as StackOne's clock has it: loaded again at StackOne's time when, by
    this machine's clock, a recurring template is in another period (never with
    ``--now``, never for a project without recurring templates)."""
    if not project.recurring or given_now(ctx) is not None:
        return project
    from ticketsync.declare.loader import load_project
    from ticketsync.declare.schedule import period_of

    server = api.server_now().astimezone(UTC)
    if all(period_of(r.every, server.date()).name == r.current
           for r in project.recurring.values()):
        return project
    return load_project(config, list(paths), now=server)


def skipped_lines(plan: Plan) -> str:
    """One line per recurring template that creates nothing this run (``previous:
    skip``), so that a quiet plan says why the period's instance is missing."""
    skipped = plan.extra.get("skipped") or {}
    return "".join(f"= skip {name}: {why}\n" for name, why in sorted(skipped.items()))
