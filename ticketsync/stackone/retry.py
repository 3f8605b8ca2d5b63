"""When a request is sent again: the one retry policy of every request of a run.

The question is always: **may the request already have acted?**

* No — a 429 (StackOne refuses before doing anything), a connection that was never made:
  resend, after ``Retry-After`` or a jittered back-off.
* Maybe — a timeout, a dropped connection, a 408 or a 5xx after sending:
  * a GET acts on nothing: resend after a back-off;
  * a PATCH sets fields to values, so a second identical one does no harm: resend after a
    back-off (through the rate limiter, like every attempt);
  * a POST creates a ticket, and StackOne has no idempotency key: *never* resent here. The
    applier looks the ticket up first (:mod:`ticketsync.stackone.reconcile`), and only a lookup that
    finds nothing lets it send the create again, at most :attr:`RetryPolicy.create_sends`
    times in a run.
* It refused (another 4xx), or the answer cannot be trusted (TLS failed): final.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ticketsync.errors import ApiError, ConnectError, RateLimitedError, TlsError, UncertainError


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts and waits; :meth:`delay` is THE decision."""

    #: Attempts of one request (the first included) before its error is raised.
    attempts: int = 6
    #: A longer Retry-After is raised rather than waited out (a CI job would just hang).
    max_retry_after: float = 300.0
    #: Sends of one create in a run, each after a lookup that found nothing.
    create_sends: int = 3

    def delay(self, method: str, error: ApiError, attempt: int) -> float | None:
        """Seconds to wait before sending ``method`` again after ``error`` on ``attempt``
        (1-based), or None to raise ``error``."""
        if attempt >= self.attempts:
            return None
        if isinstance(error, RateLimitedError):
            wait = backoff(attempt) if error.retry_after is None else error.retry_after
            return wait if wait <= self.max_retry_after else None
        if isinstance(error, TlsError):
            return None  # mostly a bad certificate: the next handshake fails the same way
        if isinstance(error, ConnectError):
            return backoff(attempt)  # no connection was made: nothing was sent
        if isinstance(error, UncertainError) and method in ("GET", "PATCH"):
            return backoff(attempt)  # a read, or fields set to the same values again
        # A POST that may have acted is reconciled by the applier; rejections are final.
        return None


def backoff(attempt: int) -> float:
    """Exponential back-off, jittered (50-100 % of the step) so threads spread out."""
    step = min(60.0, 2.0 ** (attempt - 1))  # 1, 2, 4 ... 60 s
    return step * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not cryptography
