"""The pace of a run: a token bucket shared by every request, and how many requests to
keep in flight so that the bucket, not the provider's latency, sets the speed.

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

How many requests to keep in flight
-----------------------------------
By Little's law a run that sends ``r`` requests per second, each answered after ``L``
seconds, has ``r * L`` requests in flight. A fixed pool caps throughput at pool / L: 16
threads against a provider answering in 4 s is 4 per second, a quarter of StackOne's
limit. So the applier asks :meth:`RateLimiter.in_flight` for a target, computed from the
latency the client observes (an average that follows changes within a few dozen answers)
with some headroom, between a floor and a cap. Errors that say the provider is struggling
(5xx, timeouts, 429) halve a factor that successes restore slowly, so a failing provider
is not hammered by a full pool.

Stopping
--------
:meth:`RateLimiter.halt` (the applier calls it on a stop signal, the client on the first
refusal of the key) wakes every thread waiting for a token or backing off, at once: a
request that has not gone out never will, and :class:`~ticketsync.errors.HaltedError`
tells its sender so.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from ticketsync.errors import HaltedError

# Floating-point slack: after sleeping exactly the computed wait, the refill can land a hair
# under one token; without slack a fake clock (where ``t + 1e-17 == t``) would spin forever.
_EPSILON = 1e-9
#: Requests in flight beyond rate x latency: covers jitter and the ones waiting for a token.
_HEADROOM = 1.25
#: Weight of a new latency sample in the moving average.
_ALPHA = 0.1


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
        sleep: Callable[[float], None] | None = None,
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
        self._halted = threading.Event()
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(burst)
        self._updated = clock()
        self._paused_until = float("-inf")
        self._latency: float | None = None
        self._factor = 1.0
        self._halted_by: str = "the run is stopping"

    def __repr__(self) -> str:
        return f"RateLimiter(per_minute={self.per_minute}, burst={self.burst})"

    def now(self) -> float:
        """The limiter's clock: the time base of :meth:`pause_until`."""
        return self._clock()

    def acquire(self) -> None:
        """Block until a token is free, then take it; :class:`HaltedError` once stopped."""
        while True:
            self._check_stop()
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
            self.sleep(wait)

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``, or less if the run is stopped (then :class:`HaltedError`)."""
        if self._sleep is not None:
            self._check_stop()
            self._sleep(seconds)
        elif self._halted.wait(max(0.0, seconds)):
            self._check_stop()

    def halt(self, reason: str) -> None:
        """Stop the run: no token is handed out any more, every waiter is woken."""
        with self._lock:
            if not self._halted.is_set():
                self._halted_by = reason
        self._halted.set()

    @property
    def halted(self) -> bool:
        return self._halted.is_set()

    def _check_stop(self) -> None:
        if self._halted.is_set():
            raise HaltedError(f"not sent: {self._halted_by}")

    # -- how many requests in flight -----------------------------------------------------

    def observe(self, seconds: float, *, ok: bool) -> None:
        """One exchange took ``seconds``; ``ok`` False if it failed the provider's way."""
        with self._lock:
            if self._latency is None:
                self._latency = seconds
            else:
                self._latency += _ALPHA * (seconds - self._latency)
            if ok:
                self._factor = min(1.0, self._factor + 0.02)
            else:
                self._factor = max(0.25, self._factor / 2)

    @property
    def latency(self) -> float | None:
        """The average latency of recent exchanges, seconds (None before the first)."""
        with self._lock:
            return self._latency

    def in_flight(self, *, floor: int = 2, cap: int = 256, initial: int = 16) -> int:
        """Requests to keep in flight: rate x latency with headroom, within [floor, cap].

        ``initial`` before any latency is known.
        """
        with self._lock:
            latency, factor = self._latency, self._factor
        if latency is None:
            return max(floor, min(cap, initial))
        target = math.ceil(self._rate * latency * _HEADROOM * factor) + self.burst // 4 + 1
        return max(floor, min(cap, target))

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
