"""What a run tells of each ticket: an :class:`Event`, and the kinds of events and outcomes."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """What happened to a ticket (strings: the JSON documents print them as they are)."""

    CREATED = "created"
    ADOPTED = "adopted"
    UPDATED = "updated"
    CLOSED = "closed"
    FORGOTTEN = "forgotten"
    #: Undeclared, found closed or deleted in the tracker: recorded, nothing sent.
    SETTLED = "settled"
    FAILED = "failed"
    SKIPPED = "skipped"
    NOT_STARTED = "not_started"
    #: A worker's outcome only: the answer was lost; the scheduler looks the ticket up.
    UNCERTAIN = "uncertain"
    RETRIED = "retried"
    NOTE = "note"
    #: The run's (an empty key): a stop signal arrived.
    INTERRUPTED = "interrupted"
    #: Declared moves and imports, done before anything is sent.
    MOVED = "moved"
    IMPORTED = "imported"


#: The kinds that name a ticket's fate, one of the plan's work done: the lists of the apply
#: document (in this order), the count of the progress line, the counts of the CI outputs.
FATES = (Kind.CREATED, Kind.ADOPTED, Kind.UPDATED, Kind.CLOSED, Kind.FORGOTTEN,
         Kind.SETTLED, Kind.FAILED, Kind.SKIPPED, Kind.NOT_STARTED)


@dataclass(frozen=True)
class Event:
    """Something that happened to one ticket, or to the run (with an empty key)."""

    kind: Kind
    key: str
    id: str | None = None
    message: str = ""
