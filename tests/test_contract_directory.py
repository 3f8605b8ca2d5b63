"""Contract tests of the directory: the list requests ``directory pull`` sends, and the
sandbox's answers to them, held to StackOne's own OpenAPI spec (loaded as in
tests/test_contract.py, never copied into the repository)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from sandbox_helpers import ACCOUNT_ID, API_KEY, MakeSandbox
from test_contract import SPEC_FILE, errors, response_ref, spec

from ticketsync.account.pull import pull_directory
from ticketsync.sandbox import Faults, RunningSandbox
from ticketsync.stackone.client import StackOneClient

pytestmark = pytest.mark.skipif(
    not SPEC_FILE.is_file(),
    reason=f"StackOne's spec is not at {SPEC_FILE}: set TICKETSYNC_STACKONE_SPEC_DIR",
)

USERS = "/unified/ticketing/users"
PROJECTS = "/unified/ticketing/projects"
TYPES = "/unified/ticketing/ticket_types"
COMPONENTS = "/unified/ticketing/projects/{id}/components"
PROJECT_TYPES = "/unified/ticketing/projects/{id}/ticket_types"
LISTINGS = (USERS, PROJECTS, TYPES, COMPONENTS, PROJECT_TYPES)


def _template(path: str) -> str | None:
    """The spec's path template that ``path`` is an instance of."""
    for template in spec()["paths"]:
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            return str(template)
    return None


def test_the_listings_are_in_the_spec_and_page_alike() -> None:
    for path in LISTINGS:
        operation = spec()["paths"][path]["get"]
        names = {p["name"] for p in operation["parameters"]}
        assert {"x-account-id", "page_size", "next"} <= names
        assert response_ref(path, "get", 200).endswith("Paginated")


class _Recording(requests.Session):
    """A session that remembers what was asked of it."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str, dict[str, str], dict[str, str]]] = []

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
                ) -> requests.Response:
        response = super().request(method, url, *args, **kwargs)
        prepared = response.request
        split = urlsplit(str(prepared.url))
        self.sent.append((str(prepared.method), split.path, dict(parse_qsl(split.query)),
                          dict(prepared.headers)))
        return response


def test_the_pulls_requests_are_the_specs(make_sandbox: MakeSandbox) -> None:
    running = make_sandbox(faults=Faults(page_cap=40))
    session = _Recording()
    client = StackOneClient(running.url, API_KEY, ACCOUNT_ID, session=session)
    try:
        pull_directory(client, ACCOUNT_ID)
    finally:
        client.close()
        session.close()
    templates = set()
    for method, path, query, headers in session.sent:
        template = _template(path)
        assert template in LISTINGS, path
        templates.add(template)
        assert method == "GET"
        operation = spec()["paths"][template]["get"]
        declared = {p["name"] for p in operation["parameters"] if p["in"] == "query"}
        assert set(query) <= declared, (path, query)
        assert 1 <= int(query["page_size"]) <= 100
        assert headers["x-account-id"] == ACCOUNT_ID
        assert headers["User-Agent"].startswith("ticketsync/")
    assert templates == set(LISTINGS)
    assert any("next" in query for _, _, query, _ in session.sent)  # pages were followed


# -- the sandbox's answers ---------------------------------------------------------------


@pytest.fixture
def call(sandbox: RunningSandbox) -> Iterator[Any]:
    session = requests.Session()
    session.auth = (API_KEY, "")
    session.headers["x-account-id"] = ACCOUNT_ID

    def do(path: str, **kwargs: Any) -> requests.Response:
        return session.get(sandbox.url + path, timeout=10, **kwargs)

    yield do
    session.close()


@pytest.mark.parametrize("template", LISTINGS)
@pytest.mark.parametrize("page_size", ["1", "100"])
def test_the_sandboxs_list_answers_match_the_spec(call: Any, template: str,
                                                  page_size: str) -> None:
    path = template.replace("{id}", "project-001")
    response = call(path, params={"page_size": page_size})
    assert response.status_code == 200
    body = response.json()
    assert body["data"]
    assert errors(response_ref(template, "get", 200), body) == []


@pytest.mark.parametrize(
    ("template", "status", "kwargs"),
    [
        (USERS, 400, {"params": {"page_size": "0"}}),
        (USERS, 400, {"params": {"next": "not-a-cursor"}}),
        (USERS, 401, {"auth": ("", "")}),
        (COMPONENTS, 404, {}),
        (PROJECT_TYPES, 404, {}),
    ],
)
def test_the_sandboxs_list_errors_match_the_spec(
    call: Any, template: str, status: int, kwargs: dict[str, Any]
) -> None:
    response = call(template.replace("{id}", "no-such-project"), **kwargs)
    assert response.status_code == status
    assert errors(response_ref(template, "get", status), response.json()) == []


def test_the_validators_bite() -> None:
    # A $ref that resolves to nothing would accept anything.
    assert errors(response_ref(USERS, "get", 200), {"data": [{"active": "yes"}]})
    assert errors(response_ref(COMPONENTS, "get", 200), {"data": [{"name": 3}]})
