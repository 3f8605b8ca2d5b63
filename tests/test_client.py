"""The StackOne HTTP client: headers, status mapping, retry decisions, pagination, secrets.

The retry tests are the ones users trust with "no duplicates": a create that may have acted
must be sent exactly once, whatever went wrong after it left.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from urllib3.exceptions import (
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
)

from ticketsync import __version__
from ticketsync.declare.config import Config
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
from ticketsync.stackone.api import CreatedTicket
from ticketsync.stackone.client import StackOneClient
from ticketsync.stackone.connect import make_client
from ticketsync.stackone.limiter import RateLimiter
from ticketsync.stackone.retry import RetryPolicy

KEY = "sk_live_T0pS3cretKeyValue"
BASIC = base64.b64encode(f"{KEY}:".encode()).decode()
BASE = "https://api.stackone.test"
URL = f"{BASE}/unified/ticketing/tickets"
CREATED = {"statusCode": 201, "message": "Record created", "data": {"id": "t-1",
                                                                    "remote_id": "JIRA-1"}}


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def client(sleeps: Sleeps) -> StackOneClient:
    return StackOneClient(BASE, KEY, "acc-1", sleep=sleeps)


def error_body(status: int, message: str, **extra: Any) -> dict[str, Any]:
    return {"statusCode": status, "message": message, "timestamp": "2024-01-01T00:00:00Z",
            **extra}


def dropped() -> requests.ConnectionError:
    """What requests raises when the server closes the connection after the request went."""
    return requests.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError()))


def refused() -> requests.ConnectionError:
    """What requests raises when nothing listens: nothing was sent."""
    reason = NewConnectionError(None, "Failed to establish a new connection: refused")  # type: ignore[arg-type]
    return requests.ConnectionError(MaxRetryError(None, URL, reason))  # type: ignore[arg-type]


# -- what every request carries -----------------------------------------------------------


def test_every_request_carries_auth_account_user_agent_and_timeout(requests_mock: Any) -> None:
    requests_mock.post(URL, status_code=201, json=CREATED)
    requests_mock.get(f"{URL}/t-1", json={"data": {"id": "t-1"}})
    requests_mock.patch(f"{URL}/t-1", json={"statusCode": 200, "message": "Record updated"})
    requests_mock.get(URL, json={"data": [], "next": None})
    client = StackOneClient(BASE, KEY, "acc-1", timeout=(3, 30))
    client.create_ticket({"title": "x"})
    client.get_ticket("t-1")
    client.update_ticket("t-1", {"title": "y"})
    list(client.list_tickets())
    assert [r.method for r in requests_mock.request_history] == ["POST", "GET", "PATCH", "GET"]
    for request in requests_mock.request_history:
        assert request.headers["Authorization"] == f"Basic {BASIC}"
        assert base64.b64decode(BASIC).decode() == f"{KEY}:"  # key as user, empty password
        assert request.headers["x-account-id"] == "acc-1"
        assert request.headers["User-Agent"] == f"ticketsync/{__version__}"
        assert request.timeout == (3, 30)


def test_default_timeout_is_connect_5_read_60(requests_mock: Any, client: StackOneClient) -> None:
    requests_mock.get(f"{URL}/t-1", json={"data": {"id": "t-1"}})
    client.get_ticket("t-1")
    assert requests_mock.last_request.timeout == (5, 60)


def test_create_sends_the_body_and_returns_the_ids(requests_mock: Any,
                                                   client: StackOneClient) -> None:
    requests_mock.post(URL, status_code=201, json=CREATED)
    assert client.create_ticket({"title": "Outage", "tags": ["a"]}) == CreatedTicket("t-1",
                                                                                     "JIRA-1")
    assert requests_mock.last_request.json() == {"title": "Outage", "tags": ["a"]}


def test_create_without_remote_id(requests_mock: Any, client: StackOneClient) -> None:
    requests_mock.post(URL, status_code=201, json={"data": {"id": "t-2"}})
    assert client.create_ticket({}) == CreatedTicket("t-2", None)


def test_get_returns_data_and_quotes_the_id(requests_mock: Any, client: StackOneClient) -> None:
    requests_mock.get(f"{URL}/a%2Fb", json={"data": {"id": "a/b", "title": "T"}})
    ticket = client.get_ticket("a/b")
    assert (ticket.id, ticket.title) == ("a/b", "T")


@pytest.mark.parametrize("data", [None, "t-1", [], {}, {"id": 7}, {"id": ""}, {"title": "T"}])
def test_a_get_without_a_ticket_id_is_refused(requests_mock: Any, client: StackOneClient,
                                              data: Any) -> None:
    """A 2xx whose ``data`` is no ticket with an id: nothing could track it. Not retried:
    the server answered, and asking again gets the same."""
    requests_mock.get(f"{URL}/t-1", json={"data": data})
    with pytest.raises(ApiError, match=r"^GET /unified/ticketing/tickets/t-1: HTTP 200 without "
                                       r"a ticket in the answer$"):
        client.get_ticket("t-1")
    assert requests_mock.call_count == 1


def test_get_of_an_empty_id_never_reaches_the_list_endpoint(client: StackOneClient) -> None:
    with pytest.raises(NotFoundError):
        client.get_ticket("")


def test_update_patches_and_returns_nothing(requests_mock: Any, client: StackOneClient) -> None:
    requests_mock.patch(f"{URL}/t-1", json={"statusCode": 200, "message": "Record updated"})
    assert client.update_ticket("t-1", {"title": "New"}) is None  # type: ignore[func-returns-value]
    assert requests_mock.last_request.json() == {"title": "New"}


# -- status codes -> typed errors ---------------------------------------------------------

PROVIDER_ERRORS = [{"status": 400, "url": "https://jira.test/rest", "raw": {
    "message": "Field 'priority' cannot be set"}, "headers": {}}]


@pytest.mark.parametrize(
    ("status", "body", "error", "fragments"),
    [
        (400, error_body(400, "Bad Request", provider_errors=PROVIDER_ERRORS), RejectedError,
         ["HTTP 400", "Bad Request", "Field 'priority' cannot be set"]),
        (401, error_body(401, "Unauthorized"), AuthError,
         ["HTTP 401", "Unauthorized", "STACKONE_API_KEY", "STACKONE_ACCOUNT_ID"]),
        (403, error_body(403, "Forbidden"), AuthError, ["HTTP 403", "STACKONE_API_KEY"]),
        (404, error_body(404, "Not Found"), NotFoundError, ["HTTP 404", "Not Found"]),
        (408, error_body(408, "Request Timeout"), UncertainError, ["HTTP 408", "may have acted"]),
        (409, error_body(409, "Conflict"), RejectedError, ["HTTP 409", "Conflict"]),
        (412, error_body(412, "Precondition Failed"), RejectedError, ["HTTP 412"]),
        (422, error_body(422, "Unprocessable Entity"), RejectedError, ["HTTP 422", "Unprocess"]),
        (429, error_body(429, "Too Many Requests"), RateLimitedError, ["HTTP 429", "Too Many"]),
        (500, error_body(500, "Internal Server Error"), UncertainError, ["HTTP 500"]),
        (501, error_body(501, "Not Implemented"), UncertainError, ["HTTP 501", "Not Impl"]),
        (502, error_body(502, "Bad Gateway"), UncertainError, ["HTTP 502", "may have acted"]),
    ],
)
def test_each_status_maps_to_its_error_with_stackones_message(
    requests_mock: Any, status: int, body: dict[str, Any], error: type[ApiError],
    fragments: list[str],
) -> None:
    requests_mock.post(URL, status_code=status, json=body, headers={"Retry-After": "60"})
    client = StackOneClient(BASE, KEY, "acc-1", retry=RetryPolicy(attempts=1))
    with pytest.raises(error) as caught:
        client.create_ticket({"title": "x"})
    assert type(caught.value) is error
    assert caught.value.status == status
    for fragment in fragments:
        assert fragment in str(caught.value)
    assert "\n" not in str(caught.value)
    if status == 400:
        assert caught.value.provider_errors == tuple(PROVIDER_ERRORS)
    if status == 429:
        assert isinstance(caught.value, RateLimitedError)
        assert caught.value.retry_after == 60


def test_a_non_json_error_page_gives_the_reason_not_the_html(requests_mock: Any) -> None:
    requests_mock.get(f"{URL}/t-1", status_code=502, reason="Bad Gateway",
                      text="<html><body>nginx</body></html>", headers={"Content-Type": "text/html"})
    client = StackOneClient(BASE, KEY, "acc-1", retry=RetryPolicy(attempts=1))
    with pytest.raises(UncertainError, match="HTTP 502") as caught:
        client.get_ticket("t-1")
    assert "Bad Gateway" in str(caught.value)
    assert "<html>" not in str(caught.value)


def test_a_plain_text_error_body_is_the_message(requests_mock: Any,
                                                client: StackOneClient) -> None:
    requests_mock.post(URL, status_code=400, text="title is required\n")
    with pytest.raises(RejectedError, match=r"HTTP 400.*title is required"):
        client.create_ticket({})


def test_a_redirect_is_not_followed(requests_mock: Any, client: StackOneClient) -> None:
    requests_mock.post(URL, status_code=302, headers={"Location": "https://elsewhere.test/"})
    with pytest.raises(RejectedError, match=r"redirect.*check base_url"):
        client.create_ticket({"title": "x"})
    assert requests_mock.call_count == 1


# -- retries: resend what did not act --------------------------------------------------------


def test_429_with_retry_after_waits_and_resends(requests_mock: Any, client: StackOneClient,
                                                sleeps: Sleeps) -> None:
    requests_mock.post(URL, [{"status_code": 429, "json": error_body(429, "Too Many Requests"),
                              "headers": {"Retry-After": "7"}},
                             {"status_code": 201, "json": CREATED}])
    assert client.create_ticket({"title": "x"}).id == "t-1"
    assert requests_mock.call_count == 2
    assert sleeps == [7.0]


def test_429_as_an_http_date(requests_mock: Any, client: StackOneClient, sleeps: Sleeps) -> None:
    when = (datetime.now(UTC) + timedelta(seconds=30)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    requests_mock.post(URL, [{"status_code": 429, "headers": {"Retry-After": when}},
                             {"status_code": 201, "json": CREATED}])
    client.create_ticket({"title": "x"})
    assert 25 <= sleeps[0] <= 30


def test_429_without_retry_after_backs_off_with_jitter(requests_mock: Any, client: StackOneClient,
                                                       sleeps: Sleeps) -> None:
    requests_mock.post(URL, [{"status_code": 429}, {"status_code": 429}, {"status_code": 429},
                             {"status_code": 201, "json": CREATED}])
    client.create_ticket({"title": "x"})
    assert requests_mock.call_count == 4
    assert 0.5 <= sleeps[0] <= 1.0
    assert 1.0 <= sleeps[1] <= 2.0
    assert 2.0 <= sleeps[2] <= 4.0


def test_429_pauses_the_shared_limiter_for_every_thread(requests_mock: Any,
                                                        sleeps: Sleeps) -> None:
    now = [0.0]

    def fake_sleep(seconds: float) -> None:
        now[0] += seconds

    limiter = RateLimiter(600, clock=lambda: now[0], sleep=fake_sleep)
    client = StackOneClient(BASE, KEY, "acc-1", limiter=limiter, sleep=sleeps)
    requests_mock.post(URL, [{"status_code": 429, "headers": {"Retry-After": "60"}},
                             {"status_code": 201, "json": CREATED}])
    client.create_ticket({"title": "x"})
    assert now[0] >= 60.0  # the wait happened in the limiter, where every thread sees it
    assert sleeps == []
    assert requests_mock.call_count == 2


def test_every_attempt_takes_a_token(requests_mock: Any, sleeps: Sleeps) -> None:
    class CountingLimiter(RateLimiter):
        taken = 0

        def acquire(self) -> None:
            CountingLimiter.taken += 1

    client = StackOneClient(BASE, KEY, "acc-1", limiter=CountingLimiter(600), sleep=sleeps)
    requests_mock.get(f"{URL}/t-1", [{"status_code": 502}, {"json": {"data": {"id": "t-1"}}}])
    client.get_ticket("t-1")
    assert CountingLimiter.taken == 2


def test_429_storm_gives_up_after_max_retries(requests_mock: Any, sleeps: Sleeps) -> None:
    requests_mock.post(URL, status_code=429, headers={"Retry-After": "1"})
    client = StackOneClient(BASE, KEY, "acc-1", retry=RetryPolicy(attempts=4), sleep=sleeps)
    with pytest.raises(RateLimitedError, match="gave up after 4 attempts"):
        client.create_ticket({"title": "x"})
    assert requests_mock.call_count == 4


def test_an_absurd_retry_after_is_raised_not_slept(requests_mock: Any, client: StackOneClient,
                                                   sleeps: Sleeps) -> None:
    requests_mock.post(URL, status_code=429, headers={"Retry-After": "3600"})
    with pytest.raises(RateLimitedError) as caught:
        client.create_ticket({"title": "x"})
    assert caught.value.retry_after == 3600
    assert sleeps == []


@pytest.mark.parametrize("failure", [
    refused(),
    requests.ConnectTimeout("connect timed out"),
    requests.ConnectionError(MaxRetryError(None, URL, NameResolutionError(  # type: ignore[arg-type]
        "api.stackone.test", None, socket.gaierror()))),  # type: ignore[arg-type]
])
def test_a_create_that_never_connected_is_resent(requests_mock: Any, client: StackOneClient,
                                                 sleeps: Sleeps, failure: Exception) -> None:
    requests_mock.post(URL, [{"exc": failure}, {"status_code": 201, "json": CREATED}])
    assert client.create_ticket({"title": "x"}).id == "t-1"
    assert requests_mock.call_count == 2
    assert len(sleeps) == 1


def test_connect_errors_give_up_as_connect_error(requests_mock: Any, sleeps: Sleeps) -> None:
    requests_mock.post(URL, exc=refused())
    client = StackOneClient(BASE, KEY, "acc-1", retry=RetryPolicy(attempts=3), sleep=sleeps)
    with pytest.raises(ConnectError, match=r"nothing was sent.*gave up after 3 attempts"):
        client.create_ticket({"title": "x"})


# -- retries: NEVER resend a write that may have acted ----------------------------------------

MAYBE_ACTED = [
    pytest.param({"status_code": 502, "json": error_body(502, "Bad Gateway")}, id="502"),
    pytest.param({"status_code": 500}, id="500"),
    pytest.param({"status_code": 503, "text": "unavailable"}, id="503"),
    pytest.param({"status_code": 408, "json": error_body(408, "Request Timeout")}, id="408"),
    pytest.param({"exc": requests.ReadTimeout("read timed out")}, id="read-timeout"),
    pytest.param({"exc": dropped()}, id="dropped-connection"),
    pytest.param({"exc": requests.exceptions.ChunkedEncodingError("cut")}, id="chunked"),
    pytest.param({"exc": requests.exceptions.SSLError("bad record mac")}, id="tls"),
]


@pytest.mark.parametrize("response", MAYBE_ACTED)
def test_a_create_that_may_have_acted_is_sent_exactly_once(
    requests_mock: Any, client: StackOneClient, sleeps: Sleeps, response: dict[str, Any]
) -> None:
    requests_mock.post(URL, [response, {"status_code": 201, "json": CREATED}])
    with pytest.raises(UncertainError):
        client.create_ticket({"title": "x"})
    assert requests_mock.call_count == 1
    assert sleeps == []


@pytest.mark.parametrize("response", [p for p in MAYBE_ACTED if p.id != "tls"])
def test_a_patch_that_may_have_acted_is_resent_after_a_back_off(
    requests_mock: Any, client: StackOneClient, sleeps: Sleeps, response: dict[str, Any]
) -> None:
    """Setting the same fields to the same values twice does no harm (docs/stackone-quirks.md,
    retry.py): an uncertain PATCH is resent, after a jittered back-off, like a read."""
    requests_mock.patch(f"{URL}/t-1", [response, {"json": {}}])
    client.update_ticket("t-1", {"title": "x"})
    assert requests_mock.call_count == 2
    assert [r.json() for r in requests_mock.request_history] == [{"title": "x"}] * 2
    assert len(sleeps) == 1 and 0.5 <= sleeps[0] <= 1.0


def test_a_patch_that_stays_uncertain_gives_up_after_the_policy_s_attempts(
    requests_mock: Any, sleeps: Sleeps
) -> None:
    client = StackOneClient(BASE, KEY, "acc-1", retry=RetryPolicy(attempts=3), sleep=sleeps)
    requests_mock.patch(f"{URL}/t-1", status_code=502, json=error_body(502, "Bad Gateway"))
    with pytest.raises(UncertainError, match=r"may have acted \(gave up after 3 attempts\)"):
        client.update_ticket("t-1", {"title": "x"})
    assert requests_mock.call_count == 3 and len(sleeps) == 2


def test_a_patch_after_a_tls_failure_is_not_resent(
    requests_mock: Any, client: StackOneClient
) -> None:
    requests_mock.patch(f"{URL}/t-1", exc=requests.exceptions.SSLError("bad record mac"))
    with pytest.raises(UncertainError):
        client.update_ticket("t-1", {"title": "x"})
    assert requests_mock.call_count == 1


@pytest.mark.parametrize("answer", [
    {"text": "Created"}, {"json": {"data": {}}}, {"json": {"data": None}}, {"json": []},
])
def test_a_created_answer_without_ids_is_uncertain_not_a_failure(
    requests_mock: Any, client: StackOneClient, answer: dict[str, Any]
) -> None:
    # StackOne said yes: the ticket exists. Calling it a rejection would invite a resend.
    requests_mock.post(URL, status_code=201, **answer)
    with pytest.raises(UncertainError, match="may exist"):
        client.create_ticket({"title": "x"})
    assert requests_mock.call_count == 1


@pytest.mark.parametrize("response", [r for r in MAYBE_ACTED if r.id != "tls"])
def test_a_read_is_simply_retried(requests_mock: Any, client: StackOneClient, sleeps: Sleeps,
                                  response: Any) -> None:
    requests_mock.get(f"{URL}/t-1", [response, {"json": {"data": {"id": "t-1"}}}])
    assert client.get_ticket("t-1").id == "t-1"
    assert requests_mock.call_count == 2
    assert len(sleeps) == 1


def test_a_read_gives_up_after_max_retries(requests_mock: Any, sleeps: Sleeps) -> None:
    requests_mock.get(f"{URL}/t-1", status_code=502)
    client = StackOneClient(BASE, KEY, "acc-1", retry=RetryPolicy(attempts=5), sleep=sleeps)
    with pytest.raises(UncertainError, match="gave up after 5 attempts"):
        client.get_ticket("t-1")
    assert requests_mock.call_count == 5
    assert len(sleeps) == 4


def test_rejections_are_never_retried(requests_mock: Any, client: StackOneClient,
                                      sleeps: Sleeps) -> None:
    requests_mock.get(f"{URL}/t-1", status_code=404, json=error_body(404, "Not Found"))
    with pytest.raises(NotFoundError):
        client.get_ticket("t-1")
    assert requests_mock.call_count == 1
    assert sleeps == []


# -- the same decisions against real sockets (no mock of how requests reports failures) ------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class OneShotServer:
    """Accepts connections on loopback; ``behaviour`` decides what happens to each."""

    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour
        self.requests = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                if conn.recv(65536):
                    self.requests += 1
                while self.behaviour == "hang" and conn.recv(65536):
                    pass  # never answer; read until the client gives up and closes
                # "drop": close without a word, after the request arrived

    def close(self) -> None:
        # close() alone does not wake a thread blocked in accept() on Linux; shutdown does.
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(timeout=5)
        assert not self.thread.is_alive(), "the one-shot server thread did not stop"


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[OneShotServer]:
    srv = OneShotServer(request.param)
    yield srv
    srv.close()


def test_real_connection_refused_is_a_connect_error() -> None:
    client = StackOneClient(f"http://127.0.0.1:{free_port()}", KEY, "acc-1",
                            retry=RetryPolicy(attempts=1))
    with pytest.raises(ConnectError, match="nothing was sent"):
        client.create_ticket({"title": "x"})


@pytest.mark.parametrize("server", ["drop"], indirect=True)
def test_real_dropped_connection_on_create_is_uncertain_and_sent_once(
    server: OneShotServer, sleeps: Sleeps
) -> None:
    client = StackOneClient(f"http://127.0.0.1:{server.port}", KEY, "acc-1", sleep=sleeps)
    with pytest.raises(UncertainError, match="dropped"):
        client.create_ticket({"title": "x"})
    assert server.requests == 1
    assert sleeps == []


@pytest.mark.parametrize("server", ["hang"], indirect=True)
def test_real_read_timeout_on_create_is_uncertain_and_sent_once(
    server: OneShotServer, sleeps: Sleeps
) -> None:
    client = StackOneClient(f"http://127.0.0.1:{server.port}", KEY, "acc-1", timeout=(1, 0.2),
                            sleep=sleeps)
    with pytest.raises(UncertainError, match=r"no answer within 0\.2s"):
        client.create_ticket({"title": "x"})
    assert server.requests == 1


# -- listing ---------------------------------------------------------------------------------


def query(request: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(request.url).query)


def test_list_follows_next_through_short_and_empty_pages(requests_mock: Any,
                                                         client: StackOneClient) -> None:
    requests_mock.get(URL, [
        {"json": {"data": [{"id": "1"}, {"id": "2"}], "next": "c1"}},
        {"json": {"data": [{"id": "3"}], "next": "c2"}},  # short page: not the end
        {"json": {"data": [], "next": "c3"}},  # empty page: not the end either
        {"json": {"data": [{"id": "4"}], "next": None}},
    ])
    since = datetime(2024, 5, 6, 7, 8, 9, 123987, tzinfo=timezone(timedelta(hours=2)))
    assert [t.id for t in client.list_tickets(since)] == ["1", "2", "3", "4"]
    queries = [query(r) for r in requests_mock.request_history]
    assert [q.get("next") for q in queries] == [None, ["c1"], ["c2"], ["c3"]]
    for q in queries:
        assert q["page_size"] == ["100"]
        # UTC, milliseconds, truncated (never rounded later), Z suffix: StackOne's example form
        assert q["filter[updated_after]"] == ["2024-05-06T05:08:09.123Z"]


def test_list_ends_when_next_is_absent(requests_mock: Any, client: StackOneClient) -> None:
    requests_mock.get(URL, json={"data": [{"id": "1"}]})
    assert [t.id for t in client.list_tickets()] == ["1"]
    assert "filter[updated_after]" not in query(requests_mock.last_request)


def test_list_refuses_a_cursor_that_does_not_advance(requests_mock: Any,
                                                     client: StackOneClient) -> None:
    requests_mock.get(URL, json={"data": [{"id": "1"}], "next": "same"})
    with pytest.raises(ApiError, match="cursor"):
        list(client.list_tickets())
    assert requests_mock.call_count == 2


def test_list_retries_a_failed_page(requests_mock: Any, client: StackOneClient) -> None:
    requests_mock.get(URL, [{"json": {"data": [{"id": "1"}], "next": "c1"}},
                            {"status_code": 502}, {"json": {"data": [{"id": "2"}]}}])
    assert [t.id for t in client.list_tickets()] == ["1", "2"]


def test_list_skips_a_record_without_an_id(requests_mock: Any, client: StackOneClient) -> None:
    """Nothing could match, fetch or track a ticket without an id: the listing goes on."""
    requests_mock.get(URL, json={"data": [{"title": "no id"}, {"id": 5}, {"id": "2"}]})
    assert [t.id for t in client.list_tickets()] == ["2"]


@pytest.mark.parametrize("answer", [{"text": "oops"}, {"json": {"data": "x"}},
                                    {"json": {"data": [1]}}])
def test_list_refuses_a_malformed_page(requests_mock: Any, client: StackOneClient,
                                       answer: dict[str, Any]) -> None:
    requests_mock.get(URL, **answer)
    with pytest.raises(ApiError, match="not a page of records"):
        list(client.list_tickets())


def test_list_refuses_a_naive_time(client: StackOneClient) -> None:
    with pytest.raises(ValueError, match="without a zone"):
        list(client.list_tickets(datetime(2024, 1, 1)))


# -- configuration ---------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["http://api.stackone.com", "http://10.0.0.1:8080",
                                 "http://localhost.example.com", "ftp://api.stackone.com",
                                 "api.stackone.com", "https://"])
def test_plain_http_and_odd_urls_are_refused(url: str) -> None:
    with pytest.raises(ConfigError, match="base_url"):
        StackOneClient(url, KEY, "acc-1")


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://127.9.8.7", "http://localhost:1",
                                 "http://LOCALHOST/", "http://[::1]:8080", "https://api.stackone.com/"])
def test_https_and_loopback_http_are_allowed(url: str) -> None:
    assert not StackOneClient(url, KEY, "acc-1").base_url.endswith("/")


def test_a_url_with_credentials_is_refused_without_echoing_them() -> None:
    with pytest.raises(ConfigError) as caught:
        StackOneClient(f"https://{KEY}@api.stackone.com?x=1", KEY, "acc-1")
    assert KEY not in str(caught.value)


@pytest.mark.parametrize("key", ["", "   ", "has space", "tab\tkey", "ключ"])
def test_an_unusable_key_is_refused_without_quoting_it(key: str) -> None:
    with pytest.raises(ConfigError, match="STACKONE_API_KEY") as caught:
        StackOneClient(BASE, key, "acc-1")
    assert not key.strip() or key not in str(caught.value)


def test_a_key_pasted_with_a_newline_still_works(requests_mock: Any) -> None:
    requests_mock.get(f"{URL}/t-1", json={"data": {"id": "t-1"}})
    StackOneClient(BASE, f"{KEY}\n", "acc-1").get_ticket("t-1")
    assert requests_mock.last_request.headers["Authorization"] == f"Basic {BASIC}"


def test_make_client_needs_an_account(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"set STACKONE_ACCOUNT_ID or account_id in "
                                          r"ticketsync\.yaml"):
        make_client(Config(root=tmp_path), KEY)


def test_make_client_uses_the_config(tmp_path: Path) -> None:
    config = Config(root=tmp_path, account_id="acc-9", base_url="http://127.0.0.1:9",
                    rate_limit=120)
    client = make_client(config, KEY)
    assert repr(client) == "StackOneClient(base_url='http://127.0.0.1:9', account_id='acc-9')"
    assert client._limiter is not None and client._limiter.per_minute == 120
    shared = RateLimiter(60)
    assert make_client(config, KEY, limiter=shared)._limiter is shared


# -- the key never leaks ---------------------------------------------------------------------


def texts_of(error: BaseException) -> Iterator[str]:
    """str and repr of the error and of everything chained to it."""
    seen: BaseException | None = error
    while seen is not None:
        yield str(seen)
        yield repr(seen)
        yield repr(seen.args)
        seen = seen.__cause__ or seen.__context__


FAILURES: list[dict[str, Any]] = [
    *({"status_code": s, "json": error_body(s, f"key {KEY} / Basic {BASIC} echoed"),
       "headers": {"Retry-After": "1"}} for s in (400, 401, 403, 404, 408, 409, 422, 429, 502)),
    {"status_code": 400, "json": error_body(400, "x", provider_errors=[{"raw": {
        "message": f"auth header was Basic {BASIC}"}}])},
    {"status_code": 500, "text": f"Authorization: Basic {BASIC}"},
    {"exc": refused()},
    {"exc": dropped()},
    {"exc": requests.ReadTimeout("read")},
    {"status_code": 201, "text": KEY},
]


@pytest.mark.parametrize("failure", FAILURES)
def test_the_key_is_in_no_error_text_or_log(requests_mock: Any, caplog: pytest.LogCaptureFixture,
                                            failure: dict[str, Any]) -> None:
    caplog.set_level(logging.DEBUG)
    requests_mock.post(URL, **failure)
    client = StackOneClient(BASE, KEY, "acc-1", retry=RetryPolicy(attempts=2),
                            sleep=lambda _s: None)
    with pytest.raises(ApiError) as caught:
        client.create_ticket({"title": "x"})
    everything = [*texts_of(caught.value), repr(client), str(vars(client)), caplog.text]
    for text in everything:
        assert KEY not in text
        assert BASIC not in text
    assert caught.value.__context__ is None  # nothing from requests rides along


def test_the_key_is_in_no_real_socket_error(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client = StackOneClient(f"http://127.0.0.1:{free_port()}", KEY, "acc-1",
                            retry=RetryPolicy(attempts=1))
    with pytest.raises(ConnectError) as caught:
        client.get_ticket("t-1")
    for text in [*texts_of(caught.value), caplog.text]:
        assert KEY not in text
        assert BASIC not in text


def test_the_session_itself_never_resends_anything() -> None:
    """Retries are decided in _retry_delay alone: urllib3 under requests must not resend a
    POST on its own (a dropped keep-alive, a read error), or a create could be doubled."""
    client = StackOneClient(BASE, KEY, "acc-1")
    for url in (BASE, "http://127.0.0.1:1"):
        retries = client._session.get_adapter(url).max_retries
        assert retries.total == 0 and retries.read is False
        assert not retries.is_retry("POST", 502) and not retries.is_retry("POST", 408)
