"""Match remote tickets against declared keys: the pure half of SPEC §4.1.

StackOne has no idempotency key, so after a create whose outcome is unknown (or a run whose
journal was lost) the only way to know whether a ticket already exists is to look at the
remote tickets and recognise ours. Two ways, in order of trust:

* by marker: when ``marker: {custom_field: NAME}`` is configured, every create stamps the
  key into ``unified_custom_fields[NAME]``; a remote ticket carrying our key is ours;
* otherwise by title and project: the remote title equals the declared one, and the
  declared ``project_id`` is among the remote's ``projects`` (or neither has a project).
  The read shape differs from the create body (``projects`` list instead of
  ``project_id``), so the comparison is written across the two shapes here, once.

Remote tickets already tracked by the state (by ``id``) are never candidates: they belong
to another key. A remote ticket that matches two keys at once is ambiguous for both
(declaring two tickets with the same title in one project without a marker), because
adopting it for either could leave the other uncreated or create a duplicate.

No I/O here: the applier fetches the remote tickets and acts on the verdicts.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from ticketsync.api import RemoteTicket
from ticketsync.model import Body


@dataclass(frozen=True)
class Wanted:
    """A key we are looking for remotely, with what identifies its ticket."""

    key: str
    title: str
    project_id: str | None = None


def wanted_from_body(key: str, body: Body) -> Wanted:
    """What identifies the ticket that ``body`` creates (the create request's shape)."""
    project = body.get("project_id")
    return Wanted(key, str(body.get("title") or ""), project if isinstance(project, str) else None)


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


def remote_project_ids(remote: RemoteTicket) -> set[str]:
    """Every id a remote ticket's projects are known by (unified ``id`` and ``remote_id``)."""
    ids: set[str] = set()
    projects = remote.get("projects")
    if isinstance(projects, list):
        for project in projects:
            if isinstance(project, Mapping):
                for name in ("id", "remote_id"):
                    value = project.get(name)
                    if isinstance(value, str) and value:
                        ids.add(value)
    # Some providers (and older payloads) still carry a flat project_id: accept it too.
    flat = remote.get("project_id")
    if isinstance(flat, str) and flat:
        ids.add(flat)
    return ids


def marker_of(remote: RemoteTicket, marker_field: str) -> Any:
    """The marker value stamped on a remote ticket, or None."""
    fields = remote.get("unified_custom_fields")
    return fields.get(marker_field) if isinstance(fields, Mapping) else None


def matches(wanted: Wanted, remote: RemoteTicket, marker_field: str | None) -> bool:
    """Whether ``remote`` is the ticket of ``wanted`` (marker, else title and project)."""
    if marker_field:
        return bool(marker_of(remote, marker_field) == wanted.key)
    title = remote.get("title")
    if not isinstance(title, str) or title.strip() != wanted.title.strip():
        return False
    projects = remote_project_ids(remote)
    if wanted.project_id is None:
        return not projects
    return wanted.project_id in projects


def match_remote(
    wanted: Sequence[Wanted],
    remote: Iterable[RemoteTicket],
    *,
    marker_field: str | None,
    exclude_ids: Collection[str] = (),
) -> dict[str, Match]:
    """The verdict for every wanted key against the ``remote`` tickets.

    ``exclude_ids`` are remote ids already tracked (or adopted earlier in the run): they
    are someone else's ticket and never a candidate. Each key gets exactly one verdict.
    """
    candidates: dict[str, list[RemoteTicket]] = {item.key: [] for item in wanted}
    claimed_by: dict[str, set[str]] = {}
    seen: set[str] = set()
    for ticket in remote:
        ticket_id = ticket.get("id")
        # A listing can repeat a ticket across pages when it changes mid-listing.
        if not isinstance(ticket_id, str) or ticket_id in exclude_ids or ticket_id in seen:
            continue
        seen.add(ticket_id)
        for item in wanted:
            if matches(item, ticket, marker_field):
                candidates[item.key].append(ticket)
                claimed_by.setdefault(ticket_id, set()).add(item.key)
    verdicts: dict[str, Match] = {}
    for item in wanted:
        found = candidates[item.key]
        ids = tuple(sorted(str(ticket["id"]) for ticket in found))
        shared = any(len(claimed_by[ticket_id]) > 1 for ticket_id in ids)
        if len(found) == 1 and not shared:
            verdicts[item.key] = Match(item.key, Verdict.ADOPT, found[0], ids)
        elif not found:
            verdicts[item.key] = Match(item.key, Verdict.NONE)
        else:
            verdicts[item.key] = Match(item.key, Verdict.AMBIGUOUS, None, ids)
    return verdicts
