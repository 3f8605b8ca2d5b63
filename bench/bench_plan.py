"""Benchmark: `ticketsync plan` against the bare C YAML parse of the same files.

    python bench/bench_plan.py [--tickets 10000] [--files 100] [--repeat 5]

Both sides are whole processes, interpreter start-up included, because that is what a
user (or a CI step) waits for. The plan runs over a state that tracks every ticket (1% of
them changed, 50 undeclared), the common case of a project that has been applied before.
The two run in turn. Prints medians, the ratio (target: <= 1.5) and each side's peak
memory (max RSS).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET = 1.5

BASELINE = """\
import sys, yaml
for name in sys.argv[1:]:
    with open(name, "rb") as f:
        yaml.load(f, Loader=yaml.CSafeLoader)
"""


def _generate(folder: Path, tickets: int, files: int) -> list[Path]:
    sys.path.insert(0, str(HERE))
    from gen import generate  # bench/gen.py, shared with the validate benchmark

    return generate(folder, tickets, files)


def _write_state(root: Path) -> None:
    """A state that tracks every declared ticket, as an apply of these files would leave it."""
    from ticketsync.config import load_config
    from ticketsync.loader import load_project
    from ticketsync.plan import build_plan
    from ticketsync.state import StateEntry, dump_state, new_state

    config = load_config(None, cwd=root, env={})
    plan = build_plan(load_project(config), new_state(None), max_creates=10**9)
    ids = {c.key: f"tkt-{n:06d}" for n, c in enumerate(plan.creates)}
    entries: dict[str, StateEntry] = {}
    for n, create in enumerate(plan.creates):
        body = dict(create.body)
        if create.parent is not None:
            body["parent_id"] = ids[create.parent]
        if n % 100 == 0:
            body["title"] = "An older title"  # 1% drift: shown as changed
        entries[create.key] = StateEntry(ids[create.key], None, "2024-05-01T12:00:00Z", body)
    for n in range(50):
        entries[f"removed-{n:03d}"] = StateEntry(f"tkt-old-{n}", None, "2024-05-01T12:00:00Z", {})
    state = new_state(None)
    state = type(state)(1, state.lineage, 1, state.written_at, None, entries)
    (root / "ticketsync.state.json").write_text(dump_state(state), encoding="utf-8")


def _run(argv: list[str], cwd: Path) -> tuple[float, float, int]:
    """Wall time (s), CPU time (user + sys, s) and peak RSS (KiB) of one whole process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 2):
        raise SystemExit(f"{argv} failed with exit code {proc.returncode}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def _measure(
    baseline: list[str], ours: list[str], cwd: Path, repeat: int
) -> list[tuple[float, float, int]]:
    """(median wall s, median CPU s, largest peak RSS KiB) of each command.

    The two run in turn (A B A B ...) so that the machine's drift hits both alike.
    """
    for argv in (baseline, ours):
        _run(argv, cwd)  # warm the page cache and the .pyc files
    runs: list[list[tuple[float, float, int]]] = [[], []]
    for _ in range(repeat):
        for side, argv in enumerate((baseline, ours)):
            runs[side].append(_run(argv, cwd))
    return [
        (
            statistics.median(r[0] for r in side_runs),
            statistics.median(r[1] for r in side_runs),
            max(r[2] for r in side_runs),
        )
        for side_runs in runs
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--write-state", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write_state:
        _write_state(args.write_state)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "ticketsync.yaml").write_text("tickets: [tickets/]\n", encoding="utf-8")
        paths = _generate(root / "tickets", args.tickets, args.files)
        # In a child: Linux carries a process's peak RSS across fork and exec, so a parent
        # that had loaded the project would inflate every measured child's figure.
        subprocess.run([sys.executable, __file__, "--write-state", str(root)], check=True)
        state_size = (root / "ticketsync.state.json").stat().st_size
        plan_argv = [sys.executable, "-m", "ticketsync", "plan", "--detailed-exitcode"]
        (parse_t, parse_c, parse_m), (plan_t, plan_c, plan_m) = _measure(
            [sys.executable, "-c", BASELINE, *map(str, paths)], plan_argv, root, args.repeat
        )
        summary = subprocess.run(
            [*plan_argv, "--format", "json"], cwd=root, capture_output=True, check=False
        )
        counts = json.loads(summary.stdout)["summary"]
    ratio, cpu_ratio = plan_t / parse_t, plan_c / parse_c
    print(f"{args.tickets} tickets in {args.files} files; state of "
          f"{args.tickets + 50} entries ({state_size / 1e6:.1f} MB); plan summary {counts}")
    print(f"medians of {args.repeat} runs:   wall      cpu   peak RSS")
    print(f"bare CSafeLoader parse: {parse_t * 1000:5.0f} ms {parse_c * 1000:5.0f} ms "
          f"{parse_m / 1024:6.1f} MiB")
    print(f"ticketsync plan:        {plan_t * 1000:5.0f} ms {plan_c * 1000:5.0f} ms "
          f"{plan_m / 1024:6.1f} MiB")
    # CPU time is printed too: on a shared machine it is the steadier of the two figures.
    print(f"ratio: {ratio:.2f} wall, {cpu_ratio:.2f} cpu (target <= {TARGET}) "
          f"{'OK' if ratio <= TARGET else 'OVER'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
