"""Run the benchmarks, one after the other (``tox -e bench``); each prints its figures.

    python bench/run.py [NAME...]        # NAME: apply, plan, validate, ... (default: all)

Benchmarks never fail on speed: they measure, as ratios against a baseline taken in the
same run, and print. This runs each ``bench/bench_NAME.py`` in a process of its own, so
that one's memory and threads cannot colour the next one's figures, and exits non-zero
only if a benchmark itself broke.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: Arguments beyond a benchmark's defaults: the figures the README's table reports.
ARGS = {"plan": ["--templates"]}


def main(names: list[str]) -> int:
    available = {path.stem.removeprefix("bench_"): path for path in sorted(HERE.glob("bench_*.py"))}
    unknown = sorted(set(names) - set(available))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(available)}")
        return 64
    broken = []
    for name in names or list(available):
        print(f"== bench/{available[name].name}", flush=True)
        started = time.monotonic()
        argv = [sys.executable, str(available[name]), *ARGS.get(name, [])]
        done = subprocess.run(argv, check=False)
        print(f"== {name}: {time.monotonic() - started:.0f} s, exit {done.returncode}\n",
              flush=True)
        if done.returncode:
            broken.append(name)
    if broken:
        print(f"broken: {', '.join(broken)}")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
