"""Benchmark: problems cost the same whatever their number (linear time, no re-reads).

    python bench/bench_problems.py [--tickets 100000] [--files 1000] [--chain 20000] [--runs 3]

Two figures, each a ratio of whole ``ticketsync validate`` processes in the same run, the
runs interleaved (A B A B ...), medians compared:

* 50 unknown ``parent`` keys (typos, each with a "did you mean") in a ``--tickets`` project
  vs the same project clean;
* one parent chain ``--chain`` tickets deep vs the same tickets each the child of one
  root (flat: the same files but for which key each ``parent`` names).

Both should be close to 1.0: a problem costs a lookup, not a pass over the project.
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

TYPOS = 50


def _time(argv: list[str], expect: int) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, check=False, capture_output=True)
    elapsed = time.perf_counter() - start
    if done.returncode != expect:
        raise SystemExit(f"{argv} exited {done.returncode}, not {expect}: {done.stderr[-500:]!r}")
    return elapsed


def _compare(first: list[str], second: list[str], expect: tuple[int, int], runs: int) -> tuple[
    float, float
]:
    """Median wall times of two commands, run in turn after one warm-up each."""
    _time(first, expect[0]), _time(second, expect[1])
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(runs):
        times[0].append(_time(first, expect[0]))
        times[1].append(_time(second, expect[1]))
    return statistics.median(times[0]), statistics.median(times[1])


def _with_typos(clean: Path, typos: Path) -> int:
    """A copy of the project ``clean`` whose first parent in each of 50 files misses its
    last character (``t001-00004`` -> ``t001-0000``): unknown, with one close key."""
    typos.mkdir()
    files = sorted(clean.glob("*.yaml"))
    step = max(1, len(files) // TYPOS)
    done = 0
    for n, path in enumerate(files):
        text = path.read_text(encoding="utf-8")
        if n % step == 0 and done < TYPOS and "    parent: " in text:
            at = text.index("    parent: ")
            end = text.index("\n", at)
            text = text[: end - 1] + text[end:]
            done += 1
        (typos / path.name).write_text(text, encoding="utf-8")
    return done


def _chain(folder: Path, tickets: int, deep: bool, per_file: int = 1000) -> None:
    """``tickets`` tickets, each but the last with a parent: the next one (one chain as
    deep as the project; the leaf sorts first, so walks go the whole way), or the last
    one (every chain one step long). The same bytes either way."""
    folder.mkdir()
    root = tickets - 1
    for first in range(0, tickets, per_file):
        lines = ["tickets:"]
        for n in range(first, min(first + per_file, tickets)):
            lines += [f"  c{n:06d}:", f"    title: Step {n} of the chain", "    priority: low"]
            if n < root:
                lines.append(f"    parent: c{n + 1 if deep else root:06d}")
        (folder / f"chain-{first // per_file:04d}.yaml").write_text(
            "\n".join(lines) + "\n", encoding="utf-8"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--files", type=int, default=1_000)
    parser.add_argument("--chain", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    validate = [sys.executable, "-m", "ticketsync", "validate"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate(root / "clean", args.tickets, args.files)
        typos = _with_typos(root / "clean", root / "typos")
        check = subprocess.run(
            [*validate, str(root / "typos")], capture_output=True, text=True, check=False
        )
        lines = check.stderr.splitlines()
        hinted = sum("did you mean" in line for line in lines)
        clean_t, typos_t = _compare(
            [*validate, str(root / "clean")], [*validate, str(root / "typos")], (0, 1), args.runs
        )
        _chain(root / "flat", args.chain, deep=False)
        _chain(root / "chain", args.chain, deep=True)
        flat_t, chain_t = _compare(
            [*validate, str(root / "flat")], [*validate, str(root / "chain")], (0, 0), args.runs
        )
    print(f"medians of {args.runs} interleaved runs of `ticketsync validate`")
    print(f"{args.tickets} tickets in {args.files} files: clean {clean_t:.2f} s, with {typos} "
          f"unknown parents {typos_t:.2f} s ({len(lines)} problems, {hinted} with a hint): "
          f"ratio {typos_t / clean_t:.2f}")
    print(f"{args.chain} tickets: flat (one root) {flat_t:.2f} s, one chain {args.chain} deep "
          f"{chain_t:.2f} s: ratio {chain_t / flat_t:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
