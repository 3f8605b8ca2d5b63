"""One instance per period, whatever happens (the README's "Recurring tickets"), attacked end to
end.

A weekly template with ``previous: close`` and ``ahead: 1`` beside plain tickets, applied
by ``python -m ticketsync apply --now DAY`` in child processes against a sandbox in its
own process that loses the answer of one create in ten after storing it. Each trial is a
run of weeks across the ISO year's end (2026-W50 to 2027-W01); each week's scheduled job:

* is killed by kill -9 or SIGTERM at a random moment, then retried in the same folder
  (a retried job) or from a fresh checkout (the committed state file, no journal, no lock:
  a runner that died with its folder);
* or starts twice at once (two schedules overlapping): one fails at once on the lock,
  naming the other, or finds nothing left to do;
* and a person sets one instance "Won't Do" in the tracker.

"Committed" follows CI: the state file as a run left it, unless kill -9 took the runner
(then the commit step never ran). A week ends with a run that completes (a retried job
succeeds), before ``--now`` moves on.

At the end of every trial: exactly one remote ticket per TEMPLATE.PERIOD.TICKET key, every
one tracked; each week's previous instance closed exactly once (one PATCH, status Done),
the person's "Won't Do" never re-closed; the plain tickets never touched; a last plan
empty. TICKETSYNC_TRIALS and TICKETSYNC_SEED run a longer soak by hand.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import signal
import subprocess
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest
from sandbox_helpers import SandboxProcess, spawn_sandbox, stored_tickets
from test_guarantees import (
    ACCOUNT,
    API_KEY,
    run,
    start,
)

from ticketsync.sandbox import TicketStore
from ticketsync.sandbox.shapes import statuses
from ticketsync.state.file import new_state, read_state, write_state

pytestmark = pytest.mark.slow

TRIALS = int(os.environ.get("TICKETSYNC_TRIALS", "3"))
SEED = int(os.environ.get("TICKETSYNC_SEED", "2020"))
#: The Mondays of the weeks a trial runs through: 2026 has 53 ISO weeks.
MONDAYS = [date(2026, 12, 7) + timedelta(weeks=n) for n in range(5)]
WEEK = timedelta(weeks=1)
PLAIN = 6
#: The template's tickets: title -> key. Four per period, so that a week's run has a
#: handful of writes (four creates ahead, four closes) for a signal to land among.
KINDS = (("Ops review", "review"), ("Notes", "notes"), ("Agenda", "agenda"),
         ("Actions", "actions"))
STATE = "ticketsync.state.json"


def _week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _write_project(folder: Path, trial: int, marker: bool,
                   project: str = "project-001") -> None:
    (folder / "tickets").mkdir(parents=True)
    plain = "".join(f"  plain-{trial}-{i}:\n    title: Plain {trial}-{i}\n" for i in range(PLAIN))
    (folder / "tickets" / "ops.yaml").write_text(f"""\
defaults:
  project_id: {project}
templates:
  ops{trial}:
    every: week
    starting: 2026-12-07
    previous: close
    ahead: 1
    tickets:
      review:
        title: "Ops review {{period}} t{trial}"
        assignees: {{rotate: [user-1, user-2]}}
      notes:
        title: "Notes {{period}} t{trial}"
        parent: review
      agenda:
        title: "Agenda {{period}} t{trial}"
        parent: review
      actions:
        title: "Actions {{period}} t{trial}"
tickets:
{plain}""")
    config = f"account_id: {ACCOUNT}\nconcurrency: 4\n"
    if marker:
        config += "marker: {custom_field: ticketsync_key}\n"
    (folder / "ticketsync.yaml").write_text(config)
    write_state(folder / STATE, new_state(ACCOUNT))


def _checkout(folder: Path, committed: bytes) -> None:
    """A fresh checkout: the committed state file, nothing else the runner had."""
    (folder / STATE).write_bytes(committed)
    for leftover in (f"{STATE}.journal", f"{STATE}.lock"):
        (folder / leftover).unlink(missing_ok=True)


def _stop_at_random_moment(process: subprocess.Popen[str], journal: Path,
                           rng: random.Random, sig: int) -> bool:
    """Send ``sig`` at a random time, or once the journal holds a random number of records
    (a week's run writes only a few); whether it landed while the run was writing."""
    deadline = time.monotonic() + 20
    if rng.random() < 0.6:
        target = rng.randint(1, 6)
        while time.monotonic() < deadline and process.poll() is None:
            with contextlib.suppress(FileNotFoundError):
                if journal.read_bytes().count(b"\n") >= target:
                    break
            time.sleep(0.001)
    else:
        time.sleep(rng.uniform(0.0, 0.5))
    landed = process.poll() is None and journal.exists()
    process.send_signal(sig)
    process.communicate(timeout=90)
    return landed


def _both_at_once(folder: Path, url: str, now: str) -> None:
    """Two scheduled runs at once: one holds the lock, the other is refused naming it,
    unless the first was already done (then there is nothing left to do)."""
    first = start(folder, url, "apply", "--yes", "--force", "--now", now)
    second = start(folder, url, "apply", "--yes", "--force", "--now", now)
    ends = [(p, *p.communicate(timeout=90)) for p in (first, second)]
    refused = [(p, out, err) for p, out, err in ends if p.returncode != 0]
    assert len(refused) <= 1, ends
    for process, out, err in refused:
        other = second if process is first else first
        assert process.returncode == 1 and f"is locked by pid {other.pid}" in err, out + err
        assert "Traceback" not in err


def _patches(server: SandboxProcess) -> Counter[str]:
    """How many PATCHes acted on each ticket id (the sandbox logs one line per request,
    with its status). Only a 2xx acted: a runner killed while it wrote a PATCH leaves a
    request cut short, which the sandbox answers 400 and never applies."""
    return Counter(re.findall(r"^PATCH /unified/ticketing/tickets/([^ ?]+) 2\d\d ",
                              server.log(), re.MULTILINE))


def _trial(server: SandboxProcess, folder: Path, trial: int, rng: random.Random) -> dict[str, int]:
    """One trial; how often each attack happened."""
    marker = trial % 2 == 0
    _write_project(folder, trial, marker)
    committed = (folder / STATE).read_bytes()
    journal = folder / f"{STATE}.journal"
    seen: Counter[str] = Counter()
    wont_do: str | None = None  # the id of the instance a person set "Won't Do"
    converged: list[str] = []  # the weeks whose job completed
    for monday in MONDAYS:
        now = (monday + timedelta(days=rng.randint(0, 6))).isoformat()
        for _ in range(rng.randint(1, 3)):
            attack = rng.choice(["kill", "term", "both"])
            seen[attack] += 1
            if attack == "both":
                _both_at_once(folder, server.url, now)
                committed = (folder / STATE).read_bytes()
                continue
            process = start(folder, server.url, "apply", "--yes", "--force", "--now", now)
            seen["mid-run"] += _stop_at_random_moment(
                process, journal, rng, signal.SIGKILL if attack == "kill" else signal.SIGTERM)
            if attack == "term":  # the job's commit step runs after a cancelled apply
                committed = (folder / STATE).read_bytes()
            if rng.random() < 0.5:
                seen["fresh checkout"] += 1
                _checkout(folder, committed)
        if MONDAYS[0] < monday < MONDAYS[-1] and converged[-1:] == [_week(monday - WEEK)] \
                and rng.random() < 0.3:
            # The runner died and nobody re-ran the job: next week's run starts from the
            # committed state (the week before was complete, so it tracks this week's
            # instances: see test_a_lost_week_leaves_its_instance_behind for when not).
            seen["lost week"] += 1
            _checkout(folder, committed)
            continue
        done = _converge(folder, server.url, now)
        assert "Traceback" not in done
        committed = (folder / STATE).read_bytes()
        converged.append(_week(monday))
        tracked = read_state(folder / STATE).tickets
        current = tracked.get(f"ops{trial}.{_week(monday)}.review")
        if wont_do is None and monday > MONDAYS[0] and current is not None:
            with TicketStore(server.db_path) as store:  # a person, in the tracker
                store.edit(current.id, {"status": _status("Won't Do")})
            wont_do = current.id
    last = run(folder, server.url, "apply", "--yes", "--now", now)
    assert (last.returncode, last.stdout) == (0, "No changes.\n"), last.stdout + last.stderr
    seen.update(_check(server, folder, trial, converged, wont_do))
    return seen


def _converge(folder: Path, url: str, now: str) -> str:
    """The week's job retried until it completes; its outputs."""
    outputs = []
    for _ in range(4):
        done = run(folder, url, "apply", "--yes", "--force", "--now", now)
        outputs.append(done.stdout + done.stderr)
        if done.returncode == 0:
            return "\n".join(outputs)
    raise AssertionError("apply never succeeded:\n" + "\n---\n".join(outputs))


def _status(name: str) -> dict[str, object]:
    return next(s for s in statuses("project-001", None) if s["name"] == name)


def _check(server: SandboxProcess, folder: Path, trial: int, converged: list[str],
           wont_do: str | None) -> Counter[str]:
    """Exactly one ticket per key, each tracked; closes and nothing else. How many past
    instances were left open (the week after theirs was lost: ``previous: close`` closes
    the last period's instance only)."""
    weeks = [_week(monday) for monday in [*MONDAYS, MONDAYS[-1] + WEEK]]
    expected = {f"{kind} {period} t{trial}": (f"ops{trial}.{period}.{ticket}", period)
                for period in weeks for kind, ticket in KINDS}
    expected.update({f"Plain {trial}-{i}": (f"plain-{trial}-{i}", "") for i in range(PLAIN)})
    mine = [t for t in stored_tickets(server.db_path)
            if (t.title or "").endswith(f" t{trial}") or (t.title or "").startswith(
                f"Plain {trial}-")]
    titles = Counter(t.title for t in mine)
    assert titles == Counter(dict.fromkeys(expected, 1)), titles  # one per key, no stray
    tracked = read_state(folder / STATE).tickets
    by_id = {t.id: t for t in mine}
    assert {tracked[key].id for key, _ in expected.values()} == set(by_id)  # all tracked
    patches = _patches(server)
    seen: Counter[str] = Counter()
    for title, (key, period) in expected.items():
        ticket = by_id[tracked[key].id]
        found = ((ticket.fields.get("status") or {}).get("name"), patches[ticket.id])
        after = weeks[weeks.index(period) + 1] if period in weeks[:-2] else None
        if ticket.id == wont_do:
            assert found == ("Won't Do", 0), title  # a person's close is never redone
        elif after in converged:
            assert found == ("Done", 1), (title, found)  # closed once, whatever was killed
        elif after is not None:  # the week after was lost: closed once or left alone
            assert found in (("Done", 1), (None, 0)), (title, found)
            seen["left open"] += found == (None, 0)
        else:  # the last week's, the one ahead, the plain tickets: never touched
            assert found == (None, 0), (title, found)
    assert "DELETE " not in server.log()
    return seen


def test_one_instance_per_period_under_kills_checkouts_and_overlapping_runs(
    tmp_path: Path,
) -> None:
    rng = random.Random(SEED)
    fault = f"store-then-drop:op=create,p=0.1,seed={SEED}"
    seen: Counter[str] = Counter()
    with spawn_sandbox(tmp_path / "server.db", "--latency-ms", "5", "--fault", fault,
                       api_key=API_KEY) as server:
        for trial in range(TRIALS):
            seen.update(_trial(server, tmp_path / f"t{trial}", trial, rng))
    assert seen["mid-run"] >= TRIALS  # the signals landed while an apply was writing
    assert seen["fresh checkout"] >= 1 and seen["both"] >= 1
    print(f"recurring fault trials: {TRIALS} (seed {SEED}): {dict(sorted(seen.items()))}")


def test_a_lost_week_is_tracked_by_the_next_and_closed_by_the_plan_after(
        tmp_path: Path) -> None:
    """A weekly job whose runner dies after the apply, before the commit step: the next
    week's run, from the committed state, finds last week's instances by their marker
    (created since the state was written, in the template's project), tracks them and
    sends nothing for them; the plan after shows their close (``previous: close``), and
    its apply closes them, once."""
    folder = tmp_path / "p"
    _write_project(folder, 9, marker=True)
    committed = (folder / STATE).read_bytes()
    with spawn_sandbox(tmp_path / "server.db", api_key=API_KEY) as server:
        assert run(folder, server.url, "apply", "--yes", "--now", "2026-12-08").returncode == 0
        _checkout(folder, committed)  # the runner died before `git commit`
        done = run(folder, server.url, "apply", "--yes", "--now", "2026-12-15")
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.count("a past period's ticket that a lost run created") == len(KINDS)
        tracked = read_state(folder / STATE).tickets
        last_week = {t.id: t for t in stored_tickets(server.db_path)
                     if (t.title or "").endswith("2026-W50 t9")}
        assert {tracked[f"ops9.2026-W50.{ticket}"].id for _, ticket in KINDS} == set(last_week)
        assert not _patches(server)  # tracked, nothing sent for them yet
        plan = run(folder, server.url, "plan", "--now", "2026-12-15")
        assert plan.stdout.count("- close ops9.2026-W50.") == len(KINDS), plan.stdout
        assert run(folder, server.url, "apply", "--yes", "--now", "2026-12-15").returncode == 0
        closed = {t.id: t for t in stored_tickets(server.db_path) if t.id in last_week}
        patches = _patches(server)
    assert {(t.fields.get("status") or {}).get("name") for t in closed.values()} == {"Done"}
    assert {ticket_id: patches[ticket_id] for ticket_id in last_week} == dict.fromkeys(
        last_week, 1)  # closed once each
    assert sum(patches.values()) == len(KINDS)  # and nothing else was PATCHed


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "sigterm"])
@pytest.mark.parametrize("checkout", [False, True], ids=["same-folder", "fresh-checkout"])
def test_a_lost_week_tracked_by_a_run_that_is_stopped_is_tracked_once(
        tmp_path: Path, sig: int, checkout: bool) -> None:
    """The run that tracks last week's lost instances is stopped the moment its journal
    records the first of them; its re-run (in the same folder, or from the committed
    state) tracks each once, creates nothing twice, and the plan after closes each once."""
    folder = tmp_path / "p"
    _write_project(folder, 9, marker=True)
    committed = (folder / STATE).read_bytes()
    journal = folder / f"{STATE}.journal"
    with spawn_sandbox(tmp_path / "server.db", "--latency-ms", "20",
                       api_key=API_KEY) as server:
        assert run(folder, server.url, "apply", "--yes", "--now", "2026-12-08").returncode == 0
        _checkout(folder, committed)  # the runner died before `git commit`
        process = start(folder, server.url, "apply", "--yes", "--now", "2026-12-15")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            with contextlib.suppress(FileNotFoundError):
                if b'"key": "ops9.2026-W50.' in journal.read_bytes():
                    break
            time.sleep(0.001)
        assert process.poll() is None, "the run ended before it tracked last week's"
        process.send_signal(sig)
        out, err = process.communicate(timeout=90)
        assert "Traceback" not in out + err
        if checkout:
            _checkout(folder, committed)
        done = run(folder, server.url, "apply", "--yes", "--now", "2026-12-15")
        assert done.returncode == 0, done.stdout + done.stderr
        assert run(folder, server.url, "apply", "--yes", "--now", "2026-12-15").returncode == 0
        tracked = read_state(folder / STATE).tickets
        mine = [t for t in stored_tickets(server.db_path) if (t.title or "").endswith(" t9")]
        patches = _patches(server)
    titles = Counter(t.title for t in mine)
    assert set(titles.values()) == {1}, titles  # one ticket per key, nothing made twice
    last_week = {t.id for t in mine if "2026-W50" in (t.title or "")}
    assert {tracked[f"ops9.2026-W50.{ticket}"].id for _, ticket in KINDS} == last_week
    assert {ticket_id: patches[ticket_id] for ticket_id in last_week} == dict.fromkeys(
        last_week, 1)  # closed once each, by the reviewed plan after


def test_a_lost_week_a_person_closed_first_is_tracked_and_never_closed_again(
        tmp_path: Path) -> None:
    """A person closed one of last week's lost instances ("Won't Do") before the next
    run: it is tracked as they left it, and the plan after settles it: no PATCH."""
    folder = tmp_path / "p"
    _write_project(folder, 9, marker=True)
    committed = (folder / STATE).read_bytes()
    with spawn_sandbox(tmp_path / "server.db", api_key=API_KEY) as server:
        assert run(folder, server.url, "apply", "--yes", "--now", "2026-12-08").returncode == 0
        _checkout(folder, committed)
        [review] = [t for t in stored_tickets(server.db_path)
                    if t.title == "Ops review 2026-W50 t9"]
        with TicketStore(server.db_path) as store:  # a person, in the tracker
            store.edit(review.id, {"status": _status("Won't Do")})
        assert run(folder, server.url, "apply", "--yes", "--now", "2026-12-15").returncode == 0
        assert run(folder, server.url, "apply", "--yes", "--now", "2026-12-15").returncode == 0
        tracked = read_state(folder / STATE).tickets
        closed = {t.id: t for t in stored_tickets(server.db_path)}[review.id]
        patches = _patches(server)
    assert tracked["ops9.2026-W50.review"].id == review.id
    assert (closed.fields.get("status") or {}).get("name") == "Won't Do"
    assert patches[review.id] == 0
    assert sum(patches.values()) == len(KINDS) - 1  # the other three closed once each


def test_a_lost_week_is_never_taken_from_another_project(tmp_path: Path) -> None:
    """The same template in another project, sharing the tracker and the marker field:
    its instances carry the same keys, but not this project: never adopted."""
    here, there = tmp_path / "here", tmp_path / "there"
    _write_project(here, 9, marker=True)
    _write_project(there, 9, marker=True, project="project-002")
    with spawn_sandbox(tmp_path / "server.db", api_key=API_KEY) as server:
        assert run(there, server.url, "apply", "--yes", "--now", "2026-12-08").returncode == 0
        done = run(here, server.url, "apply", "--yes", "--now", "2026-12-15")
        assert done.returncode == 0, done.stdout + done.stderr
        tracked = read_state(here / STATE).tickets
    assert "lost run" not in done.stdout
    assert not any(".2026-W50." in key for key in tracked)
