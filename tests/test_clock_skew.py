"""Clocks disagree: StackOne's against the runner's, by up to an hour (issue #9).

The pre-create lookup and the reconciliation compare times with StackOne's ``updated_at``.
Taken from the runner's clock, a runner 15 minutes ahead of StackOne looked for the tickets
of a killed run *after* they were made and created them again (50-70 duplicates a trial).
Taken from StackOne's ``Date`` headers, no skew matters; a skew that cannot be read is
refused, never guessed.
"""

from __future__ import annotations

import random
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sandbox_helpers import spawn_sandbox
from test_guarantees import (
    API_KEY,
    apply_until_done,
    assert_one_each,
    kill_at_random_moment,
    run,
    start,
    write_project,
)

from ticketsync.errors import ClockError
from ticketsync.model import Create, Plan
from ticketsync.run.apply import ApplyOptions, apply_plan
from ticketsync.stackone.client import StackOneClient
from ticketsync.state.file import new_state, read_state
from ticketsync.state.journal import Journal, journal_path_for
from ticketsync.times import parse_time

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("offset", "marker"), [
    (-3600, True), (-900, False), (+3600, True), (+900, False),
], ids=["runner-1h-ahead", "runner-15min-ahead", "runner-1h-behind", "runner-15min-behind"])
def test_kill_9_then_a_fresh_checkout_never_duplicates_whatever_the_skew(
    tmp_path: Path, offset: int, marker: bool
) -> None:
    """StackOne's clock ``offset`` seconds from the runner's; each trial kills an apply at a
    random moment, throws its working folder away but for the committed state file, and
    re-runs from a fresh checkout."""
    rng = random.Random(offset * 7 + marker)
    with spawn_sandbox(tmp_path / "server.db", "--clock-offset", str(offset),
                       "--latency-ms", "10", api_key=API_KEY) as server:
        for trial in range(3):
            runner = tmp_path / f"runner{trial}"
            prefix = f"s{trial}"
            write_project(runner, prefix, 8, marker=marker)
            assert run(runner, server.url, "apply", "--yes").returncode == 0
            committed = (runner / "ticketsync.state.json").read_bytes()
            # The state is dated in StackOne's clock, not the runner's.
            written = parse_time(read_state(runner / "ticketsync.state.json").written_at)
            stackone_now = datetime.now(UTC) + timedelta(seconds=offset)
            assert abs((written - stackone_now).total_seconds()) < 60
            keys = write_project(runner, prefix, 30, marker=marker)
            process = start(runner, server.url, "apply", "--yes", "--force")
            kill_at_random_moment(process, journal_path_for(runner / "ticketsync.state.json"),
                                  rng, 22)
            fresh = tmp_path / f"fresh{trial}"
            fresh.mkdir()
            shutil.copytree(runner / "tickets", fresh / "tickets")
            shutil.copy(runner / "ticketsync.yaml", fresh / "ticketsync.yaml")
            (fresh / "ticketsync.state.json").write_bytes(committed)
            shutil.rmtree(runner)
            apply_until_done(fresh, server.url)
            assert_one_each(server, fresh, keys, marker=marker)


def test_a_stackone_without_a_date_header_is_refused_before_anything_is_created(
    requests_mock: Any, tmp_path: Path
) -> None:
    """No Date header: StackOne's clock cannot be bounded, so the time windows cannot be
    computed; the apply stops with a message and creates nothing."""
    base = "https://api.stackone.test"
    requests_mock.get(f"{base}/unified/ticketing/tickets", json={"data": [], "next": None})
    requests_mock.post(f"{base}/unified/ticketing/tickets", status_code=201,
                       json={"data": {"id": "t-1", "remote_id": "R-1"}})
    api = StackOneClient(base, "key", "acc-1")
    plan = Plan(creates=(Create("a", {"title": "A"}),))
    with Journal(journal_path_for(tmp_path / "s.json")) as journal, pytest.raises(
        ClockError, match="StackOne's answers carry no Date header"
    ):
        apply_plan(plan, api, journal, new_state("acc-1"), options=ApplyOptions())
    assert [r.method for r in requests_mock.request_history] == ["GET"]  # no create
