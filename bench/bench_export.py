"""Benchmark: exporting a big tracker runs at the pace the listing allows.

    python bench/bench_export.py [--tickets 10000] [--latency-ms 100]

`ticketsync export` of ``--tickets`` tickets from the sandbox (its own process) answering
each request after ``--latency-ms``, with ticketsync's default rate limit (900/min). A
cursor listing is sequential (each page needs the previous page's cursor), so the bound
is the slower of the rate limit (pages / 15 per s) and the latency (pages x latency).
Prints elapsed vs that bound (target: close to 1), and the time spent on the rest
(recording the state, writing the file) as a share.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ACCOUNT = "acc-bench"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    args = parser.parse_args()
    from ticketsync.sandbox import TicketStore

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db = folder / "sandbox.db"
        with TicketStore(db) as store:
            for i in range(args.tickets):
                store.create({"title": f"Ticket {i}", "project_id": "project-001",
                              "content": [{"plain": f"Details of ticket {i}.\n"}],
                              "priority": {"value": "medium"}, "assignees": ["user-001"]})
        (folder / "ticketsync.yaml").write_text(f"account_id: {ACCOUNT}\n")
        subprocess.run([sys.executable, "-m", "ticketsync", "init"], cwd=folder, check=True,
                       capture_output=True)
        log = folder / "sandbox.log"
        with log.open("w") as stderr:
            server = subprocess.Popen(
                [sys.executable, "-m", "ticketsync", "sandbox", "--port", "0", "--db", str(db),
                 "--latency-ms", str(args.latency_ms)],
                stdout=subprocess.PIPE, stderr=stderr, text=True)
        try:
            assert server.stdout is not None
            url = server.stdout.readline().split("Sandbox listening on ")[1].split(" ")[0]
            env = {**os.environ, "STACKONE_API_KEY": "bench", "STACKONE_BASE_URL": url,
                   "STACKONE_ACCOUNT_ID": ACCOUNT}
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "ticketsync", "export"], cwd=folder,
                                  env=env, capture_output=True, text=True, check=False)
            elapsed = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait(timeout=30)
        pages = sum(line.startswith("GET /unified/ticketing/tickets?")
                    for line in log.read_text().splitlines())
        size = (folder / "tickets" / "exported.yaml").stat().st_size / 1e6 if (
            done.returncode == 0) else 0.0
    bound = max(pages / 15.0, pages * args.latency_ms / 1000)
    print(f"export of {args.tickets:,} tickets ({pages} pages at {args.latency_ms:g} ms, "
          f"{size:.1f} MB written): {elapsed:.2f} s; exit {done.returncode}")
    print(f"  bound max(pages / 15 per s, pages x latency) = {bound:.2f} s -> "
          f"ratio {elapsed / bound:.2f} (target: close to 1; the rest is start-up, "
          "recording the state and writing the file)")


if __name__ == "__main__":
    main()
