"""The pull-request comment of a CI run, through GitHub's or GitLab's REST API.

One sticky comment per pull request (merge request, on GitLab): its first line is a hidden
marker, and every push updates that comment in place instead of adding one more. The
changed files of the pull request tell which projects it touches.

The token goes in a header and nowhere else: never in a URL, a message or an exception.
Plain ``http://`` is refused except to a loopback address (where tests fake the API), and
a pagination link that leaves the API's origin is not followed.
"""

from __future__ import annotations

import ipaddress
import itertools
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

import requests

from ticketsync import __version__
from ticketsync.errors import (
    ApiError,
    ConnectError,
    ForgeError,
    RateLimitedError,
    RejectedError,
    UncertainError,
)
from ticketsync.stackone.client import nothing_sent, retry_after_seconds
from ticketsync.stackone.retry import RetryPolicy

#: Seconds for every request: a CI step must never hang on the forge.
TIMEOUT = 30.0
#: Pages of 100 followed at most (GitHub lists at most 3,000 files of a pull request).
MAX_PAGES = 50


@dataclass(frozen=True)
class Comment:
    """A comment of the pull request (a note, on GitLab)."""

    id: int
    body: str


class Forge(Protocol):
    """What the CI steps need of a forge: the comments of one pull request, its files."""

    def comments(self) -> list[Comment]: ...

    def create_comment(self, body: str) -> Comment: ...

    def update_comment(self, comment_id: int, body: str) -> None: ...

    def changed_files(self) -> list[str]: ...


def check_api_url(url: str) -> str:
    """``url`` without a trailing slash, if it is https (or http to a loopback address)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url.rstrip("/")
    if parts.scheme == "http" and parts.hostname:
        try:
            loopback = ipaddress.ip_address(parts.hostname).is_loopback
        except ValueError:
            loopback = parts.hostname == "localhost"
        if loopback:
            return url.rstrip("/")
    raise ForgeError(f"{url!r} is not an https:// URL: the token is never sent in clear")


#: Retries of a forge request: StackOne's rules (reads and PATCHes again after an answer
#: that may have acted, nothing after a POST that may have: a second comment), fewer
#: attempts and a shorter longest wait: a CI step must not hang on the forge.
FORGE_RETRY = RetryPolicy(attempts=4, max_retry_after=60.0)


class RestApi:
    """A ``requests`` session for one forge API: a timeout on every request, retries as
    :data:`FORGE_RETRY` decides, errors as :class:`ForgeError` with the API's message, and
    ``Link: rel=next`` pagination."""

    def __init__(self, base_url: str, headers: Mapping[str, str], *,
                 retry: RetryPolicy = FORGE_RETRY,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.base = check_api_url(base_url)
        origin = urlsplit(self.base)
        self._origin = (origin.scheme, origin.netloc)
        self.session = requests.Session()
        self.session.headers.update({"User-Agent": f"ticketsync/{__version__}", **headers})
        self.retry, self._sleep = retry, sleep

    def close(self) -> None:
        self.session.close()

    def call(self, method: str, path: str, *, body: Mapping[str, Any] | None = None,
             params: Mapping[str, Any] | None = None) -> requests.Response:
        """``method`` on ``path`` (below the base URL, or a full URL of the same origin),
        sent again while the retry policy says so."""
        url = path if "://" in path else self.base + path
        shown = urlsplit(url).path
        for attempt in itertools.count(1):
            outcome = self._attempt(method, url, shown, body, params)
            if isinstance(outcome, requests.Response):
                return outcome
            failure, error = outcome
            delay = self.retry.delay(method, failure, attempt)
            if delay is None:
                raise error
            self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempt(self, method: str, url: str, shown: str, body: Mapping[str, Any] | None,
                 params: Mapping[str, Any] | None,
                 ) -> requests.Response | tuple[ApiError, ForgeError]:
        """One send: the answer, or (what the failure means for a resend, the error)."""
        try:
            response = self.session.request(method, url, json=body, params=params,
                                            timeout=TIMEOUT, allow_redirects=False)
        except requests.RequestException as exc:
            error = ForgeError(f"{method} {shown}: no answer ({type(exc).__name__})")
            kind = ConnectError if nothing_sent(exc) else UncertainError
            return kind(str(error)), error
        status = response.status_code
        if status < 300:
            return response
        error = ForgeError(f"{method} {shown}: {status} {_message(response)}", status=status)
        if status == 429 or (status == 403 and response.headers.get("Retry-After")):
            # GitHub answers a secondary rate limit with 403 and a Retry-After.
            wait = retry_after_seconds(response.headers.get("Retry-After"))
            return RateLimitedError(str(error), retry_after=wait), error
        if status == 408 or status >= 500:
            return UncertainError(str(error), status=status), error
        return RejectedError(str(error), status=status), error

    def pages(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[Any]:
        """Every item of a paginated listing, following ``Link: <...>; rel="next"``."""
        url: str | None = path
        query: Mapping[str, Any] | None = {"per_page": 100, **(params or {})}
        for _ in range(MAX_PAGES):
            if url is None:
                return
            response = self.call("GET", url, params=query)
            items = response.json()
            if not isinstance(items, list):
                raise ForgeError(f"GET {urlsplit(response.url).path}: expected a list")
            yield from items
            url, query = response.links.get("next", {}).get("url"), None
            if url is not None:
                parts = urlsplit(url)
                if (parts.scheme, parts.netloc) != self._origin:  # never send the token away
                    raise ForgeError(f"the next page is on another server: {parts.netloc}")


def _message(response: requests.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.reason or ""
    message = data.get("message") if isinstance(data, dict) else None
    return str(message)[:300] if message else (response.reason or "")


class GitHub(RestApi):
    """The comments and files of pull request ``number`` of ``repository`` (owner/name)."""

    def __init__(self, api_url: str, token: str, repository: str, number: int) -> None:
        super().__init__(api_url, {
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        })
        self.repo = f"/repos/{quote(repository, safe='/')}"
        self.number = number

    def comments(self) -> list[Comment]:
        return [Comment(int(c["id"]), str(c.get("body") or ""))
                for c in self.pages(f"{self.repo}/issues/{self.number}/comments")]

    def create_comment(self, body: str) -> Comment:
        made = self.call("POST", f"{self.repo}/issues/{self.number}/comments",
                         body={"body": body}).json()
        return Comment(int(made["id"]), body)

    def update_comment(self, comment_id: int, body: str) -> None:
        self.call("PATCH", f"{self.repo}/issues/comments/{comment_id}", body={"body": body})

    def changed_files(self) -> list[str]:
        files: list[str] = []
        for item in self.pages(f"{self.repo}/pulls/{self.number}/files"):
            files.append(str(item["filename"]))
            if item.get("previous_filename"):  # a file moved out of a project touches it
                files.append(str(item["previous_filename"]))
        return files


class GitLab(RestApi):
    """The notes and files of merge request ``iid`` of project ``project`` (id or path)."""

    def __init__(self, api_url: str, token: str, project: str, iid: int) -> None:
        super().__init__(api_url, {"PRIVATE-TOKEN": token})
        self.request = f"/projects/{quote(project, safe='')}/merge_requests/{iid}"

    def comments(self) -> list[Comment]:
        return [Comment(int(n["id"]), str(n.get("body") or ""))
                for n in self.pages(f"{self.request}/notes",
                                    {"sort": "asc", "order_by": "created_at"})
                if not n.get("system")]

    def create_comment(self, body: str) -> Comment:
        made = self.call("POST", f"{self.request}/notes", body={"body": body}).json()
        return Comment(int(made["id"]), body)

    def update_comment(self, comment_id: int, body: str) -> None:
        self.call("PUT", f"{self.request}/notes/{comment_id}", body={"body": body})

    def changed_files(self) -> list[str]:
        files: list[str] = []
        for item in self.pages(f"{self.request}/diffs"):
            files += [str(item[k]) for k in ("new_path", "old_path") if item.get(k)]
        return files


def upsert_comment(forge: Forge, marker: str, text: str, *, create: bool = True) -> str:
    """Make the pull request's one comment that starts with ``marker`` say ``text``.

    Updated in place when it exists (the oldest, if a race made two), else created unless
    ``create`` is false. Returns what happened: ``created``, ``updated``, ``unchanged`` or
    ``skipped``.
    """
    body = f"{marker}\n{text}"
    mine = [c for c in forge.comments() if c.body.split("\n", 1)[0].strip() == marker]
    if mine:
        if mine[0].body == body:
            return "unchanged"
        forge.update_comment(mine[0].id, body)
        return "updated"
    if not create:
        return "skipped"
    forge.create_comment(body)
    return "created"
