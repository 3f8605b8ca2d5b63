"""Hostile review of the apply path: each test is a hole that was found, shown, then closed.

Against the in-memory fake (tests/fakes.py) and the very lifecycle the CLI runs
(:class:`ticketsync.run.workspace.Workspace`), so that each sequence of events is exact.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fakes import FakeApi

from ticketsync.declare.config import Config
from ticketsync.errors import ConnectError
from ticketsync.model import Body, Create, Plan
from ticketsync.run.apply import ApplyOptions, ApplyResult, apply_plan
from ticketsync.run.workspace import Workspace
from ticketsync.stackone.api import CreatedTicket, RemoteTicket
from ticketsync.stackone.retry import RetryPolicy
from ticketsync.state.file import State, StateEntry, new_state, read_state, with_entry
from ticketsync.state.journal import Journal, journal_path_for
from ticketsync.state.recovery import read_records, recover
from ticketsync.times import parse_time


def body(key: str) -> dict[str, Any]:
    return {"title": f"Ticket {key}", "project_id": "project-001"}


def creates(*keys: str) -> Plan:
    return Plan(creates=tuple(Create(k, body(k)) for k in keys))


def workspace(state_path: Path) -> Workspace:
    return Workspace(Config(root=state_path.parent, state=Path(state_path.name)))


def apply_like_the_cli(state_path: Path, plan: Plan, api: FakeApi, **options: Any) -> ApplyResult:
    """What `ticketsync apply` does once the plan is chosen: the workspace's session."""
    options.setdefault("settle_delay", 0)
    with workspace(state_path).session() as session:
        return session.apply(plan, api, options=ApplyOptions(**options))


def test_a_committed_state_still_covers_a_create_left_uncertain_by_its_run(
    tmp_path: Path,
) -> None:
    """docs/design.md, "No duplicates", "a CI runner that dies and takes its working directory with
    it".

    A create's answer is lost and the lookup after it fails too, so its intent stays open
    in the journal. The run goes on for an hour (a big apply), creates other tickets, and
    writes the state at the end. CI commits the state file even after a partial failure
    (examples/ci), never the journal. The next run, from a fresh checkout, looks up what
    was updated since the state's ``written_at`` minus the skew margin: if ``written_at``
    were the time of the write, the uncertain ticket (an hour older) would not be listed,
    and it would be created a second time.
    """
    state_path = tmp_path / "ticketsync.state.json"
    workspace(state_path).init("acc-1")
    api = FakeApi()

    def lose_a_then_an_hour_passes(b: Body, n: int) -> str | None:
        if b["title"] == "Ticket a":
            api.list_error = ConnectError("connection refused")
            return "lost"  # created, answer lost; the lookup after it fails
        api.shift(timedelta(hours=1))  # StackOne's clock: the run goes on for an hour
        return None

    api.on_create = lose_a_then_an_hour_passes
    result = apply_like_the_cli(state_path, creates("a", "b"), api, concurrency=1)
    assert (result.created, result.failed) == (1, 1)
    assert "Ticket a" in api.titles()
    committed = state_path.read_bytes()
    assert "b" in read_state(state_path).tickets and "a" not in read_state(state_path).tickets

    # A fresh checkout: the committed state file, no journal.
    fresh = tmp_path / "checkout" / "ticketsync.state.json"
    fresh.parent.mkdir()
    fresh.write_bytes(committed)
    api.list_error, api.on_create = None, None
    again = apply_like_the_cli(fresh, creates("a", "b"), api)
    assert (again.adopted, again.created) == (1, 0)
    assert api.titles() == ["Ticket a", "Ticket b"]  # no second "Ticket a"


def test_written_at_never_runs_ahead_of_an_uncertain_intent(tmp_path: Path) -> None:
    """The bound itself: a state written while an intent is open is dated before it."""
    state_path = tmp_path / "ticketsync.state.json"
    workspace(state_path).init("acc-1")
    opened = datetime.now(UTC) - timedelta(hours=3)
    with Journal(journal_path_for(state_path)) as journal:
        journal.record_intent("open", body("open"), at=opened)
        journal.record_created("done", "t-1", None, body("done"))
    with workspace(state_path).session() as session:  # folds and commits the journal
        written = session.state
    assert "done" in written.tickets
    assert parse_time(read_state(state_path).written_at) <= opened
    assert [i.key for i in recover(written, journal_path_for(state_path))[1]] == ["open"]


def test_a_child_whose_parent_the_journal_recorded_is_still_sent(tmp_path: Path) -> None:
    """`apply --plan FILE` after a killed run: the saved plan names the parent by key
    (``Create.parent``), but the journal shows the parent created since, so the parent's
    create is dropped. The child must then be sent with the parent's id, not be silently
    left out of a run that reports success."""
    api = FakeApi()
    parent_id = api.add_remote(body("p"))
    state: State = with_entry(
        new_state("acc-1"), "p", StateEntry(parent_id, None, "2024-01-01T00:00:00Z", body("p"))
    )
    plan = Plan(creates=(Create("p", body("p")), Create("c", body("c"), parent="p")))
    with Journal(journal_path_for(tmp_path / "s.json")) as journal:
        result = apply_plan(plan, api, journal, state, options=ApplyOptions(settle_delay=0))
    assert (result.created, result.not_started) == (1, 0) and result.ok
    child = next(t for t in api.tickets.values() if t["title"] == "Ticket c")
    assert child["parent_id"] == parent_id
    assert api.creates == 1  # and the parent was not sent again


class RecordingApi(FakeApi):
    """The fake, remembering where each listing started."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.since: list[datetime | None] = []

    def list_tickets(self, updated_after: datetime | None = None) -> Iterator[RemoteTicket]:
        self.since.append(updated_after)
        return super().list_tickets(updated_after)


def test_every_lookup_after_a_resend_reaches_back_to_the_first_send(tmp_path: Path) -> None:
    """A create with no answer, three times: each lookup starts before the *first* send,
    whose ticket may still appear (a provider finishing late), not before the latest."""
    api = RecordingApi(on_create=lambda b, n: "lost-before")
    jpath = journal_path_for(tmp_path / "s.json")
    margin = timedelta(minutes=10)
    with Journal(jpath) as journal:
        result = apply_plan(creates("a"), api, journal, new_state("acc-1"),
                            options=ApplyOptions(settle_delay=0, retry=RetryPolicy(create_sends=3),
                                                 skew_margin=margin))
    assert result.failed == 1 and api.creates == 3
    sent = [parse_time(r["at"]) for r in read_records(jpath) if r["op"] == "intent"]
    assert len(sent) == 3 and sent[0] < sent[2]
    # Every listing after the pre-create lookup (three lookups, and the read-back that
    # overlaps the last send) starts at the first send, less the margin.
    assert len(api.since) >= 4 and set(api.since[1:]) == {sent[0] - margin}
    # And the next run, from the journal, reaches back to the first send too.
    assert [i.at for i in recover(new_state("acc-1"), jpath)[1]] == [sent[0]]


class _SlowSecondAnswer(FakeApi):
    """The second create acts at once but answers late: its ticket is listed before the
    run knows whose it is."""

    def create_ticket(self, body: Body) -> CreatedTicket:
        created = super().create_ticket(body)
        if self.creates == 2:
            time.sleep(0.5)
        return created


def test_a_twin_whose_answer_is_late_is_never_adopted_by_the_other(tmp_path: Path) -> None:
    """Two keys with the same title and project, no marker: one create is lost before it
    acts, the other acts and its answer is still on its way when the first is settled.
    The one ticket listed could be either key's: the lost key must not take it (tracked
    twice, or the late answer making a third). The lookup waits for the answers in
    flight, so the ticket is the late key's by then and the lost one is sent again."""
    api = _SlowSecondAnswer(on_create=lambda b, n: "lost-before" if n == 1 else None)
    jpath = journal_path_for(tmp_path / "s.json")
    plan = Plan(creates=(Create("a", body("same")), Create("b", body("same"))))
    with Journal(jpath) as journal:
        result = apply_plan(plan, api, journal, new_state("acc-1"), uncertain=[],
                            options=ApplyOptions(settle_delay=0, concurrency=2))
    assert (result.created, result.adopted, result.failed) == (2, 0, 0), result.messages
    tracked = recover(new_state("acc-1"), jpath)[0].tickets
    assert sorted(e.id for e in tracked.values()) == sorted(api.tickets)  # one each
    assert api.creates == 3 and len(api.tickets) == 2


def test_twins_without_a_marker_are_never_adopted_twice_nor_tripled(tmp_path: Path) -> None:
    """Two keys with the same title and project, no marker, both answers lost: each remote
    ticket could be either key's. Neither is adopted (never one ticket for two keys), none
    is resent (never a third ticket); both stop with the candidates named, run after run."""
    api = FakeApi(on_create=lambda b, n: "lost", latency=0.05)
    jpath = journal_path_for(tmp_path / "s.json")
    plan = Plan(creates=(Create("a", body("same")), Create("b", body("same"))))
    for _ in range(2):
        with Journal(jpath) as journal:
            state, uncertain = recover(new_state("acc-1"), jpath)
            result = apply_plan(plan, api, journal, state, uncertain=uncertain,
                                options=ApplyOptions(settle_delay=0, concurrency=2))
        assert (result.failed, result.adopted, result.created) == (2, 0, 0)
        assert all("several remote tickets match" in m for m in result.messages)
        api.on_create = None
    assert api.creates == 2 and len(api.tickets) == 2
    assert recover(new_state("acc-1"), jpath)[0].tickets == {}
