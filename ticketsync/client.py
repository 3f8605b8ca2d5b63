"""StackOne's ticketing API over HTTP (:class:`ticketsync.api.TicketApi`); the only module
that imports ``requests``.

Every request goes through one method, which takes a token from the run's limiter, sends one
attempt, maps the outcome to a typed error and decides, in one place, whether to resend. The
question is always: **may the request already have acted?**
- No (429; connection refused, DNS failure, connect timeout: nothing sent): resend.
- Maybe (read timeout, connection dropped after sending, 408, 5xx, a 2xx create whose answer
  is unreadable): a GET is resent; a POST or PATCH *never* is. It raises ``UncertainError``
  and the applier reconciles before anything is sent again: StackOne has no idempotency key,
  so a blind resend of a create is how duplicates are born.
- It refused (other 4xx): raised at once; a resend would get the same answer.

The key lives only in :class:`_KeyAuth` (redacted ``repr``). Messages are built from plain
facts, never from a ``requests`` exception's text, and raised outside ``except`` blocks, so
no exception chain carries a request (and its ``Authorization`` header) to a traceback.
"""

from __future__ import annotations

import base64
import email.utils
import ipaddress
import json
import logging
import math
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError
from urllib3.exceptions import HTTPError as Urllib3Error

from ticketsync import __version__
from ticketsync.api import CreatedTicket, RemoteTicket
from ticketsync.config import Config
from ticketsync.errors import (
    ApiError,
    AuthError,
    ConfigError,
    ConnectError,
    NotFoundError,
    RateLimitedError,
    RejectedError,
    UncertainError,
)
from ticketsync.limiter import RateLimiter
from ticketsync.model import Body

TICKETS_PATH = "/unified/ticketing/tickets"
PAGE_SIZE = 100
MAX_RETRY_AFTER = 300.0  # longer: raise the 429 rather than hang a CI job for an hour
_ACCOUNT_HINT = "STACKONE_ACCOUNT_ID or account_id in ticketsync.yaml"

_log = logging.getLogger(__name__)


class _KeyAuth(requests.auth.AuthBase):
    """HTTP Basic with the key as username and an empty password; never shows the key."""

    def __init__(self, key: str) -> None:
        token = base64.b64encode(f"{key}:".encode("ascii")).decode("ascii")
        self._header = f"Basic {token}"
        self._secrets = (key, token)

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = self._header
        return r

    def __repr__(self) -> str:
        return "<HTTP Basic auth, redacted>"

    def scrub(self, text: str) -> str:  # server text is untrusted: it may echo the key
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


class _TlsError(UncertainError):
    """TLS failed: mostly a refused certificate, but possibly after sending. Never retried."""


@dataclass(frozen=True)
class _Reply:
    """A 2xx answer. ``payload`` is the parsed JSON, or ``None`` if the body was not JSON."""

    status: int
    payload: Any


class StackOneClient:
    """StackOne's ticketing API: create, get, update and list tickets (see module doc)."""

    def __init__(self, base_url: str, api_key: str, account_id: str, *,
                 limiter: RateLimiter | None = None, timeout: tuple[float, float] = (5, 60),
                 max_retries: int = 5, session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.base_url = _check_base_url(base_url)
        self.account_id = account_id.strip()
        if not (self.account_id.isascii() and self.account_id.isprintable() and self.account_id):
            raise ConfigError(f"the account id is empty or not printable: set {_ACCOUNT_HINT}")
        self._auth = _KeyAuth(_check_key(api_key))
        self._host = urlsplit(self.base_url).netloc
        self._headers = {"x-account-id": self.account_id, "Accept": "application/json",
                         "User-Agent": f"ticketsync/{__version__}"}
        self._limiter, self._timeout, self._max_retries = limiter, timeout, max_retries
        self._owns_session = session is None
        self._session = session if session is not None else _new_session()
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"StackOneClient(base_url={self.base_url!r}, account_id={self.account_id!r})"

    def close(self) -> None:
        """Close the connection pool (only if this client created the session)."""
        if self._owns_session:
            self._session.close()

    def create_ticket(self, body: Body) -> CreatedTicket:
        """POST a ticket; 201 ``{data: {id, remote_id}}``. Never resent on an unknown outcome."""
        reply = self._request("POST", TICKETS_PATH, json_body=dict(body))
        data = reply.payload.get("data") if isinstance(reply.payload, dict) else None
        if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not data["id"]:
            # StackOne said yes but the ids are unreadable: the ticket exists and must be
            # found by reconciliation, exactly as after a lost answer.
            raise UncertainError(f"POST {TICKETS_PATH}: HTTP {reply.status} without a ticket"
                                 " id in the answer; the ticket may exist", status=reply.status)
        remote_id = data.get("remote_id")
        return CreatedTicket(id=data["id"], remote_id=None if remote_id is None else str(remote_id))

    def get_ticket(self, ticket_id: str) -> RemoteTicket:
        """GET one ticket's ``data``; :class:`NotFoundError` if it does not exist."""
        path = _ticket_path(ticket_id)
        reply = self._request("GET", path)
        data = reply.payload.get("data") if isinstance(reply.payload, dict) else None
        if not isinstance(data, dict):
            raise ApiError(f"GET {path}: HTTP {reply.status} without a ticket in the answer",
                           status=reply.status)
        return data

    def update_ticket(self, ticket_id: str, body: Body) -> None:
        """PATCH the given fields of a ticket (200, no ``data``). Never resent when uncertain."""
        self._request("PATCH", _ticket_path(ticket_id), json_body=dict(body))

    def list_tickets(self, updated_after: datetime | None = None) -> Iterator[RemoteTicket]:
        """Tickets updated after ``updated_after`` (timezone-aware), following the cursor
        ``next`` until it is null or absent: a short page is not the end."""
        params = {"page_size": str(PAGE_SIZE)}
        if updated_after is not None:
            params["filter[updated_after]"] = _format_time(updated_after)
        seen: set[str] = set()
        while True:
            payload = self._request("GET", TICKETS_PATH, params=params).payload
            page = (payload.get("data") or []) if isinstance(payload, dict) else None
            if not isinstance(page, list) or not all(isinstance(t, dict) for t in page):
                raise ApiError(f"GET {TICKETS_PATH}: the answer is not a page of tickets")
            yield from page
            cursor = payload.get("next")
            if not cursor:
                return
            if not isinstance(cursor, str) or cursor in seen:  # or we would loop forever
                raise ApiError(f"GET {TICKETS_PATH}: the page cursor does not advance")
            seen.add(cursor)
            params = {**params, "next": cursor}

    def _request(self, method: str, path: str, *, params: Mapping[str, str] | None = None,
                 json_body: Mapping[str, Any] | None = None) -> _Reply:
        """Send ``method path`` until it succeeds or :meth:`_retry_delay` says stop."""
        attempt = 0
        while True:
            attempt += 1
            if self._limiter is not None:
                self._limiter.acquire()  # every attempt counts against StackOne's limit
            outcome = self._attempt(method, path, params, json_body)
            if isinstance(outcome, _Reply):
                return outcome
            delay = self._retry_delay(method, outcome, attempt)
            if delay is None:
                raise outcome if attempt == 1 else _after_attempts(outcome, attempt)
            _log.info("%s %s: %s; retrying in %.1fs", method, path, type(outcome).__name__, delay)
            if isinstance(outcome, RateLimitedError) and self._limiter is not None:
                # The key is over its limit for every thread: hold them all (us included).
                self._limiter.pause_for(delay)
            else:
                self._sleep(delay)

    def _retry_delay(self, method: str, error: ApiError, attempt: int) -> float | None:
        """THE retry decision: seconds to wait before resending, or None to raise ``error``."""
        if attempt > self._max_retries:
            return None
        if isinstance(error, RateLimitedError):
            # StackOne rejects a rate-limited request before doing anything: safe to resend.
            wait = _backoff(attempt) if error.retry_after is None else error.retry_after
            return wait if wait <= MAX_RETRY_AFTER else None
        if isinstance(error, _TlsError):
            return None  # mostly a bad certificate: the next handshake fails the same way
        if isinstance(error, ConnectError):
            return _backoff(attempt)  # no connection was made: nothing was sent
        if isinstance(error, UncertainError) and method == "GET":
            return _backoff(attempt)  # a read acts on nothing: resending is harmless
        # UncertainError on POST/PATCH: the provider may have acted. Resending a create
        # here could make a duplicate; the applier reconciles instead. Rejections are final.
        return None

    def _attempt(self, method: str, path: str, params: Mapping[str, str] | None,
                 json_body: Mapping[str, Any] | None) -> _Reply | ApiError:
        """One exchange, as a reply or an error *object*: raised later, outside this
        ``except``, so no error carries a ``requests`` exception as its context."""
        started = time.monotonic()
        error: ApiError | None = None
        try:
            # No redirects: one would turn a POST into a GET, or send it (and the key) away.
            response = self._session.request(
                method, self.base_url + path, params=params, json=json_body,
                headers=self._headers, auth=self._auth, timeout=self._timeout,
                allow_redirects=False)
        except (requests.RequestException, Urllib3Error, OSError) as exc:
            error = self._transport_error(method, path, exc)
        outcome = error if error is not None else self._outcome(method, path, response)
        _log.debug("%s %s -> %s (%.2fs)", method, path, getattr(outcome, "status", None),
                   time.monotonic() - started)
        return outcome

    def _transport_error(self, method: str, path: str, exc: BaseException) -> ApiError:
        """No HTTP answer: was anything sent? Only a failed connect proves it was not."""
        where = f"{method} {path}"
        if _nothing_sent(exc):
            what = "timed out connecting" if isinstance(exc, requests.ConnectTimeout) else (
                "could not connect (connection refused or host not found)")
            return ConnectError(f"{where}: {what} to {self._host}; nothing was sent")
        if isinstance(exc, requests.exceptions.SSLError):
            return _TlsError(f"{where}: TLS failed with {self._host} (check base_url and its"
                             " certificate); the request may have acted")
        if isinstance(exc, requests.Timeout):
            what = f"no answer within {self._timeout[1]:g}s"
        elif isinstance(exc, requests.exceptions.ChunkedEncodingError | requests.ConnectionError):
            what = "the connection dropped before the answer arrived"
        else:
            what = f"the exchange failed ({type(exc).__name__})"
        return UncertainError(f"{where}: {what}; the request was sent and may have acted")

    def _outcome(self, method: str, path: str, response: requests.Response) -> _Reply | ApiError:
        """Map an HTTP answer to a reply (2xx) or a typed error carrying StackOne's message."""
        status = response.status_code
        try:
            payload: Any = response.json()
        except ValueError:  # not JSON (a proxy's HTML page, an empty body...)
            payload = None
        if 200 <= status < 300:
            return _Reply(status, payload)
        message = self._message(payload, response)
        where = f"{method} {path}"
        if status in (401, 403):
            return AuthError(f"StackOne refused the credentials (HTTP {status}): {message};"
                             f" check STACKONE_API_KEY and the account id ({_ACCOUNT_HINT})",
                             status=status)
        if status == 404:
            return NotFoundError(f"{where}: not found (HTTP 404): {message}", status=status)
        if status == 429:
            return RateLimitedError(f"{where}: rate limited by StackOne (HTTP 429): {message}",
                                    retry_after=_retry_after(response.headers.get("Retry-After")))
        if status == 408 or status >= 500:
            # 408: StackOne's own retries against the provider ran past its time limit. 5xx:
            # StackOne or the provider failed somewhere along the way. Either way the
            # provider may have acted.
            what = "timed out waiting for the provider" if status == 408 else "failed"
            return UncertainError(f"{where}: StackOne {what} (HTTP {status}): {message}; the"
                                  " request may have acted", status=status)
        if 300 <= status < 400:
            return RejectedError(f"{where}: unexpected redirect (HTTP {status}); check base_url",
                                 status=status)
        errors = payload.get("provider_errors") if isinstance(payload, dict) else None
        errors = errors if isinstance(errors, list) else []
        return RejectedError(f"{where}: StackOne refused the request (HTTP {status}): {message}"
                             f"{self._provider_summary(errors)}", status=status,
                             provider_errors=errors)

    def _message(self, payload: Any, response: requests.Response) -> str:
        """StackOne's ``message`` (or a short plain-text body), one line, key scrubbed."""
        text = ""
        if isinstance(payload, dict):
            raw = payload.get("message")
            text = "; ".join(map(str, raw)) if isinstance(raw, list) else str(raw or "")
        elif payload is None and "html" not in response.headers.get("Content-Type", ""):
            text = response.text
        return self._clean(text) or response.reason or "no message"

    def _provider_summary(self, provider_errors: list[Any]) -> str:
        """What the provider (Jira, Linear...) said: often the one useful line of a 400."""
        said = [e.get("raw") for e in provider_errors[:2] if isinstance(e, dict)]
        said = [r.get("message", r) if isinstance(r, dict) else r for r in said if r]
        text = "; ".join(r if isinstance(r, str) else json.dumps(r, sort_keys=True) for r in said)
        return f" (provider: {self._clean(text)})" if text else ""

    def _clean(self, text: str) -> str:
        """One line, bounded, and never the key, even if a server echoes it back."""
        line = " ".join(self._auth.scrub(text).split())
        return line if len(line) <= 500 else line[:497] + "..."


def make_client(config: Config, api_key: str, *,
                limiter: RateLimiter | None = None) -> StackOneClient:
    """A client for ``config``'s account; a limiter at ``config.rate_limit`` unless given."""
    if not config.account_id:
        raise ConfigError(f"no StackOne account id: set {_ACCOUNT_HINT}")
    limiter = limiter if limiter is not None else RateLimiter(config.rate_limit)
    return StackOneClient(config.base_url, api_key, config.account_id, limiter=limiter)


def _new_session() -> requests.Session:
    session = requests.Session()  # a pool for the apply threads (requests' default is 10)
    adapter = requests.adapters.HTTPAdapter(pool_connections=2, pool_maxsize=64)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def _check_base_url(base_url: str) -> str:
    parts = urlsplit(base_url.strip())
    if "@" in parts.netloc:  # checked first: the other messages quote the URL
        raise ConfigError("base_url must not contain credentials; the key comes only from "
                          "STACKONE_API_KEY")
    host = (parts.hostname or "").rstrip(".")
    if parts.scheme not in ("https", "http") or not host or parts.query or parts.fragment:
        raise ConfigError(f"base_url {base_url!r} is not an http(s) URL without query")
    try:  # a name other than localhost could resolve anywhere: only literal loopback counts
        loopback = host.lower() == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if parts.scheme == "http" and not loopback:
        raise ConfigError(f"base_url {base_url!r} uses plain http://, which would send the API"
                          " key in clear; use https:// (http:// only to localhost)")
    return f"{parts.scheme}://{parts.netloc}{parts.path}".rstrip("/")


def _check_key(api_key: str) -> str:
    key = api_key.strip()  # a newline pasted with the secret is not part of the key
    if not key or not key.isascii() or not key.isprintable() or " " in key:
        # Never quote the key in the message, not even in part.
        raise ConfigError("STACKONE_API_KEY is empty or has characters an API key cannot have")
    return key


def _ticket_path(ticket_id: str) -> str:  # quoted whole: "a/b" must not reach another path
    if not ticket_id:
        raise NotFoundError("no ticket id given")
    return f"{TICKETS_PATH}/{quote(ticket_id, safe='')}"


def _format_time(moment: datetime) -> str:
    """StackOne's ISO form, ``2020-01-01T00:00:00.000Z``. Truncated, never rounded up: an
    earlier bound lists more tickets, a later one could hide the very one being sought."""
    if moment.utcoffset() is None:
        raise ValueError("updated_after must be timezone-aware (a naive time is ambiguous)")
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _nothing_sent(exc: BaseException) -> bool:
    """True only when the failure provably happened before a byte of the request left."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.SSLError | requests.exceptions.ProxyError):
        return False  # TLS and proxy failures can also happen after sending: assume the worst
    reason = exc.args[0] if isinstance(exc, requests.ConnectionError) and exc.args else None
    reason = reason.reason if isinstance(reason, MaxRetryError) else reason
    # NewConnectionError covers refused connections and NameResolutionError (DNS).
    return isinstance(reason, NewConnectionError | ConnectTimeoutError)


def _retry_after(value: str | None) -> float | None:
    """Seconds from ``Retry-After``: delta-seconds or an HTTP date; None if absent or bad."""
    try:
        seconds = float(value or "")
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value or "")
        except (TypeError, ValueError):
            return None
        seconds = (when.replace(tzinfo=when.tzinfo or UTC) - datetime.now(UTC)).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _backoff(attempt: int) -> float:
    """Exponential back-off, jittered (50-100 % of the step) so threads spread out."""
    step = min(60.0, 2.0 ** (attempt - 1))  # 1, 2, 4 ... 60 s
    return step * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not cryptography


def _after_attempts(error: ApiError, attempts: int) -> ApiError:  # the same, retries spent
    message = f"{error} (gave up after {attempts} attempts)"
    if isinstance(error, RateLimitedError):
        return RateLimitedError(message, retry_after=error.retry_after)
    return type(error)(message, status=error.status, provider_errors=error.provider_errors)
