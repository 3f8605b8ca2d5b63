"""The sandbox's account directory: its users, projects, ticket types and components.

The sandbox serves them on StackOne's list endpoints (``GET /unified/ticketing/users``,
``/projects``, ``/ticket_types``, ``/projects/{id}/components``, ``/projects/{id}/ticket_types``)
in StackOne's answer shapes, and checks the ids of create and update bodies against them,
as a provider would (422 with a message).

The default seed is realistic and fixed: 320 users (``user-000`` ... ``user-319``; a few
deactivated, all of them from ``user-100`` on; ``user-005`` and ``user-006`` share the
display name "Sam Lee"), 8 projects (``project-000`` ... ``project-007``: Operations,
Platform, Onboarding, Mobile, Data, Security, Support, Design), 4 account-wide ticket types
(``ticket-type-001`` Task, Bug, Story, Epic) and a few of projects' own (Platform's and
Support's "Incident" among them), and 15 components (``component-000`` ... ``component-014``;
Platform and Mobile each have an "API"). ``--seed FILE`` replaces it with a directory file's
records (a pulled ``ticketsync.directory.json`` works as it is). The directory is the
sandbox's configuration, like its faults: it is not stored in the database; a test renames
a record with :meth:`SandboxDirectory.rename` between two pulls.

Which ids are checked (``--check-ids``):

* ``seeded`` (the default): an id *shaped* like the directory's ids of its kind (the same
  text with any digits: ``user-042`` for ``user-001``) must exist, and a user must be
  active. Other ids pass: tests and scripts send made-up ids (``user-9``, ``p-1``) that no
  provider would know, and the sandbox has always stored them.
* ``all``: every id must exist, and a component or a project's own ticket type must belong
  to the ticket's project.
* ``off``: nothing is checked.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

ID_CHECKS = ("seeded", "all", "off")
KINDS = ("users", "projects", "ticket_types", "components")
_DIGITS = re.compile(r"[0-9]")

Record = dict[str, Any]


class CursorError(ValueError):
    """A ``next`` cursor the sandbox did not hand out."""


def _shape(value: str) -> str:
    return _DIGITS.sub("0", value)


@dataclass(frozen=True)
class Page:
    records: list[Record]
    next: str | None = None


@dataclass
class SandboxDirectory:
    """Records in the directory file's shapes: users ``{id, name, email, username,
    active}``, projects ``{id, name}``, ticket types and components ``{id, name,
    project_id}`` (a type's ``project_id`` None: account-wide)."""

    users: list[Record] = field(default_factory=list)
    projects: list[Record] = field(default_factory=list)
    ticket_types: list[Record] = field(default_factory=list)
    components: list[Record] = field(default_factory=list)
    check_ids: str = "seeded"

    def __post_init__(self) -> None:
        if self.check_ids not in ID_CHECKS:
            raise ValueError(f"check_ids must be one of {', '.join(ID_CHECKS)}")
        self._users = {u["id"]: u for u in self.users}
        self._projects = {p["id"]: p for p in self.projects}
        self._types: dict[str, set[str | None]] = {}
        for t in self.ticket_types:
            self._types.setdefault(t["id"], set()).add(t.get("project_id"))
        self._components: dict[str, set[str]] = {}
        for c in self.components:
            self._components.setdefault(c["id"], set()).add(c["project_id"])
        self._shapes = {
            "users": {_shape(i) for i in self._users},
            "projects": {_shape(i) for i in self._projects},
            "ticket_types": {_shape(i) for i in self._types},
            "components": {_shape(i) for i in self._components},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, check_ids: str = "seeded") -> SandboxDirectory:
        """From a directory file's document (already checked against its schema)."""
        users, projects, types, components = (
            [dict(r) for r in data.get(kind) or []] for kind in KINDS)
        return cls(users, projects, types, components, check_ids=check_ids)

    def rename(self, kind: str, record_id: str, name: str) -> None:
        """Rename a record of ``kind`` (one of :data:`KINDS`), as an admin would in the
        tracker: the next pull sees the new name (ids, and what they are checked against,
        do not change). ``KeyError``: no such record."""
        records = [r for r in getattr(self, kind) if r["id"] == record_id] \
            if kind in KINDS else []
        if not records:
            raise KeyError(f"{kind}: no record {record_id!r}")
        for record in records:  # a type's or component's id may be listed per project
            record["name"] = name

    # -- the list endpoints ----------------------------------------------------------------

    def list_users(self) -> list[Record]:
        return [_user_answer(u) for u in self.users]

    def list_projects(self) -> list[Record]:
        return [{"id": p["id"], "remote_id": p["id"], "name": p["name"], "description": None,
                 "organization_id": None} for p in self.projects]

    def list_ticket_types(self, project_id: str | None = None) -> list[Record] | None:
        """Every type (``project_id`` None), or those usable in a project: its own and the
        account-wide ones. None: no such project."""
        if project_id is not None and project_id not in self._projects:
            return None
        return [{"id": t["id"], "name": t["name"], "project_id": t.get("project_id")}
                for t in self.ticket_types
                if project_id is None or t.get("project_id") in (None, project_id)]

    def list_components(self, project_id: str) -> list[Record] | None:
        """A project's components; None: no such project."""
        if project_id not in self._projects:
            return None
        return [{"id": c["id"], "remote_id": c["id"], "name": c["name"],
                 "project_id": c["project_id"], "organization_id": None, "description": None}
                for c in self.components if c["project_id"] == project_id]

    # -- the ids of a create or update body ------------------------------------------------

    def problems(self, body: Mapping[str, Any]) -> list[str]:
        """How the ids of a (well-typed) body break this account: one message each."""
        if self.check_ids == "off":
            return []
        found: list[str] = []
        for name, value in _users_of(body):
            found += self._user(name, value)
        project = body.get("project_id")
        if isinstance(project, str) and self._checks("projects", project) and (
            project not in self._projects
        ):
            found.append(f"project_id: {project!r} is not a project of this account")
        own = project if self.check_ids == "all" and isinstance(project, str) else None
        ticket_type = body.get("type")
        if isinstance(ticket_type, str) and self._checks("ticket_types", ticket_type):
            where = self._types.get(ticket_type)
            if where is None:
                found.append(f"type: {ticket_type!r} is not a ticket type of this account")
            elif own is not None and None not in where and own not in where:
                found.append(f"type: {ticket_type!r} is not a ticket type of project {own}")
        components = body.get("component_ids")
        for at, component in enumerate([components] if isinstance(components, str)
                                       else components or []):
            if not isinstance(component, str) or not self._checks("components", component):
                continue
            where_c = self._components.get(component)
            if where_c is None:
                found.append(f"component_ids[{at}]: {component!r} is not a component of this "
                             "account")
            elif own is not None and own not in where_c:
                found.append(f"component_ids[{at}]: {component!r} is not a component of "
                             f"project {own}")
        return found

    def _checks(self, kind: str, value: str) -> bool:
        return self.check_ids == "all" or _shape(value) in self._shapes[kind]

    def _user(self, name: str, value: Any) -> list[str]:
        if not isinstance(value, str) or not self._checks("users", value):
            return []
        user = self._users.get(value)
        if user is None:
            return [f"{name}: {value!r} is not a user of this account"]
        if not user.get("active", True):
            return [f"{name}: {value!r} is a deactivated user"]
        return []


def _users_of(body: Mapping[str, Any]) -> Iterable[tuple[str, Any]]:
    if "creator_id" in body:
        yield "creator_id", body["creator_id"]
    for name in ("assignees", "reporters"):
        values = body.get(name)
        if isinstance(values, list):
            for at, value in enumerate(values):
                yield f"{name}[{at}]", value


def _user_answer(user: Record) -> Record:
    """A user as StackOne lists it (``TicketingUser``)."""
    name = user.get("name")
    first, _, last = (name or "").partition(" ")
    return {
        "id": user["id"], "remote_id": user["id"], "name": name,
        "primary_email": user.get("email"), "username": user.get("username"),
        "active": bool(user.get("active", True)),
        "first_name": first or None, "last_name": last or None,
        "type": {"value": "agent", "source_value": "agent"},
    }


# -- paging -------------------------------------------------------------------------------


def page(records: Sequence[Record], *, limit: int, cursor: str | None,
         cap: int | None = None) -> Page:
    """One page of ``records`` after ``cursor``: at most ``limit`` (and ``cap``: short
    pages on purpose, with a ``next`` whenever the page was cut, even at the end, as the
    tickets listing does)."""
    start = _decode(cursor) if cursor else 0
    size = min(limit, cap) if cap is not None else limit
    chunk = list(records[start:start + size])
    end = start + len(chunk)
    cut = cap is not None and cap < limit and len(chunk) == size
    more = end < len(records) or cut
    return Page(chunk, _encode(end) if more else None)


def _encode(offset: int) -> str:
    return base64.urlsafe_b64encode(f"dir:{offset}".encode()).decode().rstrip("=")


def _decode(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        tag, _, offset = text.partition(":")
        if tag != "dir" or not offset.isdigit():
            raise ValueError(cursor)
        return int(offset)
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        raise CursorError(f"invalid cursor {cursor!r}") from None


# -- the default seed -----------------------------------------------------------------------

_FIRST = ("Alex", "Blake", "Casey", "Devon", "Elliot", "Finley", "Gray", "Harper", "Indy",
          "Jordan", "Kai", "Logan", "Morgan", "Noel", "Oakley", "Parker", "Quinn", "Reese",
          "Sage", "Taylor")
_LAST = ("Abbott", "Brooks", "Chavez", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad",
         "Ito", "Jensen", "Kowalski", "Larsen", "Moreau", "Nakamura", "Okafor", "Petrov",
         "Quintero", "Rossi", "Silva", "Tanaka")
_PEOPLE = (
    ("Sandbox Bot", "bot@example.com", "sandbox-bot"),
    ("Alice Martin", "alice@example.com", "alice"),
    ("Bob Chen", "bob@example.com", "bob"),
    ("Carol Diaz", "carol@example.com", "carol"),
    ("Dan Evans", "dan@example.com", "dan"),
    ("Sam Lee", "sam.lee@example.com", "samlee"),  # two people, one display name
    ("Sam Lee", "sam.lee2@example.com", "slee"),
)
_PROJECTS = ("Operations", "Platform", "Onboarding", "Mobile", "Data", "Security", "Support",
             "Design")
_TYPES = (  # (id, name, project)
    ("ticket-type-001", "Task", None), ("ticket-type-002", "Bug", None),
    ("ticket-type-003", "Story", None), ("ticket-type-004", "Epic", None),
    ("ticket-type-101", "Incident", "project-001"),
    ("ticket-type-102", "Postmortem", "project-001"),
    ("ticket-type-103", "Crash", "project-003"),
    ("ticket-type-105", "Vulnerability", "project-005"),
    ("ticket-type-106", "Incident", "project-006"),
    ("ticket-type-107", "Question", "project-006"),
    ("ticket-type-108", "Hire", "project-002"),
)
_COMPONENTS = (  # (name, project number), numbered in order from component-000
    ("Runbooks", 0), ("API", 1), ("Database", 1), ("Frontend", 1), ("Accounts", 2),
    ("Hardware", 2), ("iOS", 3), ("Android", 3), ("API", 3), ("Pipelines", 4),
    ("Warehouse", 4), ("Access", 5), ("Billing", 6), ("Escalations", 6),
    ("Design System", 7),
)
USERS = 320


@cache
def _default_records() -> tuple[tuple[Record, ...], ...]:
    users: list[Record] = []
    for n in range(USERS):
        if n < len(_PEOPLE):
            name, email, username = _PEOPLE[n]
        else:
            first, last = _FIRST[n % 20], _LAST[(n // 20) % 20]
            name = f"{first} {last}"
            email = f"{first}.{last}@example.com".lower()
            username = f"{first[0]}{last}".lower()
        # Deactivated: a few, never below user-100 (benchmarks assign user-000..099).
        users.append({"id": f"user-{n:03d}", "name": name, "email": email,
                      "username": username, "active": not (n >= 100 and n % 16 == 0)})
    projects = [{"id": f"project-{n:03d}", "name": name} for n, name in enumerate(_PROJECTS)]
    types = [{"id": i, "name": name, "project_id": p} for i, name, p in _TYPES]
    components = [{"id": f"component-{n:03d}", "name": name, "project_id": f"project-{p:03d}"}
                  for n, (name, p) in enumerate(_COMPONENTS)]
    return tuple(users), tuple(projects), tuple(types), tuple(components)


def default_directory(*, check_ids: str = "seeded") -> SandboxDirectory:
    """The default seed (a fresh copy: a server may not change another's)."""
    users, projects, types, components = ([dict(r) for r in records]
                                          for records in _default_records())
    return SandboxDirectory(users, projects, types, components, check_ids=check_ids)
