"""Match remote tickets against declared keys: the pure half of docs/design.md, "No duplicates".

StackOne has no idempotency key, so after a create whose outcome is unknown (or a run whose
journal was lost) the only way to know whether a ticket already exists is to look at the
remote tickets and recognise ours. Two ways, in order of trust:

* by marker: when ``marker: {custom_field: NAME}`` is configured, every create stamps the
  key into ``unified_custom_fields[NAME]``; a remote ticket carrying our key is ours;
* otherwise by title and project: the remote title equals the declared one, and the
  declared ``project_id`` is among the remote's ``projects`` (or neither has a project).
  The read shape differs from the create body (``projects`` list instead of
  ``project_id``): a ticket arrives parsed (:mod:`ticketsync.stackone.read`), its projects
  as every id they are known by, its fields in the create body's shape.

Either way, a candidate must be one this state's own runs may have made (docs/design.md, "No
duplicates"): created (not merely updated) inside the lookup's window, in the declared project, and
holding what the create would have sent (:func:`holds_body`). A ticket a person made by hand,
another project's, or one that merely shares a title is never adopted: it is reported as a
``stranger`` and adopting it on purpose is ``ticketsync state import``.

Remote tickets already tracked by the state (by ``id``) are never candidates: they belong
to another key. A remote ticket that matches two keys at once is ambiguous for both
(declaring two tickets with the same title in one project without a marker), because
adopting it for either could leave the other uncreated or create a duplicate.

Everything here is linear: the wanted keys are indexed by marker and by (title, project),
and each remote ticket is looked up in those dicts once. :class:`RemoteIndex` keeps what
a run has listed, so that a later lookup of the same run only lists what changed since the
last one. No I/O here: the applier lists the tickets.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from ticketsync.model import Body
from ticketsync.stackone.api import RemoteTicket
from ticketsync.stackone.tickets import CUSTOM, flat, is_empty, same


@dataclass(frozen=True)
class Wanted:
    """A key we are looking for remotely, with what identifies its ticket.

    ``since``: only tickets created after it can be this key's (the lookup's window: the
    state's ``written_at`` or the key's first send, minus the skew margin); None accepts
    any. ``body``: the create body it was (or would be) sent with; None when unknown (an
    intent of a key no longer declared: its title and project must do).
    """

    key: str
    title: str
    project_id: str | None = None
    since: datetime | None = None
    body: Body | None = None


def wanted_from_body(key: str, body: Body, since: datetime | None = None) -> Wanted:
    """What identifies the ticket that ``body`` creates (the create request's shape)."""
    project = body.get("project_id")
    return Wanted(key, str(body.get("title") or ""),
                  project if isinstance(project, str) else None, since, body)


#: Fields a provider may fill in by itself (the API user as creator, its organisation):
#: told apart only when the tracker holds another value, not when it holds none.
_PROVIDER_SET = ("creator_id", "organization_id")


def holds_body(remote: RemoteTicket, body: Body) -> bool:
    """Whether the read ticket ``remote`` holds every value of the create ``body`` (read
    and write shapes compared like with like; custom fields key by key). A reference not
    resolved when the body was made (``{ref:KEY}``, a ticket of a cycle) matches whatever
    text it has become since: the fill-in PATCH after the creates resolves it."""
    read = flat(remote.values)
    for name, value in flat(body).items():
        theirs = read.get(name)
        if same(name, value, theirs) or _same_but_references(value, theirs):
            continue
        if name in _PROVIDER_SET and is_empty(name, theirs):
            continue
        return False
    return True


#: A reference in a text (``{ref:KEY}``, ``{ref:KEY.url}``, ...), as the loader keeps it.
_REFERENCE = re.compile(r"\{ref:[^{}]+\}")


def _pattern(text: str) -> re.Pattern[str] | None:
    """``text`` with each reference a wildcard (None: it has none)."""
    if "{ref:" not in text:
        return None
    parts = _REFERENCE.split(text.rstrip())
    if len(parts) == 1:
        return None
    return re.compile(".+?".join(re.escape(part) for part in parts), re.S)


def _same_but_references(value: Any, theirs: Any) -> bool:
    """Whether a declared title or content holding references is ``theirs`` once they
    were resolved (a content: its parts' plain texts)."""
    if isinstance(value, str):
        pattern = _pattern(value)
        return pattern is not None and isinstance(theirs, str) and bool(
            pattern.fullmatch(theirs.rstrip()))
    if isinstance(value, list) and isinstance(theirs, list) and len(value) == len(theirs):
        pairs = list(zip(value, theirs, strict=True))
        if any(isinstance(d, Mapping) and "{ref:" in str(d.get("plain", "")) for d, _ in pairs):
            return all(isinstance(d, Mapping) and isinstance(r, Mapping) and (
                d.get("plain") == r.get("plain")
                or _same_but_references(d.get("plain"), r.get("plain"))) for d, r in pairs)
    return False


class Verdict(Enum):
    ADOPT = "adopt"
    NONE = "none"
    AMBIGUOUS = "ambiguous"


@dataclass(frozen=True)
class Match:
    """The verdict for one key: adopt ``remote``, nothing found, or several ``candidates``."""

    key: str
    verdict: Verdict
    remote: RemoteTicket | None = None
    candidates: tuple[str, ...] = field(default=())
    #: Tickets with the key's title and project (or marker) that this state did not make:
    #: created before the window, or holding other values. Never adopted.
    strangers: tuple[str, ...] = field(default=())

    @property
    def message(self) -> str:
        """One line for the user; for several candidates it names them and the fix."""
        if self.verdict is Verdict.ADOPT:
            return f"adopted {self.key} (id {self.candidates[0]}): it already existed remotely"
        if self.verdict is Verdict.NONE:
            return f"no remote ticket matches {self.key}"
        ids = ", ".join(self.candidates)
        return (
            f"several remote tickets match {self.key}: {ids}; keep the right one and run "
            f"`ticketsync state import {self.key} ID` (a marker field avoids this)"
        )


def marker_of(remote: RemoteTicket, marker_field: str) -> Any:
    """The marker value stamped on a remote ticket, or None."""
    return remote.values.get(CUSTOM, {}).get(marker_field)


def _title_keys(remote: RemoteTicket) -> list[tuple[str, str | None]]:
    if remote.title is None:
        return []
    title = remote.title.strip()
    return [(title, project) for project in remote.project_ids] or [(title, None)]


def match_remote(
    wanted: Sequence[Wanted],
    remote: Iterable[RemoteTicket],
    *,
    marker_field: str | None,
    exclude_ids: Collection[str] = (),
) -> dict[str, Match]:
    """The verdict for every wanted key against the ``remote`` tickets, in linear time.

    ``exclude_ids`` are remote ids already tracked (or adopted earlier in the run): they
    are someone else's ticket and never a candidate. A remote ticket created before a
    key's ``since``, in another project, or not holding its body cannot be that key's
    (a stranger). Each key gets exactly one verdict.
    """
    by_marker: dict[str, list[Wanted]] = {}
    by_title: dict[tuple[str, str | None], list[Wanted]] = {}
    #: Titles holding a reference not resolved yet: matched by pattern (few, if any).
    patterned: list[tuple[re.Pattern[str], Wanted]] = []
    for item in wanted:
        if marker_field:
            by_marker.setdefault(item.key, []).append(item)
        elif (pattern := _pattern(item.title)) is not None:
            patterned.append((pattern, item))
        else:
            by_title.setdefault((item.title.strip(), item.project_id), []).append(item)
    candidates: dict[str, dict[str, RemoteTicket]] = {item.key: {} for item in wanted}
    strangers: dict[str, set[str]] = {item.key: set() for item in wanted}
    claimed_by: dict[str, set[str]] = {}
    for ticket in remote:
        ticket_id = ticket.id
        if ticket_id in exclude_ids:
            continue
        if marker_field:
            value = marker_of(ticket, marker_field)
            hits = by_marker.get(value, []) if isinstance(value, str) else []
        else:
            keys = _title_keys(ticket)
            hits = [item for tk in keys for item in by_title.get(tk, ())]
            hits += [item for pattern, item in patterned for title, project in keys
                     if project == item.project_id and pattern.fullmatch(title)]
        if not hits:
            continue
        moment = ticket.created_at or ticket.updated_at
        for item in hits:
            if not made_by_us(item, ticket, moment):
                strangers[item.key].add(ticket_id)
                continue
            # A listing can repeat a ticket across pages when it changes mid-listing: by id.
            candidates[item.key][ticket_id] = ticket
            claimed_by.setdefault(ticket_id, set()).add(item.key)
    verdicts: dict[str, Match] = {}
    for item in wanted:
        found = candidates[item.key]
        ids = tuple(sorted(found))
        others = tuple(sorted(strangers[item.key] - found.keys()))
        shared = any(len(claimed_by[ticket_id]) > 1 for ticket_id in ids)
        if len(found) == 1 and not shared:
            verdicts[item.key] = Match(item.key, Verdict.ADOPT, found[ids[0]], ids, others)
        elif not found:
            verdicts[item.key] = Match(item.key, Verdict.NONE, strangers=others)
        else:
            verdicts[item.key] = Match(item.key, Verdict.AMBIGUOUS, None, ids, others)
    return verdicts


def made_by_us(item: Wanted, ticket: RemoteTicket, created: datetime | None) -> bool:
    """Whether ``ticket`` (whose title or marker matches ``item``) may be the ticket this
    state's create of ``item`` made: created inside the window, in the declared project,
    holding the body. A ticket without a readable creation time is judged by the rest."""
    if item.since is not None and created is not None and created <= item.since:
        return False
    if item.project_id is not None and item.project_id not in ticket.project_ids:
        return False
    return item.body is None or holds_body(ticket, item.body)


class RemoteIndex:
    """The remote tickets a run has listed, latest version of each, by id.

    ``covered_from``: the earliest ``updated_after`` listed (tickets updated before it were
    never listed). Not thread-safe: one writer at a time.
    """

    def __init__(self) -> None:
        self.tickets: dict[str, RemoteTicket] = {}
        self.covered_from: datetime | None = None

    def add(self, tickets: Iterable[RemoteTicket]) -> int:
        """Add (or update) listed tickets; return how many ids were new."""
        new = 0
        for ticket in tickets:
            new += ticket.id not in self.tickets
            self.tickets[ticket.id] = ticket
        return new

    def match(
        self,
        wanted: Sequence[Wanted],
        *,
        marker_field: str | None,
        exclude_ids: Collection[str] = (),
    ) -> dict[str, Match]:
        return match_remote(wanted, self.tickets.values(), marker_field=marker_field,
                            exclude_ids=exclude_ids)
