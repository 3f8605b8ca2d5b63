"""The sandbox's SQLite store: what it keeps, in what order, and that it keeps it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ticketsync.sandbox.store import (
    CursorError,
    TicketStore,
    format_time,
    to_ms,
)
from ticketsync.times import parse_time


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2025, 1, 1, 12, 0, 0, 123000, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Iterator[TicketStore]:
    with TicketStore(tmp_path / "db" / "sandbox.db", clock=clock) as store:
        yield store


def test_create_keeps_the_create_fields_and_assigns_ids(store: TicketStore) -> None:
    ticket = store.create({"title": "Outage", "tags": ["a"], "not_a_field": 1})

    assert ticket.fields == {"title": "Outage", "tags": ["a"]}
    assert ticket.remote_id == "SBX-1"
    assert len(ticket.id) == 36  # a UUID, like StackOne's unified ids
    assert ticket.created_at == ticket.updated_at == "2025-01-01T12:00:00.123Z"
    assert store.get(ticket.id) == ticket
    assert store.get("nope") is None


def test_remote_ids_follow_the_creation_order(store: TicketStore) -> None:
    ids = [store.create({"title": str(i)}).remote_id for i in range(3)]
    assert ids == ["SBX-1", "SBX-2", "SBX-3"]


def test_update_merges_and_moves_updated_at_forward_only(store: TicketStore, clock: Clock) -> None:
    ticket = store.create({"title": "a", "tags": ["x"]})
    clock.advance(5)
    updated = store.update(ticket.id, {"title": "b", "creator_id": "ignored"})

    assert updated is not None
    assert updated.fields == {"title": "b", "tags": ["x"]}
    assert updated.updated_at == "2025-01-01T12:00:05.123Z"
    assert updated.created_at == ticket.created_at
    clock.advance(-60)  # a clock stepping back never makes a ticket look older, and every
    again = store.update(ticket.id, {"title": "c"})  # change moves updated_at (read-backs)
    assert again is not None and again.updated_ms == updated.updated_ms + 1
    assert store.update("nope", {"title": "x"}) is None


def test_pages_follow_the_cursor_in_creation_order(store: TicketStore) -> None:
    made = [store.create({"title": f"t{i}"}).id for i in range(7)]
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    for _ in range(10):
        page = store.list_page(limit=3, cursor=cursor)
        seen += [t.id for t in page.tickets]
        pages += 1
        cursor = page.next
        if cursor is None:
            break
    assert seen == made
    assert pages == 3


def test_a_full_last_page_has_no_next(store: TicketStore) -> None:
    for i in range(4):
        store.create({"title": str(i)})
    first = store.list_page(limit=2)
    second = store.list_page(limit=2, cursor=first.next)
    assert first.next and len(second.tickets) == 2 and second.next is None


def test_a_capped_page_is_short_and_still_has_a_next(store: TicketStore) -> None:
    for i in range(4):
        store.create({"title": str(i)})
    sizes = []
    cursor: str | None = None
    for _ in range(10):
        page = store.list_page(limit=10, cursor=cursor, cap=2)
        sizes.append(len(page.tickets))
        cursor = page.next
        if cursor is None:
            break
    # Cut pages always offer a next, so the last one may be empty: follow until null.
    assert sizes == [2, 2, 0]


def test_updated_after_is_strict_and_travels_in_the_cursor(
    store: TicketStore, clock: Clock
) -> None:
    old = store.create({"title": "old"})
    clock.advance(10)
    fresh = [store.create({"title": f"new{i}"}).id for i in range(3)]
    clock.advance(10)
    store.update(old.id, {"title": "old, touched"})

    page = store.list_page(limit=2, updated_after=parse_time(old.created_at))
    rest = store.list_page(limit=2, cursor=page.next)  # no filter given again

    assert [t.id for t in page.tickets + rest.tickets] == [old.id, *fresh]
    later = store.list_page(updated_after=clock.now - timedelta(seconds=1))
    assert [t.title for t in later.tickets] == ["old, touched"]


def test_a_foreign_cursor_is_refused(store: TicketStore) -> None:
    with pytest.raises(CursorError):
        store.list_page(cursor="not-a-cursor!")


def test_tickets_survive_closing_and_reopening(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.db"
    with TicketStore(path) as first:
        made = first.create({"title": "kept", "unified_custom_fields": {"k": "v"}})
    with TicketStore(path) as second:
        assert second.get(made.id) == made
        assert second.create({"title": "next"}).remote_id == "SBX-2"
        assert len(second) == 2


def test_concurrent_creates_from_many_threads(store: TicketStore) -> None:
    def work(n: int) -> None:
        for i in range(50):
            store.create({"title": f"{n}-{i}"})

    threads = [threading.Thread(target=work, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    tickets = store.all()
    assert len(tickets) == 800
    assert len({t.id for t in tickets}) == 800
    assert [t.seq for t in tickets] == sorted(t.seq for t in tickets)


def test_custom_field_lookup(store: TicketStore) -> None:
    ticket = store.create({"title": "t", "unified_custom_fields": {"ticketsync_key": "k1"}})
    assert ticket.custom_field("ticketsync_key") == "k1"
    assert store.create({"title": "u"}).custom_field("ticketsync_key") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-01-01T00:00:00.000Z", datetime(2025, 1, 1, tzinfo=UTC)),
        ("2025-01-01T02:00:00+02:00", datetime(2025, 1, 1, tzinfo=UTC)),
        ("2025-01-01", datetime(2025, 1, 1, tzinfo=UTC)),
    ],
)
def test_parse_time_accepts_stackone_and_iso_forms(text: str, expected: datetime) -> None:
    assert parse_time(text) == expected


def test_times_are_utc_with_milliseconds() -> None:
    moment = datetime(2025, 3, 4, 5, 6, 7, 89000, tzinfo=UTC)
    assert format_time(to_ms(moment)) == "2025-03-04T05:06:07.089Z"
    assert to_ms(moment.replace(tzinfo=None)) == to_ms(moment)


def test_a_person_edits_or_deletes_a_ticket_in_the_tracker(store: TicketStore,
                                                         clock: Clock) -> None:
    """What tests use to play a tracker edit: any field, no request rules, updated_at moves."""
    ticket = store.create({"title": "a", "assignees": ["u1"], "project_id": "p"})
    clock.advance(1)
    edited = store.edit(ticket.id, {"assignees": ["u2"], "type": "bug", "project_id": None})
    assert edited is not None and edited.updated_ms > ticket.updated_ms
    assert edited.fields == {"title": "a", "assignees": ["u2"], "type": "bug"}
    assert store.delete(ticket.id) and not store.exists(ticket.id)
    assert not store.delete(ticket.id) and store.edit(ticket.id, {"title": "x"}) is None
