"""StackOne's ticketing API over HTTP (:class:`ticketsync.stackone.api.TicketApi`); the only module
that imports ``requests``.

Every request goes through one method, which takes a token from the run's limiter, sends one
attempt, maps the outcome to a typed error, and asks :class:`ticketsync.stackone.retry.RetryPolicy`
whether to send it again (the question is always whether it may already have acted).

A server can be broken or hostile, and a CI job must still end. So every attempt has an
overall deadline (a watchdog cuts the connection of an answer that drips in byte by byte:
the socket's timeout is per read), an answer is read up to a size cap (beyond it, a create
is uncertain and is looked up, anything else fails), and a listing stops when its pages
stop bringing new tickets or pass a page cap, with one error rather than an endless loop.
The first refusal of the credentials (401/403) halts the run: no request that has not gone
out yet is sent. Each answer's ``Date`` feeds :class:`ticketsync.stackone.clock.ServerClock`.
A ticket's JSON is parsed here, as it enters (:mod:`ticketsync.stackone.read`): the rest of
ticketsync reads typed fields, never the server's mapping.

The key lives only in :class:`_KeyAuth` (redacted ``repr``). Messages are built from plain
facts, never from a ``requests`` exception's text, and raised outside ``except`` blocks, so
no exception chain carries a request (and its ``Authorization`` header) to a traceback.
"""

from __future__ import annotations

import base64
import contextlib
import heapq
import ipaddress
import json
import logging
import math
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import requests
import urllib3.connection
import urllib3.connectionpool
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError
from urllib3.exceptions import HTTPError as Urllib3Error

from ticketsync import __version__
from ticketsync.errors import (
    ApiError,
    AuthError,
    ConfigError,
    ConnectError,
    HaltedError,
    NotFoundError,
    RateLimitedError,
    RejectedError,
    TlsError,
    UncertainError,
)
from ticketsync.model import Body
from ticketsync.stackone.api import CreatedTicket, RemoteTicket
from ticketsync.stackone.clock import ServerClock, parse_http_date
from ticketsync.stackone.limiter import RateLimiter
from ticketsync.stackone.read import parse_ticket, parse_tickets
from ticketsync.stackone.retry import RetryPolicy
from ticketsync.times import format_time

TICKETS_PATH = "/unified/ticketing/tickets"
PAGE_SIZE = 100
#: An answer bigger than this is not a StackOne answer (a page of 100 tickets is ~1 MB).
MAX_ANSWER_BYTES = 16 * 1024 * 1024
#: The most an attempt may take, first byte to last, however slowly the bytes come.
DEADLINE_SECONDS = 120.0
#: Pages one listing may read (StackOne caps page_size at 100: a million tickets).
MAX_PAGES = 10_000
#: Pages in a row that bring no ticket not seen yet, before a listing is called broken.
MAX_BARREN_PAGES = 5
#: Where the account id comes from, as errors name it.
ACCOUNT_HINT = "STACKONE_ACCOUNT_ID or account_id in ticketsync.yaml"

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


@dataclass(frozen=True)
class _Reply:
    """A 2xx answer. ``payload`` is the parsed JSON, or ``None`` if the body was not JSON."""

    status: int
    payload: Any


class _Guard:
    """One attempt's deadline; the watchdog shuts its socket down when it passes."""

    def __init__(self, watchdog: _Watchdog, deadline: float) -> None:
        self.watchdog = watchdog
        self.deadline = deadline
        self.sock: socket.socket | None = None
        self.fired = False
        self.done = False

    def attach(self, sock: socket.socket | None) -> None:
        if sock is not None:
            self.watchdog.attach(self, sock)


#: The guard of the attempt the current thread is making (a thread makes one at a time).
_current = threading.local()


class _Watchdog:
    """Cuts the connection of every attempt that runs past its deadline.

    A socket timeout bounds each read, not the whole answer: a server that sends one byte
    every ten seconds never times out. One daemon thread sleeps until the nearest deadline
    and shuts that attempt's socket down, which ends the blocked read at once. The thread
    starts with the first guarded connection and ends after a second without any, or at
    once when the client closes (:meth:`close`).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Guard]] = []
        self._count = 0
        self._thread: threading.Thread | None = None
        self._closed = False

    def close(self) -> None:
        """End the thread now that its client is closed, unless an attempt is still out
        (one a stopped run left behind): it keeps its deadline, and the thread ends after."""
        with self._cond:
            self._closed = True
            self._cond.notify()
            busy = any(not guard.done for _, _, guard in self._heap)
            thread = None if busy else self._thread
        if thread is not None:
            thread.join(2.0)

    def attach(self, guard: _Guard, sock: socket.socket) -> None:
        with self._cond:
            self._closed = False  # a closed client used again: guard it again
            guard.sock = sock
            self._count += 1
            heapq.heappush(self._heap, (guard.deadline, self._count, guard))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="ticketsync-deadlines", daemon=True)
                self._thread.start()
            self._cond.notify()

    def release(self, guard: _Guard) -> None:
        with self._cond:
            guard.done = True
            guard.sock = None
            if self._heap and self._heap[0][2] is guard:
                self._cond.notify()  # the nearest deadline is gone: look again

    def _run(self) -> None:
        with self._cond:
            while True:
                while self._heap and self._heap[0][2].done:
                    heapq.heappop(self._heap)
                if not self._heap:
                    if self._closed or (not self._cond.wait(1.0) and not self._heap):
                        self._thread = None
                        return
                    continue
                wait = self._heap[0][0] - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                _, _, guard = heapq.heappop(self._heap)
                if guard.sock is not None and not guard.done:
                    guard.fired = True
                    with contextlib.suppress(OSError):  # already closed by its thread
                        guard.sock.shutdown(socket.SHUT_RDWR)


class _GuardedConnection(urllib3.connection.HTTPConnection):
    """A connection whose wait for an answer is under the current attempt's guard."""

    def getresponse(self) -> Any:  # the request is out; the wait for the answer starts
        guard = getattr(_current, "guard", None)
        if guard is not None:
            guard.attach(self.sock)
        return super().getresponse()


class _GuardedHttpsConnection(_GuardedConnection, urllib3.connection.HTTPSConnection):
    """The same guard over TLS (the mixin comes first: its ``getresponse`` wraps TLS's)."""


class _GuardedPool(urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = _GuardedConnection


class _GuardedHttpsPool(urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = _GuardedHttpsConnection


class _Adapter(requests.adapters.HTTPAdapter):
    """requests' adapter with connections the watchdog can cut."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _GuardedPool, "https": _GuardedHttpsPool,
        }


class _TooLargeError(Exception):
    """An answer passed the size cap (turned into the right ApiError by the caller)."""


class StackOneClient:
    """StackOne's ticketing API: create, get, update and list tickets (see module doc)."""

    def __init__(self, base_url: str, api_key: str, account_id: str, *,
                 limiter: RateLimiter | None = None, timeout: tuple[float, float] = (5, 60),
                 retry: RetryPolicy | None = None, session: requests.Session | None = None,
                 sleep: Callable[[float], None] | None = None,
                 deadline: float | None = None, max_answer_bytes: int = MAX_ANSWER_BYTES,
                 max_pages: int = MAX_PAGES) -> None:
        self.base_url = _check_base_url(base_url)
        self.account_id = account_id.strip()
        if not (self.account_id.isascii() and self.account_id.isprintable() and self.account_id):
            raise ConfigError(f"the account id is empty or not printable: set {ACCOUNT_HINT}")
        self._auth = _KeyAuth(_check_key(api_key))
        self._host = urlsplit(self.base_url).netloc
        self._headers = {"x-account-id": self.account_id, "Accept": "application/json",
                         "User-Agent": f"ticketsync/{__version__}"}
        self._limiter, self._timeout = limiter, timeout
        self.retry = retry or RetryPolicy()
        self._owns_session = session is None
        self._session = session if session is not None else _new_session()
        self._sleep = sleep
        self._deadline = DEADLINE_SECONDS if deadline is None else deadline
        self._max_bytes, self._max_pages = max_answer_bytes, max_pages
        self._watchdog = _Watchdog()
        self.clock = ServerClock()
        #: Set by the first refusal of the credentials: nothing more is sent.
        self._halted: AuthError | None = None

    def __repr__(self) -> str:
        return f"StackOneClient(base_url={self.base_url!r}, account_id={self.account_id!r})"

    def close(self) -> None:
        """Close the connection pool (only if this client created the session), and end
        the watchdog's thread."""
        if self._owns_session:
            self._session.close()
        self._watchdog.close()

    def server_now(self) -> datetime:
        """StackOne's current time (a lower bound), from its answers' ``Date`` headers."""
        return self.clock.now()

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
        ticket = parse_ticket(reply.payload.get("data") if isinstance(reply.payload, dict)
                              else None)
        if ticket is None:  # not a ticket, or one without an id: nothing to track
            raise ApiError(f"GET {path}: HTTP {reply.status} without a ticket in the answer",
                           status=reply.status)
        return ticket

    def update_ticket(self, ticket_id: str, body: Body) -> None:
        """PATCH the given fields of a ticket (200, no ``data``); resent when uncertain, as
        setting the same fields twice does no harm (:mod:`ticketsync.stackone.retry`)."""
        self._request("PATCH", _ticket_path(ticket_id), json_body=dict(body))

    def list_tickets(self, updated_after: datetime | None = None) -> Iterator[RemoteTicket]:
        """Tickets updated after ``updated_after`` (timezone-aware), following the cursor
        ``next`` until it is null or absent: a short page is not the end. A record without
        an id is skipped: nothing could match, fetch or track it."""
        params = {}
        if updated_after is not None:
            # StackOne's form, truncated: an earlier bound lists more tickets, never hides one.
            params["filter[updated_after]"] = format_time(updated_after, "ms")
        return parse_tickets(self.list_all(TICKETS_PATH, params))

    def list_statuses(self, ticket_id: str) -> list[dict[str, Any]]:
        """The statuses a ticket can take (``GET /tickets/{id}/statuses``, every page)."""
        return list(self.list_all(f"{_ticket_path(ticket_id)}/statuses"))

    def list_all(self, path: str, params: Mapping[str, str] | None = None
                 ) -> Iterator[dict[str, Any]]:
        """Every record of a StackOne listing at ``path``, page after page.

        A listing that never ends is stopped with one :class:`ApiError`: a cursor seen
        before, :data:`MAX_BARREN_PAGES` pages in a row without a record not seen yet (a
        short or empty page may still have a next one), or more than ``max_pages`` pages.
        """
        params = {"page_size": str(PAGE_SIZE), **(params or {})}
        cursors: set[str] = set()
        ids: set[str] = set()
        barren = 0
        for pages in range(1, self._max_pages + 1):
            payload = self._request("GET", path, params=params).payload
            page = (payload.get("data") or []) if isinstance(payload, dict) else None
            if not isinstance(page, list) or not all(isinstance(t, dict) for t in page):
                raise ApiError(f"GET {path}: the answer is not a page of records")
            before = len(ids)
            ids.update(str(t.get("id")) for t in page)
            yield from page
            cursor = payload.get("next")
            if not cursor:
                return
            if not isinstance(cursor, str) or cursor in cursors:  # or we would loop forever
                raise ApiError(f"GET {path}: the page cursor does not advance; the listing "
                               "was stopped (nothing was created on it)")
            barren = barren + 1 if len(ids) == before else 0
            if barren >= MAX_BARREN_PAGES:
                raise ApiError(f"GET {path}: {barren} pages in a row brought no new record "
                               f"(after {pages} pages): the listing was stopped as broken, "
                               "and nothing was created on it; run again later")
            cursors.add(cursor)
            params = {**params, "next": cursor}
        raise ApiError(f"GET {path}: the listing passed {self._max_pages} pages and was "
                       "stopped (nothing was created on it); if the account really holds that "
                       "many records, report it")

    def _request(self, method: str, path: str, *, params: Mapping[str, str] | None = None,
                 json_body: Mapping[str, Any] | None = None) -> _Reply:
        """Send ``method path`` until it succeeds or the retry policy says stop."""
        attempt = 0
        while True:
            attempt += 1
            if self._halted is not None:
                raise HaltedError(f"{method} {path}: not sent: StackOne refused the "
                                  f"credentials earlier in this run (HTTP {self._halted.status})")
            if self._limiter is not None:
                self._limiter.acquire()  # every attempt counts against StackOne's limit
            outcome = self._attempt(method, path, params, json_body)
            if isinstance(outcome, _Reply):
                return outcome
            if isinstance(outcome, AuthError):
                self._halt(outcome)
            delay = self.retry.delay(method, outcome, attempt)
            if delay is None:
                raise outcome if attempt == 1 else _after_attempts(outcome, attempt)
            _log.info("%s %s: %s; retrying in %.1fs", method, path, type(outcome).__name__, delay)
            if isinstance(outcome, RateLimitedError) and self._limiter is not None:
                # The key is over its limit for every thread: hold them all (us included).
                self._limiter.pause_for(delay)
            elif self._sleep is not None:
                self._sleep(delay)
            elif self._limiter is not None:
                self._limiter.sleep(delay)  # woken (and halted) by a stop
            else:
                time.sleep(delay)

    def _halt(self, error: AuthError) -> None:
        # A revoked key fails every request: the ones not sent yet never will be.
        self._halted = self._halted or error
        if self._limiter is not None:
            self._limiter.halt("StackOne refused the credentials earlier in this run")

    def _attempt(self, method: str, path: str, params: Mapping[str, str] | None,
                 json_body: Mapping[str, Any] | None) -> _Reply | ApiError:
        """One exchange, as a reply or an error *object*: raised later, outside this
        ``except``, so no error carries a ``requests`` exception as its context."""
        started = time.monotonic()
        error: ApiError | None = None
        body: bytes | None = None
        guard = _current.guard = _Guard(self._watchdog, started + self._deadline)
        try:
            # No redirects: one would turn a POST into a GET, or send it (and the key) away.
            response = self._session.request(
                method, self.base_url + path, params=params, json=json_body,
                headers=self._headers, auth=self._auth, timeout=self._timeout,
                allow_redirects=False, stream=True)
            try:
                body = self._read(response)
            finally:
                response.close()
        except _TooLargeError:
            error = self._too_large(method, path)
        except (requests.RequestException, Urllib3Error, OSError) as exc:
            error = self._transport_error(method, path, exc, guard.fired)
        finally:
            _current.guard = None
            self._watchdog.release(guard)
        elapsed = time.monotonic() - started
        if error is None:
            assert body is not None
            self.clock.observe(parse_http_date(response.headers.get("Date")))
            outcome: _Reply | ApiError = self._outcome(method, path, response, body)
        else:
            outcome = error
        if self._limiter is not None:
            self._limiter.observe(elapsed, ok=not isinstance(
                outcome, UncertainError | RateLimitedError | ConnectError))
        _log.debug("%s %s -> %s (%.2fs)", method, path, getattr(outcome, "status", None),
                   elapsed)
        return outcome

    def _read(self, response: requests.Response) -> bytes:
        """The whole body, or :class:`_TooLargeError` past the cap (never held whole)."""
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_content(chunk_size=65536):
            size += len(chunk)
            if size > self._max_bytes:
                raise _TooLargeError
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_large(self, method: str, path: str) -> ApiError:
        where = f"{method} {path}"
        limit = f"{self._max_bytes // (1024 * 1024)} MiB"
        if method == "GET":
            return ApiError(f"{where}: the answer is larger than {limit}, which no StackOne "
                            "answer is: stopped reading it (check base_url)")
        return UncertainError(f"{where}: the answer is larger than {limit}: stopped reading "
                              "it; the request may have acted")

    def _transport_error(self, method: str, path: str, exc: BaseException,
                         cut: bool = False) -> ApiError:
        """No HTTP answer: was anything sent? Only a failed connect proves it was not."""
        where = f"{method} {path}"
        if nothing_sent(exc) and not cut:
            what = "timed out connecting" if isinstance(exc, requests.ConnectTimeout) else (
                "could not connect (connection refused or host not found)")
            return ConnectError(f"{where}: {what} to {self._host}; nothing was sent")
        acted = ("the read acted on nothing" if method == "GET"
                 else "the request was sent and may have acted")
        if cut:
            return UncertainError(f"{where}: no complete answer within {self._deadline:g}s; "
                                  f"{acted}")
        if isinstance(exc, requests.exceptions.SSLError):
            return TlsError(f"{where}: TLS failed with {self._host} (check base_url and its"
                            " certificate); the request may have acted")
        if isinstance(exc, requests.Timeout):
            what = f"no answer within {self._timeout[1]:g}s"
        elif isinstance(exc, requests.exceptions.ChunkedEncodingError | requests.ConnectionError):
            what = "the connection dropped before the answer arrived"
        else:
            what = f"the exchange failed ({type(exc).__name__})"
        return UncertainError(f"{where}: {what}; {acted}")

    def _outcome(self, method: str, path: str, response: requests.Response,
                 body: bytes) -> _Reply | ApiError:
        """Map an HTTP answer to a reply (2xx) or a typed error carrying StackOne's message."""
        status = response.status_code
        try:
            payload: Any = json.loads(body)
        except ValueError:  # not JSON (a proxy's HTML page, an empty body...)
            payload = None
        if 200 <= status < 300:
            return _Reply(status, payload)
        message = self._message(payload, response, body)
        where = f"{method} {path}"
        if status in (401, 403):
            return AuthError(f"StackOne refused the credentials (HTTP {status}): {message};"
                             f" check STACKONE_API_KEY and the account id ({ACCOUNT_HINT})",
                             status=status)
        if status == 404:
            return NotFoundError(f"{where}: not found (HTTP 404): {message}", status=status)
        if status == 429:
            retry_after = retry_after_seconds(response.headers.get("Retry-After"),
                                       parse_http_date(response.headers.get("Date")))
            return RateLimitedError(f"{where}: rate limited by StackOne (HTTP 429): {message}",
                                    retry_after=retry_after)
        if status == 408 or status >= 500:
            # 408: StackOne's own retries against the provider ran past its time limit. 5xx:
            # StackOne or the provider failed somewhere along the way. Either way the
            # provider may have acted (a GET acts on nothing, and is simply read again).
            what = "timed out waiting for the provider" if status == 408 else "failed"
            acted = "" if method == "GET" else "; the request may have acted"
            return UncertainError(f"{where}: StackOne {what} (HTTP {status}): {message}{acted}",
                                  status=status)
        if 300 <= status < 400:
            return RejectedError(f"{where}: unexpected redirect (HTTP {status}); check base_url",
                                 status=status)
        errors = payload.get("provider_errors") if isinstance(payload, dict) else None
        errors = errors if isinstance(errors, list) else []
        return RejectedError(f"{where}: StackOne refused the request (HTTP {status}): {message}"
                             f"{self._provider_summary(errors)}", status=status,
                             provider_errors=errors)

    def _message(self, payload: Any, response: requests.Response, body: bytes) -> str:
        """StackOne's ``message`` (or a short plain-text body), one line, key scrubbed."""
        text = ""
        if isinstance(payload, dict):
            raw = payload.get("message")
            text = "; ".join(map(str, raw)) if isinstance(raw, list) else str(raw or "")
        elif payload is None and "html" not in response.headers.get("Content-Type", ""):
            text = body[:2000].decode("utf-8", "replace")
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


def _new_session() -> requests.Session:
    session = requests.Session()
    # A pool as large as the applier's largest in-flight count (requests' default is 10).
    adapter = _Adapter(pool_connections=2, pool_maxsize=256)
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


def nothing_sent(exc: BaseException) -> bool:
    """True only when the failure provably happened before a byte of the request left."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.SSLError | requests.exceptions.ProxyError):
        return False  # TLS and proxy failures can also happen after sending: assume the worst
    reason = exc.args[0] if isinstance(exc, requests.ConnectionError) and exc.args else None
    reason = reason.reason if isinstance(reason, MaxRetryError) else reason
    # NewConnectionError covers refused connections and NameResolutionError (DNS).
    return isinstance(reason, NewConnectionError | ConnectTimeoutError)


def retry_after_seconds(value: str | None, date: datetime | None = None) -> float | None:
    """Seconds from ``Retry-After``: delta-seconds or an HTTP date; None if absent or bad.

    An HTTP date is counted from the answer's own ``Date`` (StackOne's clock), not from
    this machine's, which may be minutes off.
    """
    try:
        seconds = float(value or "")
    except ValueError:
        when = parse_http_date(value)
        if when is None:
            return None
        seconds = (when - (date or datetime.now(UTC))).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _after_attempts(error: ApiError, attempts: int) -> ApiError:  # the same, retries spent
    message = f"{error} (gave up after {attempts} attempts)"
    if isinstance(error, RateLimitedError):
        return RateLimitedError(message, retry_after=error.retry_after)
    return type(error)(message, status=error.status, provider_errors=error.provider_errors)
