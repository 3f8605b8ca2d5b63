"""Fixtures shared by every test module. Keep this file small: import fixtures from a
helper module named after what they serve (``sandbox_helpers`` for the local server)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from sandbox_helpers import make_sandbox, sandbox, sandbox_process

__all__ = ["make_sandbox", "sandbox", "sandbox_process"]


@pytest.fixture(autouse=True)
def _no_thread_outlives_its_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test must stop every thread it starts (servers, workers) before it ends.

    A leaked thread keeps running into later tests, where it can colour their results,
    and hides shutdown bugs.
    """
    before = set(threading.enumerate())
    yield
    leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    # Give a stopping thread time to finish: a bound, generous for a busy machine (a
    # thread that never stops fails the test all the same, only 30 s later).
    deadline = time.monotonic() + 30
    for thread in leaked:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    leaked = [t for t in leaked if t.is_alive()]
    assert not leaked, f"{request.node.nodeid} left threads running: {leaked}"
