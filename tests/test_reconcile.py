"""Matching remote tickets (read shape) against declared keys (create shape)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ticketsync.stackone.read import RemoteTicket, parse_ticket
from ticketsync.stackone.reconcile import (
    RemoteIndex,
    Verdict,
    Wanted,
    match_remote,
    wanted_from_body,
)


def parsed(**record: Any) -> RemoteTicket:
    """A ticket as the client hands it out, from the JSON record StackOne would send."""
    ticket = parse_ticket(record)
    assert ticket is not None
    return ticket


def matches(wanted: Wanted, ticket: RemoteTicket, marker_field: str | None) -> bool:
    """Whether ``ticket`` alone would be adopted for ``wanted``."""
    verdict = match_remote([wanted], [ticket], marker_field=marker_field)[wanted.key]
    return verdict.verdict is Verdict.ADOPT


def remote(
    ticket_id: str, title: str, project: str | None = "project-001", **extra: Any
) -> RemoteTicket:
    projects = [{"id": project, "remote_id": f"P-{project}", "name": "Platform"}] if project else []
    return parsed(id=ticket_id, title=title, projects=projects, **extra)


WANT = Wanted("outage", "System outage", "project-001")


def test_title_and_project_match_across_the_shapes() -> None:
    assert matches(WANT, remote("t1", "System outage"), None)
    assert matches(WANT, remote("t1", "  System outage "), None)  # providers trim
    assert not matches(WANT, remote("t1", "System outage 2"), None)
    assert not matches(WANT, remote("t1", "System outage", "project-002"), None)
    assert not matches(WANT, remote("t1", "System outage", None), None)
    assert not matches(WANT, parsed(id="t1", title=None), None)


def test_no_declared_project_matches_only_a_ticket_without_one() -> None:
    bare = Wanted("k", "Alone")
    assert matches(bare, remote("t1", "Alone", None), None)
    assert not matches(bare, remote("t1", "Alone"), None)


def test_project_is_recognised_by_its_remote_id_or_a_flat_field() -> None:
    assert remote("t", "x").project_ids == {"project-001", "P-project-001"}
    assert parsed(id="t", project_id="p9", projects=None).project_ids == {"p9"}
    assert parsed(id="t", projects=["junk", {"id": None}]).project_ids == set()
    flat_too = parsed(id="t", project_id="p9", projects=[{"id": "p1", "remote_id": 7}])
    assert flat_too.project_ids == {"p1", "p9"}


def test_the_marker_wins_over_the_title() -> None:
    stamped = remote("t1", "Renamed since", unified_custom_fields={"tsk": "outage"})
    assert matches(WANT, stamped, "tsk")
    assert not matches(WANT, remote("t2", "System outage"), "tsk")
    assert not matches(WANT, remote("t3", "System outage", unified_custom_fields=None), "tsk")


def test_wanted_from_a_create_body() -> None:
    body = {"title": "T", "project_id": "p"}
    assert wanted_from_body("k", body) == Wanted("k", "T", "p", body=body)
    odd = {"title": None, "project_id": 3}
    assert wanted_from_body("k", odd) == Wanted("k", "", None, body=odd)


def test_one_candidate_is_adopted_none_is_none() -> None:
    other = Wanted("other", "Nothing like it", "project-001")
    verdicts = match_remote([WANT, other], [remote("t1", "System outage")], marker_field=None)
    assert verdicts["outage"].verdict is Verdict.ADOPT
    assert verdicts["outage"].remote is not None and verdicts["outage"].remote.id == "t1"
    assert verdicts["outage"].message == (
        "adopted outage (id t1): it already existed remotely"
    )
    assert verdicts["other"].verdict is Verdict.NONE


def test_several_candidates_name_them_and_the_import_command() -> None:
    tickets = [remote("t2", "System outage"), remote("t1", "System outage")]
    verdict = match_remote([WANT], tickets, marker_field=None)["outage"]
    assert verdict.verdict is Verdict.AMBIGUOUS
    assert verdict.candidates == ("t1", "t2")
    assert verdict.message == (
        "several remote tickets match outage: t1, t2; keep the right one and run "
        "`ticketsync state import outage ID` (a marker field avoids this)"
    )


def test_tracked_tickets_are_never_candidates() -> None:
    tickets = [remote("t1", "System outage"), remote("t2", "System outage")]
    verdict = match_remote([WANT], tickets, marker_field=None, exclude_ids={"t1"})["outage"]
    assert verdict.verdict is Verdict.ADOPT and verdict.candidates == ("t2",)


def test_a_ticket_matching_two_keys_is_ambiguous_for_both() -> None:
    twin = Wanted("outage-2", "System outage", "project-001")
    verdicts = match_remote([WANT, twin], [remote("t1", "System outage")], marker_field=None)
    assert verdicts["outage"].verdict is Verdict.AMBIGUOUS
    assert verdicts["outage-2"].verdict is Verdict.AMBIGUOUS


def test_repeated_tickets_are_counted_once() -> None:
    tickets = [remote("t1", "System outage"), remote("t1", "System outage")]
    assert match_remote([WANT], tickets, marker_field=None)["outage"].verdict is Verdict.ADOPT


def test_a_ticket_updated_before_the_first_send_is_not_that_send() -> None:
    """An uncertain create is looked for among tickets updated after its first send (less
    the margin): an older ticket with the same title was made by someone else."""
    sent = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    wanted = Wanted("outage", "System outage", "project-001", since=sent)
    before = remote("t1", "System outage", updated_at="2026-01-01T11:59:59.000Z")
    after = remote("t2", "System outage", updated_at="2026-01-01T12:00:01.000Z")
    verdict = match_remote([wanted], [before, after], marker_field=None)["outage"]
    assert verdict.verdict is Verdict.ADOPT and verdict.candidates == ("t2",)
    # A ticket whose updated_at cannot be read is kept as a candidate (the safe side).
    odd = remote("t3", "System outage", updated_at="yesterday")
    assert match_remote([wanted], [after, odd], marker_field=None)["outage"].candidates == (
        "t2", "t3")


def test_the_index_keeps_the_latest_version_of_each_ticket() -> None:
    index = RemoteIndex()
    assert index.add([remote("t1", "Old title"), remote("t2", "Other")]) == 2
    assert index.add([remote("t1", "System outage")]) == 0  # seen: not new, but updated
    assert index.match([WANT], marker_field=None)["outage"].candidates == ("t1",)


def test_matching_is_linear_in_wanted_and_listed() -> None:
    """10,000 wanted keys against 20,000 listed tickets: each ticket is looked up in a dict,
    not compared with every key (the bench times it; here it must simply finish at once,
    with the right verdicts)."""
    wanted = [Wanted(f"k{i}", f"Title {i}", "project-001") for i in range(10_000)]
    listed = [remote(f"t{i}", f"Title {i}") for i in range(0, 20_000, 2)]
    listed += [remote(f"u{i}", f"Unrelated {i}") for i in range(10_000)]
    started = datetime.now(UTC)
    verdicts = match_remote(wanted, listed, marker_field=None)
    assert datetime.now(UTC) - started < timedelta(seconds=20)  # quadratic: minutes
    adopted = [k for k, v in verdicts.items() if v.verdict is Verdict.ADOPT]
    assert len(adopted) == 5_000 and verdicts["k0"].candidates == ("t0",)
    assert verdicts["k1"].verdict is Verdict.NONE
