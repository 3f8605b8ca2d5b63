"""Benchmark: reading back a big state costs the listing's pages, not a request per ticket.

    python bench/bench_refresh.py [--tickets 10000] [--edits 50]

A state tracking ``--tickets`` tickets created yesterday, last read back an hour after
that; today someone edits ``--edits`` of them in the tracker. `ticketsync plan --refresh`
(a whole process, against the sandbox in its own) must see exactly those edits, with one
listing of what changed since the last read-back: prints the requests it sent (target:
about edits / 100 pages, not one GET per tracked ticket) and the time it took.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ACCOUNT = "acc-bench"
KEY = "bench-key"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--edits", type=int, default=50)
    args = parser.parse_args()
    from ticketsync.model import State, StateEntry
    from ticketsync.sandbox import TicketStore
    from ticketsync.state.file import dump_state
    from ticketsync.times import format_time

    yesterday = datetime.now(UTC) - timedelta(days=1)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "tickets").mkdir()
        db = folder / "sandbox.db"
        lines = ["tickets:"]
        entries: dict[str, StateEntry] = {}
        with TicketStore(db, clock=lambda: yesterday) as store:
            for i in range(args.tickets):
                body = {"title": f"Ticket {i}", "project_id": "project-001"}
                made = store.create(body)
                key = f"k{i:05d}"
                lines += [f"  {key}:", f"    title: Ticket {i}", "    project_id: project-001"]
                entries[key] = StateEntry(made.id, made.remote_id, made.created_at, body,
                                          remote=body, ticket_number=made.remote_id)
        with TicketStore(db) as store:  # today, someone edits a few in the tracker
            for i in range(0, args.tickets, max(1, args.tickets // args.edits))[: args.edits]:
                store.edit(entries[f"k{i:05d}"].id, {"title": f"Edited in the tracker {i}"})
        (folder / "tickets" / "t.yaml").write_text("\n".join(lines) + "\n")
        (folder / "ticketsync.yaml").write_text(f"account_id: {ACCOUNT}\n")
        state = State(2, "6a1c1d52-7b8e-4b2f-9d58-0f7a1c3e2b44", 1,
                      format_time(yesterday + timedelta(hours=1)), ACCOUNT, entries,
                      refreshed_at=format_time(yesterday + timedelta(hours=1)))
        (folder / "ticketsync.state.json").write_text(dump_state(state))
        log = folder / "sandbox.log"
        with log.open("w") as stderr:
            server = subprocess.Popen(
                [sys.executable, "-m", "ticketsync", "sandbox", "--port", "0", "--db", str(db)],
                stdout=subprocess.PIPE, stderr=stderr, text=True)
        try:
            assert server.stdout is not None
            url = server.stdout.readline().split("Sandbox listening on ")[1].split(" ")[0]
            env = {**os.environ, "STACKONE_API_KEY": KEY, "STACKONE_BASE_URL": url,
                   "STACKONE_ACCOUNT_ID": ACCOUNT}
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "ticketsync", "plan", "--refresh"],
                                  cwd=folder, env=env, capture_output=True, text=True,
                                  check=False)
            elapsed = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait(timeout=30)
        requests = [line for line in log.read_text().splitlines()
                    if line.split(" ", 1)[0] in ("GET", "POST", "PATCH")]
    drift = sum(line.startswith("? drift ") for line in done.stdout.splitlines())
    print(f"plan --refresh of a {args.tickets:,}-ticket state after {args.edits} tracker edits:")
    kinds = ", ".join(sorted({r.split("?")[0] for r in requests}))
    print(f"  {len(requests)} requests ({kinds}), {elapsed:.2f} s; {drift} tickets shown as "
          f"edited in the tracker (exit {done.returncode})")
    print(f"  target: about {max(1, args.edits // 100)} page(s) of listing, not "
          f"{args.tickets:,} GETs")


if __name__ == "__main__":
    main()
