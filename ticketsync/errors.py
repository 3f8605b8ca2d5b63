"""The one exception tree of ticketsync.

Library code raises these; the command's front ends (:mod:`ticketsync.cli`, and the CI
steps of :mod:`ticketsync.ci`, which run as programs of their own) print them or exit.
Every message is one line that says what is wrong and, where it can, what to do next.
Messages must never contain the API key. Every exception a user can meet is here, so that
one ``except TicketSyncError`` in each front end turns all of them into that one line.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ticketsync.model import Problem


class TicketSyncError(Exception):
    """Root of every error a user can cause or meet; printed as ``Error: MESSAGE``."""


class InputError(TicketSyncError):
    """Ticket files or the config are invalid: one :class:`Problem` per issue, sorted."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: Sequence[Problem] = tuple(sorted(problems))
        count = len(self.problems)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} in the input")


class ConfigError(TicketSyncError):
    """The project configuration (file, environment or options) cannot be used."""


class DirectoryError(TicketSyncError):
    """The directory file is unreadable, corrupt, of another account, or too new."""


class StatusError(TicketSyncError):
    """A declared status the ticket cannot take; the message lists those it can."""


class ForgeError(TicketSyncError):
    """The forge's API (GitHub, GitLab) refused a request or could not be reached
    (``status``: HTTP status, None without an answer)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class CiError(TicketSyncError):
    """A CI step cannot go on: no project, a git command that failed."""


class StateError(TicketSyncError):
    """The state file is missing, corrupt, bound to another account, or too new."""


class LockError(TicketSyncError):
    """Another process holds the state lock."""


class PlanError(TicketSyncError):
    """A plan cannot be applied: stale, refused by a brake, or malformed."""


class ApiError(TicketSyncError):
    """StackOne (or the sandbox) answered with an error, or could not be reached.

    ``status`` is the HTTP status, or ``None`` when no answer arrived.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        provider_errors: Sequence[object] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.provider_errors = tuple(provider_errors)


class ConnectError(ApiError):
    """Nothing was sent: the connection could not be made. Safe to resend."""


class RateLimitedError(ApiError):
    """429: StackOne did not act on the request. Safe to resend after ``retry_after``."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message, status=429)
        self.retry_after = retry_after


class HaltedError(ApiError):
    """Not sent: the run stopped sending before this request went out (a stop signal, or
    StackOne refused the credentials on an earlier request). Nothing was sent."""


class ClockError(ApiError):
    """StackOne's time cannot be bounded from its answers (no ``Date``, or readings that
    disagree): a time window compared with its timestamps would be a guess."""


class UncertainError(ApiError):
    """The request was sent and may have acted (timeout, dropped connection, 408, 5xx).

    A create that ends like this must be reconciled before it is ever resent.
    """


class TlsError(UncertainError):
    """TLS failed: mostly a refused certificate, but possibly after sending. Never retried."""


class RejectedError(ApiError):
    """A 4xx other than 408/429: StackOne refused the request and did not act on it."""


class AuthError(RejectedError):
    """401/403: the key or the account id is wrong."""


class NotFoundError(RejectedError):
    """404: no such ticket (or endpoint)."""
