"""The directory file: the account's users, projects, ticket types and components (the README's
"Names: the directory").

``ticketsync directory pull`` writes it; every command that loads ticket files reads it, so
that names resolve offline (:mod:`ticketsync.declare.names`). It is committed beside the state like
a lockfile, so it is held to the state's rules:

* reading refuses anything it does not fully understand (not JSON, not the schema, a
  newer ``version``, another account, an id listed twice) with a message naming the file,
  and never repairs it;
* its bytes are a function of its content: arrays sorted by id, sorted keys, 2-space
  indent, a trailing newline. A pull that brings nothing new writes nothing (the same
  names must not make a diff), so ``pulled_at`` is when the content last changed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any, NamedTuple

from ticketsync.declare import documents
from ticketsync.declare.paths import display_path
from ticketsync.errors import DirectoryError

#: The directory format this ticketsync reads, and writes for a file with ``statuses``
#: (a file without them is written as version 1, byte for byte as before, so that older
#: ticketsyncs keep reading it; a file with them tells those to upgrade).
DIRECTORY_VERSION = 2
#: The status types a declared ``status`` may name instead of a status (the README's "Keeping
#: tickets in step").
STATUS_TYPES = ("to-do", "in-progress", "closed")
#: Where a record of each kind lives in the file, in the order ``show`` lists them.
KINDS = ("users", "projects", "ticket_types", "components")

__all__ = [
    "DIRECTORY_VERSION",
    "Component",
    "Directory",
    "DirectoryError",
    "Project",
    "Status",
    "TicketType",
    "User",
    "Workflow",
    "dump_directory",
    "load_directory",
    "parse_directory",
    "parse_seed",
    "quoted",
    "read_directory",
]


class User(NamedTuple):
    """A user: matched by ``id``, ``email`` or ``username`` (case-insensitive) or display
    ``name`` (exact). A deactivated one (``active`` False) cannot be named.

    The records are named tuples: a directory of 5,000 users is built at every run, and a
    tuple is made several times faster than a frozen dataclass."""

    id: str
    name: str | None = None
    email: str | None = None
    username: str | None = None
    active: bool = True

    def to_json(self) -> dict[str, Any]:
        return self._asdict()

    def describe(self) -> str:
        """``user-001 (Alice Martin, alice@example.com)``: how messages name a user."""
        said = ", ".join(v for v in (self.name, self.email or self.username) if v)
        return f"{self.id} ({said})" if said else self.id


class Project(NamedTuple):
    id: str
    name: str | None = None

    def to_json(self) -> dict[str, Any]:
        return self._asdict()

    def describe(self) -> str:
        """``Platform (project-001)``: how messages name a project."""
        return f"{self.name} ({self.id})" if self.name else self.id


class TicketType(NamedTuple):
    """A ticket type of one project, or of the whole account (``project_id`` None)."""

    id: str
    name: str | None = None
    project_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return self._asdict()


class Component(NamedTuple):
    """A component of one project."""

    id: str
    name: str | None
    project_id: str

    def to_json(self) -> dict[str, Any]:
        return self._asdict()


class Status(NamedTuple):
    """A status a ticket can take: its ``type`` is StackOne's (to-do, in-progress,
    closed; None when the tracker maps it to none)."""

    id: str
    name: str | None = None
    type: str | None = None

    def to_json(self) -> dict[str, Any]:
        return self._asdict()


class Workflow(NamedTuple):
    """The statuses a ticket of one project and ticket type can take (``type`` None: a
    ticket without a type), in the tracker's order.

    StackOne lists statuses per ticket only (``GET /tickets/{id}/statuses``): a pull
    learns a workflow from a ticket of that project and type, so a scope without a
    ticket yet is not known, and apply checks it before its creates instead.
    """

    project_id: str
    type: str | None
    statuses: tuple[Status, ...]

    def to_json(self) -> dict[str, Any]:
        return {"project_id": self.project_id, "type": self.type,
                "statuses": [status.to_json() for status in self.statuses]}

    def find(self, declared: str) -> Status | None:
        """The status ``declared`` names: by type (the first of it, in the tracker's
        order) or by name (exactly, ignoring case), as apply matches it."""
        for status in self.statuses:
            if (declared in STATUS_TYPES and status.type == declared) or (
                    status.name is not None and status.name.casefold() == declared.casefold()):
                return status
        return None


def _by_scope(workflow: Workflow) -> tuple[str, str]:
    return (workflow.project_id, workflow.type or "")


def _by_id(record: User | Project) -> str:
    return record.id


def _by_project(record: TicketType | Component) -> tuple[str, str]:
    return (record.project_id or "", record.id)  # account-wide types first


@dataclass(frozen=True)
class Directory:
    """A directory's content; made with :meth:`of`, which sorts it (deterministic bytes)."""

    account_id: str
    pulled_at: str
    users: tuple[User, ...] = ()
    projects: tuple[Project, ...] = ()
    ticket_types: tuple[TicketType, ...] = ()
    components: tuple[Component, ...] = ()
    statuses: tuple[Workflow, ...] = ()

    @property
    def version(self) -> int:
        """The format of the file: 2 only for a file that needs it (one with statuses)."""
        return DIRECTORY_VERSION if self.statuses else 1

    @classmethod
    def of(
        cls,
        account_id: str,
        pulled_at: str,
        *,
        users: Iterable[User] = (),
        projects: Iterable[Project] = (),
        ticket_types: Iterable[TicketType] = (),
        components: Iterable[Component] = (),
        statuses: Iterable[Workflow] = (),
    ) -> Directory:
        """A directory with every array sorted (users and projects by id, types and
        components by project, then id, workflows by project, then type; statuses keep
        the tracker's order)."""
        return cls(
            account_id=account_id,
            pulled_at=pulled_at,
            users=tuple(sorted(users, key=_by_id)),
            projects=tuple(sorted(projects, key=_by_id)),
            ticket_types=tuple(sorted(ticket_types, key=_by_project)),
            components=tuple(sorted(components, key=_by_project)),
            statuses=tuple(sorted(statuses, key=_by_scope)),
        )

    @cached_property
    def _workflows(self) -> dict[tuple[str, str | None], Workflow]:
        return {(w.project_id, w.type): w for w in self.statuses}

    def workflow(self, project_id: str, ticket_type: str | None) -> Workflow | None:
        """The statuses a ticket of this project and type can take, if a pull learned
        them (None: not known; apply then checks before it creates)."""
        return self._workflows.get((project_id, ticket_type))

    @cached_property
    def _projects(self) -> dict[str, Project]:
        return {p.id: p for p in self.projects}

    def project(self, project_id: str | None) -> Project | None:
        """The project with this id, if the directory holds it."""
        return self._projects.get(project_id) if project_id is not None else None

    @cached_property
    def _users(self) -> dict[str, User]:
        return {u.id: u for u in self.users}

    def user(self, user_id: str | None) -> User | None:
        """The user with this id, if the directory holds them."""
        return self._users.get(user_id) if user_id is not None else None

    @cached_property
    def _scoped_names(self) -> dict[tuple[str, str], str | None]:
        # A type or component id is unique in practice; were one listed in two projects,
        # the first project's name is as good a label as any.
        found: dict[tuple[str, str], str | None] = {}
        for kind, records in (("ticket_types", self.ticket_types),
                              ("components", self.components)):
            for record in records:
                found.setdefault((kind, record.id), record.name)
        return found

    def name_of(self, kind: str, record_id: str) -> str | None:
        """How people know the record ``record_id`` of ``kind`` (one of :data:`KINDS`): its
        name (a user without one: their email, else username); None when the directory
        does not hold it or it has no name."""
        if kind == "users":
            user = self.user(record_id)
            return (user.name or user.email or user.username) if user is not None else None
        if kind == "projects":
            project = self.project(record_id)
            return project.name if project is not None else None
        return self._scoped_names.get((kind, record_id))

    def describe_project(self, project_id: str) -> str:
        """``Platform (project-001)``, or the bare id of a project the directory lacks."""
        project = self.project(project_id)
        return project.describe() if project is not None else project_id

    def same_content(self, other: Directory) -> bool:
        """Whether ``other`` holds the same account and records (``pulled_at`` aside)."""
        return replace(other, pulled_at=self.pulled_at) == self

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "account_id": self.account_id,
            "pulled_at": self.pulled_at,
            "users": [u.to_json() for u in self.users],
            "projects": [p.to_json() for p in self.projects],
            "ticket_types": [t.to_json() for t in self.ticket_types],
            "components": [c.to_json() for c in self.components],
            **({"statuses": [w.to_json() for w in self.statuses]} if self.statuses else {}),
        }


def quoted(text: str) -> str:
    """``text`` in double quotes, as messages and plans show a name.

    Names come from the tracker, so nothing in one may end the line or the quotes, or
    drive a terminal: quotes and backslashes are escaped, and every character that is not
    printable (newlines, escape sequences, line separators) is written as its escape.
    """
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char.isprintable():
            out.append(char)
        else:
            out.append(char.encode("unicode_escape").decode("ascii"))
    return '"' + "".join(out) + '"'


def dump_directory(directory: Directory) -> str:
    """The file text: sorted keys, 2-space indent, unicode as is, a trailing newline."""
    return json.dumps(directory.to_json(), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


_RESTORE = "it was left as it is: restore it from git, or delete it and run " \
    "`ticketsync directory pull`"


def read_directory(path: Path, *, account_id: str | None = None) -> Directory:
    """Read and check the directory file at ``path``.

    ``account_id``: the account this run works in; a directory of another one is refused
    (None: any). Raises :class:`DirectoryError` naming the file for an unreadable,
    corrupt, schema-invalid or newer file (``FileNotFoundError`` when there is none).
    """
    return load_directory(path, account_id=account_id)[0]


def load_directory(path: Path, *, account_id: str | None = None) -> tuple[Directory, bytes]:
    """:func:`read_directory`, and the file's bytes (a saved plan's inputs digest covers
    them: a name may resolve to another id after a pull)."""
    shown = display_path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise DirectoryError(
            f"{shown}: cannot read the directory file: {exc.strerror}; check the "
            "`directory` setting of ticketsync.yaml"
        ) from None
    data = documents.decode(raw, _format(shown))
    directory = parse_directory(data, shown)
    if account_id is not None and directory.account_id != account_id:
        raise DirectoryError(
            f"directory file {shown} belongs to account {directory.account_id}, not "
            f"{account_id}: check STACKONE_ACCOUNT_ID and account_id in ticketsync.yaml; it "
            "was left as it is (if the project moved to another account, delete it and run "
            "`ticketsync directory pull`)"
        )
    return directory, raw


def parse_directory(data: Any, shown: str) -> Directory:
    """The directory of a parsed document; :class:`DirectoryError` naming ``shown`` if it is
    not one this ticketsync fully understands."""
    kind = _format(shown)
    documents.check(data, kind)
    directory = Directory.of(
        data["account_id"],
        data["pulled_at"],
        users=[User(**u) for u in data["users"]],
        projects=[Project(**p) for p in data["projects"]],
        ticket_types=[TicketType(**t) for t in data["ticket_types"]],
        components=[Component(**c) for c in data["components"]],
        statuses=[Workflow(w["project_id"], w["type"],
                           tuple(Status(**s) for s in w["statuses"]))
                  for w in data.get("statuses", ())],
    )
    twice = _listed_twice(directory)
    if twice:
        raise DirectoryError(kind.corrupt(twice))
    return directory


def _format(shown: str) -> documents.Format:
    """The directory file as a document, its problems worded for the file shown as
    ``shown``: never repaired; restored from git, or pulled again."""
    return documents.Format(
        schema="directory",
        version=DIRECTORY_VERSION,
        error=DirectoryError,
        corrupt=lambda what: f"{shown}: the directory file is corrupt ({what}); {_RESTORE}",
        newer=lambda version: (f"{shown}: written by a newer ticketsync (directory version "
                               f"{version}, this one reads {DIRECTORY_VERSION}): upgrade "
                               "ticketsync; the file was left as it is"),
        well_formed=_well_formed,
    )


_TOP = frozenset(("version", "account_id", "pulled_at", *KINDS))
_FIELDS = {
    "users": frozenset(("id", "name", "email", "username", "active")),
    "projects": frozenset(("id", "name")),
    "ticket_types": frozenset(("id", "name", "project_id")),
    "components": frozenset(("id", "name", "project_id")),
}
_PULLED_AT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")


def _well_formed(data: Any) -> bool:
    """Whether ``data`` certainly satisfies the directory schema: the common case, checked
    at a fraction of the compiled validator's cost (5,000 users: 24 ms there).

    Never looser than the schema, possibly stricter: False only sends the document to the
    schema, which then decides (and words what is wrong).
    """
    if type(data) is not dict or data.keys() - {"statuses"} != _TOP or (
            "statuses" in data and not _statuses_ok(data["statuses"])):
        return False
    version, account, pulled = data["version"], data["account_id"], data["pulled_at"]
    if type(version) is not int or version < 1 or type(account) is not str or not account:
        return False
    if type(pulled) is not str or not _PULLED_AT.fullmatch(pulled):
        return False
    for kind in KINDS:
        records, fields = data[kind], _FIELDS[kind]
        if type(records) is not list:
            return False
        for record in records:
            if type(record) is not dict or record.keys() != fields:
                return False
            ident, name = record["id"], record["name"]
            if type(ident) is not str or not ident or (name is not None and type(name) is not str):
                return False
        if not all(_record_ok(kind, r) for r in records):
            return False
    return True


def _statuses_ok(workflows: Any) -> bool:
    """Whether the ``statuses`` array certainly satisfies the schema."""
    if type(workflows) is not list:
        return False
    for workflow in workflows:
        if type(workflow) is not dict or workflow.keys() != {"project_id", "type", "statuses"}:
            return False
        project, kind, statuses = workflow["project_id"], workflow["type"], workflow["statuses"]
        if type(project) is not str or not project or type(statuses) is not list or not (
                kind is None or (type(kind) is str and kind)):
            return False
        for status in statuses:
            if type(status) is not dict or status.keys() != {"id", "name", "type"}:
                return False
            if type(status["id"]) is not str or not status["id"] or any(
                    status[f] is not None and type(status[f]) is not str
                    for f in ("name", "type")):
                return False
    return True


def _record_ok(kind: str, record: dict[str, Any]) -> bool:
    """The fields besides ``id`` and ``name`` of a record of ``kind``."""
    if kind == "users":
        email, username = record["email"], record["username"]
        return (type(record["active"]) is bool
                and (email is None or type(email) is str)
                and (username is None or type(username) is str))
    if kind == "projects":
        return True
    project = record["project_id"]
    if project is None:
        return kind == "ticket_types"
    return type(project) is str and project != ""


def _listed_twice(directory: Directory) -> str:
    """What the file lists twice (a user id, a project id, a type or component of one
    project), or ``""``: with two records for one id, which one a name means is a guess."""
    keyed: Mapping[str, list[Any]] = {
        "users": [u.id for u in directory.users],
        "projects": [p.id for p in directory.projects],
        "ticket_types": [(t.project_id, t.id) for t in directory.ticket_types],
        "components": [(c.project_id, c.id) for c in directory.components],
        "statuses": [(w.project_id, w.type or "") for w in directory.statuses],
    }
    for kind, keys in keyed.items():
        if len(set(keys)) == len(keys):  # the common case, at C speed
            continue
        seen: set[Any] = set()
        for key in keys:
            if key in seen:
                if kind == "statuses":
                    return f"statuses: project {key[0]!r}, type {key[1] or None!r} is listed twice"
                shown = key[1] if isinstance(key, tuple) else key
                return f"{kind}: {shown!r} is listed twice"
            seen.add(key)
    return ""


def parse_seed(data: Any, shown: str) -> Directory:
    """A directory given as a sandbox's seed (``ticketsync sandbox --seed FILE``): the
    directory file's format, where ``version``, ``account_id`` and ``pulled_at`` may be
    left out (a pulled directory file is a seed as it is)."""
    if isinstance(data, dict):
        data = {"version": DIRECTORY_VERSION, "account_id": "sandbox",
                "pulled_at": "1970-01-01T00:00:00Z", **data}
        data.setdefault("users", [])
        data.setdefault("projects", [])
        data.setdefault("ticket_types", [])
        data.setdefault("components", [])
    return parse_directory(data, shown)
