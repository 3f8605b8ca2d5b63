"""StackOne's clock, as read from its answers.

Every time window that is compared with StackOne's timestamps (``filter[updated_after]``,
``written_at``, a create's intent time) must be in StackOne's clock: a CI runner whose
clock runs 15 minutes ahead would otherwise look for a lost ticket after it was made, miss
it, and create it again. Each answer's ``Date`` header says StackOne's time to the second.

An answer dated ``D`` was produced between sending and receiving it, so at the moment it
is received StackOne's time is at least ``D`` (truncated to the second) — a lower bound,
which is the safe side: an earlier window lists more, never less. Each reading is kept as
an offset from this machine's *monotonic* clock, so a step of this machine's wall clock
during a run (NTP) changes nothing. Readings that disagree by more than ``max_spread``
(StackOne's own clock jumped, or answers come from machines that disagree) cannot be
bounded, and :class:`ClockError` says so rather than guess; the oldest reading is used
(the earliest estimate) while they agree within that bound.
"""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from ticketsync.errors import ClockError


def parse_http_date(value: str | None) -> datetime | None:
    """An HTTP ``Date`` value as aware UTC, or None if absent or unreadable."""
    if not value:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return moment.replace(tzinfo=moment.tzinfo or UTC).astimezone(UTC)


class ServerClock:
    """StackOne's time, from the ``Date`` of its answers; thread-safe."""

    def __init__(
        self,
        *,
        max_spread: timedelta = timedelta(minutes=5),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_spread = max_spread.total_seconds()
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._low: float | None = None  # smallest (server epoch - monotonic) seen
        self._high: float | None = None  # largest

    def observe(self, date: datetime | None, *, received: float | None = None) -> None:
        """Record an answer dated ``date`` received at monotonic time ``received``."""
        if date is None:
            return
        at = self._monotonic() if received is None else received
        offset = date.timestamp() - at
        with self._lock:
            self._low = offset if self._low is None else min(self._low, offset)
            self._high = offset if self._high is None else max(self._high, offset)

    @property
    def known(self) -> bool:
        with self._lock:
            return self._low is not None

    def now(self) -> datetime:
        """A lower bound of StackOne's current time; :class:`ClockError` if unknown."""
        with self._lock:
            low, high = self._low, self._high
        if low is None or high is None:
            raise ClockError(
                "StackOne's answers carry no Date header, so its clock cannot be read: "
                "ticketsync will not compare this machine's clock with StackOne's "
                "timestamps (check base_url: is a proxy stripping the header?)"
            )
        if high - low > self.max_spread:
            raise ClockError(
                f"StackOne's answers disagree about its time by {high - low:.0f} s (more "
                f"than {self.max_spread:.0f} s): its clock cannot be bounded; run again "
                "later, or check base_url for a proxy that rewrites the Date header"
            )
        return datetime.fromtimestamp(self._monotonic() + low, tz=UTC)
