"""The forge's REST client retries as the StackOne client does (ticketsync/stackone/retry.py):
reads and PATCHes again after an answer that may have acted, a POST never (a second
comment), nothing after a refusal; a 429 (or GitHub's 403 with Retry-After) waits."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from ticketsync.ci.forges import RestApi
from ticketsync.errors import ForgeError

BASE = "https://forge.example.test/api"


def api(waits: list[float]) -> RestApi:
    return RestApi(BASE, {"Authorization": "Bearer t"}, sleep=waits.append)


def test_a_read_is_sent_again_after_a_5xx_and_a_dropped_connection(requests_mock: Any) -> None:
    requests_mock.get(f"{BASE}/x", [
        {"status_code": 502, "json": {"message": "bad gateway"}},
        {"exc": requests.ConnectionError("reset by peer")},
        {"status_code": 200, "json": [1]},
    ])
    waits: list[float] = []
    assert api(waits).call("GET", "/x").json() == [1]
    assert len(waits) == 2 and requests_mock.call_count == 3


def test_a_post_that_may_have_acted_is_never_sent_twice(requests_mock: Any) -> None:
    requests_mock.post(f"{BASE}/comments", status_code=502, json={"message": "oops"})
    waits: list[float] = []
    with pytest.raises(ForgeError, match=r"^POST /api/comments: 502 oops$"):
        api(waits).call("POST", "/comments", body={"body": "plan"})
    assert requests_mock.call_count == 1 and waits == []


def test_a_patch_is_sent_again_after_a_timeout(requests_mock: Any) -> None:
    requests_mock.patch(f"{BASE}/comments/1", [
        {"exc": requests.ReadTimeout("slow")}, {"status_code": 200, "json": {}}])
    waits: list[float] = []
    api(waits).call("PATCH", "/comments/1", body={"body": "plan"})
    assert requests_mock.call_count == 2 and len(waits) == 1


@pytest.mark.parametrize("status", [429, 403])
def test_a_rate_limit_waits_for_retry_after(requests_mock: Any, status: int) -> None:
    requests_mock.get(f"{BASE}/x", [
        {"status_code": status, "headers": {"Retry-After": "7"}, "json": {"message": "slow"}},
        {"status_code": 200, "json": []}])
    waits: list[float] = []
    api(waits).call("GET", "/x")
    assert waits == [7.0]


def test_a_refusal_is_final_and_the_attempts_are_bounded(requests_mock: Any) -> None:
    requests_mock.get(f"{BASE}/denied", status_code=403, json={"message": "no"})
    waits: list[float] = []
    with pytest.raises(ForgeError, match=r"403 no$") as caught:
        api(waits).call("GET", "/denied")
    assert caught.value.status == 403 and waits == [] and requests_mock.call_count == 1
    requests_mock.get(f"{BASE}/down", status_code=503, json={"message": "down"})
    with pytest.raises(ForgeError, match=r"503 down$"):
        api(waits).call("GET", "/down")
    assert requests_mock.call_count == 1 + 4  # FORGE_RETRY: four attempts


def test_a_retry_after_longer_than_a_minute_is_not_waited_out(requests_mock: Any) -> None:
    requests_mock.get(f"{BASE}/x", status_code=429, headers={"Retry-After": "3600"},
                      json={"message": "later"})
    waits: list[float] = []
    with pytest.raises(ForgeError, match="429 later"):
        api(waits).call("GET", "/x")
    assert waits == []
