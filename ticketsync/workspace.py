"""A project's state on disk, and the order in which every run that changes it goes.

The safety argument of a run is its order, so it lives here, once, for the CLI, the
benchmarks and the tests alike::

    lock -> read the state -> fold the journal -> choose the plan -> brake
         -> apply (every step journaled) -> fold -> commit

* :meth:`Workspace.session` takes the lock, reads the state file, and folds the journal a
  crashed run left behind, committing it at once: from then on the journal holds nothing
  but a ``base`` line and the creates whose outcome is unknown.
* :meth:`Session.commit` is the one way the state file is written (``init`` included): it
  folds the journal into the state, dates it, writes it atomically, and only then compacts
  the journal. Killed between the two, the journal's ``base`` serial tells the next run
  that its records are already in the state file (:func:`ticketsync.recovery.is_stale`).
* :meth:`Session.apply` runs a plan with the journal open and commits whatever happened,
  on success, on an error, and on a stop (SIGINT/SIGTERM) alike.

``written_at`` is the StackOne time up to which the state is known to hold every ticket
ticketsync created; the next run's pre-create lookup starts there. It only moves forward
when a run has looked (an apply, in StackOne's clock), never past a create whose outcome is
unknown or a lookup left ambiguous; a command that does not talk to StackOne keeps it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from ticketsync.api import RemoteTicket, TicketApi
from ticketsync.apply import ApplyOptions, ApplyResult, Event, apply_plan
from ticketsync.config import Config
from ticketsync.errors import StateError
from ticketsync.journal import Intent, Journal, journal_path_for
from ticketsync.lock import StateLock
from ticketsync.model import Body, Plan, Project, State, StateEntry
from ticketsync.plan import build_plan, over_max_creates
from ticketsync.recovery import compact, fold, read_records, recover
from ticketsync.state import (
    display_path,
    format_seconds,
    new_state,
    parse_time,
    read_state,
    with_entry,
    write_state,
)

__all__ = ["Session", "Workspace", "brake_message"]


class Workspace:
    """The state file of a project (``config.state_path``), its journal and its lock.

    ``sandbox``: the built-in sandbox's own state, which is made on first use (elsewhere a
    missing state file is refused: a lost state must never re-create every ticket).
    """

    def __init__(self, config: Config, *, sandbox: bool = False) -> None:
        self.config = config
        self.sandbox = sandbox
        self.state_path = config.state_path
        self.journal_path = journal_path_for(self.state_path)

    def exists(self) -> bool:
        return self.state_path.exists()

    def read(self) -> State:
        """The state as it really is, read-only and without the lock: the state file with a
        crashed run's journal folded in (so ``plan`` never proposes to re-create what that
        run created)."""
        state = read_state(self.state_path, account_id=self.config.account_id)
        return recover(state, self.journal_path)[0]

    def init(self, account_id: str | None) -> State:
        """Write a new, empty state file (``ticketsync init``); refuse to replace one."""
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        with StateLock(self.state_path, command="ticketsync init"):
            if self.exists():
                raise StateError(
                    f"{display_path(self.state_path)} already exists: refusing to overwrite it"
                )
            return write_state(self.state_path, new_state(account_id))

    @contextmanager
    def session(
        self,
        command: str | None = None,
        *,
        on_warning: Callable[[str], None] | None = None,
    ) -> Iterator[Session]:
        """Hold the lock for a ``with`` block, with the state read and the journal folded.

        ``command`` is shown to a second run that finds the lock held; ``on_warning``
        receives the one warning a session can give (a stale lock taken over).
        """
        if self.sandbox:
            self.state_path.parent.mkdir(parents=True, exist_ok=True)
        with StateLock(self.state_path, command=command, on_stale=on_warning):
            if self.sandbox and not self.exists():
                write_state(self.state_path, new_state(self.config.account_id))
            yield Session(self)


class Session:
    """A locked workspace: the state file as written last (``on_disk``), the state with
    the journal folded in (``state``), and the creates whose outcome is unknown
    (``uncertain``). ``as_read`` is the state file as this session found it (a saved plan
    is checked against it).

    Made by :meth:`Workspace.session`, which commits at once what a crashed run's journal
    recorded, so that ``state == on_disk`` and the journal holds only open intents.
    """

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.config = workspace.config
        path = workspace.state_path
        self.as_read = self.on_disk = read_state(path, account_id=self.config.account_id)
        records = list(read_records(workspace.journal_path))
        folded, uncertain = fold(self.on_disk, records)
        self.state = self.on_disk
        self.uncertain: list[Intent] = uncertain
        # Whether the journal is already a base line for this state plus open intents.
        self._compact = not records or _is_compact(records, self.on_disk)
        if folded.tickets != self.on_disk.tickets:
            self.commit(folded)  # what the crashed run created is recorded now

    # -- the one way to write the state ---------------------------------------------

    def commit(self, state: State | None = None, *, as_of: datetime | None = None) -> State:
        """Write the state file: ``state`` (default: this session's state with the
        journal's records folded in), then compact the journal.

        ``as_of``: the StackOne time up to which this session has verified the remote (an
        apply's lookup); None keeps the previous ``written_at``. Either way the state is
        dated no later than an intent still open: CI commits the state file, never the
        journal, and the next run's lookup must still reach back to that create.
        """
        folded, uncertain = recover(self.state if state is None else state,
                                    self.workspace.journal_path)
        moments = [as_of or parse_time(self.on_disk.written_at)]
        moments += [intent.at for intent in uncertain]
        dated = replace(folded, written_at=format_seconds(min(moments)))
        written = write_state(self.workspace.state_path, dated)
        compact(self.workspace.journal_path, written, uncertain)
        self.on_disk = self.state = written
        self.uncertain = uncertain
        self._compact = True
        return written

    # -- what runs do ----------------------------------------------------------------

    def plan(self, project: Project, *, plan_file: str | None = None) -> Plan:
        """The plan to apply: built from the state, or the saved ``plan_file`` if current.

        A saved plan is checked against the state file it was made from; the tickets the
        journal shows as created since are dropped from it, never sent again.
        """
        if plan_file is None:
            return build_plan(project, self.state, updates=self.config.updates,
                              max_creates=self.config.max_creates)
        from ticketsync.planfile import check_plan_current, load_plan

        plan = load_plan(Path(plan_file))
        check_plan_current(plan, self.as_read, project, plan_path=plan_file)
        return replace(plan, creates=tuple(c for c in plan.creates
                                           if c.key not in self.state.tickets))

    def apply(
        self,
        plan: Plan,
        api: TicketApi,
        *,
        options: ApplyOptions | None = None,
        on_event: Callable[[Event], None] = lambda event: None,
    ) -> ApplyResult:
        """Apply ``plan`` through ``api`` with every step journaled, then commit the state.

        The commit happens however the run ends (an error, a stop, a second Ctrl-C), so
        the state file names every ticket whose answer arrived. Raises what
        :func:`ticketsync.apply.apply_plan` raises, after committing.
        """
        path = self.workspace.journal_path
        if not self._compact:  # appended records must follow a base line of this state
            compact(path, self.on_disk, self.uncertain)
            self._compact = True
        result: ApplyResult | None = None
        try:
            with Journal(path, base=(self.on_disk.lineage, self.on_disk.serial)) as journal:
                result = apply_plan(plan, api, journal, self.state, uncertain=self.uncertain,
                                    options=options, on_event=on_event)
        finally:
            self.commit(as_of=result.complete_as_of if result is not None else None)
        return result

    def import_tickets(
        self,
        pairs: Sequence[tuple[str, str]],
        api: TicketApi,
        applied: Callable[[str, RemoteTicket], Body],
    ) -> State:
        """Track each existing remote ticket ID as KEY (``ticketsync state import``).

        Every ticket is fetched first (a mistyped id is refused before anything is
        written); ``applied(key, remote)`` gives the body to record as last applied. The
        state is written once, for all the pairs.
        """
        state = self.state
        owners = {entry.id: key for key, entry in state.tickets.items()}
        open_keys = {intent.key for intent in self.uncertain}
        for key, ticket_id in pairs:
            if key in state.tickets:
                raise StateError(
                    f"{key} is already tracked as {state.tickets[key].id}: run "
                    f"`ticketsync state rm {key}` first if that is wrong"
                )
            if ticket_id in owners:
                raise StateError(
                    f"{ticket_id} is already tracked as {owners[ticket_id]}: one ticket, one key"
                )
            remote = api.get_ticket(ticket_id)
            remote_id, created_at = remote.get("remote_id"), remote.get("created_at")
            entry = StateEntry(
                id=ticket_id,
                remote_id=remote_id if isinstance(remote_id, str) else None,
                created_at=created_at if isinstance(created_at, str) else "",
                applied=dict(applied(key, remote)),
            )
            state = with_entry(state, key, entry)
            owners[ticket_id] = key
            open_keys.discard(key)  # settled by the user: the intent is dropped on commit
        return self.commit(state)

    def edit(self, state: State) -> State:
        """Write a state edited by a ``state`` command (``rm``, ``mv``).

        A key whose create is still uncertain may already exist remotely: tracking another
        ticket under it would strand that one, so such an edit is refused.
        """
        pending = sorted(intent.key for intent in self.uncertain
                         if intent.key in state.tickets and intent.key not in self.state.tickets)
        if pending:
            raise StateError(
                f"{pending[0]}: an interrupted apply left a create of it whose outcome is "
                "unknown: run `ticketsync apply` first to settle it, then try again"
            )
        return self.commit(state)


def brake_message(plan: Plan, *, force: bool) -> str | None:
    """Why apply refuses ``plan`` without ``--force`` (None: it does not)."""
    if force or not over_max_creates(plan):
        return None
    from ticketsync import render

    return (
        f"{render.brake_message(plan)}: check the plan, then run again with --force "
        "(or raise max_creates in ticketsync.yaml)"
    )


def _is_compact(records: Sequence[dict[str, object]], state: State) -> bool:
    """Whether a journal is already what :func:`compact` writes for ``state``."""
    first = records[0]
    if first.get("op") != "base" or first.get("serial") != state.serial:
        return False
    return all(record.get("op") == "intent" for record in records[1:])
