"""Benchmark: `ticketsync validate` vs a bare libyaml parse of the same files.

Generates 10,000 tickets in 100 files, then times, as whole processes (interpreter start-up
included in both): a bare ``yaml.load(..., Loader=yaml.CSafeLoader)`` of every file, and
``ticketsync validate DIR``. Runs are interleaved (so that machine noise hits both alike)
and the medians are compared. Target (issue 2): ratio <= 1.5.

    python bench/bench_validate.py [--tickets N] [--files M] [--runs R]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gen import generate  # the sibling module, found via the path above

BARE = """
import sys, yaml
for name in sys.argv[1:]:
    with open(name, "rb") as f:
        yaml.load(f, Loader=yaml.CSafeLoader)
"""


def _time(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp, "tickets")
        paths = generate(folder, args.tickets, args.files)
        size = sum(p.stat().st_size for p in paths)
        bare_argv = [sys.executable, "-c", BARE, *map(str, paths)]
        ours_argv = [sys.executable, "-m", "ticketsync", "validate", str(folder)]
        _time(bare_argv), _time(ours_argv)  # warm the page cache and .pyc files
        bare, ours = [], []
        for _ in range(args.runs):
            bare.append(_time(bare_argv))
            ours.append(_time(ours_argv))
    bare_median, ours_median = statistics.median(bare), statistics.median(ours)
    print(f"input: {args.tickets} tickets in {len(paths)} files, {size / 1e6:.1f} MB")
    print(f"yaml.load CSafeLoader: median {bare_median:.3f} s of {args.runs} runs")
    print(f"ticketsync validate:   median {ours_median:.3f} s of {args.runs} runs")
    print(f"ratio: {ours_median / bare_median:.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
