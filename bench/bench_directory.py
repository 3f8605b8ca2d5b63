"""Benchmark: names cost nothing that grows with the directory, and a pull runs at the rate
limit (prints figures; never fails on speed).

    python bench/bench_directory.py [--tickets 10000] [--users 5000] [--projects 200]
                                    [--repeat 5] [--latency-ms 100] [--rate-limit 3000]

1. ``ticketsync plan`` of ``--tickets`` tickets (bench/gen.py's project, with the state
   bench/bench_plan.py writes: 90% tracked, 1% of those changed since) against the bare C
   YAML parse of the same files, twice: as generated (ids, no directory: today's ratio),
   and with every reference written as a name (assignees by email, reporters by username,
   project, type and components by name) against a directory of ``--users`` users and
   ``--projects`` projects (10 components and an own type each). Whole processes, run in
   turn (A B C D A B C D ...). Target: the names ratio within today's.
2. ``ticketsync directory pull`` of that directory from the sandbox (its own process,
   ``--latency-ms`` per request, limited to ``--rate-limit`` per minute like StackOne) with
   ``--rate-limit`` for the pull too. Prints elapsed against requests / rate (target:
   close to 1) and the number of 429 answers (target: 0).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ACCOUNT = "acc-bench"

BASELINE = """\
import sys, yaml
for name in sys.argv[1:]:
    with open(name, "rb") as f:
        yaml.load(f, Loader=yaml.CSafeLoader)
"""


def _directory_text(users: int, projects: int) -> str:
    from ticketsync.declare.directory import (
        Component,
        Directory,
        Project,
        TicketType,
        User,
        dump_directory,
    )

    return dump_directory(Directory.of(
        ACCOUNT, "2026-12-01T00:00:00Z",
        users=[User(f"u-{n:05d}", f"Person {n:05d}", f"person{n:03d}@example.com",
                    f"person{n:03d}", n < 100 or n % 50 != 49) for n in range(users)],
        projects=[Project(f"project-{n:03d}", f"Project {n:03d}") for n in range(projects)],
        ticket_types=[TicketType("ticket-type-001", "Task"), TicketType("ticket-type-002", "Bug")]
        + [TicketType(f"tt-{n:03d}", "Incident", f"project-{n:03d}") for n in range(projects)],
        components=[Component(f"c-{p:03d}-{c}", f"Component {c}", f"project-{p:03d}")
                    for p in range(projects) for c in range(10)],
    ))


_NAMES = [
    (re.compile(r"^  project_id: project-(\d+)$", re.M), r"  project: Project \1"),
    (re.compile(r"^  type: ticket-type-001$", re.M), "  type: Task"),
    (re.compile(r"assignees: \[user-(\d+)\]"), r"assignees: [person\1@example.com]"),
    (re.compile(r"reporters: \[user-(\d+), user-(\d+)\]"), r"reporters: [person\1, person\2]"),
    (re.compile(r"component_ids: \[component-0*(\d+)\]"), r"components: [Component \1]"),
]


def _names(text: str) -> str:
    """The generated file with every reference written as a name."""
    for pattern, replacement in _NAMES:
        text = pattern.sub(replacement, text)
    return text


def _project(root: Path, tickets: int, names: bool, directory: str) -> list[Path]:
    sys.path.insert(0, str(HERE))
    from gen import generate  # bench/gen.py, shared with the other benchmarks

    root.mkdir()
    (root / "ticketsync.yaml").write_text("tickets: [tickets/]\n", encoding="utf-8")
    paths = generate(root / "tickets", tickets, max(1, tickets // 100))
    if names:
        for path in paths:
            path.write_text(_names(path.read_text(encoding="utf-8")), encoding="utf-8")
        (root / "ticketsync.directory.json").write_text(directory, encoding="utf-8")
    # The state an earlier apply left (in a child, as bench_plan.py does it): ids, whatever
    # the files say.
    subprocess.run([sys.executable, str(HERE / "bench_plan.py"), "--write-state", str(root)],
                   check=True)
    return paths


def _run(argv: list[str], cwd: Path) -> tuple[float, float]:
    """Wall and CPU (user + sys) seconds of one whole process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    assert proc.stderr is not None
    err = proc.stderr.read().decode()
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) not in (0, 2):
        raise SystemExit(f"{argv} failed: {err}")
    return elapsed, usage.ru_utime + usage.ru_stime


def bench_plan(tmp: Path, args: argparse.Namespace) -> None:
    directory = _directory_text(args.users, args.projects)
    ids_paths = _project(tmp / "ids", args.tickets, False, directory)
    names_paths = _project(tmp / "names", args.tickets, True, directory)
    plan = [sys.executable, "-m", "ticketsync", "plan", "--detailed-exitcode"]
    sides = {
        "bare parse (ids files)": ([sys.executable, "-c", BASELINE, *map(str, ids_paths)],
                                   tmp / "ids"),
        "plan, ids, no directory": (plan, tmp / "ids"),
        "bare parse (names files)": ([sys.executable, "-c", BASELINE, *map(str, names_paths)],
                                     tmp / "names"),
        "plan, names + directory": (plan, tmp / "names"),
    }
    for argv, cwd in sides.values():
        _run(argv, cwd)  # warm the page cache and the .pyc files
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in sides}
    for _ in range(args.repeat):
        for name, (argv, cwd) in sides.items():
            runs[name].append(_run(argv, cwd))
    wall = {name: statistics.median(r[0] for r in found) for name, found in runs.items()}
    cpu = {name: statistics.median(r[1] for r in found) for name, found in runs.items()}
    size = sum(p.stat().st_size for p in names_paths) / 1e6
    print(f"1. plan of {args.tickets:,} tickets ({size:.1f} MB), 90% tracked; directory of "
          f"{args.users:,} users, {args.projects} projects "
          f"({len(directory) / 1e6:.1f} MB); medians of {args.repeat} runs:")
    for name in sides:
        print(f"  {name:26} {wall[name] * 1000:6.0f} ms wall {cpu[name] * 1000:6.0f} ms cpu")
    today = wall["plan, ids, no directory"] / wall["bare parse (ids files)"]
    named = wall["plan, names + directory"] / wall["bare parse (names files)"]
    today_cpu = cpu["plan, ids, no directory"] / cpu["bare parse (ids files)"]
    named_cpu = cpu["plan, names + directory"] / cpu["bare parse (names files)"]
    print(f"  ratio to the bare parse: ids {today:.2f}x wall ({today_cpu:.2f}x cpu), names "
          f"{named:.2f}x wall ({named_cpu:.2f}x cpu): names / ids = {named / today:.2f} "
          f"(target: within today's ratio) {'OK' if named <= today * 1.05 else 'OVER'}")


def bench_pull(tmp: Path, args: argparse.Namespace) -> None:
    folder = tmp / "pull"
    folder.mkdir()
    seed = folder / "seed.json"
    seed.write_text(_directory_text(args.users, args.projects), encoding="utf-8")
    log = folder / "sandbox.log"
    with log.open("w") as stderr:
        server = subprocess.Popen(
            [sys.executable, "-m", "ticketsync", "sandbox", "--port", "0",
             "--db", str(folder / "sandbox.db"), "--seed", str(seed),
             "--latency-ms", str(args.latency_ms), "--rate-limit", f"{args.rate_limit}/min"],
            stdout=subprocess.PIPE, stderr=stderr, text=True)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().split("Sandbox listening on ")[1].split(" ")[0]
        env = {**os.environ, "STACKONE_API_KEY": "bench", "STACKONE_BASE_URL": url,
               "STACKONE_ACCOUNT_ID": ACCOUNT}
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "ticketsync", "directory", "pull",
             "--rate-limit", str(args.rate_limit)],
            cwd=folder, env=env, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=30)
    lines = log.read_text().splitlines()
    requests = sum(line.startswith("GET /unified/ticketing/") for line in lines)
    limited = sum(" 429 " in line for line in lines)
    ideal = requests / (args.rate_limit / 60)
    print(f"2. directory pull of {args.users:,} users and {args.projects} projects at "
          f"{args.latency_ms:g} ms latency, --rate-limit {args.rate_limit}/min (the sandbox's "
          f"limit too): exit {done.returncode}; {done.stdout.strip() or done.stderr.strip()}")
    print(f"  {requests} requests in {elapsed:.2f} s vs requests / rate = {ideal:.2f} s: "
          f"{elapsed / ideal:.2f}x (target: close to 1; the limiter lets a one-second burst "
          f"through at the start); {limited} answers 429 (target: 0)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=5_000)
    parser.add_argument("--projects", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--rate-limit", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench_plan(Path(tmp), args)
        bench_pull(Path(tmp), args)


if __name__ == "__main__":
    main()
