"""A local HTTP server that answers like StackOne's ticketing API, for trying and testing.

Standard library only (``http.server``): one thread per connection, HTTP/1.1 keep-alive so
a client's pooled connections are reused, and a listen backlog big enough for 16 clients
connecting at once. Every request goes through the same steps, in StackOne's order:

    latency -> route (404) -> auth (401, also once the key is revoked) -> x-account-id
    (400) -> rate limit (429) -> body checks (400, 422) -> fault rules -> act -> answer (or
    fail after acting: a 5xx, a dropped connection, a huge or a dripping answer)

Its clock is :meth:`Faults.now` (``Date`` headers, timestamps, ``updated_at``), which a
test can set apart from the runner's.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlsplit

from ticketsync.sandbox.directory import CursorError as ListingCursorError
from ticketsync.sandbox.directory import SandboxDirectory, default_directory, page
from ticketsync.sandbox.faults import Decision, Fault, Faults, Request
from ticketsync.sandbox.page import missing_page, ticket_page
from ticketsync.sandbox.shapes import (
    check_body,
    error_body,
    read_ticket,
    status_problem,
    statuses,
    timestamp,
)
from ticketsync.sandbox.store import UPDATE_FIELDS, CursorError, TicketStore
from ticketsync.times import parse_time

COLLECTION = "/unified/ticketing/tickets"
_ITEM = re.compile(r"^/unified/ticketing/tickets/([^/]+)$")
_STATUSES = re.compile(r"^/unified/ticketing/tickets/([^/]+)/statuses$")
#: Not StackOne's: "the tracker" itself, where a person edits or deletes a ticket.
_ADMIN = re.compile(r"^/sandbox/tickets/([^/]+)$")
#: Not StackOne's either: the page a ticket's ``ticket_url`` opens (no key: a browser).
_BROWSE = re.compile(r"^/browse/([^/]+)$")
#: The account's directory (ticketsync.sandbox.directory): listings only.
_USERS = "/unified/ticketing/users"
_PROJECTS = "/unified/ticketing/projects"
_TICKET_TYPES = "/unified/ticketing/ticket_types"
_PROJECT_LISTING = re.compile(r"^/unified/ticketing/projects/([^/]+)/(components|ticket_types)$")
DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
#: A request body bigger than this is refused (413 is not in StackOne's list: 400).
MAX_BODY = 1 << 20


class SandboxServer(ThreadingHTTPServer):
    """The HTTP server, holding what every handler thread shares."""

    daemon_threads = True
    # The default backlog (5) drops connections when 16 clients start together.
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        *,
        store: TicketStore,
        faults: Faults,
        api_key: str | None = None,
        log: Callable[[str], None] | None = None,
        directory: SandboxDirectory | None = None,
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, SandboxHandler)
        self.store = store
        self.faults = faults
        self.directory = directory if directory is not None else default_directory()
        self.api_key = api_key
        self.log = log
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._open: dict[socket.socket, threading.Thread] = {}
        host, port = str(self.server_address[0]), int(self.server_address[1])
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{port}"

    # Connections are tracked so that stop() can end idle keep-alive ones at once instead of
    # waiting for clients to hang up, and join their threads within a bound.
    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread, args=(request, client_address), daemon=True
        )
        with self._lock:
            self._open[request] = thread
        thread.start()

    def shutdown_request(self, request: Any) -> None:
        with self._lock:
            self._open.pop(request, None)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up mid-answer is normal here (tests kill clients): no traceback.
        if self.log:
            self.log(f"connection from {client_address[0]} ended abruptly")

    def close_connections(self, timeout: float = 5.0) -> None:
        """Cut every open connection and wait (bounded) for their threads to finish."""
        self.stopping.set()
        with self._lock:
            open_now = list(self._open.items())
        for sock, _ in open_now:
            with contextlib.suppress(OSError):  # already closed by its thread
                sock.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout
        for _, thread in open_now:
            thread.join(max(0.0, deadline - time.monotonic()))


class _Answered(Exception):
    """Raised once a response (or a deliberate silence) has been decided.

    ``body`` None: drop the connection. ``how``: "huge" or "drip" send ``body`` the
    broken way the ``decision``'s rule says; "sent": answered already (a page).
    """

    def __init__(self, status: int, body: dict[str, Any] | None, retry_after: int | None = None,
                 *, how: str = "", decision: Decision | None = None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.retry_after = retry_after
        self.how = how
        self.decision = decision


def _fail(status: int, message: str, retry_after: int | None = None) -> _Answered:
    return _Answered(status, error_body(status, message), retry_after)


class SandboxHandler(BaseHTTPRequestHandler):
    """One connection: parse, check, act, answer, in the order the module doc gives."""

    protocol_version = "HTTP/1.1"
    server_version = "ticketsync-sandbox"
    # An idle keep-alive connection is closed after this long.
    timeout = 120
    # Headers and body go out in two writes: with Nagle's algorithm on, the second waits
    # for the client's delayed ACK (~40 ms a request on Linux), which made 10,000 creates
    # take minutes instead of seconds.
    disable_nagle_algorithm = True

    @property
    def sandbox(self) -> SandboxServer:
        return cast(SandboxServer, self.server)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # _dispatch logs one line per request, with its duration

    def date_time_string(self, timestamp: float | None = None) -> str:
        # The Date header in the sandbox's clock, which a test may set apart.
        import email.utils

        return email.utils.format_datetime(self.sandbox.faults.now(), usegmt=True)

    def log_message(self, format: str, *args: Any) -> None:
        if self.sandbox.log:
            self.sandbox.log(format % args)

    def _dispatch(self, method: str) -> None:
        started = time.monotonic()
        split = urlsplit(self.path)
        logged = False

        def note(status: int) -> None:
            # Logged before the answer goes out, so that a client holding the answer finds
            # the line (tests count what the tracker did from these lines), and in any
            # case once acted on, even when the answer cannot be sent (a killed client).
            nonlocal logged
            if self.sandbox.log and not logged:
                ms = (time.monotonic() - started) * 1000
                self.sandbox.log(f"{method} {self.path} {status or 'dropped'} {ms:.1f}ms")
            logged = True

        self.sandbox.faults.enter()
        try:
            raw = self._read_body()
            if self.sandbox.faults.latency_ms:
                self.sandbox.stopping.wait(self.sandbox.faults.latency_ms / 1000)
            browse = _BROWSE.match(split.path) if method == "GET" else None
            if browse:
                self._page(unquote(browse.group(1)))
            self._handle(method, split.path, parse_qs(split.query), raw)
        except _Answered as answer:
            if answer.how == "sent":  # a page, answered already
                note(answer.status)
            elif answer.body is None:
                note(answer.status)
                self._drop()
            elif answer.how:
                note(answer.status)
                self._send_broken(answer)
            else:
                note(answer.status)
                self._send(answer.status, answer.body, answer.retry_after)
        except Exception as exc:  # a bug in the sandbox: answer like StackOne, keep serving
            self.log_message("internal error on %s %s: %r", method, split.path, exc)
            note(500)
            self._send(500, error_body(500, "Internal server error"))
        finally:
            self.sandbox.faults.leave()
            note(0)  # once: an answer cut short (the client went away) still acted

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.close_connection = True  # the rest of the body is not read
            raise _fail(400, f"Request body too large (over {MAX_BODY} bytes)")
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, status: int, body: dict[str, Any], retry_after: int | None = None) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        if retry_after is not None:
            self.send_header("Retry-After", str(retry_after))
        self.end_headers()
        self.wfile.write(payload)

    def _send_broken(self, answer: _Answered) -> None:
        """A huge answer, or one that drips in a byte at a time (both well-formed HTTP)."""
        assert answer.body is not None and answer.decision is not None
        rule = answer.decision.rule
        assert rule is not None
        self.close_connection = True
        if answer.how == "huge":
            pad = b"x" * (1024 * 1024)
            head, tail = b'{"data": [], "padding": "', b'"}'
            payload_size = len(head) + rule.size_mb * len(pad) + len(tail)
            self._head(answer.status, payload_size)
            with contextlib.suppress(OSError):
                self.wfile.write(head)
                for _ in range(rule.size_mb):
                    if self.sandbox.stopping.is_set():
                        return
                    self.wfile.write(pad)
                self.wfile.write(tail)
            return
        payload = json.dumps(answer.body).encode()
        self._head(answer.status, len(payload))
        with contextlib.suppress(OSError):
            for byte in payload:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                if self.sandbox.stopping.wait(rule.every_ms / 1000):
                    return

    def _head(self, status: int, length: int) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(length))
        self.end_headers()

    def _drop(self) -> None:
        # Close without a single byte of response: the client sees the connection end.
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    # -- the steps -------------------------------------------------------------------------

    def _handle(self, method: str, path: str, query: dict[str, list[str]], raw: bytes) -> None:
        path = path.rstrip("/") or "/"
        item = _ITEM.match(path) or _STATUSES.match(path)
        admin = _ADMIN.match(path)
        listing = self._directory_listing(path) if method == "GET" else None
        if path == COLLECTION and method in ("GET", "POST"):
            op = "list" if method == "GET" else "create"
        elif listing is not None:
            op = "list"  # fault rules with op=list break these listings too
        elif _STATUSES.match(path) and method == "GET":
            op = "statuses"
        elif item and method in ("GET", "PATCH"):
            op = "get" if method == "GET" else "update"
        elif admin and method in ("PATCH", "DELETE"):
            self._check_auth()
            self._tracker(method, admin.group(1), raw)
        else:
            raise _fail(404, f"Cannot {method} {path}")
        self._check_auth()
        retry = self.sandbox.faults.rate_check()
        if retry is not None:
            raise _fail(429, "Too many requests", retry)
        body = self._json_body(raw, op) if op in ("create", "update") else None
        ticket_id = item.group(1) if item else ""
        decision = self.sandbox.faults.decide(Request(op, method, path, body))
        fault = decision.fault
        if fault is Fault.FAIL_BEFORE_STORE:
            raise _fail(500, "Internal server error")
        if fault is Fault.TOO_MANY_REQUESTS:
            raise _fail(429, "Too many requests", decision.retry_after)
        if fault is Fault.REVOKE_KEY:
            raise _fail(401, "Unauthorized: the API key was revoked")
        if fault is Fault.ENDLESS_PAGES and op == "list":
            raise _Answered(200, {"next": secrets.token_urlsafe(12), "data": []})
        if fault is Fault.REPEAT_PAGE and op == "list":
            query = {k: v for k, v in query.items() if k != "next"}  # the first page again
            first = self._list(query) if listing is None else self._list_records(query, listing)
            raise _Answered(200, {**first, "next": secrets.token_urlsafe(12)})
        if listing is not None:
            status, answer = 200, self._list_records(query, listing)
        else:
            status, answer = self._act(op, ticket_id, body, query)
        if fault is Fault.STORE_THEN_502:
            raise _fail(502, "Bad gateway: the provider did not answer in time")
        if fault is Fault.STORE_THEN_408:
            raise _fail(408, "Request timed out", 1)
        if fault is Fault.STORE_THEN_DROP:
            raise _Answered(0, None)
        if fault in (Fault.HUGE, Fault.DRIP):
            raise _Answered(status, answer, how=fault.value, decision=decision)
        raise _Answered(status, answer)

    def _check_auth(self) -> None:
        header = self.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        key = ""
        if scheme.lower() == "basic":
            try:
                key = base64.b64decode(token.strip(), validate=True).decode().partition(":")[0]
            except (binascii.Error, UnicodeDecodeError):
                key = ""
        expected = self.sandbox.api_key
        if not key or (expected is not None and key != expected):
            raise _fail(401, "Unauthorized")
        if self.sandbox.faults.revoked:
            raise _fail(401, "Unauthorized: the API key was revoked")
        if not (self.headers.get("x-account-id") or "").strip():
            raise _fail(400, "Missing required header: x-account-id")

    def _json_body(self, raw: bytes, op: str) -> dict[str, Any]:
        try:
            body = json.loads(raw) if raw.strip() else None
        except (ValueError, UnicodeDecodeError):
            raise _fail(400, "Invalid request: the body is not valid JSON") from None
        if body is None:
            raise _fail(400, "Invalid request: a JSON body is required")
        problems = check_body(body, update=op == "update")
        if problems:
            raise _fail(400, "Invalid request: " + "; ".join(problems))
        parent = body.get("parent_id")
        if isinstance(parent, str) and not self.sandbox.store.exists(parent):
            raise _fail(422, f"Invalid request: parent_id {parent!r} names no ticket")
        # Ids of the account's users, projects, types and components, as a provider checks
        # them (an update ignores the fields it cannot change: they are not checked).
        sent = body if op == "create" else {k: v for k, v in body.items() if k in UPDATE_FIELDS}
        problems = self.sandbox.directory.problems(sent)
        if problems:
            raise _fail(422, "Invalid request: " + "; ".join(problems))
        return cast(dict[str, Any], body)

    def _act(
        self,
        op: str,
        ticket_id: str,
        body: dict[str, Any] | None,
        query: dict[str, list[str]],
    ) -> tuple[int, dict[str, Any]]:
        store = self.sandbox.store
        if op == "create":
            created = store.create(body or {})
            return 201, {
                "statusCode": 201,
                "message": "Record created successfully.",
                "timestamp": timestamp(self.sandbox.faults.now()),
                "data": {"id": created.id, "remote_id": created.remote_id},
            }
        if op == "update":
            current = store.get(ticket_id)
            if current is None:
                raise _fail(404, f"Ticket {ticket_id} not found")
            problem = status_problem(current.fields, (body or {}).get("status"))
            if problem is not None:
                raise _fail(422, f"Invalid request: {problem}")
            if store.update(ticket_id, body or {}) is None:
                raise _fail(404, f"Ticket {ticket_id} not found")
            return 200, {
                "statusCode": 200,
                "message": "Record updated successfully.",
                "timestamp": timestamp(self.sandbox.faults.now()),
            }
        if op == "get":
            ticket = store.get(ticket_id)
            if ticket is None:
                raise _fail(404, f"Ticket {ticket_id} not found")
            return 200, {"data": read_ticket(ticket, store.home_url)}
        if op == "statuses":
            ticket = store.get(ticket_id)
            if ticket is None:
                raise _fail(404, f"Ticket {ticket_id} not found")
            found = statuses(ticket.fields.get("project_id"), ticket.fields.get("type"))
            return 200, {"next": None, "data": found}
        return 200, self._list(query)

    def _page(self, number: str) -> None:
        """``GET /browse/SBX-3``: the ticket's page, for a person following its link."""
        ticket = self.sandbox.store.get_number(number)
        page = ticket_page(ticket) if ticket is not None else missing_page(number)
        payload = page.encode()
        status = 200 if ticket is not None else 404
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        raise _Answered(status, None, how="sent")

    def _tracker(self, method: str, ticket_id: str, raw: bytes) -> None:
        """``PATCH|DELETE /sandbox/tickets/{id}``: a person's edit in the tracker."""
        store = self.sandbox.store
        if method == "DELETE":
            if not store.delete(ticket_id):
                raise _fail(404, f"Ticket {ticket_id} not found")
            raise _Answered(200, {"statusCode": 200, "message": "Deleted in the tracker."})
        try:
            fields = json.loads(raw) if raw.strip() else None
        except (ValueError, UnicodeDecodeError):
            fields = None
        if not isinstance(fields, dict):
            raise _fail(400, "Invalid request: a JSON object of fields is required")
        if store.edit(ticket_id, fields) is None:
            raise _fail(404, f"Ticket {ticket_id} not found")
        raise _Answered(200, {"statusCode": 200, "message": "Edited in the tracker."})

    def _directory_listing(self, path: str) -> list[dict[str, Any]] | None:
        """The records a directory listing at ``path`` answers (None: not one); 404 for
        a project the account does not have."""
        directory = self.sandbox.directory
        if path == _USERS:
            return directory.list_users()
        if path == _PROJECTS:
            return directory.list_projects()
        if path == _TICKET_TYPES:
            return directory.list_ticket_types()
        match = _PROJECT_LISTING.match(path)
        if match is None:
            return None
        project_id = unquote(match.group(1))
        found = (directory.list_components(project_id) if match.group(2) == "components"
                 else directory.list_ticket_types(project_id))
        if found is None:
            self._check_auth()  # who may not list learns nothing about the projects
            raise _fail(404, f"Project {project_id} not found")
        return found

    def _list_records(
        self, query: dict[str, list[str]], records: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """A page of a directory listing (``filter[updated_after]`` is accepted and
        ignored: the sandbox's directory records have no update time)."""
        try:
            found = page(records, limit=_page_size(query), cursor=_one(query, "next"),
                         cap=self.sandbox.faults.page_cap)
        except ListingCursorError as exc:
            raise _fail(400, f"next: {exc}") from None
        return {"next": found.next, "data": found.records}

    def _list(self, query: dict[str, list[str]]) -> dict[str, Any]:
        def one(name: str) -> str | None:
            return _one(query, name)

        size = _page_size(query)
        after_text = one("filter[updated_after]") or one("updated_after")
        after: datetime | None = None
        if after_text:
            try:
                after = parse_time(after_text)
            except ValueError:
                raise _fail(
                    400, f"filter[updated_after] must be an ISO 8601 date-time: {after_text!r}"
                ) from None
        try:
            page = self.sandbox.store.list_page(
                limit=size,
                cursor=one("next"),
                updated_after=after,
                cap=self.sandbox.faults.page_cap,
            )
        except CursorError as exc:
            raise _fail(400, f"next: {exc}") from None
        return {
            "next": page.next,
            "data": [read_ticket(t, self.sandbox.store.home_url) for t in page.tickets],
        }


def _one(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _page_size(query: dict[str, list[str]]) -> int:
    size_text = _one(query, "page_size")
    try:
        size = int(size_text) if size_text else DEFAULT_PAGE_SIZE
    except ValueError:
        raise _fail(400, f"page_size must be a number, not {size_text!r}") from None
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise _fail(400, f"page_size must be between 1 and {MAX_PAGE_SIZE}, not {size}")
    return size
