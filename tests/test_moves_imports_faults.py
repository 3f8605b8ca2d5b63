"""Declared imports and moves under kill -9 and SIGTERM: never a duplicate, never half.

Each trial: a project applied once; then hand-made tickets in the tracker (a person's
work) are declared as imports, by number and by id, each with a field declared otherwise
than the tracker holds it, beside a renamed key (``moved:``) and new tickets, one of
them a child of an imported ticket. The apply that does it runs against a sandbox that
loses the answers of PATCHes and creates at random after acting, and is stopped by kill
-9 and by SIGTERM at random moments; re-runs go on until one succeeds.

At the end, in every trial: each hand-made ticket tracked exactly once, under its key;
no ticket created for an imported key (one ticket per title); the renamed key's ticket
the same one as before; every declared value in the tracker; the plan after it says
``No changes.``
"""

from __future__ import annotations

import os
import random
import signal
from collections import Counter
from pathlib import Path

import pytest
from sandbox_helpers import spawn_sandbox, stored_tickets
from test_guarantees import API_KEY, kill_at_random_moment, run, start

from ticketsync.sandbox import TicketStore
from ticketsync.state.file import read_state

pytestmark = pytest.mark.slow

TRIALS = int(os.environ.get("TICKETSYNC_TRIALS", "3"))
SEED = int(os.environ.get("TICKETSYNC_SEED", "2020"))
CONFIG = "account_id: acc-guarantees\nconcurrency: 4\n"


def _write(folder: Path, text: str) -> None:
    (folder / "tickets" / "t.yaml").write_text(text)
    (folder / "ticketsync.yaml").write_text(CONFIG)


def _apply_until_done(folder: Path, url: str) -> str:
    outputs = []
    for _ in range(6):
        done = run(folder, url, "apply", "--yes")
        outputs.append(done.stdout + done.stderr)
        assert "Traceback" not in outputs[-1], outputs[-1]
        if done.returncode == 0:
            return outputs[-1]
    raise AssertionError("apply never succeeded:\n" + "\n---\n".join(outputs))


def test_imports_and_moves_under_kills_and_lost_answers_never_duplicate(
    tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    faults = [f"store-then-drop:op=update,p=0.2,seed={SEED + 1}",
              f"store-then-502:op=create,p=0.1,seed={SEED + 2}"]
    args = ["--latency-ms", "5"] + [a for f in faults for a in ("--fault", f)]
    stopped_mid_run = 0
    with spawn_sandbox(tmp_path / "server.db", *args, api_key=API_KEY) as server:
        for trial in range(TRIALS):
            folder = tmp_path / f"t{trial}"
            (folder / "tickets").mkdir(parents=True)
            _write(folder, f"tickets:\n  old-{trial}: {{title: Renamed {trial}}}\n")
            assert run(folder, server.url, "init").returncode == 0
            _apply_until_done(folder, server.url)
            renamed_id = read_state(folder / "ticketsync.state.json").tickets[f"old-{trial}"].id

            with TicketStore(server.db_path) as store:  # a person's tickets, made by hand
                made = [store.create({"title": f"Legacy {trial}-{i}",
                                      "priority": {"value": "low"}}) for i in range(8)]
            lines = ["moved:", f"  - {{from: old-{trial}, to: new-{trial}}}", "imports:"]
            for i, ticket in enumerate(made):
                how = f"number: {ticket.remote_id}" if i % 2 else f"id: {ticket.id}"
                lines.append(f"  - {{to: legacy-{trial}-{i}, {how}}}")
            lines += ["tickets:", f"  new-{trial}: {{title: Renamed {trial}}}"]
            for i in range(len(made)):
                lines.append(f"  legacy-{trial}-{i}: {{title: Legacy {trial}-{i}, "
                             "priority: high}")
            for i in range(6):
                parent = f", parent: legacy-{trial}-{i}" if i < 2 else ""
                lines.append(f"  fresh-{trial}-{i}: {{title: Fresh {trial}-{i}{parent}}}")
            _write(folder, "\n".join(lines) + "\n")

            journal = folder / "ticketsync.state.json.journal"
            for sig in (signal.SIGKILL, signal.SIGTERM):
                process = start(folder, server.url, "apply", "--yes")
                kill_at_random_moment(process, journal, rng, 10, sig)
                stopped_mid_run += journal.exists()
            _apply_until_done(folder, server.url)

            state = read_state(folder / "ticketsync.state.json")
            assert state.tickets[f"new-{trial}"].id == renamed_id
            assert f"old-{trial}" not in state.tickets
            for i, ticket in enumerate(made):
                assert state.tickets[f"legacy-{trial}-{i}"].id == ticket.id
            ids = Counter(entry.id for entry in state.tickets.values())
            assert set(ids.values()) == {1}  # one key per ticket
            stored = {t.id: t for t in stored_tickets(server.db_path)}
            mine = Counter(t.title for t in stored.values()
                           if (t.title or "").endswith(tuple(f" {trial}-{i}" for i in range(8)))
                           or t.title == f"Renamed {trial}")
            assert set(mine.values()) == {1}, mine  # nothing created twice, nor for an import
            assert len(mine) == 8 + 6 + 1
            for ticket in made:
                assert stored[ticket.id].fields["priority"] == {"value": "high"}
            for i in range(2):
                child = stored[state.tickets[f"fresh-{trial}-{i}"].id]
                assert child.fields["parent_id"] == made[i].id
            plan = run(folder, server.url, "plan", "--refresh")
            assert plan.stdout == "No changes.\n", plan.stdout + plan.stderr
    assert stopped_mid_run >= 1  # the signals really landed while the apply was writing
