"""``ticketsync directory pull``: every page, through faults, the same bytes every time; the
previous file is never replaced by a pull that did not complete, nor a file that must not
be (corrupt, of another account, newer); and the round trip names -> ids -> state -> plan."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import enter_project, invoke, traceback_of_ours
from sandbox_helpers import API_KEY, MakeSandbox, spawn_sandbox

from ticketsync.account.pull import Progress, changes, pull_directory, save_directory
from ticketsync.declare.directory import Directory, User, dump_directory, read_directory
from ticketsync.declare.editor_schema import dump_editor_schema
from ticketsync.errors import ApiError, NotFoundError
from ticketsync.sandbox import Fault, Faults, RunningSandbox
from ticketsync.stackone.client import StackOneClient
from ticketsync.stackone.limiter import RateLimiter

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "acc-pull"
SOME_TIME = "2026-01-01T00:00:00Z"


def _client(url: str, limiter: RateLimiter | None = None) -> StackOneClient:
    # sleep: retries back off instantly (the schedule is the client's tests' business)
    return StackOneClient(url, API_KEY, ACCOUNT, limiter=limiter or RateLimiter(60_000),
                          sleep=lambda seconds: None)


def _pull(url: str, **options: Any) -> Directory:
    client = _client(url)
    try:
        return pull_directory(client, ACCOUNT, **options)
    finally:
        client.close()


def _bytes(directory: Directory) -> str:
    return dump_directory(replace(directory, pulled_at=SOME_TIME))


# -- what a pull reads -------------------------------------------------------------------------


def test_a_pull_reads_every_kind_every_page(make_sandbox: MakeSandbox) -> None:
    running = make_sandbox(faults=Faults(page_cap=7))
    directory = _pull(running.url)
    assert len(directory.users) == 320 and len(directory.projects) == 8
    assert directory.users[1] == User("user-001", "Alice Martin", "alice@example.com",
                                      "alice", True)
    assert sum(1 for u in directory.users if not u.active) == 13
    # account-wide types once, however many projects list them; then each project's own
    assert [(t.project_id, t.id) for t in directory.ticket_types][:5] == [
        (None, "ticket-type-001"), (None, "ticket-type-002"), (None, "ticket-type-003"),
        (None, "ticket-type-004"), ("project-001", "ticket-type-101")]
    assert len(directory.ticket_types) == 11 and len(directory.components) == 15
    # every page: 46 of users, 2 of projects and of types, then 2 listings per project
    assert running.faults.requests("list") == 46 + 2 + 2 + 8 * 2
    # pulled_at is StackOne's time (here, the sandbox's clock), to the second
    pulled = datetime.fromisoformat(directory.pulled_at.replace("Z", "+00:00"))
    assert abs((pulled - datetime.now(UTC)).total_seconds()) < 5


def test_faults_on_the_way_give_the_same_bytes_every_time(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    clean = _bytes(_pull(make_sandbox().url))
    for seed in (1, 2, 3):
        faults = Faults(page_cap=7, latency_ms=1)
        faults.add(Fault.TOO_MANY_REQUESTS, times=4, retry_after=0)
        faults.add(Fault.FAIL_BEFORE_STORE, op="list", probability=0.1, seed=seed)
        faults.add(Fault.STORE_THEN_502, op="list", probability=0.1, seed=seed + 10)
        faults.add(Fault.STORE_THEN_DROP, op="list", probability=0.1, seed=seed + 20)
        running = make_sandbox(faults=faults, db_path=tmp_path / f"faults-{seed}.db")
        assert _bytes(_pull(running.url)) == clean
        for fault in (Fault.TOO_MANY_REQUESTS, Fault.FAIL_BEFORE_STORE, Fault.STORE_THEN_502,
                      Fault.STORE_THEN_DROP):
            assert faults.fired(fault) > 0, fault
        running.stop()


def test_listings_run_several_at_once_and_report_progress(make_sandbox: MakeSandbox) -> None:
    running = make_sandbox(faults=Faults(latency_ms=20))
    seen: list[Progress] = []
    _pull(running.url, concurrency=8, on_progress=seen.append)
    assert running.faults.peak() > 2
    # a project's types: its own and the account-wide ones (read again for each project)
    assert seen[-1] == Progress(done=19, total=19, records=320 + 8 + 11 + (8 * 4 + 7) + 15)
    assert [p.done for p in seen] == list(range(1, 20))


@pytest.mark.parametrize("fault", [Fault.ENDLESS_PAGES, Fault.REPEAT_PAGE])
def test_a_listing_that_never_ends_fails_the_pull(make_sandbox: MakeSandbox,
                                                  fault: Fault) -> None:
    faults = Faults()
    faults.add(fault, op="list")
    running = make_sandbox(faults=faults)
    limiter = RateLimiter(60_000)
    client = _client(running.url, limiter)
    with pytest.raises(ApiError, match="pages in a row brought no new record"):
        pull_directory(client, ACCOUNT, limiter=limiter)
    client.close()
    assert limiter.halted  # the other listings sent nothing more


class _FakeApi:
    """Listings as given (path -> records); a path that is missing answers 404."""

    def __init__(self, listings: Mapping[str, list[dict[str, Any]]]) -> None:
        self.listings = listings

    def list_all(self, path: str, params: Mapping[str, str] | None = None
                 ) -> Iterator[dict[str, Any]]:
        if path not in self.listings:
            raise NotFoundError(f"GET {path}: not found (HTTP 404)", status=404)
        return iter(self.listings[path])

    def server_now(self) -> datetime:
        return datetime(2026, 5, 1, 12, 0, 0, 999, tzinfo=UTC)


def test_records_as_providers_give_them() -> None:
    base = "/unified/ticketing"
    api = _FakeApi({
        f"{base}/users": [
            {"id": "u1", "first_name": "Ann", "last_name": "Lee", "active": "false"},
            {"id": "u2", "name": "Bo", "primary_email": "bo@x.io", "active": None},
            {"id": None, "name": "no id: cannot be named"},
            {"id": 7, "name": "a number id", "active": True},
        ],
        f"{base}/projects": [{"id": "p1", "name": "One"}, {"id": "p/2", "name": "Gone"}],
        f"{base}/ticket_types": [{"id": "t1", "name": "Task"}],
        f"{base}/projects/p1/components": [{"id": "c1", "name": "UI"}],
        f"{base}/projects/p1/ticket_types": [{"id": "t1", "name": "Task", "project_id": None},
                                             {"id": "t2", "name": "Bug", "project_id": "p1"}],
        # p/2 was deleted during the pull: its listings answer 404 (and its id is quoted)
    })
    directory = pull_directory(api, "acc-1")
    assert directory.to_json() == {
        "version": 1, "account_id": "acc-1", "pulled_at": "2026-05-01T12:00:00Z",
        "users": [
            {"id": "7", "name": "a number id", "email": None, "username": None, "active": True},
            {"id": "u1", "name": "Ann Lee", "email": None, "username": None, "active": False},
            {"id": "u2", "name": "Bo", "email": "bo@x.io", "username": None, "active": True},
        ],
        "projects": [{"id": "p/2", "name": "Gone"}, {"id": "p1", "name": "One"}],
        "ticket_types": [{"id": "t1", "name": "Task", "project_id": None},
                         {"id": "t2", "name": "Bug", "project_id": "p1"}],
        "components": [{"id": "c1", "name": "UI", "project_id": "p1"}],
    }


def test_a_missing_account_wide_listing_is_an_error() -> None:
    with pytest.raises(NotFoundError):
        pull_directory(_FakeApi({}), "acc-1")


def test_changes_count_who_joined_left_or_changed() -> None:
    before = Directory.of("a", SOME_TIME, users=[User("u1", "A"), User("u2", "B")])
    after = Directory.of("a", SOME_TIME, users=[User("u1", "A2"), User("u3", "C")])
    assert str(changes(before, after)) == "users: 1 added, 1 removed, 1 changed"
    assert str(changes(after, after)) == ""


def test_save_writes_nothing_when_nothing_changed(tmp_path: Path) -> None:
    path = tmp_path / "ticketsync.directory.json"
    first = Directory.of("a", SOME_TIME, users=[User("u1", "A")])
    assert save_directory(path, first, None)
    text = path.read_text()
    later = replace(first, pulled_at="2027-01-01T00:00:00Z")
    assert not save_directory(path, later, read_directory(path))
    assert path.read_text() == text  # pulled_at too: the same names make no diff
    schema = tmp_path / "ticket-file.schema.json"
    schema.unlink()
    assert not save_directory(path, later, read_directory(path))
    assert schema.read_text() == dump_editor_schema(first)  # the editor schema comes back


# -- the command -----------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sandbox: RunningSandbox) -> Path:
    enter_project(tmp_path, monkeypatch)
    monkeypatch.setenv("STACKONE_API_KEY", API_KEY)
    monkeypatch.setenv("STACKONE_ACCOUNT_ID", ACCOUNT)
    monkeypatch.setenv("STACKONE_BASE_URL", sandbox.url)
    return tmp_path


COUNTS = "320 users (13 deactivated), 8 projects, 11 ticket types, 15 components"


def test_pull_writes_the_directory_and_the_editor_schema(project: Path) -> None:
    assert invoke("directory", "pull") == (0, (
        f"Wrote ticketsync.directory.json: {COUNTS}.\n"
        "Editor completion: ticket-file.schema.json (commit both).\n"), "")
    directory = read_directory(project / "ticketsync.directory.json", account_id=ACCOUNT)
    assert len(directory.users) == 320
    before = (project / "ticketsync.directory.json").read_bytes()
    assert invoke("directory", "pull") == (
        0, f"No changes: ticketsync.directory.json is up to date ({COUNTS}).\n", "")
    assert (project / "ticketsync.directory.json").read_bytes() == before


def test_pull_says_what_changed(project: Path) -> None:
    assert invoke("directory", "pull")[0] == 0
    path = project / "ticketsync.directory.json"
    doc = json.loads(path.read_text())
    doc["users"] = doc["users"][:-2]
    doc["users"][1]["name"] = "Alice M."
    path.write_text(json.dumps(doc))
    out = invoke("directory", "pull")[1]
    assert out.splitlines()[0] == (
        f"Wrote ticketsync.directory.json: {COUNTS} (users: 2 added, 1 changed).")


def test_progress_shows_on_a_terminal(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ticketsync.cli.apply

    monkeypatch.setattr(ticketsync.cli.apply, "is_terminal", lambda stream: True)
    code, _, err = invoke("directory", "pull")
    assert code == 0
    assert "Pulling the directory: 19/19 listings, 393 records" in err


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("{not json", "the directory file is corrupt (not JSON: "),
        (json.dumps({"version": 9}), "written by a newer ticketsync (directory version 9"),
        (dump_directory(Directory.of("acc-other", SOME_TIME)),
         f"belongs to account acc-other, not {ACCOUNT}"),
    ],
)
def test_a_file_that_must_not_be_replaced_is_refused_before_any_request(
    project: Path, sandbox: RunningSandbox, text: str, why: str
) -> None:
    path = project / "ticketsync.directory.json"
    path.write_text(text)
    code, out, err = invoke("directory", "pull")
    assert (code, out) == (1, "")
    assert err.startswith("Error: ") and why in err and "left as it is" in err
    assert path.read_text() == text
    assert sandbox.faults.requests() == 0
    assert not (project / "ticket-file.schema.json").exists()


def test_a_pull_that_fails_half_way_leaves_the_previous_file(
    project: Path, sandbox: RunningSandbox
) -> None:
    assert invoke("directory", "pull")[0] == 0
    path = project / "ticketsync.directory.json"
    old = path.read_bytes()
    doc = json.loads(old)
    doc["users"] = doc["users"][:3]  # what a new pull would change
    path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    previous = path.read_bytes()
    sandbox.faults.add(Fault.REVOKE_KEY, op="list", nth={12})
    code, out, err = invoke("directory", "pull")
    assert (code, out) == (1, "")
    assert err.startswith("Error: StackOne refused the credentials (HTTP 401)")
    assert path.read_bytes() == previous
    assert [p.name for p in project.iterdir() if p.name.endswith(".tmp")] == []


def test_the_sandbox_pull_binds_the_directory_to_the_sandbox(project: Path) -> None:
    assert invoke("directory", "pull", "--sandbox")[0] == 0
    assert read_directory(project / "ticketsync.directory.json").account_id == "sandbox"


def test_the_pull_needs_the_key(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STACKONE_API_KEY")
    code, _, err = invoke("directory", "pull")
    assert code == 1 and err.startswith("Error: no API key: set STACKONE_API_KEY")


# -- kill -9 --------------------------------------------------------------------------------


@pytest.mark.slow
def test_kill_9_at_any_moment_of_a_pull_leaves_the_old_file(tmp_path: Path) -> None:
    """kill -9, SIGTERM (a CI cancel) or SIGINT (Ctrl-C) at any moment: the old file or
    the new one, whole; never a half-written one."""
    path = tmp_path / "ticketsync.directory.json"
    old = dump_directory(Directory.of(ACCOUNT, SOME_TIME, users=[User("u-old", "Old")]))
    env = {**os.environ, "STACKONE_API_KEY": API_KEY, "STACKONE_ACCOUNT_ID": ACCOUNT}
    rng = random.Random(20261201)  # moments to kill at, reproducibly
    outcomes = set()
    with spawn_sandbox(tmp_path / "s.db", "--latency-ms", "5", "--page-cap", "10",
                       "--quiet") as server:
        env["STACKONE_BASE_URL"] = server.url
        signals = [signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGKILL, None]
        for moment, sig in zip([rng.uniform(0.05, 1.0) for _ in range(4)] + [0.0], signals,
                               strict=True):
            path.write_text(old)
            command = [sys.executable, "-m", "ticketsync", "directory", "pull"]
            started = time.monotonic()
            process = subprocess.Popen(command, cwd=tmp_path, env=env,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                       text=True)
            if sig is not None:
                time.sleep(moment)
                process.send_signal(sig)
            _, err = process.communicate(timeout=30)
            assert not traceback_of_ours(err), err
            text = path.read_text()
            if text == old:
                outcomes.add("old")
            else:  # the kill came after the rename: the new file, whole
                new = read_directory(path, account_id=ACCOUNT)
                assert len(new.users) == 320
                outcomes.add("new")
            assert time.monotonic() - started < 30
    assert "old" in outcomes and "new" in outcomes


def test_the_chains_take_tokens_before_the_projects_listings() -> None:
    # The users listing is one long chain of pages; the projects' listings are many short
    # ones. A chain waiting for a token is served before them (it would otherwise get
    # one token in six here, and end the pull long after the rest).
    import threading

    from ticketsync.account.pull import ChainFirstLimiter, _chain

    limiter = ChainFirstLimiter(6000, burst=1)  # a token every 10 ms
    granted: list[str] = []
    lock = threading.Lock()

    def take(name: str, chain: bool) -> None:
        _chain.on = chain
        for _ in range(10):
            limiter.acquire()
            with lock:
                granted.append(name)

    threads = [threading.Thread(target=take, args=(f"project-{n}", False)) for n in range(5)]
    threads.append(threading.Thread(target=take, args=("users", True)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(granted) == 60
    last_of_the_chain = max(n for n, name in enumerate(granted) if name == "users")
    assert last_of_the_chain < 30, granted  # a fair share would end near 60
