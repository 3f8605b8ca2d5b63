"""Recurring tickets: periods, and which of a schedule's instances a run declares (the README's
"Recurring tickets").

A template with ``every:`` makes one instance per period instead of one per item. This
module holds the calendar (pure arithmetic on dates, no clock) and the one decision that
needs the state: :func:`select`, called by the planner, which turns "every period from
``starting`` up to now" into what this run declares, holds, closes or skips.

Periods are named so that names sort as the periods do (four-digit years, zero-padded):
``2026-12-07`` (day), ``2026-W50`` (ISO week, Monday first), ``2026-12``, ``2026-Q4``,
``2026``. "Now" is a UTC instant given by the caller: the planner never reads a clock.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any, Literal

from ticketsync.model import Action, Project, Ticket

#: What becomes of a past period's tracked instance: ``hold`` (history, left alone, never
#: "removed") or :attr:`Action.CLOSE` (``previous: close``, through the removal path).
Retire = Action | Literal["hold"]

#: What ``every:`` may say, shortest first.
EVERY = ("day", "week", "month", "quarter", "year")
#: What ``previous:`` may say about the last period's instance while it is still open.
PREVIOUS = ("keep", "close", "skip")

_NAME = {
    "day": re.compile(r"(\d{4})-(\d{2})-(\d{2})"),
    "week": re.compile(r"(\d{4})-W(\d{2})"),
    "month": re.compile(r"(\d{4})-(\d{2})"),
    "quarter": re.compile(r"(\d{4})-Q([1-4])"),
    "year": re.compile(r"(\d{4})"),
}


@dataclass(frozen=True, order=True)
class Period:
    """One period of a schedule: ``ordinal`` counts periods of its kind from year 1, so
    that the next period is ``ordinal + 1`` and a rotation is ``ordinal % len``."""

    every: str
    ordinal: int

    @property
    def start(self) -> date:
        """The period's first day."""
        n = self.ordinal
        if self.every == "day":
            return date.fromordinal(n)
        if self.every == "week":
            return date.fromordinal(7 * n + 1)  # 0001-01-01 is a Monday
        if self.every == "month":
            return date(n // 12, n % 12 + 1, 1)
        if self.every == "quarter":
            return date(n // 4, 3 * (n % 4) + 1, 1)
        return date(n, 1, 1)

    @property
    def end(self) -> date:
        """The period's last day (inclusive: what a person writes as "until")."""
        return replace(self, ordinal=self.ordinal + 1).start - timedelta(days=1)

    @property
    def name(self) -> str:
        """The period as keys and ``{period}`` show it."""
        start = self.start
        if self.every == "day":
            return start.isoformat()
        if self.every == "week":
            year, week, _ = start.isocalendar()
            return f"{year:04d}-W{week:02d}"
        if self.every == "month":
            return f"{start.year:04d}-{start.month:02d}"
        if self.every == "quarter":
            return f"{start.year:04d}-Q{(start.month - 1) // 3 + 1}"
        return f"{start.year:04d}"

    def shifted(self, count: int) -> Period:
        """The period ``count`` periods later (earlier when negative)."""
        return replace(self, ordinal=self.ordinal + count)


def period_of(every: str, day: date) -> Period:
    """The period of kind ``every`` that holds ``day``."""
    if every == "day":
        return Period(every, day.toordinal())
    if every == "week":
        return Period(every, (day.toordinal() - 1) // 7)
    if every == "month":
        return Period(every, day.year * 12 + day.month - 1)
    if every == "quarter":
        return Period(every, day.year * 4 + (day.month - 1) // 3)
    return Period(every, day.year)


def parse_period(every: str, name: str) -> Period | None:
    """The period named ``name`` (as :attr:`Period.name` writes it), or None."""
    match = _NAME[every].fullmatch(name)
    if match is None:
        return None
    numbers = [int(part) for part in match.groups()]
    try:
        if every == "week":
            day = date.fromisocalendar(numbers[0], numbers[1], 1)
        elif every == "quarter":
            day = date(numbers[0], 3 * numbers[1] - 2, 1)
        else:
            day = date(*[*numbers, 1, 1][:3])
    except ValueError:
        return None
    period = period_of(every, day)
    return period if period.name == name else None


def parse_date(text: str) -> date | None:
    """A ``YYYY-MM-DD`` date, or None (``starting:`` and ``--now`` take one)."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def window(every: str, starting: date, today: date, *, ahead: int = 0,
           catch_up: str = "latest") -> list[Period]:
    """The periods a run may declare, oldest first: the one holding ``today`` and
    ``ahead`` more; with ``catch_up: all`` every period since ``starting`` too. None
    before ``starting``'s period (unless ``ahead`` reaches it)."""
    first = period_of(every, starting)
    current = period_of(every, today)
    low = first if catch_up == "all" else max(first, current)
    return [Period(every, n) for n in range(low.ordinal, current.ordinal + ahead + 1)]


def pick(members: list[Any], period: Period) -> Any:
    """``rotate:``: the member whose turn ``period`` is. From the period alone, so that
    every run, on any machine, picks the same one, whatever the state or ``starting``."""
    return members[period.ordinal % len(members)]


# -- the decision that needs the state ----------------------------------------------------


@dataclass(frozen=True)
class Recurrence:
    """A recurring template as loaded: what :func:`select` needs to know of it.

    ``periods``: the periods whose instances the project holds (:func:`window`), oldest
    first; ``current``: the name of the period holding "now".
    """

    template: str
    every: str
    current: str
    periods: tuple[str, ...]
    previous: str = "keep"


@dataclass(frozen=True)
class Selection:
    """What a state makes of a project's recurring templates.

    ``hidden``: declared instances this run does not declare (past periods already
    tracked, periods skipped); ``retired``: tracked keys that are not declared and must
    not be "removed": ``hold`` (left alone, silently) or ``close`` (``previous: close``);
    ``skipped``: template -> why nothing of it is created this run (``previous: skip``).
    """

    hidden: frozenset[str] = frozenset()
    retired: Mapping[str, Retire] | None = None
    skipped: Mapping[str, str] | None = None


def select(recurring: Mapping[str, Recurrence], origins: Mapping[str, str],
           tracked: Mapping[str, Any]) -> Selection:
    """Which instances of ``recurring`` a run declares, given ``tracked`` (key -> state
    entry, read for ``closed``, ``deleted`` and ``status``) and ``origins`` (declared
    key -> its ``TEMPLATE.PERIOD``).

    * a tracked instance of a period before the current one is history: held (never
      "removed", never updated), or closed by ``previous: close`` when it is the last
      such period and still open;
    * an untracked period of the window is created, unless ``previous: skip`` and the
      last tracked instance before it is still open;
    * the current period (and those ``ahead``) stay declared once tracked.
    """
    if not recurring:
        return Selection()
    by_template: dict[str, dict[str, list[str]]] = {}
    for key in tracked:
        parts = key.split(".")
        if len(parts) == 3 and parts[0] in recurring:
            by_template.setdefault(parts[0], {}).setdefault(parts[1], []).append(key)
    by_origin: dict[tuple[str, str], list[str]] = {}
    for key, origin in origins.items():
        template, _, period = origin.partition(".")
        if template in recurring:
            by_origin.setdefault((template, period), []).append(key)
    hidden: set[str] = set()
    retired: dict[str, Retire] = {}
    skipped: dict[str, str] = {}
    for name, rec in sorted(recurring.items()):
        instances = {
            period: keys for period, keys in by_template.get(name, {}).items()
            if parse_period(rec.every, period) is not None
        }
        past = sorted(p for p in instances if p < rec.current)
        for period in past:
            retired.update(dict.fromkeys(instances[period], "hold"))
            hidden.update(by_origin.get((name, period), ()))
        if past and rec.previous == "close" and rec.current in rec.periods:
            # The planner's removal path decides close, settle (closed in the tracker
            # already) or nothing (closed by ticketsync before): never a second close.
            retired.update(dict.fromkeys(instances[past[-1]], Action.CLOSE))
        new = [p for p in rec.periods if p not in instances]
        if new and rec.previous == "skip":
            before = [p for p in sorted(instances) if p < new[0]]
            still_open = sorted(k for k in instances[before[-1]] if _is_open(tracked[k])) \
                if before else []
            if still_open:
                verb = "is" if len(still_open) == 1 else "are"
                skipped[name] = (f"nothing created for {', '.join(new)}: "
                                 f"{', '.join(still_open)} {verb} still open (previous: skip)")
                for period in new:
                    hidden.update(by_origin.get((name, period), ()))
    return Selection(frozenset(hidden), retired, skipped)


def _is_open(entry: Any) -> bool:
    """Whether a tracked ticket is open, as last read back."""
    status = getattr(entry, "status", None) or {}
    return not (getattr(entry, "closed", False) or getattr(entry, "deleted", False)
                or status.get("type") == "closed")


def weigh(project: Project, tracked: Mapping[str, Any]) -> tuple[Mapping[str, Ticket], Selection]:
    """The tickets ``project`` declares once its recurring templates meet the state
    (``tracked``: key -> state entry), and the :class:`Selection` behind them. A project
    without recurring templates is returned as it is, at no cost."""
    if not project.recurring:
        return project.tickets, Selection()
    origins = {key: t.origin for key, t in project.tickets.items() if t.origin is not None}
    selection = select(project.recurring, origins, tracked)
    if not selection.hidden:
        return project.tickets, selection
    return {k: t for k, t in project.tickets.items() if k not in selection.hidden}, selection
