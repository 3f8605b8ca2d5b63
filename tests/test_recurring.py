"""Recurring templates (the README's "Recurring tickets"): the calendar, the expansion, every error
located, and what a state makes of a schedule (held, closed, skipped, caught up)."""

from __future__ import annotations

import textwrap
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from ticketsync.declare import schedule
from ticketsync.declare.config import load_config
from ticketsync.declare.loader import load_project
from ticketsync.errors import InputError
from ticketsync.model import Project, State, StateEntry
from ticketsync.plan.build import build_plan

WEEKLY = """\
templates:
  ops-review:
    every: week
    starting: 2026-12-07
    previous: {previous}
    catch_up: {catch_up}
    ahead: {ahead}
    tickets:
      review:
        title: "Ops review {{period}} ({{start}} to {{end}})"
        assignees: {{rotate: [alice, bob, carol]}}
"""


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def load(tmp_path: Path, text: str, now: str) -> Project:
    (tmp_path / "tickets").mkdir(exist_ok=True)
    (tmp_path / "tickets" / "r.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    config = load_config(None, cwd=tmp_path, env={})
    return load_project(config, cwd=tmp_path, now=at(now))


def weekly(tmp_path: Path, now: str, *, previous: str = "keep", catch_up: str = "latest",
           ahead: int = 0) -> Project:
    return load(tmp_path, WEEKLY.format(previous=previous, catch_up=catch_up, ahead=ahead), now)


def problems(tmp_path: Path, text: str, now: str = "2026-12-20") -> list[str]:
    with pytest.raises(InputError) as caught:
        load(tmp_path, text, now)
    return [str(p) for p in caught.value.problems]


def state(**entries: dict[str, Any]) -> State:
    tickets = {key.replace("__", "."): StateEntry(f"id-{n}", None, "2026-12-01T00:00:00Z",
                                                   {"title": key}, **fields)
               for n, (key, fields) in enumerate(sorted(entries.items()))}
    return State(3, "lineage", 1, "2026-12-01T00:00:00Z", None, tickets)


OPEN = {"status": {"type": "in-progress", "name": "In Progress"}}
CLOSED_THERE = {"status": {"type": "closed", "name": "Won't Do"}}


# -- the calendar --------------------------------------------------------------------------


@pytest.mark.parametrize(("every", "day", "name", "start", "end"), [
    ("day", date(2026, 12, 7), "2026-12-07", "2026-12-07", "2026-12-07"),
    ("week", date(2026, 12, 9), "2026-W50", "2026-12-07", "2026-12-13"),
    ("week", date(2027, 1, 2), "2026-W53", "2026-12-28", "2027-01-03"),  # ISO year
    ("month", date(2026, 12, 31), "2026-12", "2026-12-01", "2026-12-31"),
    ("quarter", date(2026, 11, 5), "2026-Q4", "2026-10-01", "2026-12-31"),
    ("year", date(2026, 6, 1), "2026", "2026-01-01", "2026-12-31"),
])
def test_periods_are_named_and_bounded(every: str, day: date, name: str, start: str,
                                       end: str) -> None:
    period = schedule.period_of(every, day)
    assert (period.name, period.start.isoformat(), period.end.isoformat()) == (name, start, end)
    assert schedule.parse_period(every, name) == period
    assert period.shifted(1).start == period.end.replace() + (period.shifted(1).start
                                                              - period.end)
    assert period.shifted(1).shifted(-1) == period


@pytest.mark.parametrize(("every", "name"), [
    ("week", "2026-W54"), ("week", "2026-w50"), ("month", "2026-13"), ("day", "2026-02-30"),
    ("quarter", "2026-Q5"), ("year", "26"), ("week", "2026-12"),
])
def test_what_is_not_a_period_of_its_kind_is_none(every: str, name: str) -> None:
    assert schedule.parse_period(every, name) is None


def test_names_sort_as_periods_do_over_years() -> None:
    for every in schedule.EVERY:
        first = schedule.period_of(every, date(2024, 1, 1))
        names = [first.shifted(n).name for n in range(800 if every == "day" else 120)]
        assert names == sorted(names) and len(set(names)) == len(names)


def test_the_window_is_the_current_period_ahead_and_with_catch_up_every_missed_one() -> None:
    def names(**options: Any) -> list[str]:
        return [p.name for p in schedule.window("month", date(2026, 10, 15),
                                                date(2026, 12, 20), **options)]

    assert names() == ["2026-12"]
    assert names(ahead=2) == ["2026-12", "2027-01", "2027-02"]
    assert names(catch_up="all") == ["2026-10", "2026-11", "2026-12"]
    assert schedule.window("month", date(2027, 3, 1), date(2026, 12, 20)) == []
    assert [p.name for p in schedule.window("month", date(2027, 1, 1), date(2026, 12, 20),
                                            ahead=1)] == ["2027-01"]


def test_rotate_takes_turns_from_the_period_alone() -> None:
    weeks = [schedule.period_of("week", date(2026, 12, 7)).shifted(n) for n in range(6)]
    picks = [schedule.pick(["alice", "bob", "carol"], week) for week in weeks]
    assert picks[:3] == picks[3:] and sorted(picks[:3]) == ["alice", "bob", "carol"]


# -- the expansion -------------------------------------------------------------------------


def test_the_current_period_is_declared_keyed_template_period_ticket(tmp_path: Path) -> None:
    project = weekly(tmp_path, "2026-12-16")
    assert list(project.tickets) == ["ops-review.2026-W51.review"]
    review = project.tickets["ops-review.2026-W51.review"]
    assert review.title == "Ops review 2026-W51 (2026-12-14 to 2026-12-20)"
    assert review.origin == "ops-review.2026-W51"
    assert str(review.location) == "tickets/r.yaml:3:12"  # the every: value
    nxt = weekly(tmp_path, "2026-12-23").tickets["ops-review.2026-W52.review"]
    assert [review.body["assignees"], nxt.body["assignees"]] in (
        [["alice"], ["bob"]], [["bob"], ["carol"]], [["carol"], ["alice"]])


def test_before_starting_nothing_is_declared_unless_ahead_reaches_it(tmp_path: Path) -> None:
    assert list(weekly(tmp_path, "2026-11-30").tickets) == []
    assert list(weekly(tmp_path, "2026-11-30", ahead=1).tickets) == [
        "ops-review.2026-W50.review"]


def test_for_each_templates_keep_their_keys(tmp_path: Path) -> None:
    project = load(tmp_path, """\
        templates:
          release:
            for_each: [v1, v2]
            tickets:
              notes: {title: "Notes for {item}"}
        """, "2026-12-20")
    assert list(project.tickets) == ["release.v1.notes", "release.v2.notes"]
    assert project.recurring == {}


@pytest.mark.parametrize(("template", "expected"), [
    ("every: fortnight\n    starting: 2026-12-07",
     "tickets/r.yaml:3:12: error: templates.t.every: 'fortnight' is not one of day, week, "
     "month, quarter, year"),
    ("every: week\n    starting: next monday",
     "tickets/r.yaml:4:15: error: templates.t.starting: 'next monday' is not a date: write "
     "YYYY-MM-DD, a day inside the first week"),
    ("every: month\n    starting: '2026-02-30'",
     "tickets/r.yaml:4:15: error: templates.t.starting: '2026-02-30' is not a date: write "
     "YYYY-MM-DD, a day inside the first month"),
    ("every: month",
     "tickets/r.yaml:2:3: error: templates.t.starting: an every: template needs starting: "
     "(a date inside its first month, such as 2026-12-07)"),
    ("every: day\n    starting: 2026-12-07\n    for_each: [a]",
     "tickets/r.yaml:3:5: error: templates.t: give for_each (items) or every (a schedule), "
     "not both"),
])
def test_schedule_errors_are_located(tmp_path: Path, template: str, expected: str) -> None:
    text = f"templates:\n  t:\n    {template}\n    tickets:\n      x: {{title: X}}\n"
    assert problems(tmp_path, text) == [expected]


def test_period_placeholders_outside_an_every_template_are_located(tmp_path: Path) -> None:
    assert problems(tmp_path, """\
        templates:
          t:
            for_each: [a]
            tickets:
              x: {title: "X {period} {item}"}
        """) == [
        "tickets/r.yaml:5:21: error: templates.t.tickets.x.title: {period} is a placeholder "
        "of every: templates only: t makes one instance per item (for_each); its items give "
        "{item}"]


def test_item_in_an_every_template_names_the_schedule_placeholders(tmp_path: Path) -> None:
    assert problems(tmp_path, """\
        templates:
          t:
            every: week
            starting: 2026-12-07
            tickets:
              x: {title: "X {perod}"}
        """) == [
        "tickets/r.yaml:6:21: error: templates.t.tickets.x.title: unknown placeholder "
        "{perod} (did you mean {period}?): the schedule of t gives {end}, {period}, {start}"]


def test_rotate_errors_are_located(tmp_path: Path) -> None:
    assert problems(tmp_path, """\
        templates:
          r:
            every: week
            starting: 2026-12-07
            tickets:
              x: {title: X, reporters: {rotate: []}}
          f:
            for_each: [a]
            tickets:
              x: {title: X, assignees: {rotate: [alice]}}
        """) == [
        "tickets/r.yaml:6:41: error: templates.r.tickets.x.reporters.rotate: rotate needs at "
        "least one person to take turns",
        "tickets/r.yaml:10:33: error: templates.f.tickets.x.assignees.rotate: rotate picks "
        "one person per period: it is only for an every: template; list the people instead"]


def test_bad_names_are_each_reported_in_words_at_their_own_line(tmp_path: Path) -> None:
    assert problems(tmp_path, """\
        templates:
          "b c":
            for_each: [a, "x/y", "p q"]
            tickets:
              t: {title: "T {item}"}
          ok:
            for_each:
              "u v": {"first name": x}
            tickets:
              "n/m": {title: "T {item}"}
        """) == [
        "tickets/r.yaml:2:3: error: templates: template 'b c' is not a valid name: use "
        "letters, digits, '_' or '-', starting with a letter or digit, at most 64 (no '.': it "
        "separates TEMPLATE.ITEM.TICKET in the keys)",
        "tickets/r.yaml:3:19: error: templates.b c.for_each[1]: item 'x/y' is not a valid "
        "name: use letters, digits, '.', '_' or '-', starting with a letter or digit, at most "
        "64 (it becomes part of the tickets' keys)",
        "tickets/r.yaml:3:26: error: templates.b c.for_each[2]: item 'p q' is not a valid "
        "name: use letters, digits, '.', '_' or '-', starting with a letter or digit, at most "
        "64 (it becomes part of the tickets' keys)",
        "tickets/r.yaml:8:7: error: templates.ok.for_each: item 'u v' is not a valid name: "
        "use letters, digits, '.', '_' or '-', starting with a letter or digit, at most 64 "
        "(it becomes part of the tickets' keys)",
        "tickets/r.yaml:8:15: error: templates.ok.for_each.u v: value 'first name' is not a "
        "valid name: use letters, digits or '_', starting with a letter or '_' (it is used as "
        "a placeholder: {name})",
        "tickets/r.yaml:10:7: error: templates.ok.tickets: template ticket 'n/m' is not a "
        "valid name: use letters, digits, '_' or '-', starting with a letter or digit, at "
        "most 64 (no '.': it separates TEMPLATE.ITEM.TICKET in the keys)"]


# -- what a state makes of it --------------------------------------------------------------


def test_tracked_past_instances_are_held_never_removed(tmp_path: Path) -> None:
    tracked = state(**{"ops-review__2026-W50__review": OPEN})
    for removed in ("keep", "close", "forget"):
        plan = build_plan(weekly(tmp_path, "2026-12-16"), tracked, removed=removed)
        assert [c.key for c in plan.creates] == ["ops-review.2026-W51.review"]
        assert plan.removals == () and plan.updates == ()


def test_the_current_period_once_tracked_is_declared_and_unchanged(tmp_path: Path) -> None:
    project = weekly(tmp_path, "2026-12-16")
    body = dict(project.tickets["ops-review.2026-W51.review"].body)
    tracked = State(3, "l", 1, "2026-12-01T00:00:00Z", None, {
        "ops-review.2026-W51.review": StateEntry("id-1", None, "x", body)})
    plan = build_plan(project, tracked)
    assert (plan.creates, plan.removals, plan.unchanged) == ((), (), 1)


def test_a_missed_run_creates_only_the_current_period(tmp_path: Path) -> None:
    tracked = state(**{"ops-review__2026-W48__review": {}})
    plan = build_plan(weekly(tmp_path, "2026-12-16"), tracked)
    assert [c.key for c in plan.creates] == ["ops-review.2026-W51.review"]


def test_catch_up_all_creates_every_missed_period(tmp_path: Path) -> None:
    tracked = state(**{"ops-review__2026-W50__review": {}})
    plan = build_plan(weekly(tmp_path, "2027-01-06", catch_up="all"), tracked)
    assert [c.key for c in plan.creates] == [
        "ops-review.2026-W51.review", "ops-review.2026-W52.review",
        "ops-review.2026-W53.review", "ops-review.2027-W01.review"]


def test_previous_close_closes_the_last_open_instance_with_the_new_one(tmp_path: Path) -> None:
    tracked = state(**{"ops-review__2026-W49__review": OPEN,
                       "ops-review__2026-W50__review": OPEN})
    plan = build_plan(weekly(tmp_path, "2026-12-16", previous="close"), tracked)
    assert [c.key for c in plan.creates] == ["ops-review.2026-W51.review"]
    assert [(r.key, r.action) for r in plan.removals] == [
        ("ops-review.2026-W50.review", "close")]  # the last period only


def test_previous_close_never_closes_twice(tmp_path: Path) -> None:
    project = weekly(tmp_path, "2026-12-16", previous="close")
    settled = build_plan(project, state(**{"ops-review__2026-W50__review": CLOSED_THERE}))
    assert [(r.key, r.action) for r in settled.removals] == [
        ("ops-review.2026-W50.review", "settle")]  # a person's "Won't Do" stays
    done = build_plan(project, state(**{"ops-review__2026-W50__review": {"closed": True}}))
    assert done.removals == ()


def test_previous_skip_creates_nothing_while_the_last_is_open_and_says_so(
    tmp_path: Path,
) -> None:
    project = weekly(tmp_path, "2026-12-16", previous="skip")
    plan = build_plan(project, state(**{"ops-review__2026-W50__review": OPEN}))
    assert (plan.creates, plan.removals) == ((), ())
    assert plan.extra == {"skipped": {"ops-review": (
        "nothing created for 2026-W51: ops-review.2026-W50.review is still open "
        "(previous: skip)")}}
    plan = build_plan(project, state(**{"ops-review__2026-W50__review": CLOSED_THERE}))
    assert [c.key for c in plan.creates] == ["ops-review.2026-W51.review"]
    assert plan.extra == {}


def test_catch_up_all_reaching_back_too_far_is_a_located_error(tmp_path: Path) -> None:
    text = WEEKLY.format(previous="keep", catch_up="all", ahead=0).replace(
        "every: week", "every: day").replace("2026-12-07", "2006-12-07")
    assert problems(tmp_path, text, now="2026-12-20") == [
        "tickets/r.yaml:6:15: error: templates.ops-review.catch_up: catch_up: all reaches "
        "back 7318 days, to 2006-12-07 (at most 1000): move starting: forward (instances "
        "already created are kept), or catch_up: latest"]
    moved = load(tmp_path, text.replace("2006-12-07", "2024-03-26"), "2026-12-20")
    assert len(moved.tickets) == 1000  # at the bound: every day since, today included
