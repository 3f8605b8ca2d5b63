"""Benchmark: start-up, `ticketsync validate` of one small file vs `python -c 'import yaml'`.

    python bench/bench_startup.py [--runs 30]

A 5-ticket file is what a pre-commit hook or an editor integration validates: there the
cost is start-up (imports, and formerly compiling the schemas), not parsing. Both sides
are whole processes, run in turn (A B A B ...); medians compared. Target: <= 2.5x.
Then one ``-X importtime`` run lists the slowest imports of the command.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 2.5
TICKETS = """\
tickets:
  prod-outage:
    title: System outage in production environment
    priority: high
  prod-outage-postmortem: {title: Postmortem for the outage, parent: prod-outage}
  rotate-certs: {title: Rotate the TLS certificates, assignees: [user-001]}
  db-migration: {title: Migrate the database, tags: [platform]}
  cache-warmup: {title: Warm the cache after deploys, description: Before traffic.}
"""


# Byte-code caches as an installed package has them (pip writes them at install): with
# PYTHONDONTWRITEBYTECODE set, every edited module would be compiled at every run.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _time(argv: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, cwd=cwd, env=ENV)
    return time.perf_counter() - start


def _command() -> list[str]:
    # The console script, as users run it, when this interpreter has one.
    script = shutil.which("ticketsync", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "ticketsync"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        (cwd / "tickets.yaml").write_text(TICKETS, encoding="utf-8")
        bare = [sys.executable, "-c", "import yaml"]
        ours = [*_command(), "validate", "tickets.yaml"]
        _time(bare, cwd), _time(ours, cwd)  # warm the page cache and .pyc files
        times: tuple[list[float], list[float]] = ([], [])
        for _ in range(args.runs):
            times[0].append(_time(bare, cwd))
            times[1].append(_time(ours, cwd))
        trace = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "ticketsync", "validate", "tickets.yaml"],
            cwd=cwd, capture_output=True, text=True, check=True, env=ENV,
        )
    bare_t, ours_t = statistics.median(times[0]), statistics.median(times[1])
    ratio = ours_t / bare_t
    print(f"medians of {args.runs} interleaved runs")
    print(f"python -c 'import yaml':          {bare_t * 1000:6.1f} ms")
    print(f"ticketsync validate (5 tickets):   {ours_t * 1000:6.1f} ms")
    print(f"ratio: {ratio:.2f} (target <= {TARGET}) {'OK' if ratio <= TARGET else 'OVER'}")
    rows = []
    for line in trace.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]), parts[2].rstrip()))
    print("slowest imports (cumulative us, -X importtime):")
    for micros, name in sorted(rows, reverse=True)[:12]:
        print(f"  {micros:7d} {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
