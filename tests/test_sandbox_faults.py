"""The sandbox's fault injection over loopback: each fault, on exactly the chosen request."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sandbox_helpers import TICKETS, Client, MakeSandbox

from ticketsync.sandbox import Fault, Faults, RunningSandbox, parse_rule


def _created_id(response: requests.Response) -> str:
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["id"])


# -- faults ----------------------------------------------------------------------------------


@pytest.fixture
def faults() -> Faults:
    return Faults()


@pytest.fixture
def faulty(make_sandbox: MakeSandbox, faults: Faults) -> Iterator[tuple[RunningSandbox, Client]]:
    running = make_sandbox(faults=faults)
    c = Client(running.url)
    yield running, c
    c.close()


@pytest.mark.parametrize(
    ("fault", "status", "stored"),
    [
        (Fault.FAIL_BEFORE_STORE, 500, 0),
        (Fault.STORE_THEN_502, 502, 1),
        (Fault.STORE_THEN_408, 408, 1),
        (Fault.TOO_MANY_REQUESTS, 429, 0),
    ],
)
def test_each_fault_answers_and_stores_as_named(
    faulty: tuple[RunningSandbox, Client], faults: Faults, fault: Fault, status: int, stored: int
) -> None:
    running, c = faulty
    faults.add(fault, op="create", nth=[2])
    assert c.create({"title": "first"}).status_code == 201
    response = c.create({"title": "second"})
    assert response.status_code == status
    assert response.json()["statusCode"] == status
    assert c.create({"title": "third"}).status_code == 201
    titles = [t.title for t in running.store.all()]
    assert titles == ["first", *(["second"] * stored), "third"]
    assert faults.fired(fault) == 1 and faults.requests("create") == 3
    if status in (408, 429):
        assert response.headers["Retry-After"] == "1"


def test_store_then_drop_closes_the_connection_after_storing(
    faulty: tuple[RunningSandbox, Client], faults: Faults
) -> None:
    running, c = faulty
    faults.add(Fault.STORE_THEN_DROP, title="lost")
    with pytest.raises(requests.ConnectionError):
        c.create({"title": "lost ticket"})
    assert [t.title for t in running.store.all()] == ["lost ticket"]
    assert c.create({"title": "after"}).status_code == 201  # the server serves on


def test_a_patch_can_be_applied_then_failed(
    faulty: tuple[RunningSandbox, Client], faults: Faults
) -> None:
    running, c = faulty
    ticket_id = _created_id(c.create({"title": "a"}))
    faults.add(Fault.STORE_THEN_502, op="update")
    assert c.call("PATCH", f"{TICKETS}/{ticket_id}", json={"title": "b"}).status_code == 502
    assert running.store.get(ticket_id).title == "b"  # type: ignore[union-attr]


def test_a_429_storm_then_calm(faulty: tuple[RunningSandbox, Client], faults: Faults) -> None:
    _, c = faulty
    faults.add(Fault.TOO_MANY_REQUESTS, times=3, retry_after=2)
    codes = [c.call("GET").status_code for _ in range(5)]
    assert codes == [429, 429, 429, 200, 200]


def test_a_predicate_picks_requests(faulty: tuple[RunningSandbox, Client], faults: Faults) -> None:
    running, c = faulty
    faults.add(Fault.FAIL_BEFORE_STORE, when=lambda r: r.method == "POST" and "x" in r.title)
    assert [c.create({"title": t}).status_code for t in ("a", "xa", "b")] == [201, 500, 201]
    assert len(running.store) == 2


def test_random_faults_are_reproducible_with_a_seed(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    outcomes = []
    for run in range(2):
        faults = Faults()
        faults.add(Fault.FAIL_BEFORE_STORE, op="create", probability=0.5, seed=42)
        running = make_sandbox(faults=faults, db_path=tmp_path / f"run{run}.db")
        c = Client(running.url)
        try:
            outcomes.append([c.create({"title": str(i)}).status_code for i in range(20)])
        finally:
            c.close()
    assert outcomes[0] == outcomes[1]
    assert set(outcomes[0]) == {201, 500}


def test_latency_delays_every_request(make_sandbox: MakeSandbox) -> None:
    running = make_sandbox(faults=Faults(latency_ms=60))
    c = Client(running.url)
    try:
        started = time.monotonic()
        c.call("GET")
        elapsed = time.monotonic() - started
    finally:
        c.close()
    assert elapsed >= 0.06


def test_the_rate_limit_answers_429_with_retry_after(make_sandbox: MakeSandbox) -> None:
    running = make_sandbox(faults=Faults(rate_limit=3))
    c = Client(running.url)
    try:
        responses = [c.call("GET") for _ in range(4)]
    finally:
        c.close()
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert 1 <= int(responses[-1].headers["Retry-After"]) <= 60
    assert running.faults.rate_limited == 1


def test_parse_rule_reads_the_command_line_form() -> None:
    rule = parse_rule("store-then-drop:op=create,nth=3+5,title=x,p=0.5,seed=1,times=2")
    assert (rule.fault, rule.op, rule.nth, rule.title) == (
        Fault.STORE_THEN_DROP,
        "create",
        {3, 5},
        "x",
    )
    assert (rule.probability, rule.seed, rule.times) == (0.5, 1, 2)
    for bad in ("explode", "429:nth=x", "429:colour=red", "429:op=delete", "429:nth"):
        with pytest.raises(ValueError, match=r"fault|op|KEY"):
            parse_rule(bad)
