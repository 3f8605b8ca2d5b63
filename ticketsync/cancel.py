"""How a run is cancelled: the signals CI sends become a stop flag.

GitHub Actions cancels a job with SIGINT, then SIGTERM 7.5 s later, then SIGKILL 2.5 s
after that; GitLab and Kubernetes send SIGTERM, then SIGKILL. So the first SIGINT or
SIGTERM only *asks* the run to stop: the applier stops sending, gives the requests in
flight a bounded wait, and the state file is written, well before the SIGKILL. A second
SIGINT (a person pressing Ctrl-C again) interrupts at once; the journal still holds what
the state file does not.

A flag, not an exception, because a KeyboardInterrupt can land anywhere, even between a
journal write and its fsync; a flag is only looked at between steps.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def stop_on_signals(
    stop: threading.Event, on_stop: Callable[[], None] = lambda: None
) -> Iterator[None]:
    """While in the block, SIGINT and SIGTERM set ``stop`` (and call ``on_stop``, which
    may wake waiting threads); a second SIGINT raises KeyboardInterrupt.

    Only the main thread can own signal handlers: elsewhere (a test's thread) this does
    nothing, and the caller sets ``stop`` itself.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()
        on_stop()

    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
