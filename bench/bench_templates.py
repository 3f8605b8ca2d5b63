"""Templates at scale: expansion is linear in the items, and a recurring template costs
its instances only (issues #19, #20).

    python bench/bench_templates.py [--items 20000] [--tickets 10000] [--repeat 5]

Reports, each the best of ``--repeat`` runs of load + plan (against an empty state):

* a ``for_each`` template of N and 2N items (three tickets each) against the same tickets
  written out one by one: the template should cost at most 1.5x the written-out project,
  and doubling the items at most ~2.2x (linear, within 10%);
* ``--tickets`` plain tickets with and without a weekly template, catching up five years
  of periods: within 1.3x.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from ticketsync.declare.config import load_config
from ticketsync.declare.loader import load_project
from ticketsync.plan.build import build_plan
from ticketsync.state.file import new_state

NOW = datetime(2026, 12, 31, tzinfo=UTC)
WEEKLY = """\
templates:
  ops-review:
    every: week
    starting: 2022-01-03
    catch_up: all
    tickets:
      review: {title: "Ops review {period}", assignees: {rotate: [user-1, user-2]}}
"""


def templated(items: int) -> str:
    listed = "".join(f"      u{i}: {{user: user-{i}}}\n" for i in range(items))
    return (f"templates:\n  onboarding:\n    for_each:\n{listed}    tickets:\n"
            "      laptop: {title: 'Laptop for {item}', assignees: ['{user}']}\n"
            "      accounts: {title: 'Accounts for {item}'}\n"
            "      badge: {title: 'Badge for {item}', parent: laptop}\n")


def written_out(items: int) -> str:
    lines = ["tickets:\n"]
    for i in range(items):
        lines.append(f"  onboarding.u{i}.laptop: {{title: 'Laptop for u{i}', "
                     f"assignees: [user-{i}]}}\n")
        lines.append(f"  onboarding.u{i}.accounts: {{title: 'Accounts for u{i}'}}\n")
        lines.append(f"  onboarding.u{i}.badge: {{title: 'Badge for u{i}', "
                     f"parent: onboarding.u{i}.laptop}}\n")
    return "".join(lines)


def plain(tickets: int) -> str:
    return "tickets:\n" + "".join(f"  k{i}: {{title: 'Ticket {i}'}}\n" for i in range(tickets))


def best(root: Path, text: str, repeat: int) -> tuple[float, int]:
    """The best time of load + plan of a project of one file holding ``text``."""
    (root / "tickets").mkdir(parents=True)
    (root / "tickets" / "t.yaml").write_text(text, encoding="utf-8")
    config = load_config(None, cwd=root, env={})
    state = new_state(None)
    fastest, count = float("inf"), 0
    for _ in range(repeat):
        started = time.perf_counter()
        project = load_project(config, cwd=root, now=NOW)
        build_plan(project, state, max_creates=10**9)
        fastest = min(fastest, time.perf_counter() - started)
        count = len(project.tickets)
    return fastest, count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        half = args.items // 2
        rows = {
            "half": best(root / "half", templated(half), args.repeat),
            "full": best(root / "full", templated(args.items), args.repeat),
            "written": best(root / "written", written_out(args.items), args.repeat),
            "plain": best(root / "plain", plain(args.tickets), args.repeat),
            "weekly": best(root / "weekly", plain(args.tickets) + WEEKLY, args.repeat),
        }
    for name, (seconds, count) in rows.items():
        print(f"{name:8} {count:7} tickets  {seconds:7.3f} s")
    print(f"for_each of {args.items} items / written out: "
          f"{rows['full'][0] / rows['written'][0]:.2f}x (at most 1.5x)")
    print(f"{half} -> {args.items} items: {rows['full'][0] / rows['half'][0]:.2f}x "
          "(linear: 2x, within 10%)")
    print(f"{args.tickets} tickets + a weekly template over 5 years / without: "
          f"{rows['weekly'][0] / rows['plain'][0]:.2f}x (at most 1.3x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
