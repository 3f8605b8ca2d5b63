"""The one parser and formatter of times: what each reader needs of them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from ticketsync.times import format_time, parse_time, read_time

MOMENT = datetime(2026, 12, 6, 9, 5, 7, 123456, tzinfo=UTC)


@pytest.mark.parametrize(("precision", "text"), [
    ("s", "2026-12-06T09:05:07Z"),
    ("ms", "2026-12-06T09:05:07.123Z"),
    ("us", "2026-12-06T09:05:07.123456Z"),
])
def test_each_precision_truncates_and_never_rounds_up(precision: str, text: str) -> None:
    assert format_time(MOMENT, precision) == text  # type: ignore[arg-type]
    # Truncated: the written time is never later than the moment (a lower bound stays one).
    assert parse_time(text) <= MOMENT


def test_a_time_in_another_zone_is_written_in_utc() -> None:
    east = MOMENT.astimezone(timezone(timedelta(hours=5, minutes=30)))
    assert format_time(east, "us") == "2026-12-06T09:05:07.123456Z"


def test_a_time_without_a_zone_is_refused_when_written() -> None:
    with pytest.raises(ValueError, match="without a zone"):
        format_time(MOMENT.replace(tzinfo=None))


@pytest.mark.parametrize("text", [
    "2026-12-06T09:05:07.123456Z", "2026-12-06T09:05:07.123456z",
    "2026-12-06T14:35:07.123456+05:30", " 2026-12-06T09:05:07.123456 ",
])
def test_every_form_written_by_someone_reads_as_the_same_moment(text: str) -> None:
    assert parse_time(text) == MOMENT


def test_a_date_alone_is_midnight_utc() -> None:
    assert parse_time("2026-12-06") == datetime(2026, 12, 6, tzinfo=UTC)


@pytest.mark.parametrize("value", [None, 17, "", "yesterday", "2026-13-01T00:00:00Z"])
def test_a_server_value_that_is_no_time_reads_as_none(value: object) -> None:
    assert read_time(value) is None
    if isinstance(value, str):
        with pytest.raises(ValueError):
            parse_time(value)
