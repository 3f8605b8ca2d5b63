"""Benchmark: state commands on a big state, against a bare read and write of the same file.

    python bench/bench_state.py [--tickets 100000] [--repeat 3]

A state tracking ``--tickets`` tickets (about 70 MB at 100,000). Each figure is a whole
process, interpreter start-up included, because that is what a script calling
`ticketsync state rm` waits for; the baseline is ``json.load`` plus a compact
``json.dumps`` of the same file in a process of its own (target: `state rm` at most 2x
that). Also: `state rm` of 50 keys in one command (target: one write, so about the cost
of removing one), `state list` and `state show`. Medians of interleaved runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ACCOUNT = "acc-bench"
BASELINE = """\
import json, sys
with open(sys.argv[1], encoding="utf-8") as f:
    doc = json.load(f)
json.dumps(doc)
"""


def _state(folder: Path, tickets: int) -> Path:
    from ticketsync.model import State, StateEntry
    from ticketsync.state.file import dump_state

    entries = {
        f"k{i:06d}": StateEntry(
            id=f"{i:08x}-0000-4000-8000-000000000000", remote_id=f"PLAT-{i}",
            created_at="2026-11-01T10:00:00.000000Z",
            applied={"title": f"Ticket number {i} about the checkout latency",
                     "content": [{"plain": "Users see 502s on checkout since the deploy.\n"}],
                     "priority": {"value": "high"}, "assignees": ["user-001"],
                     "tags": ["platform", "latency"], "project_id": "project-001",
                     "unified_custom_fields": {"ref": f"REF-{i}"}},
        )
        for i in range(tickets)
    }
    state = State(version=1, lineage="6a1c1d52-7b8e-4b2f-9d58-0f7a1c3e2b44", serial=1,
                  written_at="2026-11-01T10:00:00Z", account_id=ACCOUNT, tickets=entries)
    path = folder / "ticketsync.state.json"
    path.write_text(dump_state(state), encoding="utf-8")
    (folder / "ticketsync.yaml").write_text(f"account_id: {ACCOUNT}\n")
    return path


def _time(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    ticketsync = [sys.executable, "-m", "ticketsync"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = _state(folder, args.tickets)
        pristine = path.read_bytes()
        size = len(pristine) / 1e6
        keys = sorted(json.loads(pristine)["tickets"])
        bare: list[float] = []
        rm_one: list[float] = []
        rm_fifty: list[float] = []
        listing: list[float] = []
        show: list[float] = []
        for run in range(args.repeat):
            path.write_bytes(pristine)
            bare.append(_time([sys.executable, "-c", BASELINE, str(path)], folder))
            rm_one.append(_time([*ticketsync, "state", "rm", keys[run]], folder))
            path.write_bytes(pristine)
            rm_fifty.append(_time([*ticketsync, "state", "rm", *keys[100 + 50 * run:
                                                                   150 + 50 * run]], folder))
            path.write_bytes(pristine)
            listing.append(_time([*ticketsync, "state", "list"], folder))
            show.append(_time([*ticketsync, "state", "show", keys[-1]], folder))
    base = statistics.median(bare)
    print(f"state of {args.tickets:,} tickets ({size:.0f} MB); medians of {args.repeat} runs")
    print(f"  bare json.load + compact json.dumps: {base:.2f} s")
    for name, figures in (("state rm KEY", rm_one), ("state rm 50 KEYS", rm_fifty),
                          ("state list", listing), ("state show KEY", show)):
        median = statistics.median(figures)
        print(f"  {name:<18} {median:.2f} s = {median / base:.2f}x the bare read+write")
    print("  targets: state rm <= 2x; 50 keys in one command about the cost of one (one write)")


if __name__ == "__main__":
    main()
