"""What a run reports: :class:`ApplyResult`, and the work its scheduler sends."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ticketsync.model import Create, Removal, Update
from ticketsync.stackone.api import RemoteTicket

#: What the scheduler sends: a create, an update, or the close of an undeclared ticket.
Work = Create | Update | Removal


@dataclass
class ApplyResult:
    """Counts and per-ticket messages of a run.

    ``not_started`` counts work never sent; ``unsettled`` creates sent whose outcome is
    unknown when the run ended (no answer before a stop, or left uncertain by it): their
    intents stay open and the next run looks them up. ``halted``: why the run stopped
    sending on its own (StackOne refused the key, its clock could not be read).
    ``complete_as_of`` is the StackOne time up to which the run verified the remote (None
    if it could not): the state's next ``written_at``. ``listings`` counts listings.
    """

    created: int = 0
    adopted: int = 0
    updated: int = 0
    closed: int = 0
    forgotten: int = 0
    #: Undeclared tickets found closed or deleted in the tracker: recorded, nothing sent.
    settled: int = 0
    failed: int = 0
    skipped: int = 0
    not_started: int = 0
    unsettled: int = 0
    interrupted: bool = False
    halted: str | None = None
    complete_as_of: datetime | None = None
    listings: int = 0
    #: Declared moves and imports done (the README's "Moves and imports, declared"), before anything
    #: was sent.
    moved: int = 0
    imported: int = 0
    created_keys: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    #: Every remote ticket the run listed (latest version): read back into the state.
    seen: dict[str, RemoteTicket] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not (self.failed or self.skipped or self.not_started or self.unsettled
                    or self.interrupted or self.halted)
