"""A full refresh finds the tracked tickets deleted in the tracker, which a listing of what
changed cannot show, at about the cheaper of one complete listing or one GET each."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from cli_helpers import enter_project, invoke, write

from ticketsync.model import State, StateEntry
from ticketsync.run.workspace import find_deleted, read_back
from ticketsync.sandbox import TicketStore, start_sandbox
from ticketsync.stackone.client import StackOneClient
from ticketsync.stackone.reconcile import RemoteIndex
from ticketsync.state.file import new_state, read_state


def tracking(store: TicketStore, count: int, tracked: range) -> State:
    """``count`` tickets in the tracker, the ones at ``tracked`` positions in the state."""
    made = [store.create({"title": f"t{i}"}) for i in range(count)]
    entries = {f"k{i}": StateEntry(made[i].id, made[i].remote_id, made[i].created_at)
               for i in tracked}
    return replace(new_state("acc"), tickets=entries)


def listing_and_gets(log: list[str]) -> tuple[int, int]:
    """(list pages, GETs of one ticket) the sandbox answered."""
    lines = [line.split()[1] for line in log if line.startswith("GET ")]
    pages = sum(1 for path in lines if path.startswith("/unified/ticketing/tickets?"))
    gets = sum(1 for path in lines if path.startswith("/unified/ticketing/tickets/"))
    return pages, gets


def run(tmp_path: Path, count: int, tracked: range, deleted: list[int]
        ) -> tuple[list[str], RemoteIndex, tuple[int, int]]:
    log: list[str] = []
    with start_sandbox(tmp_path / "s.db", log=log.append) as sandbox:
        state = tracking(sandbox.store, count, tracked)
        for i in deleted:
            assert sandbox.store.delete(state.tickets[f"k{i}"].id)
        client = StackOneClient(sandbox.url, "key", "acc")
        index = RemoteIndex()
        try:
            gone = find_deleted(client, state, index)
        finally:
            client.close()
    return gone, index, listing_and_gets(log)


def test_many_tracked_tickets_in_a_small_tracker_cost_one_listing(tmp_path: Path) -> None:
    gone, index, cost = run(tmp_path, 30, range(30), [3, 17, 29])
    assert gone == ["k17", "k29", "k3"]
    assert len(index.tickets) == 27  # the ones found are read back too
    assert cost == (1, 3)  # one page, then a GET to confirm each ticket it lacked


def test_few_tracked_tickets_in_a_big_tracker_cost_a_get_each(tmp_path: Path) -> None:
    """Two tracked tickets at the end of 250: the listing stops once it has cost as much as
    their GETs (two pages), then each is fetched: never a third page."""
    gone, _, cost = run(tmp_path, 250, range(248, 250), [249])
    assert gone == ["k249"]
    assert cost == (2, 2)
    gone, _, cost = run(tmp_path / "one", 250, range(0, 1), [0])
    assert (gone, cost) == (["k0"], (0, 1))  # one ticket: a GET, no listing at all


def test_nothing_is_looked_for_when_the_listing_of_changes_showed_every_ticket(
    tmp_path: Path,
) -> None:
    log: list[str] = []
    with start_sandbox(tmp_path / "s.db", log=log.append) as sandbox:
        state = tracking(sandbox.store, 3, range(3))
        client = StackOneClient(sandbox.url, "key", "acc")
        try:
            after, _, _ = read_back(client, state, full=True)
            sandbox.store.delete(state.tickets["k1"].id)
            log.clear()
            after, _, _ = read_back(client, after, full=True)
        finally:
            client.close()
    # The first read-back listed all three; the second found only k1 missing from its
    # listing of changes, and a GET said it is gone.
    assert [key for key, entry in after.tickets.items() if entry.deleted] == ["k1"]
    assert listing_and_gets(log) == (1, 1)


def test_plan_refresh_full_reports_a_ticket_deleted_in_the_tracker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    enter_project(tmp_path, monkeypatch)
    write(tmp_path / "tickets" / "t.yaml", """\
        tickets:
          alpha: {title: Alpha}
          beta: {title: Beta}
    """)
    assert invoke("apply", "--sandbox", "--yes")[0] == 0
    assert invoke("sandbox", "delete", "beta")[0] == 0
    code, out, err = invoke("plan", "--sandbox", "--refresh")
    assert (code, "deleted" in out) == (0, False)  # a listing of changes cannot see it
    assert err == ("Refresh: changed: what the tracker lists as updated since the last "
                   "read-back; a ticket deleted there shows only with --refresh=full.\n")
    code, out, err = invoke("plan", "--sandbox", "--refresh=full", "--detailed-exitcode")
    assert code == 0  # reported, never re-created: nothing to do
    assert out.startswith("? deleted beta: ") and out.endswith("\nNo changes.\n")
    assert "`ticketsync state rm beta --sandbox`" in out  # its hint acts on the sandbox
    assert err == ("Refresh: full: every tracked ticket was looked for in the tracker; "
                   "1 deleted there.\n")
    # A bare --refresh still takes the PATH after it as a path, as when it was a flag.
    assert invoke("plan", "--sandbox", "--refresh", "tickets/")[0] == 0
    code, _, err = invoke("plan", "--sandbox", "--refresh=ful")
    assert code == 64
    assert err.endswith("Error: Invalid value for '--refresh': 'ful' is not one of changed, "
                        "full (--refresh alone: changed)\n")


def test_the_plan_says_which_refresh_ran_in_every_format(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Text (a note on stderr), JSON (``refresh``) and markdown say which read-back the
    plan was made after: a deletion is only seen by the full one."""
    import json

    enter_project(tmp_path, monkeypatch)
    write(tmp_path / "tickets" / "t.yaml", """\
        tickets:
          alpha: {title: Alpha}
    """)
    assert invoke("apply", "--sandbox", "--yes")[0] == 0
    write(tmp_path / "tickets" / "t.yaml", """\
        tickets:
          alpha: {title: Alpha, tags: [x]}
    """)
    for args, mode in (([], "none"), (["--refresh"], "changed"), (["--refresh=full"], "full")):
        code, out, _ = invoke("plan", "--sandbox", *args, "--format", "json")
        assert code == 0 and json.loads(out)["refresh"] == mode, out
    markdown = invoke("plan", "--sandbox", "--refresh=full", "--format", "markdown")[1]
    assert "_Read back in full from the tracker: deleted tickets are shown too._" in markdown
    markdown = invoke("plan", "--sandbox", "--refresh", "--format", "markdown")[1]
    assert "a deletion shows with `plan --refresh=full`" in markdown
    markdown = invoke("plan", "--sandbox", "--format", "markdown")[1]
    assert "_Not read back from the tracker" in markdown



def _deleted_then_renamed(folder: Path, refresh: str) -> tuple[int, str, str]:
    """A sandbox project whose ticket ``a`` a person deleted in the tracker after it was
    applied, then renamed in its file: the next ``apply --refresh=...``'s outcome."""
    write(folder / "tickets" / "t.yaml", "tickets:\n  a: {title: A}\n  b: {title: B}\n")
    assert invoke("-C", str(folder), "init", "--sandbox")[0] == 0
    assert invoke("-C", str(folder), "apply", "--sandbox", "--yes")[0] == 0
    assert invoke("-C", str(folder), "sandbox", "delete", "a")[0] == 0
    write(folder / "tickets" / "t.yaml", "tickets:\n  a: {title: A2}\n  b: {title: B}\n")
    return invoke("-C", str(folder), "apply", "--sandbox", "--yes", f"--refresh={refresh}")


def test_apply_refresh_full_sees_a_deletion_before_it_sends_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading back what changed, an apply learns of the deletion from its PATCH's 404 (a
    failed ticket, exit 1); with --refresh=full it sees it first: nothing is sent, the
    deletion is reported, and the state records it."""
    enter_project(tmp_path, monkeypatch)
    code, out, _ = _deleted_then_renamed(tmp_path / "changed", "changed")
    assert code == 1 and "failed to update a: it was deleted in the tracker" in out
    code, out, err = _deleted_then_renamed(tmp_path / "full", "full")
    assert (code, err) == (0, ""), out
    assert out == ("? deleted a: deleted in the tracker; not re-created "
                   "(`ticketsync state rm a --sandbox` to create it again)\n\nNo changes.\n")
    state = read_state(tmp_path / "full" / ".ticketsync" / "sandbox.state.json")
    assert state.tickets["a"].deleted and not state.tickets["b"].deleted
