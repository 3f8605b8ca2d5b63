"""The applier against an in-memory StackOne: order, concurrency, failures, reconciliation."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeApi

from ticketsync.errors import ApiError, ConnectError, StateError
from ticketsync.model import Body, Create, Plan, Update
from ticketsync.run.apply import ApplyOptions, ApplyResult, Event, apply_plan, lookup_since
from ticketsync.stackone.retry import RetryPolicy
from ticketsync.state.file import State, StateEntry, new_state, with_entry
from ticketsync.state.journal import Journal, journal_path_for
from ticketsync.state.recovery import recover

MARK = "ticketsync_key"


def body(key: str, *, marker: bool = False, project: str | None = "project-001") -> dict[str, Any]:
    result: dict[str, Any] = {"title": f"Ticket {key}"}
    if project:
        result["project_id"] = project
    if marker:
        result["unified_custom_fields"] = {MARK: key}
    return result


def creates(*keys: str, parents: dict[str, str] | None = None, marker: bool = False) -> Plan:
    parents = parents or {}
    return Plan(
        creates=tuple(Create(k, body(k, marker=marker), parent=parents.get(k)) for k in keys)
    )


class Run:
    """One apply against a fake, with the journal in a temp folder and events collected."""

    def __init__(self, tmp_path: Path, api: FakeApi, state: State | None = None) -> None:
        self.api = api
        self.state = state or new_state("acc-1")
        self.jpath = journal_path_for(tmp_path / "ticketsync.state.json")
        self.events: list[Event] = []

    def __call__(self, plan: Plan, **options: Any) -> ApplyResult:
        options.setdefault("settle_delay", 0)
        state, uncertain = recover(self.state, self.jpath)
        with Journal(self.jpath) as journal:
            result = apply_plan(
                plan, self.api, journal, state, uncertain=uncertain,
                options=ApplyOptions(**options), on_event=self.events.append,
            )
        self.state = recover(self.state, self.jpath)[0]
        return result

    def kinds(self) -> list[tuple[str, str]]:
        return [(e.kind, e.key) for e in self.events]


def test_creates_everything_and_journals_each_id(tmp_path: Path) -> None:
    run = Run(tmp_path, FakeApi())
    result = run(creates("a", "b", "c"))
    assert (result.created, result.failed, result.ok) == (3, 0, True)
    assert set(run.state.tickets) == {"a", "b", "c"}
    assert run.state.tickets["a"].applied == body("a")
    assert sorted(run.kinds()) == [("created", "a"), ("created", "b"), ("created", "c")]
    assert run.api.lists == 2  # one pre-create listing, one read-back after the creates


def test_a_child_is_sent_after_its_parent_with_the_parents_id(tmp_path: Path) -> None:
    run = Run(tmp_path, FakeApi(latency=0.01))
    plan = creates("p", "c1", "c2", "g", parents={"c1": "p", "c2": "p", "g": "c1"})
    assert run(plan).created == 4
    order = [b["title"] for b in run.api.sent_bodies]
    assert order.index("Ticket p") < order.index("Ticket c1") < order.index("Ticket g")
    ids = {k: e.id for k, e in run.state.tickets.items()}
    assert run.api.tickets[ids["c1"]]["parent_id"] == ids["p"]
    assert run.api.tickets[ids["g"]]["parent_id"] == ids["c1"]
    assert run.state.tickets["c2"].applied["parent_id"] == ids["p"]


def test_requests_in_flight_never_exceed_the_concurrency(tmp_path: Path) -> None:
    run = Run(tmp_path, FakeApi(latency=0.03))
    result = run(creates(*[f"k{i:02d}" for i in range(24)]), concurrency=4)
    assert result.created == 24
    assert 2 <= run.api.max_in_flight <= 4


def test_a_refused_ticket_fails_alone_and_its_descendants_are_skipped(tmp_path: Path) -> None:
    api = FakeApi(on_create=lambda b, n: "reject" if b["title"] == "Ticket p" else None)
    run = Run(tmp_path, api)
    plan = creates("p", "c", "g", "other", parents={"c": "p", "g": "c"})
    result = run(plan)
    assert (result.created, result.failed, result.skipped, result.ok) == (1, 1, 2, False)
    assert set(run.state.tickets) == {"other"}
    assert result.messages == [
        "failed p: 422: title: must not be empty",
        "skipped c: its parent p was not created",
        "skipped g: its parent c was not created",
    ]
    assert recover(new_state("acc-1"), run.jpath)[1] == []  # a refusal is not uncertain


def test_never_sent_counts_as_a_failure_not_an_uncertainty(tmp_path: Path) -> None:
    run = Run(tmp_path, FakeApi(on_create=lambda b, n: "connect"))
    result = run(creates("a"))
    assert result.failed == 1 and run.api.tickets == {}
    assert recover(new_state("acc-1"), run.jpath)[1] == []


@pytest.mark.parametrize("marker", [True, False])
def test_a_lost_answer_is_reconciled_and_adopted_not_resent(tmp_path: Path, marker: bool) -> None:
    api = FakeApi(on_create=lambda b, n: "lost" if n == 1 else None)
    run = Run(tmp_path, api)
    result = run(creates("a", marker=marker), marker_field=MARK if marker else None)
    assert (result.created, result.adopted, result.failed) == (0, 1, 0)
    assert api.creates == 1 and len(api.tickets) == 1
    assert run.state.tickets["a"].id == next(iter(api.tickets))
    assert "adopted a (id t-00001): created despite 502: bad gateway" in [
        e.message for e in run.events
    ]


def test_an_uncertain_create_that_did_nothing_is_resent(tmp_path: Path) -> None:
    api = FakeApi(on_create=lambda b, n: "lost-before" if n == 1 else None)
    run = Run(tmp_path, api)
    result = run(creates("a"))
    assert (result.created, result.failed) == (1, 0)
    assert api.creates == 2 and len(api.tickets) == 1
    assert ("retried", "a") in run.kinds()


def test_several_candidates_after_an_uncertain_create_stop_that_ticket(tmp_path: Path) -> None:
    api = FakeApi(on_create=lambda b, n: "twice" if b["title"] == "Ticket a" else None)
    run = Run(tmp_path, api)
    result = run(creates("a", "b", "c", parents={"c": "a"}))
    assert (result.created, result.failed, result.skipped) == (1, 1, 1)
    assert api.creates == 2  # a was never resent
    assert result.messages[0].startswith("several remote tickets match a: t-00001, t-00002")
    assert "`ticketsync state import a ID`" in result.messages[0]
    # The intent stays open: the next run reconciles again (and again says several).
    assert [i.key for i in recover(new_state("acc-1"), run.jpath)[1]] == ["a"]


def test_an_answer_that_never_comes_leaves_the_intent_open(tmp_path: Path) -> None:
    api = FakeApi(on_create=lambda b, n: "lost-before")
    run = Run(tmp_path, api)
    result = run(creates("a"), retry=RetryPolicy(create_sends=2))
    assert result.failed == 1 and api.creates == 2
    assert "no answer after 2 attempts (last: read timed out)" in result.messages[0]
    assert [i.key for i in recover(new_state("acc-1"), run.jpath)[1]] == ["a"]
    # The next run (the API works again) looks it up, finds nothing, and creates it.
    api.on_create = None
    again = run(creates("a"))
    assert again.created == 1 and len(api.tickets) == 1


def test_a_failed_lookup_after_an_uncertain_create_never_resends(tmp_path: Path) -> None:
    api = FakeApi()

    def lose_and_break_listing(b: Body, n: int) -> str:
        api.list_error = ConnectError("connection refused")
        return "lost"

    api.on_create = lose_and_break_listing
    run = Run(tmp_path, api)
    result = run(creates("a"))
    assert result.failed == 1 and api.creates == 1
    assert "the ticket may exist: run apply again" in result.messages[0]
    api.list_error, api.on_create = None, None
    assert run(creates("a")).adopted == 1 and len(api.tickets) == 1


@pytest.mark.parametrize("marker", [True, False])
def test_the_pre_create_lookup_adopts_what_a_lost_run_created(tmp_path: Path, marker: bool) -> None:
    api = FakeApi()
    existing = api.add_remote(body("a", marker=marker))
    run = Run(tmp_path, api)
    result = run(creates("a", "b", "c", parents={"c": "a"}, marker=marker),
                 marker_field=MARK if marker else None)
    assert (result.adopted, result.created) == (1, 2)
    assert run.state.tickets["a"].id == existing
    assert api.creates == 2
    assert run.api.tickets[run.state.tickets["c"].id]["parent_id"] == existing
    assert run.events[0] == Event(
        "adopted", "a", existing, f"adopted a (id {existing}): it already existed remotely"
    )


def test_the_lookup_starts_before_the_state_was_written(tmp_path: Path) -> None:
    api = FakeApi()
    state = new_state("acc-1")
    written = datetime.fromisoformat(state.written_at.replace("Z", "+00:00"))
    api.add_remote(body("old"), at=written - timedelta(minutes=30))  # before: not listed
    recent = api.add_remote(body("new"), at=written - timedelta(minutes=5))  # skew margin
    run = Run(tmp_path, api, state)
    result = run(creates("old", "new"))
    assert (result.created, result.adopted) == (1, 1)
    assert run.state.tickets["new"].id == recent


def test_the_lookup_also_reaches_back_to_the_oldest_uncertain_intent() -> None:
    state = new_state("acc-1")
    old = datetime(2020, 1, 1, tzinfo=UTC)
    from ticketsync.state.journal import Intent

    since = lookup_since(state, [Intent("a", "d", old)], timedelta(minutes=10))
    assert since == old - timedelta(minutes=10)


def test_several_candidates_before_creating_stop_that_ticket(tmp_path: Path) -> None:
    api = FakeApi()
    first, second = api.add_remote(body("a")), api.add_remote(body("a"))
    run = Run(tmp_path, api)
    result = run(creates("a", "c", "b", parents={"c": "a"}))
    assert (result.created, result.failed, result.skipped) == (1, 1, 1)
    assert result.messages[0] == (
        f"several remote tickets match a: {first}, {second}; keep the right one and run "
        "`ticketsync state import a ID` (a marker field avoids this)"
    )


def test_tracked_tickets_are_not_adopted_again(tmp_path: Path) -> None:
    api = FakeApi()
    tracked_id = api.add_remote(body("a"))
    state = with_entry(new_state("acc-1"), "a", StateEntry(tracked_id, None, "x", body("a")))
    run = Run(tmp_path, api, state)
    # "a2" has the same title as the tracked "a": it must be created, not adopt a's ticket.
    plan = Plan(creates=(Create("a2", body("a")),))
    assert run(plan).created == 1 and len(api.tickets) == 2


def test_uncertain_intents_from_a_crashed_run_are_settled_first(tmp_path: Path) -> None:
    api = FakeApi()
    run = Run(tmp_path, api)
    with Journal(run.jpath) as journal:  # a run that died mid-request, three times over
        journal.record_intent("made", body("made"), at=datetime.now(UTC))
        journal.record_intent("never", body("never"), at=datetime.now(UTC))
        journal.record_intent("gone", body("gone"), at=datetime.now(UTC))  # no longer declared
    made = api.add_remote(body("made"))
    result = run(creates("made", "never"))
    assert (result.adopted, result.created) == (1, 1)
    assert run.state.tickets["made"].id == made
    assert "gone" not in run.state.tickets
    assert recover(new_state("acc-1"), run.jpath)[1] == []  # all settled


def test_an_uncertain_undeclared_key_that_exists_is_tracked(tmp_path: Path) -> None:
    api = FakeApi()
    run = Run(tmp_path, api)
    with Journal(run.jpath) as journal:
        journal.record_intent("gone", body("gone"), at=datetime.now(UTC))
    found = api.add_remote(body("gone"))
    result = run(Plan())
    assert result.adopted == 1 and run.state.tickets["gone"].id == found


def test_a_failing_listing_stops_before_anything_is_created(tmp_path: Path) -> None:
    api = FakeApi()
    api.list_error = ApiError("502: bad gateway", status=502)
    with pytest.raises(ApiError):
        Run(tmp_path, api)(creates("a"))
    assert api.creates == 0


def test_a_refused_key_stops_the_run(tmp_path: Path) -> None:
    api = FakeApi(on_create=lambda b, n: "auth")
    result = Run(tmp_path, api)(creates(*"abcdef"), concurrency=1)
    assert result.failed == 1 and result.not_started == 5 and api.creates == 1


def test_a_stop_request_waits_for_requests_in_flight(tmp_path: Path) -> None:
    stop = threading.Event()
    api = FakeApi(latency=0.05, on_create=lambda b, n: stop.set() if n == 2 else None)
    run = Run(tmp_path, api)
    result = run(creates(*[f"k{i:02d}" for i in range(20)], parents={"k19": "k18"}),
                 concurrency=3, stop=stop)
    assert result.interrupted and not result.ok
    # Whatever was sent has its outcome journaled; the rest was never started.
    assert result.created == api.creates == len(run.state.tickets)
    assert result.created + result.not_started == 20
    assert recover(new_state("acc-1"), run.jpath)[1] == []


def test_ctrl_c_stops_submitting_and_records_what_was_in_flight(tmp_path: Path) -> None:
    api = FakeApi(latency=0.05)
    run = Run(tmp_path, api)
    seen = 0

    def interrupt_once(event: Event) -> None:
        nonlocal seen
        run.events.append(event)
        seen += 1
        if seen == 1:
            raise KeyboardInterrupt

    state, _ = recover(run.state, run.jpath)
    with Journal(run.jpath) as journal:
        result = apply_plan(
            creates(*[f"k{i:02d}" for i in range(20)]), api, journal, state,
            options=ApplyOptions(concurrency=4, settle_delay=0), on_event=interrupt_once,
        )
    assert result.interrupted and result.not_started > 0
    folded, uncertain = recover(run.state, run.jpath)
    assert uncertain == [] and len(folded.tickets) == api.creates == len(api.tickets)
    assert ("interrupted", "") in run.kinds()


def test_a_broken_journal_stops_the_run_and_is_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = FakeApi()
    run = Run(tmp_path, api)
    from ticketsync.state import journal as journal_module

    def no_space(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(journal_module.os, "fdatasync", no_space)
    with pytest.raises(StateError, match="No space left"):
        run(creates("a", "b"))
    assert api.creates == 0  # the intent was never durable: nothing was sent


def test_updates_patch_only_the_changed_fields(tmp_path: Path) -> None:
    api = FakeApi()
    tid = api.add_remote(body("a"))
    state = with_entry(new_state("acc-1"), "a", StateEntry(tid, None, "x", body("a")))
    desired = {**body("a"), "title": "New title", "tags": ["x"]}
    plan = Plan(updates=(Update("a", tid, ("tags", "title"), desired),), updates_enabled=True)
    run = Run(tmp_path, api, state)
    result = run(plan)
    assert result.updated == 1 and api.patches == [(tid, {"tags": ["x"], "title": "New title"})]
    assert run.state.tickets["a"].applied == desired
    assert api.lists == 1  # nothing to create, so no lookup; one read-back after the PATCH


def test_updates_are_left_alone_unless_enabled(tmp_path: Path) -> None:
    api = FakeApi()
    tid = api.add_remote(body("a"))
    plan = Plan(updates=(Update("a", tid, ("title",), {"title": "New"}),), updates_enabled=False)
    assert Run(tmp_path, api)(plan).updated == 0 and api.patches == []


def test_a_refused_update_fails_that_ticket(tmp_path: Path) -> None:
    plan = Plan(updates=(Update("a", "missing", ("title",), {"title": "x"}),), updates_enabled=True)
    result = Run(tmp_path, FakeApi())(plan)
    assert result.failed == 1 and result.messages == [
        "failed to update a: it was deleted in the tracker (StackOne answered 404); it is not "
        "re-created: `ticketsync state rm a` to create it again"]


@pytest.mark.parametrize("marker", [True, False])
def test_a_child_that_a_lost_run_created_is_adopted_with_its_parent(
    tmp_path: Path, marker: bool
) -> None:
    """The child is routed when its parent is adopted: it must meet the lookup's verdict
    then, not be sent blindly (a refactor once routed it without one: duplicates)."""
    api = FakeApi()
    parent = api.add_remote(body("a", marker=marker))
    child = api.add_remote({**body("c", marker=marker), "parent_id": parent})
    run = Run(tmp_path, api)
    result = run(creates("a", "b", "c", parents={"c": "a"}, marker=marker),
                 marker_field=MARK if marker else None)
    assert (result.adopted, result.created) == (2, 1)
    assert run.state.tickets["c"].id == child and api.creates == 1


def test_a_resend_that_fails_before_being_sent_keeps_the_first_send_open(
    tmp_path: Path,
) -> None:
    """Defect #9.1: the first send's answer is lost and the lookup finds nothing, so the
    create is sent again; that resend fails before going out (connection refused). The
    first send may still appear remotely (a provider finishing late): its intent must stay
    open for the next run's lookup, not be closed by the resend's failure."""
    api = FakeApi(on_create=lambda b, n: "lost-before" if n == 1 else "connect")
    run = Run(tmp_path, api)
    result = run(creates("a"))
    assert result.failed == 1 and api.creates == 2
    uncertain = recover(new_state("acc-1"), run.jpath)[1]
    assert [i.key for i in uncertain] == ["a"]
    # The provider did finish the first send after all: the next run adopts it.
    api.add_remote(body("a"))
    api.on_create = None
    again = run(creates("a"))
    assert (again.adopted, again.created) == (1, 0) and len(api.tickets) == 1


def test_a_first_send_refused_closes_its_intent(tmp_path: Path) -> None:
    """The other side of the rule: a first send that StackOne refused made nothing."""
    run = Run(tmp_path, FakeApi(on_create=lambda b, n: "reject"))
    assert run(creates("a")).failed == 1
    assert recover(new_state("acc-1"), run.jpath)[1] == []


def test_many_uncertain_creates_are_looked_up_together_whatever_their_number(
    tmp_path: Path,
) -> None:
    # A third of 300 creates lose their answer: each lookup lists the run so far, so a
    # lookup per so-many of them would make list requests per create grow with the run.
    api = FakeApi(on_create=lambda b, n: "lost" if n % 3 == 0 else None)
    run = Run(tmp_path, api)
    result = run(creates(*(f"t{n:03d}" for n in range(300))), concurrency=8)
    assert (result.created + result.adopted, result.failed) == (300, 0)
    assert len(api.tickets) == 300
    assert api.lists == 3  # the lookup before, one for every lost answer, the read-back


def test_uncertain_creates_wait_at_most_the_settle_interval(tmp_path: Path) -> None:
    listed_after: list[int] = []
    api = FakeApi(latency=0.01, on_create=lambda b, n: "lost" if n == 2 else None)
    real = api.list_tickets

    def list_tickets(updated_after: datetime | None = None) -> Any:
        listed_after.append(api.creates)
        return real(updated_after)

    api.list_tickets = list_tickets  # type: ignore[method-assign]
    run = Run(tmp_path, api)
    result = run(creates(*(f"t{n:03d}" for n in range(80))), concurrency=1,
                 settle_interval=0.2)
    assert (result.created + result.adopted, result.failed, len(api.tickets)) == (80, 0, 80)
    # Looked up while creates were still being sent, not only once they were all done.
    assert listed_after[0] == 0 and 2 < listed_after[1] < 80
