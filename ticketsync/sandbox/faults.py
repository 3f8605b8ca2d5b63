"""Fault injection: make the sandbox fail the way StackOne and providers fail.

The failures that matter to ticketsync are the ones after which nobody knows whether a
ticket was created: the provider acted, then the answer was a 5xx, a 408, or nothing at all.
Those must never lead to a duplicate, so tests need to cause them on purpose, on exactly the
request they choose::

    faults = Faults(latency_ms=5)
    faults.add(Fault.STORE_THEN_DROP, op="create", nth=3)       # the 3rd create
    faults.add(Fault.STORE_THEN_502, title="flaky")              # creates titled *flaky*
    faults.add(Fault.FAIL_BEFORE_STORE, probability=0.1, seed=7)  # 10%, reproducibly
    faults.add(Fault.TOO_MANY_REQUESTS, times=5)                  # a 429 storm
    faults.add(Fault.REVOKE_KEY, nth={20})                        # 401 from the 20th on
    faults.add(Fault.ENDLESS_PAGES, op="list")                   # a cursor that never ends
    Faults(clock_offset=3600)                                    # StackOne an hour ahead
    ...
    assert faults.fired(Fault.STORE_THEN_DROP) == 1

The same rules come from the command line as ``--fault ACTION[:KEY=VALUE,...]`` (see
:func:`parse_rule`). Everything here is thread-safe: the server asks from many threads.
"""

from __future__ import annotations

import enum
import math
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

#: The operations of the ticketing API the sandbox serves.
OPS = ("create", "get", "update", "list", "statuses")


class Fault(enum.Enum):
    """What to do to a chosen request."""

    #: Answer 500 without storing anything: a clean failure, safe to resend.
    FAIL_BEFORE_STORE = "fail-before-store"
    #: Act (store the create / apply the update), then answer 502.
    STORE_THEN_502 = "store-then-502"
    #: Act, then answer 408 (StackOne's retries against the provider ran out of time).
    STORE_THEN_408 = "store-then-408"
    #: Act, then close the connection without any answer (a lost response).
    STORE_THEN_DROP = "store-then-drop"
    #: Answer 429 with Retry-After without acting (one request of a storm).
    TOO_MANY_REQUESTS = "429"
    #: Refuse the key from this request on, for good (401): a key revoked mid-run.
    REVOKE_KEY = "revoke-key"
    #: A listing answers an empty page with a fresh ``next`` cursor, forever.
    ENDLESS_PAGES = "endless-pages"
    #: A listing answers its page with a fresh ``next`` that lists the same page again.
    REPEAT_PAGE = "repeat-page"
    #: Act, then answer a body of ``size_mb`` megabytes of JSON (a broken proxy, say).
    HUGE = "huge"
    #: Act, then send the answer one byte every ``every_ms`` milliseconds.
    DRIP = "drip"


@dataclass(frozen=True)
class Request:
    """What a rule may look at: the operation, the HTTP method and path, the JSON body."""

    op: str
    method: str
    path: str
    body: Mapping[str, Any] | None = None

    @property
    def title(self) -> str:
        title = (self.body or {}).get("title")
        return title if isinstance(title, str) else ""


@dataclass
class Rule:
    """Which requests get ``fault``: all filters must match, then ``nth``/odds/``times``.

    ``nth`` counts (1-based) the requests that passed the filters (``op``, ``title`` as a
    substring, ``when``); ``probability`` draws from a generator seeded with ``seed``;
    ``times`` caps how often the rule fires (a storm of N 429s is ``times=N``).
    """

    fault: Fault
    op: str | None = None
    title: str | None = None
    when: Callable[[Request], bool] | None = None
    nth: Collection[int] | None = None
    probability: float | None = None
    seed: int | None = None
    times: int | None = None
    retry_after: int = 1
    size_mb: int = 200
    every_ms: int = 10_000
    seen: int = 0
    fired: int = 0
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.op is not None and self.op not in OPS:
            raise ValueError(f"unknown op {self.op!r}: use one of {', '.join(OPS)}")
        if self.probability is not None and not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"probability {self.probability} is not between 0 and 1")
        # Not for secrets: a seeded generator makes a random fault schedule reproducible.
        self._rng = random.Random(self.seed)  # noqa: S311

    def matches(self, request: Request) -> bool:
        """Count the request if the filters pass; True if the rule fires on it."""
        if self.op is not None and request.op != self.op:
            return False
        if self.title is not None and self.title not in request.title:
            return False
        if self.when is not None and not self.when(request):
            return False
        self.seen += 1
        if self.nth is not None and self.seen not in self.nth:
            return False
        if self.probability is not None and self._rng.random() >= self.probability:
            return False
        if self.times is not None and self.fired >= self.times:
            return False
        self.fired += 1
        return True


@dataclass(frozen=True)
class Decision:
    """The verdict for one request: a fault (or None), and the rule that chose it."""

    fault: Fault | None = None
    rule: Rule | None = None

    @property
    def retry_after(self) -> int:
        return self.rule.retry_after if self.rule is not None else 1


class Faults:
    """Latency, a rate limit, a clock, and per-request rules; shared by every server thread.

    ``latency_ms`` is added to every request (change it while serving to play a provider
    that slows down). ``rate_limit`` is requests per minute over a sliding window: over it,
    429 with ``Retry-After`` set to the seconds until a slot frees. ``page_cap`` makes list
    pages shorter than ``page_size`` asks (with a ``next``). ``clock_offset`` (seconds)
    moves the sandbox's clock: its ``Date`` headers, timestamps, ``created_at`` and
    ``updated_at``, as a StackOne whose clock disagrees with the runner's.
    """

    def __init__(
        self,
        *,
        latency_ms: float = 0.0,
        rate_limit: int | None = None,
        page_cap: int | None = None,
        clock_offset: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate_limit is not None and rate_limit < 1:
            raise ValueError("rate_limit must be at least 1 request per minute")
        self.latency_ms = latency_ms
        self.rate_limit = rate_limit
        self.page_cap = page_cap
        self.clock_offset = clock_offset
        self.revoked = False
        self._clock = clock
        self._lock = threading.Lock()
        self._rules: list[Rule] = []
        self._window: deque[float] = deque()
        self._requests: Counter[str] = Counter()
        self._fired: Counter[Fault] = Counter()
        self._rate_limited = 0
        self._in_flight = 0
        self._peak = 0

    def now(self) -> datetime:
        """The sandbox's time: this machine's, moved by ``clock_offset``."""
        return datetime.now(UTC) + timedelta(seconds=self.clock_offset)

    def add(self, fault: Fault, **options: Any) -> Rule:
        """Add a :class:`Rule` (keyword options as its fields); rules are tried in order."""
        return self.add_rule(Rule(fault, **options))

    def add_rule(self, rule: Rule) -> Rule:
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        """Drop every rule and counter (latency, rate limit and page cap stay)."""
        with self._lock:
            self._rules.clear()
            self._window.clear()
            self._requests.clear()
            self._fired.clear()
            self._rate_limited = 0

    def rate_check(self) -> int | None:
        """Take a slot of the rate limit: None if granted, else the Retry-After seconds."""
        if self.rate_limit is None:
            return None
        with self._lock:
            now = self._clock()
            while self._window and now - self._window[0] >= 60.0:
                self._window.popleft()
            if len(self._window) < self.rate_limit:
                self._window.append(now)
                return None
            self._rate_limited += 1
            return max(1, math.ceil(60.0 - (now - self._window[0])))

    def decide(self, request: Request) -> Decision:
        """Count the request and pick the first rule that fires on it (or none)."""
        with self._lock:
            self._requests[request.op] += 1
            for rule in self._rules:
                if rule.matches(request):
                    self._fired[rule.fault] += 1
                    if rule.fault is Fault.REVOKE_KEY:
                        self.revoked = True
                    return Decision(rule.fault, rule)
        return Decision()

    def enter(self) -> None:
        """A request arrived (the gauge of requests being answered at once)."""
        with self._lock:
            self._in_flight += 1
            self._peak = max(self._peak, self._in_flight)

    def leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def peak(self, *, reset: bool = False) -> int:
        """The most requests answered at once since the start (or the last reset)."""
        with self._lock:
            peak = self._peak
            if reset:
                self._peak = self._in_flight
            return peak

    def requests(self, op: str | None = None) -> int:
        """How many requests (of ``op``) reached the fault rules (authenticated, valid)."""
        with self._lock:
            return self._requests[op] if op else sum(self._requests.values())

    def fired(self, fault: Fault | None = None) -> int:
        """How many times ``fault`` (or any rule) fired."""
        with self._lock:
            return self._fired[fault] if fault else sum(self._fired.values())

    @property
    def rate_limited(self) -> int:
        """How many requests the rate limit answered with 429."""
        with self._lock:
            return self._rate_limited


def parse_rule(text: str) -> Rule:
    """A rule from its command-line form ``ACTION[:KEY=VALUE,...]``.

    ACTION is one of the :class:`Fault` values. Keys: ``op`` (create/get/update/list),
    ``nth`` (``3``, or several: ``3+7``), ``title`` (substring), ``p`` (probability),
    ``seed``, ``times``, ``retry_after``, ``mb`` (huge), ``every_ms`` (drip). Examples:
    ``store-then-drop:op=create,nth=3``, ``store-then-502:p=0.2,seed=7``, ``429:times=5``,
    ``revoke-key:nth=20``, ``endless-pages:op=list``, ``drip:op=create,every_ms=5000``.
    """
    action, _, rest = text.partition(":")
    try:
        fault = Fault(action.strip())
    except ValueError:
        names = ", ".join(f.value for f in Fault)
        raise ValueError(f"unknown fault {action!r}: use one of {names}") from None
    options: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, sep, value = item.partition("=")
        try:
            if not sep:
                raise ValueError("expected KEY=VALUE")
            if key == "op":
                options["op"] = value
            elif key == "title":
                options["title"] = value
            elif key == "nth":
                options["nth"] = {int(n) for n in value.split("+")}
            elif key == "p":
                options["probability"] = float(value)
            elif key in ("seed", "times", "retry_after", "every_ms"):
                options[key] = int(value)
            elif key == "mb":
                options["size_mb"] = int(value)
            else:
                raise ValueError("unknown key")
        except ValueError as exc:
            raise ValueError(f"bad fault option {item!r} in {text!r}: {exc}") from None
    return Rule(fault, **options)
