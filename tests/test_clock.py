"""StackOne's clock read from its answers: a lower bound, immune to this machine's clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ticketsync.errors import ClockError
from ticketsync.stackone.clock import ServerClock, parse_http_date

NOON = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)


class Monotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_unknown_until_an_answer_tells_it() -> None:
    clock = ServerClock()
    assert not clock.known
    with pytest.raises(ClockError, match="carry no Date header"):
        clock.now()
    clock.observe(None)  # an answer without a Date changes nothing
    assert not clock.known


def test_it_follows_this_machine_s_monotonic_time_from_the_reading() -> None:
    ticks = Monotonic()
    clock = ServerClock(monotonic=ticks)
    clock.observe(NOON)
    assert clock.now() == NOON
    ticks.now += 90.5
    assert clock.now() == NOON + timedelta(seconds=90.5)


def test_the_earliest_of_agreeing_readings_is_used() -> None:
    """A slow answer's Date is older than the time it arrived: the estimate stays a lower
    bound (an earlier window lists more tickets, never fewer)."""
    ticks = Monotonic()
    clock = ServerClock(monotonic=ticks)
    clock.observe(NOON)
    ticks.now += 10
    clock.observe(NOON + timedelta(seconds=7))  # generated 3 s before it arrived
    assert clock.now() == NOON + timedelta(seconds=7)


def test_readings_that_disagree_beyond_the_bound_are_refused() -> None:
    ticks = Monotonic()
    clock = ServerClock(monotonic=ticks, max_spread=timedelta(minutes=5))
    clock.observe(NOON)
    clock.observe(NOON + timedelta(minutes=6))  # at the same instant: a jump
    with pytest.raises(ClockError, match=r"disagree about its time by 360 s"):
        clock.now()


def test_http_dates() -> None:
    assert parse_http_date("Mon, 01 Jun 2026 12:00:00 GMT") == NOON
    assert parse_http_date("not a date") is None
    assert parse_http_date(None) is None
