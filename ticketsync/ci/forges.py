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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

import requests

from ticketsync import __version__
from ticketsync.errors import ForgeError

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


class RestApi:
    """A ``requests`` session for one forge API: a timeout on every request, errors as
    :class:`ForgeError` with the API's message, and ``Link: rel=next`` pagination."""

    def __init__(self, base_url: str, headers: Mapping[str, str]) -> None:
        self.base = check_api_url(base_url)
        origin = urlsplit(self.base)
        self._origin = (origin.scheme, origin.netloc)
        self.session = requests.Session()
        self.session.headers.update({"User-Agent": f"ticketsync/{__version__}", **headers})

    def close(self) -> None:
        self.session.close()

    def call(self, method: str, path: str, *, body: Mapping[str, Any] | None = None,
             params: Mapping[str, Any] | None = None) -> requests.Response:
        """``method`` on ``path`` (below the base URL, or a full URL of the same origin)."""
        url = path if "://" in path else self.base + path
        shown = urlsplit(url).path
        try:
            response = self.session.request(method, url, json=body, params=params,
                                            timeout=TIMEOUT, allow_redirects=False)
        except requests.RequestException as exc:
            raise ForgeError(f"{method} {shown}: no answer ({type(exc).__name__})") from None
        if response.status_code >= 300:
            raise ForgeError(f"{method} {shown}: {response.status_code} {_message(response)}",
                             status=response.status_code)
        return response

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
