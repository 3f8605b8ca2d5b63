"""A thread-safe token bucket shared by every request of a run.

StackOne counts requests per API key over a sliding 60 s window (1000/min per its docs) and
answers 429 past it. A run should never get there: every HTTP attempt, retries included,
takes a token from one :class:`RateLimiter` first, whichever thread sends it.

Why the refill rate is ``per_minute - burst`` per minute, not ``per_minute``
---------------------------------------------------------------------------
A token bucket of capacity ``B`` refilled at ``r`` tokens per second lets through at most
``B + r * T`` requests in *any* window of length ``T`` (the bucket holds at most ``B`` at the
window's start, and ``r * T`` more arrive during it). A plain bucket that starts full and
refills at ``N/60`` per second therefore sends ``B + N`` requests in its first minute: a
server enforcing ``N`` per sliding minute answers 429 to the last ``B`` of them. Refilling
at ``(N - B) / 60`` per second makes the bound ``B + (N - B) = N`` exactly, in every window,
including the first and the one right after a pause. The cost is a sustained rate lower by
``B`` per minute, which is why the default burst is small: one second's worth (at most
``N / 60``), enough to let a pool of threads start together without idling, and a 1.7 %
toll on throughput. ``burst=1`` gives ``N - 1`` per minute, the smoothest schedule.

The bound is on the moments tokens are handed out. Requests reach the server a latency
later, and varying latency can squeeze a little more than ``N`` into one of the server's
windows; the default ``rate_limit`` (900) sits under StackOne's 1000 for that reason, and a
429 that still happens is handled by :meth:`pause_until`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

# Floating-point slack: after sleeping exactly the computed wait, the refill can land a hair
# under one token; without slack a fake clock (where ``t + 1e-17 == t``) would spin forever.
_EPSILON = 1e-9


class RateLimiter:
    """At most ``per_minute`` acquisitions in any 60 s window, ``burst`` of them at once.

    ``clock`` and ``sleep`` are injectable so that tests drive a fake clock. ``acquire`` never
    sleeps while holding the lock, so one waiting thread does not stall the others' checks.
    """

    def __init__(
        self,
        per_minute: int,
        *,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_minute < 1:
            raise ValueError(f"per_minute must be at least 1, not {per_minute}")
        if burst is None:
            # One second's worth, but never the whole minute's allowance (see module doc).
            burst = max(1, min(per_minute // 60, per_minute - 1))
        if not 1 <= burst <= per_minute:
            raise ValueError(f"burst must be between 1 and per_minute ({per_minute}), not {burst}")
        self.per_minute = per_minute
        self.burst = burst
        # burst == per_minute (only sensible for per_minute == 1) still refills, just at the
        # full rate: the exact bound then holds for windows open at one end.
        self._rate = max(per_minute - burst, 1) / 60.0  # tokens per second
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(burst)
        self._updated = clock()
        self._paused_until = float("-inf")

    def __repr__(self) -> str:
        return f"RateLimiter(per_minute={self.per_minute}, burst={self.burst})"

    def now(self) -> float:
        """The limiter's clock: the time base of :meth:`pause_until`."""
        return self._clock()

    def acquire(self) -> None:
        """Block until a token is free, then take it."""
        while True:
            with self._lock:
                now = self._clock()
                self._refill(now)
                if now < self._paused_until:
                    wait = self._paused_until - now
                elif self._tokens >= 1.0 - _EPSILON:
                    self._tokens = max(0.0, self._tokens - 1.0)
                    return
                else:
                    wait = (1.0 - self._tokens) / self._rate
            # Sleep outside the lock, then look again: another thread may have taken the
            # token meanwhile, or a 429 may have paused everyone.
            self._sleep(wait)

    def pause_until(self, t: float) -> None:
        """Hand out no token before ``t`` (in :meth:`now`'s time base), to any thread.

        A 429 means the key is over its limit for everyone, so one thread's ``Retry-After``
        holds back all of them. A pause never shortens an earlier, longer one.
        """
        with self._lock:
            self._paused_until = max(self._paused_until, t)

    def pause_for(self, seconds: float) -> None:
        """:meth:`pause_until` ``seconds`` from now."""
        self.pause_until(self._clock() + seconds)

    def _refill(self, now: float) -> None:
        elapsed = now - self._updated
        if elapsed > 0:
            # Capped at ``burst``: time spent idle or paused never buys a bigger burst, so
            # the window bound holds after a pause too.
            self._tokens = min(float(self.burst), self._tokens + elapsed * self._rate)
            self._updated = now
