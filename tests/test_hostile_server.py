"""A broken or hostile server must never hang a CI job, eat its memory, or cause a create.

Against the real sandbox over loopback, with the faults a proxy or a provider can produce:
a listing cursor that advances forever, a 200 MB answer, an answer that drips in a byte at
a time, a key revoked mid-run (issue #9, "Hostile or broken servers").
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from cli_helpers import enter_project, invoke
from sandbox_helpers import MakeSandbox, count_by_title, spawn_sandbox
from test_guarantees import ACCOUNT, API_KEY, environment, run, write_project

from ticketsync.errors import ApiError, AuthError, HaltedError, UncertainError
from ticketsync.sandbox import Fault, Faults
from ticketsync.stackone.client import StackOneClient
from ticketsync.stackone.limiter import RateLimiter
from ticketsync.stackone.retry import RetryPolicy

pytestmark = pytest.mark.slow


def client(url: str, **options: object) -> StackOneClient:
    return StackOneClient(url, API_KEY, ACCOUNT, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("fault", [Fault.ENDLESS_PAGES, Fault.REPEAT_PAGE])
def test_a_cursor_that_advances_forever_stops_the_listing(
    make_sandbox: MakeSandbox, fault: Fault
) -> None:
    faults = Faults()
    sandbox = make_sandbox(faults=faults)
    api = client(sandbox.url)
    try:
        api.create_ticket({"title": "one"})
        faults.add(fault, op="list")
        started = time.monotonic()
        with pytest.raises(ApiError, match=r"5 pages in a row brought no new record \(after \d "
                                           r"pages\): the listing was stopped as broken"):
            list(api.list_tickets())
        assert faults.requests("list") <= 6  # not one page more than the bound
        assert time.monotonic() - started < 60  # six loopback pages; an unbounded one: never
    finally:
        api.close()


def test_apply_never_creates_on_a_broken_listing(tmp_path: Path) -> None:
    """The pre-create lookup is what stands between a lost journal and a duplicate: when it
    cannot finish, nothing is created, and the user gets one line."""
    with spawn_sandbox(tmp_path / "server.db", "--fault", "endless-pages:op=list",
                       api_key=API_KEY) as server:
        write_project(tmp_path / "p", "e", 5, marker=True)
        done = run(tmp_path / "p", server.url, "apply", "--yes")
        assert done.returncode == 1
        errors = [line for line in done.stderr.splitlines() if line]
        assert len(errors) == 1 and errors[0].startswith("Error: GET /unified/ticketing/tickets")
        assert "nothing was created on it" in errors[0] and "Traceback" not in done.stderr
        assert sum(count_by_title(server.db_path).values()) == 0


def test_a_huge_answer_is_cut_at_the_cap_and_never_held_whole(tmp_path: Path) -> None:
    """200 MB of answer: the client reads 16 MiB, stops, and says so; peak memory stays
    bounded (measured in a process of its own)."""
    with spawn_sandbox(tmp_path / "server.db", "--fault", "huge:op=list,mb=200",
                       api_key=API_KEY) as server:
        script = textwrap.dedent(f"""
            import resource, sys, time
            from ticketsync.stackone.client import StackOneClient
            from ticketsync.errors import ApiError
            api = StackOneClient({server.url!r}, {API_KEY!r}, {ACCOUNT!r})
            started = time.monotonic()
            try:
                list(api.list_tickets())
            except ApiError as exc:
                print("ERROR", exc)
            print("SECONDS", time.monotonic() - started)
            print("PEAK_MB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        """)
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              timeout=120, check=True)
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines())
    assert "the answer is larger than 16 MiB, which no StackOne answer is" in lines["ERROR"]
    peak = float(lines["PEAK_MB"])
    print(f"peak memory reading a 200 MB answer: {peak:.0f} MB")
    assert peak < 150  # the whole answer read into memory would be over 400 MB


def test_a_create_whose_answer_is_huge_is_uncertain_and_looked_up(tmp_path: Path) -> None:
    with spawn_sandbox(tmp_path / "server.db", "--fault", "huge:op=create,nth=2,mb=40",
                       api_key=API_KEY) as server:
        keys = write_project(tmp_path / "p", "h", 4, marker=True)
        done = run(tmp_path / "p", server.url, "apply", "--yes")
        assert done.returncode == 0, done.stdout + done.stderr
        assert "created despite POST /unified/ticketing/tickets: the answer is larger" in (
            done.stdout)
        titles = count_by_title(server.db_path)
        assert sorted(titles.values()) == [1] * len(keys)


def test_a_dripping_answer_meets_the_deadline(make_sandbox: MakeSandbox) -> None:
    """One byte every 400 ms never trips a per-read timeout; the attempt's deadline does."""
    faults = Faults()
    sandbox = make_sandbox(faults=faults)
    api = client(sandbox.url, deadline=1.5, retry=RetryPolicy(attempts=1))
    try:
        created = api.create_ticket({"title": "drip"})
        faults.add(Fault.DRIP, op="get", every_ms=400)
        started = time.monotonic()
        with pytest.raises(UncertainError, match=r"no complete answer within 1\.5s; the read "
                                                 r"acted on nothing"):
            api.get_ticket(created.id)
        # ~1.5 s: the deadline, not the read timeout (60 s) or the whole drip (minutes)
        assert time.monotonic() - started < 30
        faults.clear()
        faults.add(Fault.DRIP, op="create", every_ms=400)
        with pytest.raises(UncertainError, match="may have acted"):
            api.create_ticket({"title": "drip 2"})
    finally:
        api.close()


def test_apply_adopts_a_create_whose_answer_dripped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A create whose answer drips past the deadline may have acted: it is looked up and
    adopted, never sent twice. (The deadline is 120 s in real use; 2 s here.)"""
    monkeypatch.setattr("ticketsync.stackone.client.DEADLINE_SECONDS", 2.0)
    with spawn_sandbox(tmp_path / "server.db", "--fault", "drip:op=create,nth=3,every_ms=60000",
                       api_key=API_KEY) as server:
        write_project(tmp_path / "p", "d", 5, marker=True)
        enter_project(tmp_path / "p", monkeypatch)
        for name, value in environment(server.url).items():
            if name.startswith("STACKONE_"):
                monkeypatch.setenv(name, value)
        started = time.monotonic()
        code, out, err = invoke("apply", "--yes")
        elapsed = time.monotonic() - started
        titles = count_by_title(server.db_path)
    assert code == 0, out + err
    assert "no complete answer within 2s" in out and "adopted d-" in out
    assert elapsed < 45  # ~3 s; waiting for the drip would take 60 s per byte
    assert sorted(titles.values()) == [1] * 5


def test_a_key_revoked_mid_run_stops_every_send_that_has_not_gone_out(
    make_sandbox: MakeSandbox,
) -> None:
    faults = Faults(latency_ms=20)
    sandbox = make_sandbox(faults=faults)
    limiter = RateLimiter(60_000)
    api = client(sandbox.url, limiter=limiter)
    try:
        faults.add(Fault.REVOKE_KEY, nth={3})
        api.create_ticket({"title": "1"})
        api.create_ticket({"title": "2"})
        with pytest.raises(AuthError):
            api.create_ticket({"title": "3"})
        sent = faults.requests()
        with pytest.raises(HaltedError, match="not sent"):
            api.create_ticket({"title": "4"})
        assert faults.requests() == sent  # nothing more went out
        assert limiter.halted
    finally:
        api.close()


def test_apply_with_a_key_revoked_mid_run_says_so_once_and_counts_truthfully(
    tmp_path: Path,
) -> None:
    with spawn_sandbox(tmp_path / "server.db", "--latency-ms", "30",
                       "--fault", "revoke-key:nth=12", api_key=API_KEY) as server:
        keys = write_project(tmp_path / "p", "v", 60, marker=True)
        done = run(tmp_path / "p", server.url, "apply", "--yes")
        log = server.log()
    assert done.returncode == 1
    refused = [line for line in done.stdout.splitlines() if "refused the credentials" in line]
    assert len(refused) == 2, done.stdout  # the cause once, and the summary
    assert refused[0].startswith("failed v-")
    summary = done.stdout.splitlines()[-1]
    assert summary.startswith("Apply stopped: ")
    counts = summary.split("Apply stopped: ")[1].split(", because")[0]
    numbers = dict(reversed(part.strip().split(" ", 1)) for part in
                   counts.replace(";", ",").split(",") if part.strip()[:1].isdigit())
    total = sum(int(numbers.get(kind, 0)) for kind in (
        "created", "failed", "skipped (their parent failed)", "not started"))
    assert total == len(keys), summary  # every ticket accounted for
    assert "because StackOne refused the credentials (HTTP 401)" in summary
    # After the first 401, only requests already on the wire may follow.
    statuses = [line.split(" ")[2] for line in log.splitlines() if line.startswith("POST ")]
    first = statuses.index("401")
    assert len(statuses) - first <= 16  # the in-flight count, not the 60 - 11 left
