"""Requests in flight follow the provider's latency (issue #10, `concurrency: auto`).

A fixed pool caps throughput at pool / latency: 16 in flight against a provider answering
in 4 s is 4 requests a second, a quarter of StackOne's limit. With `concurrency: auto`
the applier keeps rate x latency in flight: this test changes the sandbox's latency in
the middle of an apply and watches, from the server's side, the count grow and shrink.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sandbox_helpers import MakeSandbox

from ticketsync.model import Create, Plan
from ticketsync.run.apply import ApplyOptions, apply_plan
from ticketsync.sandbox import Faults
from ticketsync.stackone.client import StackOneClient
from ticketsync.stackone.limiter import RateLimiter
from ticketsync.state.file import new_state
from ticketsync.state.journal import Journal, journal_path_for

pytestmark = pytest.mark.slow


def test_in_flight_requests_grow_and_shrink_with_the_provider_s_latency(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    faults = Faults(latency_ms=40)
    sandbox = make_sandbox(faults=faults)
    limiter = RateLimiter(3000)  # 50 a second: ~12 s for 600 tickets, past the phases' 10 s
    api = StackOneClient(sandbox.url, "key", "acc-1", limiter=limiter)
    plan = Plan(creates=tuple(Create(f"k{i:03d}", {"title": f"T{i}"}) for i in range(600)))
    peaks: dict[str, int] = {}

    def phases() -> None:
        # low latency, then a slow provider, then fast again; the peak of each phase is
        # taken after time to adapt (the first slow answers come a second late; the last
        # slow requests end a second into the next phase). A slow provider of 1 s, not
        # 0.4 s: ~50 in flight (rate x latency) against at most the ~16 of the fast pool,
        # even when a busy machine slows the in-process server of the fast phases.
        for name, latency_ms, adapt, seconds in [("fast", 40, 1.0, 2.5),
                                                 ("slow", 1000, 2.5, 4.0),
                                                 ("fast again", 40, 1.5, 3.0)]:
            faults.latency_ms = latency_ms
            time.sleep(adapt)
            faults.peak(reset=True)
            time.sleep(seconds - adapt)
            peaks[name] = faults.peak()

    watcher = threading.Thread(target=phases)
    watcher.start()
    try:
        with Journal(journal_path_for(tmp_path / "s.json")) as journal:
            result = apply_plan(plan, api, journal, new_state("acc-1"),
                                options=ApplyOptions(limiter=limiter, settle_delay=0))
    finally:
        watcher.join()
        api.close()
    assert result.created == 600 and result.ok
    print(f"requests in flight at the server, per phase: {peaks}")
    assert peaks["slow"] >= 1.8 * peaks["fast"]  # 10x the latency: far more in flight
    assert peaks["fast again"] <= 0.6 * peaks["slow"]  # and back down when it speeds up
    assert peaks["fast again"] >= 1  # measured while the apply was still sending
