"""Benchmark: `apply` against the local sandbox (prints figures; never fails on speed).

    python bench/bench_apply.py [--tickets 300] [--latencies 0.1,2,4] [--big 10000]
                                [--skip-big] [--skip-fixed]

1. Throughput whatever the provider's latency: 300 tickets (a flat project: a child can
   only be sent after its parent's answer, which adds a round trip per level of nesting
   that no schedule can hide) against a sandbox that answers
   every request after 0.1 s, 2 s, 4 s and allows 1,000 requests per minute, ticketsync
   with its default settings (rate_limit 900, concurrency auto). The ideal is the rate
   limit's pace plus the two round trips no schedule avoids (the lookup, the last
   create): N / 15 s + 2 x latency. Prints elapsed / ideal (targets: <= 1.10 at 2 s,
   <= 1.15 at 4 s) and the 429s the server sent (target 0). With --skip-fixed unset, the
   2 s case also runs with a fixed 16 in flight (the old default), the baseline. At 2 s
   and 4 s the run is measured again without the listing that reads the new tickets back
   (their numbers and links, the README's "Keeping tickets in step"): a cursor's pages come one
   after the other, so that listing costs pages x latency on top of the bound, which the scheduling
   cannot hide.
2. Bookkeeping cost: 10,000 tickets against a zero-latency sandbox; the same run with the
   journal and state writes and without them (target: durability < 10% of the run).

Every run drives `ticketsync apply`'s own lifecycle (:class:`ticketsync.run.workspace.Workspace`:
lock, state, journal, commit) in this process, so the figures are the tool's, not the
interpreter's start-up. The sandbox runs in a process of its own, as StackOne would: in
this one it would compete for the GIL with the apply threads and inflate every figure.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
ACCOUNT = "acc-bench"


def _project(folder: Path, tickets: int, *, children: float = 0.2) -> Path:
    sys.path.insert(0, str(HERE))
    from gen import generate  # bench/gen.py, shared with the other benchmarks

    (folder / "tickets").mkdir(parents=True)
    generate(folder / "tickets", tickets, max(1, tickets // 100), children=children)
    (folder / "ticketsync.yaml").write_text(f"account_id: {ACCOUNT}\n")
    return folder


@contextmanager
def _server(folder: Path, *options: str, fill: int = 0) -> Iterator[tuple[str, Path]]:
    """``ticketsync sandbox`` in a child process: its URL and its request log. ``fill``:
    tickets (someone else's) the account holds already."""
    log = folder / "sandbox.log"
    # StackOne's storage is not our disk: keep the server's SQLite (and its fsyncs) off it
    # when the machine has a RAM disk, so the journal's fsyncs are timed alone.
    ram = Path("/dev/shm")
    data = Path(tempfile.mkdtemp(dir=ram)) if ram.is_dir() else folder
    if fill:
        from ticketsync.sandbox import TicketStore

        with TicketStore(data / "sandbox.db") as store:
            for i in range(fill):
                store.create({"title": f"Someone else's ticket {i}", "project_id": "project-001"})
    command = [sys.executable, "-m", "ticketsync", "sandbox", "--port", "0",
               "--db", str(data / "sandbox.db"), *options]
    with log.open("w") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        prefix = "Sandbox listening on "
        if not first.startswith(prefix):
            raise SystemExit(f"the sandbox did not start: {first!r} {log.read_text()}")
        yield first[len(prefix):].split(" ", 1)[0], log
    finally:
        process.terminate()
        process.wait(timeout=30)
        if data != folder:
            shutil.rmtree(data, ignore_errors=True)


def _run(folder: Path, *, latency_ms: float, server_limit: int | None, rate: int,
         concurrency: int | None, bookkeeping: bool = True,
         read_back: bool = True) -> dict[str, float]:
    """One apply of the project in ``folder`` through the workspace, as the CLI runs it
    (lock, state, journal, commit); timings. Without ``bookkeeping``, the journal and the
    state file are not written at all (the A/B baseline, unsafe)."""
    from ticketsync.declare.config import load_config
    from ticketsync.declare.loader import load_project
    from ticketsync.run import workspace as workspace_module
    from ticketsync.run.apply import ApplyOptions
    from ticketsync.run.workspace import Session, Workspace
    from ticketsync.stackone.client import StackOneClient
    from ticketsync.stackone.limiter import RateLimiter
    from ticketsync.state.journal import Journal

    class NoJournal(Journal):
        def _append(self, record: object, wait: bool) -> None:
            pass

    config = load_config(None, cwd=folder, env={})
    config.state_path.unlink(missing_ok=True)
    workspace = Workspace(config)
    workspace.init(ACCOUNT)
    options = ["--latency-ms", str(latency_ms)]
    if server_limit is not None:
        options += ["--rate-limit", f"{server_limit}/min"]
    commit = Session.commit
    from ticketsync.run import apply as apply_module

    reading = apply_module._Run._read_back_writes
    if not read_back:  # the run without its read-back: what the scheduling alone achieves
        apply_module._Run._read_back_writes = lambda self: None  # type: ignore[method-assign]
    if not bookkeeping:
        workspace_module.Journal = NoJournal  # type: ignore[misc]
        # Nothing written: keyword arguments (as_of, seen, ...) are the real commit's.
        Session.commit = lambda self, state=None, **_: self.state  # type: ignore[method-assign]
    try:
        with _server(folder, *options) as (url, log):
            limiter = RateLimiter(rate)
            client = StackOneClient(url, "bench-key", ACCOUNT, limiter=limiter)
            started = time.perf_counter()
            project = load_project(config)
            with workspace.session("bench") as session:
                plan = replace(session.plan(project), max_creates=10**9)
                applying = time.perf_counter()
                result = session.apply(plan, client, options=ApplyOptions(
                    concurrency=concurrency, limiter=limiter))
            finished = time.perf_counter()
            client.close()
    finally:
        workspace_module.Journal = Journal  # type: ignore[misc]
        Session.commit = commit  # type: ignore[method-assign]
        apply_module._Run._read_back_writes = reading  # type: ignore[method-assign]
    assert result.created == len(plan.creates) and result.ok, result
    lines = log.read_text().splitlines()
    return {
        "created": result.created,
        "total": finished - started,
        "apply": finished - applying,
        "429s": sum(" 429 " in line for line in lines),
        "lists": sum(line.startswith("GET /unified/ticketing/tickets?") for line in lines),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=300)
    parser.add_argument("--latencies", default="0.1,2,4", help="seconds, comma-separated")
    parser.add_argument("--big", type=int, default=10_000)
    parser.add_argument("--skip-big", action="store_true")
    parser.add_argument("--skip-fixed", action="store_true")
    args = parser.parse_args()

    print(f"1. {args.tickets} tickets; sandbox limit 1000/min; ticketsync defaults "
          "(900/min, concurrency auto)")
    cases = [(float(x), None) for x in args.latencies.split(",")]
    if not args.skip_fixed:
        cases.append((2.0, 16))
    for latency, fixed in cases:
        ideal = args.tickets / 15 + 2 * latency
        shown = "auto" if fixed is None else f"fixed {fixed}"
        for read_back in (True, False):
            if not read_back and (fixed is not None or latency < 1):
                continue
            with tempfile.TemporaryDirectory() as tmp:
                # Flat: a child waits for its parent's answer, which no schedule hides.
                folder = _project(Path(tmp) / "rate", args.tickets, children=0)
                figures = _run(folder, latency_ms=latency * 1000, server_limit=1000, rate=900,
                               concurrency=fixed, read_back=read_back)
            what = "" if read_back else ", without the read-back after the creates"
            print(f"   latency {latency:g} s, concurrency {shown}{what}: {figures['total']:.2f}"
                  f" s vs ideal {ideal:.2f} s -> ratio {figures['total'] / ideal:.3f}; "
                  f"429s {figures['429s']:.0f}")
    if args.skip_big:
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = _project(Path(tmp) / "big", args.big)
        figures = _run(folder, latency_ms=0, server_limit=None, rate=10**9, concurrency=16)
        bare = _run(folder, latency_ms=0, server_limit=None, rate=10**9, concurrency=16,
                    bookkeeping=False)
    extra = figures["total"] - bare["total"]
    print(f"2. {args.big} tickets, zero latency, 16 in flight: {figures['total']:.2f} s in all")
    print(f"   durability (journal + state writes) costs {extra:.2f} s = "
          f"{100 * extra / figures['total']:.1f}% of the run (target < 10%): the same run "
          f"with neither takes {bare['total']:.2f} s")


if __name__ == "__main__":
    main()
