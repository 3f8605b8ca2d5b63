"""Benchmark: `apply` against the local sandbox (prints figures; never fails on speed).

    python bench/bench_apply.py [--tickets 600] [--big 10000] [--skip-big]

1. Rate-limited throughput: 600 tickets, sandbox latency 100 ms and a server limit of
   6,000/min, client --rate-limit 6000 and --concurrency 16. The ideal is 600 / 100 per s
   = 6.0 s; prints the ratio (target <= 1.15) and the 429s the server sent (target 0).
2. Bookkeeping cost: 10,000 tickets against a zero-latency sandbox; prints the share of the
   run spent writing the journal (write + fsync, summed over group commits) and the state
   file (target < 10%).

Both drive the same steps as `ticketsync apply` (load, plan, apply with the journal, write
the state) in this process, so the figures are the tool's, not the interpreter's start-up.
The sandbox runs in a process of its own, as StackOne would: in this one it would compete
for the GIL with the apply threads and inflate every figure.
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
from pathlib import Path

HERE = Path(__file__).resolve().parent
ACCOUNT = "acc-bench"


def _project(folder: Path, tickets: int) -> Path:
    sys.path.insert(0, str(HERE))
    from gen import generate  # bench/gen.py, shared with the other benchmarks

    (folder / "tickets").mkdir(parents=True)
    generate(folder / "tickets", tickets, max(1, tickets // 100))
    (folder / "ticketsync.yaml").write_text(f"account_id: {ACCOUNT}\n")
    return folder


@contextmanager
def _server(folder: Path, *options: str) -> Iterator[tuple[str, Path]]:
    """``ticketsync sandbox`` in a child process: its URL and its request log."""
    log = folder / "sandbox.log"
    # StackOne's storage is not our disk: keep the server's SQLite (and its fsyncs) off it
    # when the machine has a RAM disk, so the journal's fsyncs are timed alone.
    ram = Path("/dev/shm")
    data = Path(tempfile.mkdtemp(dir=ram)) if ram.is_dir() else folder
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
         concurrency: int, bookkeeping: bool = True) -> dict[str, float]:
    """One apply of the project in ``folder``; timings. Without ``bookkeeping``, the
    journal and the state file are not written at all (the A/B baseline, unsafe)."""
    from ticketsync.apply import ApplyOptions, apply_plan
    from ticketsync.cli.apply import save_state
    from ticketsync.client import StackOneClient
    from ticketsync.config import load_config
    from ticketsync.journal import Journal, journal_path_for
    from ticketsync.limiter import RateLimiter
    from ticketsync.loader import load_project
    from ticketsync.plan import build_plan
    from ticketsync.recovery import recover
    from ticketsync.state import new_state, read_state, write_state

    class NoJournal(Journal):
        def _append(self, record: object, wait: bool) -> None:
            pass

    config = load_config(None, cwd=folder, env={})
    state_path = config.state_path
    write_state(state_path, new_state(ACCOUNT))
    options = ["--latency-ms", str(latency_ms)]
    if server_limit is not None:
        options += ["--rate-limit", f"{server_limit}/min"]
    with _server(folder, *options) as (url, log):
        client = StackOneClient(url, "bench-key", ACCOUNT, limiter=RateLimiter(rate))
        started = time.perf_counter()
        project = load_project(config)
        on_disk = read_state(state_path, account_id=ACCOUNT)
        state, uncertain = recover(on_disk, journal_path_for(state_path))
        plan = build_plan(project, state, max_creates=10**9)
        applying = time.perf_counter()
        journal_type = Journal if bookkeeping else NoJournal
        with journal_type(journal_path_for(state_path)) as journal:
            result = apply_plan(plan, client, journal, state, uncertain=uncertain,
                                options=ApplyOptions(concurrency=concurrency))
        applied = time.perf_counter()
        if bookkeeping:
            save_state(state_path, on_disk)
        finished = time.perf_counter()
        client.close()
        assert result.created == len(plan.creates) and result.ok, result
        return {
            "created": result.created,
            "total": finished - started,
            "apply": applied - applying,
            "journal": journal.write_seconds,
            "state": finished - applied,
            "429s": sum(" 429 " in line for line in log.read_text().splitlines()),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=600)
    parser.add_argument("--big", type=int, default=10_000)
    parser.add_argument("--skip-big", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = _project(Path(tmp) / "rate", args.tickets)
        figures = _run(folder, latency_ms=100, server_limit=6000, rate=6000, concurrency=16)
    ideal = args.tickets / (6000 / 60)
    print(f"1. {args.tickets} tickets, 100 ms latency, 6000/min (client and server), 16 threads")
    print(f"   wall (load+plan+apply+state): {figures['total']:.2f} s, apply alone "
          f"{figures['apply']:.2f} s; ideal {ideal:.2f} s")
    print(f"   ratio {figures['total'] / ideal:.3f} (target <= 1.15); "
          f"429s from the server: {figures['429s']:.0f} (target 0)")
    if args.skip_big:
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = _project(Path(tmp) / "big", args.big)
        figures = _run(folder, latency_ms=0, server_limit=None, rate=10**9, concurrency=16)
        (folder / "ticketsync.state.json.journal").unlink(missing_ok=True)
        bare = _run(folder, latency_ms=0, server_limit=None, rate=10**9, concurrency=16,
                    bookkeeping=False)
    writes = figures["journal"] + figures["state"]
    extra = figures["total"] - bare["total"]
    print(f"2. {args.big} tickets, zero latency, 16 threads: {figures['total']:.2f} s in all")
    print(f"   durability (journal + state writes) costs {extra:.2f} s = "
          f"{100 * extra / figures['total']:.1f}% of the run (target < 10%): the same run "
          f"with neither takes {bare['total']:.2f} s")
    print(f"   perf_counter around the writes: journal {figures['journal']:.2f} s (write + "
          f"fsync, per group commit), state {figures['state']:.2f} s = "
          f"{100 * writes / figures['total']:.1f}% of the run; an upper bound, which counts")
    print("   the writer's wait to retake the GIL while 16 threads parse HTTP (they work on)")


if __name__ == "__main__":
    main()
