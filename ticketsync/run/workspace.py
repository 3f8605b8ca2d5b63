"""A project's state on disk, and the order in which every run that changes it goes.

The safety argument of a run is its order, so it lives here, once, for the CLI, the
benchmarks and the tests alike::

    lock -> read the state -> fold the journal -> read back -> choose the plan -> brake
         -> apply (every step journaled) -> read back -> fold -> commit

* :meth:`Workspace.session` takes the lock, reads the state file, and folds the journal a
  crashed run left behind, committing it at once: from then on the journal holds nothing
  but a ``base`` line and the creates whose outcome is unknown.
* :meth:`Session.commit` is the one way the state file is written (``init`` included): it
  folds the journal into the state, dates it, writes it atomically, and only then compacts
  the journal. Killed between the two, the journal's ``base`` serial tells the next run
  that its records are already in the state file (:func:`ticketsync.state.recovery.is_stale`).
* :meth:`Session.read_back` lists, once, the tickets StackOne says changed since the last
  read-back (and the pre-create lookup's window), so the plan compares every field three
  ways: declared, applied, remote (docs/design.md, "Writes never change what nobody
  declared").
* :meth:`Session.apply` runs a plan with the journal open and commits whatever happened,
  on success, on an error, and on a stop (SIGINT/SIGTERM) alike, with what the run read
  back (numbers, links, statuses, remote values) folded in.

``written_at`` is the StackOne time up to which the state is known to hold every ticket
ticketsync created; the next run's pre-create lookup starts there. It only moves forward
when a run has looked (an apply, in StackOne's clock), never past a create whose outcome is
unknown or a lookup left ambiguous; a command that does not talk to StackOne keeps it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from ticketsync.declare.config import Config
from ticketsync.errors import ClockError, InputError, NotFoundError, StateError
from ticketsync.model import Body, Plan, Problem, Project, State, StateEntry, Update
from ticketsync.plan import adoption
from ticketsync.plan.build import (
    build_plan,
    import_entries,
    unread,
)
from ticketsync.run.apply import (
    ApplyOptions,
    ApplyResult,
    Event,
    apply_plan,
    list_remote,
    lookup_since,
)
from ticketsync.run.events import Kind
from ticketsync.stackone.api import RemoteTicket, TicketApi
from ticketsync.stackone.reconcile import RemoteIndex
from ticketsync.stackone.tickets import with_read_back
from ticketsync.state.file import (
    display_path,
    new_state,
    project_of,
    read_state,
    with_entry,
    write_state,
)
from ticketsync.state.journal import Intent, Journal, journal_path_for
from ticketsync.state.lock import StateLock
from ticketsync.state.recovery import compact, fold, read_records, recover
from ticketsync.times import format_time, parse_time

__all__ = ["Session", "Workspace", "find_deleted", "plan_for", "read_back",
           "read_back_since", "read_imports"]


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
        project = None if self.sandbox else project_of(self.state_path, self.config.config_path)
        state = read_state(self.state_path, account_id=self.config.account_id, project=project)
        return recover(state, self.journal_path)[0]

    def init(self, account_id: str | None) -> State:
        """Write a new, empty state file (``ticketsync init``), bound to this project's
        config (the sandbox's own state excepted); refuse to replace one."""
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        project = None if self.sandbox else project_of(self.state_path,
                                                       self.config.config_path)
        with StateLock(self.state_path, command="ticketsync init"):
            if self.exists():
                raise StateError(
                    f"{display_path(self.state_path)} already exists: refusing to overwrite it"
                )
            return write_state(self.state_path, new_state(account_id, project=project))

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
        #: The project config this state belongs to: a state bound to another is refused
        #: (two projects sharing one would each close the other's tickets as removed), an
        #: unbound one is bound at the first commit. The sandbox's own state is one per
        #: project folder, and stays unbound.
        self.project = None if workspace.sandbox else project_of(path, self.config.config_path)
        self.as_read = self.on_disk = read_state(path, account_id=self.config.account_id,
                                                 project=self.project)
        records = list(read_records(workspace.journal_path))
        folded, uncertain = fold(self.on_disk, records)
        self.state = self.on_disk
        self.uncertain: list[Intent] = uncertain
        #: What :meth:`read_back` listed, and StackOne's time when it started.
        self.index: RemoteIndex | None = None
        self.refreshed_at: str | None = None
        #: The tickets of the pending declared imports, as read (key -> ticket), and the
        #: entries apply records for them: both known once :meth:`read_back` and
        #: :meth:`plan` ran.
        self.imported: dict[str, RemoteTicket] = {}
        self._import_entries: dict[str, StateEntry] = {}
        #: The saved plan read by :meth:`plan`, and for which file and project digest.
        self._saved: tuple[tuple[str, str], Plan] | None = None
        # Whether the journal is already a base line for this state plus open intents.
        self._compact = not records or _is_compact(records, self.on_disk)
        if folded.tickets != self.on_disk.tickets:
            # What the crashed run created is recorded now (the journal, just read and
            # folded, is not read again).
            self.commit(folded, _folded=uncertain)

    # -- the one way to write the state ---------------------------------------------

    def commit(self, state: State | None = None, *, as_of: datetime | None = None,
               seen: Mapping[str, RemoteTicket] | None = None,
               if_changed: bool = False, _folded: list[Intent] | None = None) -> State:
        """Write the state file: ``state`` (default: this session's state with the
        journal's records folded in), then compact the journal.

        ``as_of``: the StackOne time up to which this session has verified the remote (an
        apply's lookup); None keeps the previous ``written_at``. Either way the state is
        dated no later than an intent still open: CI commits the state file, never the
        journal, and the next run's lookup must still reach back to that create.
        ``seen``: tickets read back in the session (by id), folded in after the journal.
        ``if_changed``: write nothing when no ticket changed (an apply with nothing to do
        must not make CI commit a new state file every time; keeping the older dates is
        the safe direction: the next lookup and read-back reach further back).
        ``_folded``: the open intents, when ``state`` has the journal folded in already
        (a session opening after a crash has just read it).
        """
        if _folded is not None and state is not None:  # ``state`` holds the journal already
            folded, uncertain = state, _folded
        else:
            folded, uncertain = recover(self.state if state is None else state,
                                        self.workspace.journal_path)
        # A state not bound yet (``init`` without an account, an older format) is bound at
        # its first write to the account this run works in and to this project's config;
        # read_state refuses any other from then on.
        folded = replace(folded, account_id=folded.account_id or self.config.account_id,
                         project=folded.project or self.project)
        if seen:
            folded = with_read_back(folded, seen.values(), refreshed_at=self.refreshed_at)
        if if_changed and folded.tickets == self.on_disk.tickets and (
            [i.key for i in uncertain] == [i.key for i in self.uncertain]
        ):
            compact(self.workspace.journal_path, self.on_disk, uncertain)
            self.state = self.on_disk
            return self.on_disk
        moments = [as_of or parse_time(self.on_disk.written_at)]
        moments += [intent.at for intent in uncertain]
        dated = replace(folded, written_at=format_time(min(moments)))
        written = write_state(self.workspace.state_path, dated)
        compact(self.workspace.journal_path, written, uncertain)
        self.on_disk = self.state = written
        self.uncertain = uncertain
        self._compact = True
        return written

    # -- what runs do ----------------------------------------------------------------

    def read_back(self, api: TicketApi, *, margin: timedelta | None = None,
                  project: Project | None = None, full: bool = False) -> State:
        """Read back, in one listing, the tracked tickets StackOne says changed since the
        last read-back (and what the pre-create lookup needs; with ``project``, what its
        plan needs; with ``full``, the tracked tickets deleted in the tracker too: see
        :func:`read_back`); fold them into the session's state (in memory: :meth:`commit`
        writes it) and return it."""
        self.state, self.index, self.refreshed_at = read_back(
            api, self.state, self.uncertain, margin, project=project,
            marker=self.config.marker_field, full=full)
        if project is not None and project.imports:
            self.imported = read_imports(api, self.state, project,
                                         account=self.config.account_id)
            self.index.add(self.imported.values())  # what the commit folds in
        return self.state

    def plan(self, project: Project, *, plan_file: str | None = None) -> Plan:
        """The plan to apply: built from the state, or the saved ``plan_file`` if current.

        A saved plan is checked against the state file it was made from; the tickets the
        journal shows as created since are dropped from it, never sent again.
        """
        if plan_file is None:
            plan = plan_for(self.config, project, self.state, refreshed=self.index is not None,
                            imported=self.imported)
            self._note_imports(project, plan)
            return plan
        plan = self._saved_plan(project, plan_file)
        plan = replace(plan, creates=tuple(c for c in plan.creates
                                           if c.key not in self.state.tickets))
        if self.index is None:
            return plan
        # The plan was approved before the tracker was read back now: a field someone has
        # edited there since is a conflict, never sent over their edit.
        fresh = build_plan(project, self.state, updates=plan.updates_enabled,
                           marker=self.config.marker_field, imported=self.imported)
        self._note_imports(project, fresh)
        # The reviewed plan's imports, as read now (an import saved unread has no id).
        plan = replace(plan, imports=fresh.imports)
        clashes = {u.key: set(u.conflicts) for u in fresh.updates if u.conflicts}
        # A saved plan does not carry the tracker's custom-field map that a PATCH sends
        # back (keys people set must survive a provider that replaces the map): the map
        # as read now is the one to send.
        maps = {u.key: u.custom_base for u in fresh.updates}
        return replace(plan, updates=tuple(
            replace(_with_conflicts(u, clashes.get(u.key, set())),
                    custom_base=maps.get(u.key, u.custom_base))
            for u in plan.updates))

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
        :func:`ticketsync.run.apply.apply_plan` raises, after committing.
        """
        path = self.workspace.journal_path
        self._refuse_over_open_creates(plan)
        if not self._compact:  # appended records must follow a base line of this state
            compact(path, self.on_disk, self.uncertain)
            self._compact = True
        result: ApplyResult | None = None
        try:
            with Journal(path, base=(self.on_disk.lineage, self.on_disk.serial)) as journal:
                self._move_and_import(plan, journal, on_event)
                result = apply_plan(plan, api, journal, self.state, uncertain=self.uncertain,
                                    options=options, on_event=on_event, index=self.index)
                result.moved, result.imported = len(plan.moves), len(plan.imports)
        finally:
            seen = result.seen if result is not None else (
                self.index.tickets if self.index is not None else None)
            self.commit(as_of=result.complete_as_of if result is not None else None,
                        seen=seen, if_changed=True)
        return result

    def _saved_plan(self, project: Project, plan_file: str) -> Plan:
        """The saved plan at ``plan_file``, checked current for ``project``: read and checked
        once per session (apply asks before reading back, to refuse a stale plan before
        anything is read, and again to apply it), again only for another file or project."""
        from ticketsync.plan.saved import check_plan_current, load_plan

        if self._saved is not None and self._saved[0] == (plan_file, project.digest):
            return self._saved[1]
        plan = (self._saved[1] if self._saved is not None and self._saved[0][0] == plan_file
                else load_plan(Path(plan_file)))
        check_plan_current(plan, self.as_read, project, plan_path=plan_file)
        self._saved = ((plan_file, project.digest), plan)
        return plan

    def _note_imports(self, project: Project, plan: Plan) -> None:
        """Keep the entries ``plan``'s imports record, as read (for :meth:`apply`)."""
        moved = adoption.with_moves(self.state, plan.moves)
        self._import_entries = import_entries(project, moved, plan.imports, self.imported,
                                              self.config.marker_field)

    def _refuse_over_open_creates(self, plan: Plan) -> None:
        """A key whose create is still uncertain may exist remotely: moving or importing
        another ticket onto it would strand that one (never looked up again)."""
        open_keys = {intent.key for intent in self.uncertain}
        for key in sorted({m.target for m in plan.moves} | {i.key for i in plan.imports}):
            if key in open_keys:
                raise StateError(
                    f"{key}: an interrupted apply left a create of it whose outcome is "
                    "unknown: drop the move or import of it for one `ticketsync apply` (which "
                    "looks that create up first), then declare it again")

    def _move_and_import(self, plan: Plan, journal: Journal,
                         on_event: Callable[[Event], None]) -> None:
        """Do ``plan``'s declared moves and imports (the README's "Moves and imports,
        declared"): each journaled, and durable before anything of the run is sent; killed
        after, the next run folds them (a move is one record: the state is renamed or not,
        never half)."""
        missing = [item.key for item in plan.imports if item.key not in self._import_entries]
        if missing:  # read_back reads every pending import before the plan is made
            raise StateError(f"{', '.join(missing)}: the imported ticket was not read; run "
                             "apply again")
        for move in plan.moves:
            journal.record_moved(move.source, move.target, wait=False)
        for item in plan.imports:
            entry = self._import_entries[item.key]
            journal.record_created(item.key, entry.id, entry.remote_id, entry.applied,
                                   created_at=entry.created_at or None, wait=False)
        if not (plan.moves or plan.imports):
            return
        journal.sync()
        moved = adoption.with_moves(self.state, plan.moves)
        self.state = replace(moved, tickets={**moved.tickets, **{
            item.key: self._import_entries[item.key] for item in plan.imports}})
        for move in plan.moves:
            on_event(Event(Kind.MOVED, move.target, None, f"moved {move.source} -> {move.target}"))
        for item in plan.imports:
            entry = self._import_entries[item.key]
            on_event(Event(Kind.IMPORTED, item.key, entry.id,
                           f"imported {item.key} ({entry.ticket_number or item.label}, id "
                           f"{entry.id})"))

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
            entry = StateEntry(id=ticket_id, remote_id=remote.remote_id,
                               created_at=remote.created_text or "",
                               applied=dict(applied(key, remote)))
            state = with_entry(state, key, entry)
            owners[ticket_id] = key
        return self.commit(state)

    def adopt(self, adopted: Sequence[tuple[str, RemoteTicket, Body]],
              seen: Mapping[str, RemoteTicket]) -> State:
        """Track existing remote tickets under new keys (``ticketsync export``): each
        (key, ticket, body last applied) is journaled durably first, then the state is
        committed with ``seen`` (what was read back, by id) folded in: its number, URL,
        status and values. Killed in between, the next session commits what was
        journaled, and its next read-back brings the rest."""
        if not self._compact:
            compact(self.workspace.journal_path, self.on_disk, self.uncertain)
            self._compact = True
        base = (self.on_disk.lineage, self.on_disk.serial)
        with Journal(self.workspace.journal_path, base=base) as journal:
            for key, ticket, applied in adopted:
                if key in self.state.tickets:
                    raise StateError(f"{key} is already tracked: one key, one ticket")
                journal.record_created(key, ticket.id, ticket.remote_id, applied,
                                       created_at=ticket.created_text or None, wait=False)
            journal.sync()
        return self.commit(seen=seen)

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


def plan_for(config: Config, project: Project, state: State, *, refreshed: bool,
             imported: Mapping[str, RemoteTicket] | None = None) -> Plan:
    """The plan of ``project`` against ``state`` under ``config``'s rules (updates,
    removals, brakes, marker): how apply and ``plan`` alike build one from a config."""
    return build_plan(project, state, updates=config.updates, removed=config.removed,
                      max_creates=config.max_creates, max_removals=config.max_removals,
                      refreshed=refreshed, marker=config.marker_field, imported=imported)


def read_back(
    api: TicketApi, state: State, uncertain: Sequence[Intent] = (),
    margin: timedelta | None = None, *, project: Project | None = None,
    marker: str | None = None, full: bool = False,
) -> tuple[State, RemoteIndex, str]:
    """List, once, what changed since ``state``'s last read-back (and the pre-create
    lookup's window); return the state with it folded in (in memory), the listing, and
    StackOne's time at its start (the next ``refreshed_at``).

    With ``project``, a tracked ticket whose declaration changed a field it was never read
    for (:func:`ticketsync.plan.build.unread`: last read by an older ticketsync) is fetched too,
    one GET each: the plan must know the tracker's side of every field it would send.
    With ``full``, every tracked ticket the listing did not show is looked for too
    (:func:`find_deleted`), and the ones StackOne no longer has are marked deleted.
    """
    margin = margin if margin is not None else ApplyOptions.skew_margin
    since = read_back_since(state, uncertain, margin)
    started = time.monotonic()
    try:
        begun: datetime | None = api.server_now()
    except ClockError:  # the first request of the run: its answer will tell
        begun = None
    index = list_remote(api, since)
    if begun is None:  # StackOne's time now, less the listing's own duration: a lower bound
        begun = api.server_now() - timedelta(seconds=time.monotonic() - started + 1)
    refreshed_at = format_time(begun)
    if project is not None:
        state = with_read_back(state, index.tickets.values())
        for key in unread(project, state, marker):
            try:
                index.add([api.get_ticket(state.tickets[key].id)])
            except NotFoundError:  # deleted: the PATCH's 404 says so, for this ticket alone
                continue
    gone = find_deleted(api, state, index) if full else []
    state = with_read_back(state, index.tickets.values(), refreshed_at=refreshed_at)
    if gone:
        state = replace(state, tickets={key: replace(entry, deleted=True) if key in gone
                                        else entry for key, entry in state.tickets.items()})
    return state, index, refreshed_at


def find_deleted(api: TicketApi, state: State, index: RemoteIndex) -> list[str]:
    """The tracked keys whose ticket StackOne no longer has, looked for at the lower cost
    of one complete listing or one GET per ticket; the tracked tickets found go into
    ``index``.

    A listing filtered by ``updated_after`` cannot show a deletion: a deleted ticket is
    simply absent, like one that did not change. Only the tickets ``index`` lacks need
    looking for. How many pages a complete listing takes is unknown until it ends, so it
    is read while it has cost fewer requests than a GET for each ticket still missing;
    then each ticket still missing is fetched, and only a 404 marks it deleted (a listing
    may leave out what a GET still finds). At most about twice the cheaper of the two.
    """
    from ticketsync.stackone.client import PAGE_SIZE

    missing = {entry.id: key for key, entry in state.tickets.items()
               if not entry.deleted and entry.id not in index.tickets}
    read = 0
    if len(missing) > 1:  # one GET is never dearer than a page
        for ticket in api.list_tickets(updated_after=None):
            read += 1
            if missing.pop(ticket.id, None) is not None:
                index.add([ticket])
            if not missing or (read % PAGE_SIZE == 0 and len(missing) <= read // PAGE_SIZE):
                break  # the listing is lazy: the next page is not requested
    gone: list[str] = []
    for ticket_id, key in sorted(missing.items(), key=lambda item: item[1]):
        try:
            index.add([api.get_ticket(ticket_id)])
        except NotFoundError:
            gone.append(key)
    return gone


def read_imports(api: TicketApi, state: State, project: Project, *,
                 account: str | None = None) -> dict[str, RemoteTicket]:
    """The tickets of ``project``'s pending imports, read (key -> ticket): one GET each
    by ``id``, one listing for all those by ``number``. Every one not found (a ticket of
    another account is not found in this one) or already tracked is an error, located at
    its item, before anything is sent."""
    state = adoption.with_moves(state, adoption.pending_moves(state, project.moves))
    pending = adoption.pending_imports(state, project.imports)
    where = f"in account {account}" if account else "in this account"
    read: dict[str, RemoteTicket] = {}
    problems: list[Problem] = []
    for item in pending:
        if item.id is None:
            continue
        try:
            read[item.key] = api.get_ticket(item.id)
        except NotFoundError:
            problems.append(adoption.problem(item, (
                f"no ticket has the id {item.id} {where} (a ticket of another account is "
                "not found either): check the id (`number:` takes the tracker's number)")))
    by_number = [item for item in pending if item.id is None]
    if by_number:
        numbers: dict[str, list[RemoteTicket]] = {}
        wanted = {item.number for item in by_number}
        for ticket in api.list_tickets(updated_after=None):
            number = ticket.ticket_number
            if number is not None and number in wanted:
                numbers.setdefault(number, []).append(ticket)
        for item in by_number:
            found = numbers.get(item.number or "", [])
            if len(found) == 1:
                read[item.key] = found[0]
            elif not found:
                problems.append(adoption.problem(item, (
                    f"no ticket has the number {item.number} {where} (a ticket of another "
                    "account is not found either): check the number, or give its StackOne "
                    "id (id: ...)")))
            else:
                ids = ", ".join(sorted(t.id for t in found))
                problems.append(adoption.problem(item, (
                    f"{len(found)} tickets have the number {item.number} ({ids}): import "
                    "one by its StackOne id (id: ...)")))
    if problems:
        raise InputError(problems)
    adoption.found(state, pending, read)  # one already tracked, known by its id only now
    return read


def read_back_since(state: State, uncertain: Sequence[Intent],
                    margin: timedelta) -> datetime | None:
    """Where a read-back lists from: the last read-back (or, before the first, the oldest
    tracked ticket's creation: what happened to it since was never read), and the
    pre-create lookup's start, whichever is older, minus ``margin``. None: everything."""
    moments = [lookup_since(state, uncertain, margin)]
    if state.refreshed_at is not None:
        moments.append(parse_time(state.refreshed_at) - margin)
    else:
        for entry in state.tickets.values():
            try:
                moments.append(parse_time(entry.created_at) - margin)
            except ValueError:  # a created_at that cannot be read: read everything
                return None
    return min(moments)



def _with_conflicts(update: Update, clashes: set[str]) -> Update:
    moved = [name for name in update.fields if name in clashes]
    if not moved:
        return update
    return replace(update, fields=tuple(n for n in update.fields if n not in clashes),
                   conflicts=tuple(sorted({*update.conflicts, *moved})))


def _is_compact(records: Sequence[dict[str, object]], state: State) -> bool:
    """Whether a journal is already what :func:`compact` writes for ``state``."""
    first = records[0]
    if first.get("op") != "base" or first.get("serial") != state.serial:
        return False
    return all(record.get("op") == "intent" for record in records[1:])
