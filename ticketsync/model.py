"""The values that flow between the steps: loaded tickets, the state, and a plan's changes.

Everything here is a small frozen value with no behaviour beyond formatting, so that every
module may import it (it imports nothing of ticketsync) and the import graph stays one-way
(``tests/test_imports.py`` holds every module to its layer).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypedDict

#: A StackOne create/update request body (JSON object), as sent.
Body = Mapping[str, Any]

#: A ticket key (the README's "Ticket files"). Always used with ``fullmatch`` (through
#: :func:`is_valid_key`): with ``match`` and ``$``, a key ending in a newline would pass.
KEY_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
#: What a key may hold, as messages say it.
KEY_RULE = "letters, digits, '.', '_' or '-', starting with a letter or digit, at most 128"


def is_valid_key(key: object) -> bool:
    """Whether ``key`` is a valid ticket key: the one key check of every command."""
    return isinstance(key, str) and KEY_PATTERN.fullmatch(key) is not None


@dataclass(frozen=True, order=True)
class Location:
    """A place in an input file; ``line`` and ``col`` are 1-based, as editors show them."""

    file: str
    line: int = 1
    col: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the input; sorts by file, line, column, then text.

    ``path`` is the dotted path of the field inside the document (``tickets.k.priority``),
    or ``""`` when the problem is with the file itself (unreadable, not YAML, ...).
    """

    location: Location
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{self.location}: error: {where}{self.message}"


@dataclass(frozen=True)
class Ticket:
    """One declared ticket, normalised into the StackOne create body.

    ``body`` holds API field names only (shorthands expanded, defaults merged, the marker
    stamped when one is configured). A ``parent`` given as a key stays in ``parent`` and
    is *not* in ``body``: its ``parent_id`` is only known once the parent exists.
    """

    key: str
    body: Body
    location: Location
    parent: str | None = None
    #: The declared ``status:`` (a status name or a type); not part of a create body.
    status: str | None = None
    #: ``TEMPLATE.ITEM`` for a ticket a template made (plans group them by it).
    origin: str | None = None

    @property
    def title(self) -> str:
        return str(self.body.get("title", ""))


@dataclass(frozen=True)
class Project:
    """Every ticket of a project, keyed and sorted by key, with the files they came from.

    ``digest`` is a sha256 over the input files' names and bytes: a saved plan records it
    so that ``apply --plan`` can refuse a plan whose inputs have moved on.
    """

    tickets: Mapping[str, Ticket]
    files: tuple[str, ...] = ()
    digest: str = ""
    #: Recurring templates (the README's "Recurring tickets"), by name:
    #: ``declare.schedule.Recurrence`` values, which the planner weighs against the state (an
    #: instance's period may be past).
    recurring: Mapping[str, Any] = field(default_factory=dict)
    #: ``moved:`` and ``imports:`` blocks (the README's "Moves and imports, declared"), in file
    #: order, checked offline.
    moves: tuple[Move, ...] = ()
    imports: tuple[Import, ...] = ()


@dataclass(frozen=True)
class Move:
    """``moved: {from: source, to: target}``: the state entry of ``source`` is renamed
    ``target``; nothing is sent. Applied once; left in a file afterwards, a no-op."""

    source: str
    target: str
    location: Location | None = None


@dataclass(frozen=True)
class Import:
    """``imports: {to: key, number: N}`` (or ``id:``): an existing ticket, tracked as
    ``key`` by review rather than by ``state import``. ``id`` is StackOne's id: given in the
    file, or found by the read (a plan made offline does not know it). ``title`` is the
    tracker's, once read."""

    key: str
    number: str | None = None
    id: str | None = None
    location: Location | None = None
    title: str = ""

    @property
    def label(self) -> str:
        """How a plan names the ticket: its number, else its id."""
        return self.number or self.id or "?"


class Status(TypedDict):
    """A ticket's status as the state keeps it (``schemas/state.schema.json``) and as read
    back: the type is the ``value`` of StackOne's ``type`` object (to-do, in-progress,
    closed...). A field a server garbled is None."""

    id: str | None
    name: str | None
    type: str | None


@dataclass(frozen=True)
class StateEntry:
    """One tracked ticket: StackOne's ``id``, the provider's ``remote_id``, what was last
    applied, and what was last read back (the README's "Keeping tickets in step").

    ``applied`` is the body last applied, ids resolved (``status``: the declared status as
    last applied); ``remote`` the last values read back for those fields, in the create
    body's shape; ``pending`` the fields of an update whose outcome is unknown, with the
    values sent (read back equal, they are our own write, not a tracker edit).
    """

    id: str
    remote_id: str | None
    created_at: str
    applied: dict[str, Any] = field(default_factory=dict)
    ticket_number: str | None = None
    ticket_url: str | None = None
    status: Status | None = None
    remote: Mapping[str, Any] = field(default_factory=dict)
    pending: Mapping[str, Any] = field(default_factory=dict)
    closed: bool = False
    deleted: bool = False

    def to_json(self) -> dict[str, Any]:
        """The entry as the state file holds it: what is unknown or default is left out,
        so that one new ticket is a few lines in ``git diff``."""
        doc: dict[str, Any] = {
            "id": self.id,
            "remote_id": self.remote_id,
            "created_at": self.created_at,
            "applied": self.applied,
        }
        optional = {
            "ticket_number": self.ticket_number, "ticket_url": self.ticket_url,
            "status": dict(self.status) if self.status else None,
            "remote": dict(self.remote) or None, "pending": dict(self.pending) or None,
            "closed": self.closed or None, "deleted": self.deleted or None,
        }
        doc.update((name, value) for name, value in optional.items() if value is not None)
        return doc


@dataclass(frozen=True)
class State:
    """The whole state file (docs/design.md, "The state file"). ``serial`` counts writes;
    ``lineage`` never changes.

    ``written_at`` is StackOne's time up to which the state is known to record every ticket
    ticketsync created: the next run's pre-create lookup starts there (minus a margin).
    ``refreshed_at`` is StackOne's time of the start of the last read-back of the tracked
    tickets (None before the first): the next one lists what was updated since.
    ``account_id`` and ``project`` bind the state to one account and one project config:
    ids of one account mean nothing in another, and two projects sharing a state would
    each see the other's tickets as removed.
    """

    version: int
    lineage: str
    serial: int
    written_at: str
    account_id: str | None
    tickets: Mapping[str, StateEntry]
    refreshed_at: str | None = None
    #: The project config this state belongs to, as a POSIX path relative to the state
    #: file's folder (None: not bound yet, a state older than format 3).
    project: str | None = None

    def to_json(self) -> dict[str, Any]:
        doc = {
            "version": self.version,
            "lineage": self.lineage,
            "serial": self.serial,
            "written_at": self.written_at,
            "refreshed_at": self.refreshed_at,
            "account_id": self.account_id,
            "tickets": {key: entry.to_json() for key, entry in self.tickets.items()},
        }
        if self.project is not None:
            doc["project"] = self.project
        return doc


@dataclass(frozen=True)
class FieldValues:
    """One field of a change, with its values, so that a reviewer judges values, not
    field names (the README's "ticketsync plan"): ``before`` as last applied (None: never set),
    ``after`` as declared, ``tracker`` as last read (None: empty, or never read). Values are in the
    create body's shape, ids unresolved: renderings name them through the directory."""

    field: str
    before: Any = None
    after: Any = None
    tracker: Any = None


@dataclass(frozen=True)
class Create:
    """Create the ticket ``key`` (then set its declared ``status``, which a create cannot).

    ``parent`` is the key of a parent that is created by the same plan: its ``id`` becomes
    ``parent_id`` at apply time, so the parent must be created first. A parent that is
    already tracked has its ``id`` in ``body["parent_id"]`` already, and ``parent`` is None.
    """

    key: str
    body: Body
    location: Location | None = None
    parent: str | None = None
    status: str | None = None
    origin: str | None = None

    @property
    def title(self) -> str:
        return str(self.body.get("title", ""))


@dataclass(frozen=True)
class Update:
    """Bring the tracked ticket ``key`` (remote ``id``) back to its declaration.

    ``body`` is the whole declared body (``status`` included when declared). Three sides
    are compared per field (the README's "Keeping tickets in step"): ``fields`` changed in the files
    only and are sent; ``conflicts`` changed in the files *and* in the tracker, and are sent only
    when the user says to overwrite; ``fixed`` changed in the files but cannot be changed through
    StackOne's update (``type``, ``creator_id``, ``organization_id``).

    Each custom field is a field of its own, named ``unified_custom_fields.KEY``; as a
    provider may replace the whole map on a PATCH, ``custom_base`` is the tracker's map as
    last read, sent back with the changed keys so that keys people set survive.
    ``reopen``: the ticket was closed by ``removed: close`` and is declared again.
    ``values``: each field of ``fields``, ``conflicts`` and ``fixed`` with its values, by
    field name.
    """

    key: str
    id: str
    fields: tuple[str, ...]
    body: Body
    location: Location | None = None
    conflicts: tuple[str, ...] = ()
    fixed: tuple[str, ...] = ()
    title: str = ""
    number: str | None = None
    url: str | None = None
    custom_base: Mapping[str, Any] = field(default_factory=dict)
    reopen: bool = False
    values: tuple[FieldValues, ...] = ()


@dataclass(frozen=True)
class Drift:
    """What changed in the tracker and not in the files: shown, left as it is.

    ``fields`` edited there; ``closed``: closed there while the files do not say so;
    ``deleted``: StackOne said the ticket no longer exists (never re-created).
    ``values``: each of ``fields`` as applied (``before`` = ``after``) and in the tracker;
    ``status``: the tracker's status name (or type) as last read, for ``closed``.
    """

    key: str
    fields: tuple[str, ...] = ()
    location: Location | None = None
    closed: bool = False
    deleted: bool = False
    title: str = ""
    number: str | None = None
    url: str | None = None
    values: tuple[FieldValues, ...] = ()
    status: str | None = None


class Action(StrEnum):
    """What a plan does with a tracked key that no file declares any more. The first three
    are also what the config's ``removed:`` may say (:data:`REMOVED`)."""

    #: reported, nothing else
    KEEP = "keep"
    #: set to a closed status
    CLOSE = "close"
    #: dropped from the state; the ticket is left alone
    FORGET = "forget"
    #: ``removed: close`` of a ticket already closed or deleted in the tracker: nothing
    #: is sent, the state marks it closed
    SETTLE = "settle"


#: What ``removed:`` may say, its default first.
REMOVED = (Action.KEEP, Action.CLOSE, Action.FORGET)


@dataclass(frozen=True)
class Removal:
    """A tracked key that no file declares any more, and the :class:`Action` the plan takes
    (``removed:`` decides it). ``status``: the tracker's status name (or type) as last
    read, if known."""

    key: str
    id: str
    action: Action
    title: str = ""
    number: str | None = None
    url: str | None = None
    status: str | None = None


@dataclass(frozen=True)
class Plan:
    """What apply would do: a pure function of (project, state, options).

    ``creates`` are ordered so that a parent comes before its children (then by key);
    ``updates`` (acted on only when ``updates_enabled``), ``drift`` and ``removals`` are
    sorted by key. ``refreshed``: the state's remote values had just been read back (a
    plan made without reading them cannot know of tracker edits since the last read).
    ``overwrite``: shown as ``apply --overwrite`` acts: conflicts are sent over the
    tracker's edits (a rendering option of apply, never saved with the plan).
    """

    creates: tuple[Create, ...] = ()
    updates: tuple[Update, ...] = ()
    unchanged: int = 0
    drift: tuple[Drift, ...] = ()
    removals: tuple[Removal, ...] = ()
    updates_enabled: bool = True
    max_creates: int = 200
    max_removals: int = 20
    lineage: str = ""
    serial: int = 0
    inputs_digest: str = ""
    refreshed: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)
    #: The declared moves and imports still to do (the README's "Moves and imports, declared"); an
    #: import whose ticket was not read (a plan made offline) has no ``id`` unless the file gave it,
    #: and no updates yet: they are known once it is read.
    moves: tuple[Move, ...] = ()
    imports: tuple[Import, ...] = ()
    overwrite: bool = False
    #: ``refreshed`` with ``plan --refresh=full``: every tracked ticket the listing did not
    #: show was looked for too (so a deletion in the tracker is known).
    full_refresh: bool = False
    #: The recurring templates (``every:``), whose instances are periods, not items: for
    #: the wording of the plan only (not saved: a saved plan says "item").
    recurring: frozenset[str] = frozenset()

    @property
    def sendable(self) -> tuple[Update, ...]:
        """The updates with something apply may send (or refuse, for a conflict)."""
        if not self.updates_enabled:
            return ()
        return tuple(u for u in self.updates if u.fields or u.conflicts)

    @property
    def acting_removals(self) -> tuple[Removal, ...]:
        """The removals apply acts on: closes and forgets (counted by the brake) and
        settles (recorded without a request)."""
        return tuple(r for r in self.removals if r.action != Action.KEEP)

    @property
    def has_changes(self) -> bool:
        return bool(self.creates or self.sendable or self.acting_removals or self.moves
                    or self.imports)
