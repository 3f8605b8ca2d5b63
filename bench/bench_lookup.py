"""Benchmark: the pre-create lookup and the reconciliation of uncertain creates.

    python bench/bench_lookup.py [--creates 1000] [--listed 20000] [--sizes 500,1000,2000,4000]

1. Matching cost: an apply of ``--creates`` tickets against an account whose listing holds
   ``--listed`` recently updated tickets (the lookup lists them all). Prints the time spent
   matching (every match of the run, summed) as a share of the run (target < 5%).
2. Lookups per create: applies of each size where 2% of the creates lose their answer
   after StackOne made the ticket (store-then-502). Prints list requests per create for
   each size (target: flat, not growing with the size).

Both drive `ticketsync apply`'s lifecycle (the workspace) in this process against the
sandbox in a process of its own, like bench_apply.py, with a limit high enough that the
rate is not what is measured.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_apply import ACCOUNT, _project, _server  # noqa: E402 - the shared helpers


def _apply(folder: Path, *options: str, fill: int = 0) -> dict[str, float]:
    from ticketsync.declare.config import load_config
    from ticketsync.declare.loader import load_project
    from ticketsync.run.apply import ApplyOptions
    from ticketsync.run.workspace import Workspace
    from ticketsync.stackone import reconcile
    from ticketsync.stackone.client import StackOneClient
    from ticketsync.stackone.limiter import RateLimiter

    spent = [0.0]
    real = reconcile.match_remote

    def timed(*args: object, **kwargs: object) -> object:
        started = time.perf_counter()
        try:
            return real(*args, **kwargs)  # type: ignore[arg-type]
        finally:
            spent[0] += time.perf_counter() - started

    reconcile.match_remote = timed  # type: ignore[assignment]
    config = load_config(None, cwd=folder, env={})
    workspace = Workspace(config)
    workspace.init(ACCOUNT)
    try:
        with _server(folder, *options, fill=fill) as (url, log):
            limiter = RateLimiter(10**6)
            client = StackOneClient(url, "bench-key", ACCOUNT, limiter=limiter)
            started = time.perf_counter()
            with workspace.session("bench") as session:
                plan = session.plan(load_project(config))
                from dataclasses import replace

                result = session.apply(replace(plan, max_creates=10**9), client,
                                       options=ApplyOptions(limiter=limiter))
            elapsed = time.perf_counter() - started
            client.close()
            lines = log.read_text().splitlines()
    finally:
        reconcile.match_remote = real
    return {
        "elapsed": elapsed,
        "matching": spent[0],
        "creates": len(plan.creates),
        "adopted": result.adopted,
        "lists": sum(line.startswith("GET /unified/ticketing/tickets?") for line in lines),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--creates", type=int, default=1000)
    parser.add_argument("--listed", type=int, default=20_000)
    parser.add_argument("--sizes", default="500,1000,2000,4000")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = _project(Path(tmp) / "match", args.creates)
        figures = _apply(folder, fill=args.listed)
    share = 100 * figures["matching"] / figures["elapsed"]
    print(f"1. {args.creates} creates against a listing of {args.listed:,} tickets: run "
          f"{figures['elapsed']:.2f} s, matching {figures['matching'] * 1000:.0f} ms = "
          f"{share:.1f}% of it (target < 5%)")
    print("2. list requests per create when 2% of the creates lose their answer:")
    for size in (int(n) for n in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            folder = _project(Path(tmp) / f"n{size}", size)
            figures = _apply(folder, "--fault", "store-then-502:op=create,p=0.02,seed=5")
        print(f"   {size:>5} tickets: {figures['lists']:.0f} list requests, "
              f"{figures['lists'] / size:.3f} per create ({figures['adopted']:.0f} adopted "
              f"after a lost answer)")
    print("   target: flat (not growing with the number of tickets)")


if __name__ == "__main__":
    main()
