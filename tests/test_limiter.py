"""The run-wide token bucket: rate, burst, pauses and threads, on a fake clock."""

from __future__ import annotations

import bisect
import threading
import time

import pytest

from ticketsync.stackone.limiter import RateLimiter


class FakeClock:
    """A clock that only moves when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.now += seconds


def limiter(per_minute: int, burst: int | None = None) -> tuple[RateLimiter, FakeClock]:
    clock = FakeClock()
    return RateLimiter(per_minute, burst=burst, clock=clock, sleep=clock.sleep), clock


def acquisitions(lim: RateLimiter, clock: FakeClock, count: int) -> list[float]:
    times = []
    for _ in range(count):
        lim.acquire()
        times.append(clock.now)
    return times


def most_in_any_window(times: list[float], window: float) -> int:
    # Every maximal window starts at an acquisition; closed at both ends (the strict reading).
    return max(bisect.bisect_right(times, start + window) - i for i, start in enumerate(times))


@pytest.mark.parametrize(("per_minute", "burst"), [(120, None), (900, None), (600, 1), (60, 30)])
def test_no_sliding_minute_ever_holds_more_than_the_limit(
    per_minute: int, burst: int | None
) -> None:
    lim, clock = limiter(per_minute, burst)
    times = acquisitions(lim, clock, per_minute * 3)
    assert most_in_any_window(times, 60.0) <= per_minute
    # ... and the limit is used, not merely respected: at least (N - burst) per minute.
    minutes = (times[-1] - times[0]) / 60
    assert len(times) / minutes >= per_minute - lim.burst


def test_first_minute_does_not_get_a_full_bucket_on_top_of_the_rate() -> None:
    # The classic mistake: a full bucket of B plus a refill of N/min sends B + N in minute one.
    lim, clock = limiter(600, burst=50)
    times = acquisitions(lim, clock, 700)
    start = times[0]
    assert sum(1 for t in times if t <= start + 60) <= 600


def test_burst_is_bounded_at_start_and_after_idle() -> None:
    lim, clock = limiter(900)
    assert lim.burst == 15  # one second's worth
    times = acquisitions(lim, clock, 16)
    assert times[:15] == [1000.0] * 15
    assert times[15] > 1000.0
    clock.sleep(3600)  # a long idle time must not buy a bigger burst
    idle_end = clock.now
    times = acquisitions(lim, clock, 16)
    assert times.count(idle_end) == 15


@pytest.mark.parametrize(("per_minute", "expected"), [(1, 1), (2, 1), (60, 1), (900, 15),
                                                      (6000, 100)])
def test_default_burst_is_one_seconds_worth_and_at_least_one(per_minute: int,
                                                             expected: int) -> None:
    assert RateLimiter(per_minute).burst == expected


def test_smallest_rate_still_refills() -> None:
    lim, clock = limiter(1)
    times = acquisitions(lim, clock, 3)
    assert times == [1000.0, 1060.0, 1120.0]


@pytest.mark.parametrize(("per_minute", "burst"), [(0, None), (-5, None), (10, 0), (10, 11)])
def test_nonsense_settings_are_refused(per_minute: int, burst: int | None) -> None:
    with pytest.raises(ValueError, match="must be"):
        RateLimiter(per_minute, burst=burst)


def test_pause_until_holds_every_acquire_and_never_shortens() -> None:
    lim, clock = limiter(6000, burst=10)
    lim.pause_until(clock.now + 60)
    lim.pause_until(clock.now + 30)  # a shorter pause does not cut the longer one
    lim.acquire()
    assert clock.now == pytest.approx(1060.0)
    # After the pause the bucket is full (burst), not overflowing: 9 more at once, then wait.
    resumed = clock.now
    times = acquisitions(lim, clock, 10)
    assert times[:9] == [resumed] * 9
    assert times[9] > resumed


def test_pause_for_is_relative_to_the_limiters_clock() -> None:
    lim, clock = limiter(600)
    lim.pause_for(5)
    lim.acquire()
    assert clock.now == pytest.approx(1005.0)
    assert lim.now() == clock.now


def test_repr_names_the_settings() -> None:
    assert repr(RateLimiter(900)) == "RateLimiter(per_minute=900, burst=15)"


def test_threads_share_one_budget() -> None:
    # Real clock, short run: 100/s with a burst of 5; 4 threads take 40 tokens together.
    # Each grant is timed by the limiter's own clock reading (the last one its thread made
    # before ``acquire`` returned), not after it: a busy machine can delay a thread between
    # its grant and its note, which would bunch notes into windows the grants were not in.
    reading = threading.local()

    def clock() -> float:
        reading.now = time.monotonic()
        return reading.now

    lim = RateLimiter(6000, burst=5, clock=clock)
    times: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(10):
            lim.acquire()
            with lock:
                times.append(reading.now)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    elapsed = time.monotonic() - started
    assert len(times) == 40
    rate = (6000 - 5) / 60
    times.sort()
    # nobody got a token the budget did not have: 35 beyond the burst take 35 refills
    assert times[-1] - times[0] >= (40 - 5) / rate * 0.95
    # ~0.35 s ideally; a waiter that over-sleeps (a wait in minutes, not seconds: ~20 s)
    # or a thread starved of its tokens would take far longer (the figure is no benchmark)
    assert elapsed < 10
    for i, start in enumerate(times):  # any window of T seconds holds at most B + rate*T (+1 slack)
        for end in times[i:]:
            assert sum(1 for t in times if start <= t <= end) <= 5 + rate * (end - start) + 1


def test_a_pause_from_one_thread_holds_the_others() -> None:
    lim = RateLimiter(60000, burst=10)
    started = time.monotonic()  # before the pause: a delay after it only adds to the gap
    lim.pause_for(0.2)
    done: list[float] = []

    def worker() -> None:
        lim.acquire()
        done.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(done) == 3
    assert min(done) - started >= 0.19


def test_a_halt_wakes_every_waiter_at_once_and_refuses_what_has_not_gone_out() -> None:
    """A stop (SIGTERM, a revoked key) must not wait out a token, a back-off or a 429's
    Retry-After: the threads waiting are woken with HaltedError, nothing more is sent."""
    import time

    from ticketsync.errors import HaltedError

    limiter = RateLimiter(60, burst=1)
    limiter.acquire()  # the bucket is empty: the next token is a second away
    limiter.pause_for(300)  # and a 429 holds everyone for five minutes
    outcomes: list[str] = []

    def wait_for_a_token() -> None:
        try:
            limiter.acquire()
            outcomes.append("sent")
        except HaltedError as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=wait_for_a_token) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.2)
    limiter.halt("the run was stopped")
    for thread in threads:  # not woken, they would sleep out the 300 s pause
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads)
    assert outcomes == ["not sent: the run was stopped"] * 4
    with pytest.raises(HaltedError):
        limiter.sleep(60)  # a back-off, too
    assert limiter.halted


@pytest.mark.parametrize(("latency", "expected"), [(0.1, 6), (2.0, 41), (4.0, 78)])
def test_requests_in_flight_follow_rate_times_latency(latency: float, expected: int) -> None:
    """Little's law: at 900/min (14.75/s refilled) and 4 s an answer, 59 must be in flight for the
    bucket, not the provider, to set the pace; a fixed 16 would run at a quarter of it."""
    limiter = RateLimiter(900)
    assert limiter.in_flight() == 16  # nothing observed yet
    for _ in range(50):
        limiter.observe(latency, ok=True)
    assert limiter.in_flight() == expected
    assert limiter.in_flight(cap=32) == min(expected, 32)


def test_failures_shrink_what_is_in_flight_and_successes_restore_it() -> None:
    limiter = RateLimiter(900)
    for _ in range(50):
        limiter.observe(2.0, ok=True)
    full = limiter.in_flight()
    limiter.observe(2.0, ok=False)
    limiter.observe(2.0, ok=False)
    assert limiter.in_flight() < full / 2 + 5
    for _ in range(200):
        limiter.observe(2.0, ok=True)
    assert limiter.in_flight() == full
