"""The applier's worker threads: daemons, started as work arrives, answering into one queue.

Not :class:`concurrent.futures.ThreadPoolExecutor` (which ``account/pull.py`` uses for its
read-only listings): its threads are joined when the interpreter exits, so one request
that never answers would hold the process after a stop, whereas a stopped apply must be
able to leave it behind with its intent open; and the scheduler waits on one queue of
(token, answer) in arrival order, not on a set of futures.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Crash:
    """What a task raised (as opposed to returned): a bug or a broken journal."""

    error: BaseException


class Pool:
    """Daemon worker threads, started as work arrives; results land in one queue.

    Daemons, because a thread waiting on a provider that never answers must not keep the
    process alive after a stop: the run leaves it behind and its intent stays open.
    """

    def __init__(self) -> None:
        self.results: queue.Queue[tuple[int, Any]] = queue.Queue()
        self._tasks: queue.Queue[tuple[int, Callable[[], Any]] | None] = queue.Queue()
        self._lock = threading.Lock()
        self._idle = 0
        self._threads = 0

    def submit(self, token: int, task: Callable[[], Any]) -> None:
        with self._lock:
            if self._idle:
                self._idle -= 1  # reserved: that thread takes this task
            else:
                self._threads += 1
                threading.Thread(target=self._work, name="ticketsync-apply",
                                 daemon=True).start()
        self._tasks.put((token, task))

    def close(self) -> None:
        """Let every thread end once it is idle (a busy one ends after its task)."""
        with self._lock:
            count = self._threads
        for _ in range(count):
            self._tasks.put(None)

    def _work(self) -> None:
        while True:
            item = self._tasks.get()
            if item is None:
                return
            token, task = item
            try:
                result: Any = task()
            except BaseException as exc:  # a bug or a broken journal: re-raised by the run
                result = Crash(exc)
            self.results.put((token, result))
            with self._lock:
                self._idle += 1


def call(func: Callable[..., Any], *args: Any) -> Callable[[], Any]:
    """``func(*args)`` as a task for :meth:`Pool.submit`."""
    return lambda: func(*args)
