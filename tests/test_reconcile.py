"""Matching remote tickets (read shape) against declared keys (create shape)."""

from __future__ import annotations

from typing import Any

from ticketsync.reconcile import (
    Verdict,
    Wanted,
    match_remote,
    matches,
    remote_project_ids,
    wanted_from_body,
)


def remote(
    ticket_id: str, title: str, project: str | None = "project-001", **extra: Any
) -> dict[str, Any]:
    projects = [{"id": project, "remote_id": f"P-{project}", "name": "Platform"}] if project else []
    return {"id": ticket_id, "title": title, "projects": projects, **extra}


WANT = Wanted("outage", "System outage", "project-001")


def test_title_and_project_match_across_the_shapes() -> None:
    assert matches(WANT, remote("t1", "System outage"), None)
    assert matches(WANT, remote("t1", "  System outage "), None)  # providers trim
    assert not matches(WANT, remote("t1", "System outage 2"), None)
    assert not matches(WANT, remote("t1", "System outage", "project-002"), None)
    assert not matches(WANT, remote("t1", "System outage", None), None)
    assert not matches(WANT, {"id": "t1", "title": None}, None)


def test_no_declared_project_matches_only_a_ticket_without_one() -> None:
    bare = Wanted("k", "Alone")
    assert matches(bare, remote("t1", "Alone", None), None)
    assert not matches(bare, remote("t1", "Alone"), None)


def test_project_is_recognised_by_its_remote_id_or_a_flat_field() -> None:
    assert remote_project_ids(remote("t", "x")) == {"project-001", "P-project-001"}
    assert remote_project_ids({"project_id": "p9", "projects": None}) == {"p9"}
    assert remote_project_ids({"projects": ["junk", {"id": None}]}) == set()


def test_the_marker_wins_over_the_title() -> None:
    stamped = remote("t1", "Renamed since", unified_custom_fields={"tsk": "outage"})
    assert matches(WANT, stamped, "tsk")
    assert not matches(WANT, remote("t2", "System outage"), "tsk")
    assert not matches(WANT, remote("t3", "System outage", unified_custom_fields=None), "tsk")


def test_wanted_from_a_create_body() -> None:
    assert wanted_from_body("k", {"title": "T", "project_id": "p"}) == Wanted("k", "T", "p")
    assert wanted_from_body("k", {"title": None, "project_id": 3}) == Wanted("k", "", None)


def test_one_candidate_is_adopted_none_is_none() -> None:
    other = Wanted("other", "Nothing like it", "project-001")
    verdicts = match_remote([WANT, other], [remote("t1", "System outage")], marker_field=None)
    assert verdicts["outage"].verdict is Verdict.ADOPT
    assert verdicts["outage"].remote is not None and verdicts["outage"].remote["id"] == "t1"
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


def test_repeated_or_id_less_tickets_are_counted_once() -> None:
    tickets = [remote("t1", "System outage"), remote("t1", "System outage"), {"title": "x"}]
    assert match_remote([WANT], tickets, marker_field=None)["outage"].verdict is Verdict.ADOPT
