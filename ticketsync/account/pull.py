"""``ticketsync directory pull``: the account's names, every page, into the directory file.

The listings: users, projects and the account-wide ticket types, then, per project, its
components and ticket types. Each listing follows its cursor to the end (a listing that
never ends is stopped by the client), every request takes a token from the run's rate
limiter, and reads are simply retried (they act on nothing). The listings run a few at a
time, as many as the limiter's rate x latency calls for, so that the rate limit, not the
latency, sets the pace. The order in which they finish does not matter: the directory is
sorted, so the same account gives the same bytes whatever the faults on the way.

The file on disk is replaced only by a complete pull, atomically (temp file, fsync,
rename): a pull interrupted at any instant, or one that fails half-way, leaves the
previous file as it was. A file that is corrupt, of another account or of a newer version
is refused before anything is listed, and never overwritten.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from ticketsync.declare.directory import (
    KINDS,
    STATUS_TYPES,
    Component,
    Directory,
    Project,
    Status,
    TicketType,
    User,
    Workflow,
    dump_directory,
    quoted,
    read_directory,
)
from ticketsync.declare.editor_schema import dump_editor_schema, editor_schema_path
from ticketsync.declare.names import Resolver
from ticketsync.errors import HaltedError, NotFoundError
from ticketsync.stackone.limiter import RateLimiter
from ticketsync.state.file import atomic_write_text
from ticketsync.times import format_time

USERS = "/unified/ticketing/users"
PROJECTS = "/unified/ticketing/projects"
TICKET_TYPES = "/unified/ticketing/ticket_types"
#: Listings in flight at most (each is a chain of pages: one request at a time).
MAX_LISTINGS = 32


class DirectoryApi(Protocol):
    """What a pull needs of :class:`ticketsync.stackone.client.StackOneClient`."""

    def list_all(self, path: str, params: Mapping[str, str] | None = None
                 ) -> Iterator[dict[str, Any]]:
        """Every record of a listing, following the cursor ``next`` to the end."""
        ...

    def server_now(self) -> datetime:
        """StackOne's current time (a lower bound)."""
        ...

    def list_statuses(self, ticket_id: str) -> list[dict[str, Any]]:
        """The statuses a ticket can take (StackOne lists them per ticket only)."""
        ...


def project_path(project_id: str, what: str) -> str:
    """``/unified/ticketing/projects/{id}/components`` (or ``ticket_types``); the id is
    quoted whole, so that no id can reach another path."""
    return f"{PROJECTS}/{quote(project_id, safe='')}/{what}"


class _Chain(threading.local):
    """Set on a thread while it reads an account-wide listing."""

    on = False


_chain = _Chain()


class ChainFirstLimiter(RateLimiter):
    """The run's rate limiter, where the account-wide listings take tokens first.

    A listing is a chain: each page waits for the previous one's cursor. The users of a
    big account are one long chain (5,000 users: 50 pages), while the projects' listings
    are many short ones. With a plain token bucket every waiting thread has the same
    chance at the next token, so a chain running beside 20 others gets a twentieth of the
    rate and ends the pull long after everything else. Here a per-project listing does
    not start waiting for a token while a chain's request waits for one: the chain pages
    at the pace of its latency, the rest of the rate goes to the projects, and the pull
    takes requests / rate, no longer. The limit itself is the bucket's, unchanged.
    """

    def __init__(self, per_minute: int, **options: Any) -> None:
        super().__init__(per_minute, **options)
        self._gate = threading.Condition()
        self._chains_waiting = 0

    def acquire(self) -> None:
        if _chain.on:
            with self._gate:
                self._chains_waiting += 1
            try:
                super().acquire()
            finally:
                with self._gate:
                    self._chains_waiting -= 1
                    self._gate.notify_all()
            return
        with self._gate:
            while self._chains_waiting and not self.halted:
                self._gate.wait(0.05)
        super().acquire()


@dataclass(frozen=True)
class Progress:
    """How far a pull is: listings finished of those known so far, records read."""

    done: int
    total: int
    records: int


@dataclass(frozen=True)
class _Listing:
    kind: str  # users | projects | ticket_types | components
    path: str
    project_id: str | None = None


def existing_directory(path: Path, account_id: str | None) -> Directory | None:
    """The directory file a pull would replace (None: there is none). Raises
    :class:`~ticketsync.declare.directory.DirectoryError` for one that must not be replaced:
    corrupt, of a newer version, or of another account."""
    try:
        return read_directory(path, account_id=account_id)
    except FileNotFoundError:
        return None


def pull_directory(
    api: DirectoryApi,
    account_id: str,
    *,
    limiter: RateLimiter | None = None,
    concurrency: int | None = None,
    on_progress: Callable[[Progress], None] = lambda progress: None,
    samples: Mapping[tuple[str, str | None], str] | None = None,
    previous: Directory | None = None,
) -> Directory:
    """List everything and return the directory (``pulled_at``: StackOne's time).

    ``concurrency``: listings in flight at most (None: as many as ``limiter``'s rate x
    latency calls for). On any error, and on Ctrl-C, the limiter is halted (nothing more
    is sent), the listings in flight end, and the error is raised: nothing was written.

    ``samples``: a ticket of each (project, type) the state tracks: StackOne lists the
    statuses a ticket can take per ticket only, so each scope's workflow is learned from
    one of them (one request per scope), and ``validate`` checks ``status:`` offline.
    A scope learned by an earlier pull (``previous``) and not sampled now is kept while
    its project exists; one never sampled stays unknown (apply checks it before creating).
    """
    records: dict[str, dict[tuple[str | None, str], Any]] = {kind: {} for kind in KINDS}
    queue = deque([_Listing("users", USERS), _Listing("projects", PROJECTS),
                   _Listing("ticket_types", TICKET_TYPES)])
    total, done, count = len(queue), 0, 0
    cap = concurrency or MAX_LISTINGS

    def limit() -> int:
        if concurrency is not None or limiter is None:
            return cap
        return limiter.in_flight(cap=cap, initial=8)

    pool = concurrent.futures.ThreadPoolExecutor(cap, thread_name_prefix="ticketsync-pull")
    running: dict[concurrent.futures.Future[list[dict[str, Any]]], _Listing] = {}
    try:
        while queue or running:
            while queue and len(running) < limit():
                listing = queue.popleft()
                running[pool.submit(_read, api, listing)] = listing
            finished, _ = concurrent.futures.wait(
                running, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in finished:
                listing = running.pop(future)
                error = future.exception()
                if error is not None:
                    raise _cause(error, running, limiter)
                found = future.result()
                for key, record in _records(listing, found):
                    records[listing.kind][key] = record
                if listing.kind == "projects":
                    for project_id in sorted(pid for _, pid in records["projects"]):
                        queue.append(_Listing("components",
                                              project_path(project_id, "components"),
                                              project_id))
                        queue.append(_Listing("ticket_types",
                                              project_path(project_id, "ticket_types"),
                                              project_id))
                        total += 2
                done, count = done + 1, count + len(found)
                on_progress(Progress(done, total, count))
    except BaseException:
        if limiter is not None:
            limiter.halt("the pull stopped")  # the listings in flight send nothing more
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    projects = {project_id for _, project_id in records["projects"]}
    return Directory.of(
        account_id,
        format_time(api.server_now()),
        users=records["users"].values(),
        projects=records["projects"].values(),
        ticket_types=records["ticket_types"].values(),
        components=records["components"].values(),
        statuses=_workflows(api, samples or {}, previous, projects),
    )


def _workflows(api: DirectoryApi, samples: Mapping[tuple[str, str | None], str],
               previous: Directory | None, projects: set[str]) -> list[Workflow]:
    """Each sampled scope's statuses, as its ticket lists them; earlier ones kept."""
    found: dict[tuple[str, str | None], Workflow] = {}
    if previous is not None:
        found.update(((w.project_id, w.type), w) for w in previous.statuses
                     if w.project_id in projects)
    for (project_id, ticket_type), ticket_id in sorted(
            samples.items(), key=lambda item: (item[0][0], item[0][1] or "")):
        if project_id not in projects:
            continue
        try:
            listed = api.list_statuses(ticket_id)
        except NotFoundError:  # the ticket was deleted: the scope stays as it was known
            continue
        statuses = tuple(status for raw in listed if (status := _status(raw)) is not None)
        if statuses:
            found[(project_id, ticket_type)] = Workflow(project_id, ticket_type, statuses)
    return list(found.values())


def _status(raw: Any) -> Status | None:
    """A status as StackOne lists it (``type`` an object with a ``value``), or None."""
    if not isinstance(raw, Mapping) or _text(raw.get("id")) is None:
        return None
    kind = raw.get("type")
    kind = kind.get("value") if isinstance(kind, Mapping) else kind
    return Status(str(raw["id"]), _text(raw.get("name")),
                  kind if kind in STATUS_TYPES else None)


def _cause(error: BaseException, running: Iterable[concurrent.futures.Future[Any]],
           limiter: RateLimiter | None) -> BaseException:
    """The error to report when a listing failed: once the others have ended (halted,
    they send nothing more), the first that is not just "not sent because the run
    stopped" (a revoked key fails one listing, then halts the rest)."""
    if limiter is not None:
        limiter.halt("the pull stopped")
    pending = list(running)
    concurrent.futures.wait(pending)
    errors = [error, *(e for f in pending if not f.cancelled()
                       if (e := f.exception()) is not None)]
    return next((e for e in errors if not isinstance(e, HaltedError)), error)


def _read(api: DirectoryApi, listing: _Listing) -> list[dict[str, Any]]:
    _chain.on = listing.project_id is None  # see ChainFirstLimiter
    try:
        return list(api.list_all(listing.path))
    except NotFoundError:
        if listing.project_id is None:
            raise
        return []  # the project went away during the pull: it has nothing any more
    finally:
        _chain.on = False


def _records(listing: _Listing, found: Iterable[dict[str, Any]]
             ) -> Iterator[tuple[tuple[str | None, str], Any]]:
    """The directory records of one listing's answers, keyed as the file keys them.

    A record without an id cannot be referenced: it is left out. A per-project listing's
    type without a ``project_id`` is an account-wide type usable in that project; a
    component without one belongs to the project it was listed under.
    """
    for raw in found:
        record_id = _text(raw.get("id"))
        if record_id is None:
            continue
        name = _text(raw.get("name"))
        if listing.kind == "users":
            if name is None:
                parts = (_text(raw.get("first_name")), _text(raw.get("last_name")))
                name = " ".join(p for p in parts if p) or None
            active = raw.get("active")
            yield (None, record_id), User(
                record_id, name, _text(raw.get("primary_email")), _text(raw.get("username")),
                active is not False and str(active).lower() != "false")
        elif listing.kind == "projects":
            yield (None, record_id), Project(record_id, name)
        elif listing.kind == "ticket_types":
            project_id = _text(raw.get("project_id"))
            yield (project_id, record_id), TicketType(record_id, name, project_id)
        else:
            project_id = _text(raw.get("project_id")) or listing.project_id
            assert project_id is not None
            yield (project_id, record_id), Component(record_id, name, project_id)


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    return value if isinstance(value, str) and value.strip() else None


def save_directory(path: Path, directory: Directory, previous: Directory | None) -> bool:
    """Write the directory file and its editor schema, atomically; False when the file
    already held the same content (then it is left as it is, ``pulled_at`` included: the
    same names make no diff to commit)."""
    if previous is None or not previous.same_content(directory):
        atomic_write_text(path, dump_directory(directory))
        changed = True
    else:
        directory, changed = previous, False
    schema_path = editor_schema_path(path)
    text = dump_editor_schema(directory)
    try:
        current = schema_path.read_text(encoding="utf-8")
    except (FileNotFoundError, UnicodeDecodeError):
        current = None
    if current != text:
        atomic_write_text(schema_path, text)
    return changed


@dataclass(frozen=True)
class Changes:
    """What a pull changed, per kind: records added, removed, changed."""

    counts: Mapping[str, tuple[int, int, int]]

    def __str__(self) -> str:
        parts = []
        for kind, (added, removed, changed) in self.counts.items():
            said = [f"{n} {what}" for n, what in ((added, "added"), (removed, "removed"),
                                                  (changed, "changed")) if n]
            if said:
                parts.append(f"{kind.replace('_', ' ')}: {', '.join(said)}")
        return "; ".join(parts)


def changes(before: Directory | None, after: Directory) -> Changes:
    """Records added, removed and changed from ``before`` (None: nothing) to ``after``."""
    counts = {}
    for kind in KINDS:
        old = _keyed(getattr(before, kind) if before is not None else ())
        new = _keyed(getattr(after, kind))
        counts[kind] = (len(new.keys() - old.keys()), len(old.keys() - new.keys()),
                        sum(1 for k in new.keys() & old.keys() if new[k] != old[k]))
    return Changes(counts)


def _keyed(records: Iterable[Any]) -> dict[tuple[str | None, str], Any]:
    return {(getattr(r, "project_id", None), r.id): r for r in records}


#: A pull shows at most this many moved names, then counts the rest.
MOVED_SHOWN = 20
#: The kinds of names, as messages call them, and how the resolver looks each up.
_LOOKUP = {"user": "user", "project": "project", "ticket type": "type",
           "component": "component"}


@dataclass(frozen=True)
class Moved:
    """A name the previous directory resolved to ``was`` and the new one to ``now``.

    The one change of a pull that nothing else catches: the name still resolves, so
    ``validate`` passes, and the next apply sends the other id (a ticket moves to another
    project, another person is assigned). ``scopes``: where a ticket type or component
    name was looked up (project ids; None: a ticket without a project); ``was_now``: what
    ``was`` is in the new directory; ``keep``: what a file can write instead to keep
    ``was`` (None: nothing can, it is gone).
    """

    kind: str  # user | project | ticket type | component
    name: str
    was: str
    now: str
    was_now: str
    keep: str | None
    scopes: tuple[str | None, ...] = (None,)

    def message(self, directory: Directory) -> str:
        """One line: the name, both ids, and what to do (``directory``: the new one)."""
        name = quoted(self.name)
        where = ""
        projects = [s for s in self.scopes if s is not None]
        if None not in self.scopes and projects:
            where = (" in project " + _project_words(directory, projects[0])
                     if len(projects) == 1 else f" in {len(projects)} projects")
        if self.kind == "project":
            effect = f"will move to {self.now}"
            keep = f"to keep them in {self.was}, write {quoted(self.keep)}; " if self.keep else ""
        else:
            effect = f"will get {self.now}"
            keep = f"to keep {self.was}, write {quoted(self.keep)}; " if self.keep else ""
        return (f"! {self.kind} {name}{where} now names {self.now} (was {self.was}, "
                f"{self.was_now}): tickets that declare {name} {effect} on the next apply; "
                f"{keep}check `ticketsync plan`")


def _project_words(directory: Directory, project_id: str) -> str:
    name = directory.name_of("projects", project_id)
    return f"{quoted(name)} ({project_id})" if name else project_id


def moved_names(before: Directory, after: Directory) -> list[Moved]:
    """The names (people's ids, emails, usernames and display names; projects', ticket
    types' and components' names) that resolved to one id in ``before`` and resolve to
    another in ``after``, by the rules ticket files are resolved by
    (:class:`~ticketsync.declare.names.Resolver`). A name that no longer resolves is left out:
    ``validate`` reports it.

    Cost: one lookup per name, and a name absent from ``after`` is not looked up there
    (a failed lookup computes a "did you mean"); types and components are compared in
    each project both directories hold.
    """
    old, new = Resolver(before), Resolver(after)
    present = _words(after)
    found: dict[tuple[str, str, str, str], list[str | None]] = {}

    def compare(kind: str, name: str, scope: str | None) -> None:
        if name.casefold() not in present[kind]:
            return
        was = old.lookup(_LOOKUP[kind], name, scope)[0]
        if was is None or was == name:  # an id names itself, whatever else it matches
            return
        now = new.lookup(_LOOKUP[kind], name, scope)[0]
        if now is not None and now != was:
            found.setdefault((kind, name, was, now), []).append(scope)

    for user in before.users:
        for word in dict.fromkeys(w for w in (user.email, user.username, user.name) if w):
            compare("user", word, None)
    for project in before.projects:
        if project.name:
            compare("project", project.name, None)
    kept = [p.id for p in before.projects if after.project(p.id) is not None]
    for kind, records in (("ticket type", before.ticket_types),
                          ("component", before.components)):
        for scope in (None, *kept):
            names = {r.name for r in records if r.name and r.project_id in (scope, None)}
            for name in sorted(names if scope is not None else
                               {r.name for r in records if r.name}):
                compare(kind, name, scope)
    return [Moved(kind, name, was, now, _now_of(after, kind, was),
                  _keep(new, after, kind, was, scopes[0]), tuple(scopes))
            for (kind, name, was, now), scopes in found.items()]


def _words(directory: Directory) -> dict[str, set[str]]:
    """Every word each kind of name may be written as in ``directory`` (case-folded:
    a superset of what resolves), and the ids."""
    users = {w.casefold() for u in directory.users for w in (u.id, u.email, u.username, u.name)
             if w}
    projects = {w.casefold() for p in directory.projects for w in (p.id, p.name) if w}
    types = {w.casefold() for t in directory.ticket_types for w in (t.id, t.name) if w}
    components = {w.casefold() for c in directory.components for w in (c.id, c.name) if w}
    return {"user": users, "project": projects, "ticket type": types, "component": components}


_KIND = {"user": "users", "project": "projects", "ticket type": "ticket_types",
         "component": "components"}


def _listed(directory: Directory, kind: str, record_id: str) -> bool:
    if kind == "user":
        return directory.user(record_id) is not None
    if kind == "project":
        return directory.project(record_id) is not None
    return any(r.id == record_id for r in getattr(directory, _KIND[kind]))


def _now_of(directory: Directory, kind: str, record_id: str) -> str:
    """What ``record_id`` is in ``directory``: ``now named "Core"``, deactivated, or gone."""
    if not _listed(directory, kind, record_id):
        return "no longer listed"
    user = directory.user(record_id) if kind == "user" else None
    if user is not None and not user.active:
        return "now deactivated"
    name = directory.name_of(_KIND[kind], record_id)
    return f"now named {quoted(name)}" if name is not None else "now without a name"


def _keep(resolver: Resolver, directory: Directory, kind: str, record_id: str,
          scope: str | None) -> str | None:
    """What a ticket file can write to keep ``record_id``: one of its names that resolves
    to it in ``directory``, else the id itself if it does; None if nothing does."""
    if not _listed(directory, kind, record_id):
        return None
    user = directory.user(record_id) if kind == "user" else None
    words = ([user.email, user.username, user.name] if user is not None
             else [directory.name_of(_KIND[kind], record_id)])
    for word in [*words, record_id]:
        if word and resolver.lookup(_LOOKUP[kind], word, scope)[0] == record_id:
            return word
    return None


def moved_lines(moved: Iterable[Moved], directory: Directory,
                shown: int = MOVED_SHOWN) -> list[str]:
    """One line per moved name (at most ``shown``, then one that counts the rest)."""
    order = list(_LOOKUP)
    ordered = sorted(moved, key=lambda m: (order.index(m.kind), m.name, m.was, m.now))
    lines = [m.message(directory) for m in ordered[:shown]]
    if len(ordered) > shown:
        lines.append(f"! and {len(ordered) - shown} more names that now name another id: "
                     "check `ticketsync plan`")
    return lines
