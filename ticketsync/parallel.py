"""Spreading per-file work over the machine's cores, for big projects only.

Parsing YAML is CPU-bound Python (libyaml builds Python objects node by node), so threads
would not help. Forked worker processes do: they start with everything already imported,
and a 10,000-ticket project parses in about half the wall time on two cores.

Only worth it, and only safe, when:

* there is enough work to repay the fork and the pickling of results (``min_bytes``);
* the platform forks (Linux): with "spawn" each worker would re-import the world;
* the calling process has no other thread: forking a threaded process can copy a lock held
  by another thread and deadlock the child (a CLI run has one thread; tests may not).

Anything else, or a pool that breaks (a worker killed by the OOM killer, say), falls back
to doing the work in this process: the result is the same, only slower.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: Below this much input, a pool costs more than it saves.
MIN_BYTES = 1024 * 1024
MAX_WORKERS = 4


def map_in_processes(
    func: Callable[[T], R], items: Sequence[T], *, total_bytes: int
) -> list[R]:
    """``[func(item) for item in items]``, in forked worker processes when worthwhile.

    ``func`` must be a module-level function, and ``items`` and its results picklable.
    Results come back in the order of ``items``.
    """
    workers = min(MAX_WORKERS, _usable_cores(), len(items))
    if (
        workers < 2
        or total_bytes < MIN_BYTES
        or "fork" not in multiprocessing.get_all_start_methods()
        or threading.active_count() > 1
    ):
        return [func(item) for item in items]
    # Small chunks keep both workers busy to the end; a few per worker repay the pickling.
    chunksize = max(1, len(items) // (workers * 4))
    try:
        with ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_ignore_sigint,
        ) as pool:
            return list(pool.map(func, items, chunksize=chunksize))
    except BrokenProcessPool:  # pragma: no cover - a worker died: redo the work here
        return [func(item) for item in items]


def _usable_cores() -> int:
    # The cores this process may run on (a CI container's share), where the OS says;
    # macOS and Windows have no sched_getaffinity.
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _ignore_sigint() -> None:
    # Ctrl-C is the parent's to handle (one "Interrupted." line, exit 130); a worker that
    # died of it would print a traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
