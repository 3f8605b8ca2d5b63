"""The write-ahead journal beside the state: ``<state>.journal``, JSON lines, append-only.

Why it exists: the state file is rewritten whole (atomically) once per run, which costs
time proportional to its size. Doing that after each create would make a 10,000-ticket
state slow, and not doing it would lose the ids of tickets created before a crash. The
journal gives per-ticket durability at a constant cost: one appended line, fsync'd.

Records (one JSON object per line):

* ``base``    {lineage, serial}: the first line. The records after it add to the state file
  of that lineage and serial. A state file written from them has a higher serial; if the
  process dies before the journal is compacted (the instant between the two renames), the
  records are recognised as already folded by that serial and never replayed: a ``state
  rm`` or ``state mv`` is never undone, whatever instant the process dies at. A journal
  without a base line (ticketsync 0.1) is folded as it is.
* ``intent``  {key, digest, title, project_id, at}: written and made durable *before* a
  create is sent; ``at`` is StackOne's time (see :mod:`ticketsync.stackone.clock`), because the
  lookups that look for the ticket compare it with StackOne's ``updated_at``. An intent
  with no later outcome is "uncertain": the ticket may exist, and it must be reconciled
  against the remote before anything is resent (docs/design.md, "No duplicates").
* ``created`` {key, id, remote_id, created_at, applied}: the create (or an adoption, or
  a declared import) succeeded; folded into the state as a tracked ticket.
* ``moved`` {key, from}: a declared move (``moved:``): the entry of ``from`` is tracked
  as ``key``. Durable before anything of the run is sent, and folded in one step: a
  state is renamed or not, never half.
* ``failed``  {key, message}: definitely no ticket was made (refused, or reconciliation
  found none). Closes the intent.
* ``updating`` {key, id, fields}: written and made durable *before* a PATCH is sent, with
  the values it sets. Left open (a crash mid-request), the state keeps them as the entry's
  ``pending``: read back equal, they are our own write, not an edit made in the tracker.
* ``updated`` {key, id, applied}: a PATCH went through; the state's ``applied`` follows.
* ``update-failed`` {key}: the PATCH was never sent (closes ``updating``).
* ``closed`` {key, applied}: the ticket was closed because no file declares it (``removed:
  close``); ``forgotten`` {key}: it was dropped from the state (``removed: forget``);
  ``deleted`` {key}: StackOne answered that it no longer exists.

Durability is per record, but fsyncs are shared: with 16 workers appending, one of them
(the "leader") writes and fsyncs every pending line in one go while the others wait for
their own line to be covered (group commit). A kill -9 can tear only the last line; it is
ignored on read and cut off before the next append. A torn line was never acknowledged,
so nothing that was relied upon is lost.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ticketsync.errors import StateError
from ticketsync.model import Body, StateEntry
from ticketsync.state.file import fsync_dir
from ticketsync.times import format_time

JOURNAL_SUFFIX = ".journal"

__all__ = [
    "Intent",
    "Journal",
    "base_record",
    "body_digest",
    "journal_path_for",
]


def journal_path_for(state_path: Path) -> Path:
    """The journal of a state file: ``<state>.journal`` beside it."""
    return state_path.with_name(state_path.name + JOURNAL_SUFFIX)


def body_digest(body: Body) -> str:
    """sha256 of the body's canonical JSON: identifies what an intent was about to send."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def base_record(lineage: str, serial: int) -> dict[str, Any]:
    """The journal's first line: the state file (lineage, serial) its records add to."""
    return {"op": "base", "lineage": lineage, "serial": serial}


def _datasync(fd: int) -> None:
    # fdatasync skips the metadata a journal append does not need; macOS has only fsync.
    sync = getattr(os, "fdatasync", None) or os.fsync
    sync(fd)


@dataclass(frozen=True)
class Intent:
    """A create that was about to be sent. ``title``/``project_id`` allow matching it later."""

    key: str
    digest: str
    at: datetime
    title: str = ""
    project_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "op": "intent",
            "key": self.key,
            "digest": self.digest,
            "title": self.title,
            "project_id": self.project_id,
            "at": format_time(self.at, "us"),
        }


class Journal:
    """An open journal: thread-safe appends, each durable before its call returns.

    ``base`` is the (lineage, serial) of the state file the records add to: written as the
    first line of a new journal. An existing journal must already start with it (the
    workspace compacts a journal of an older serial before opening it).
    ``write_seconds`` sums the time spent writing and fsyncing (for the benchmark).
    """

    def __init__(self, path: Path, *, base: tuple[str, int] | None = None) -> None:
        self.path = path
        self.write_seconds = 0.0
        existed = path.exists()
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            _cut_torn_tail(self._fd)
            if base is not None and os.fstat(self._fd).st_size == 0:
                _write_all(self._fd, _line(base_record(*base)))
                _datasync(self._fd)
            if not existed:
                fsync_dir(path.parent)  # the new name must survive a crash, not only its data
        except BaseException:
            os.close(self._fd)
            raise
        self._cond = threading.Condition()
        self._pending: list[bytes] = []
        self._queued = 0  # records handed to append(), numbered from 1
        self._durable = 0  # every record up to this number is on disk
        self._flushing = False
        self._broken: str | None = None

    # -- records ---------------------------------------------------------------------

    def record_intent(
        self, key: str, body: Body, *, at: datetime, wait: bool = True
    ) -> Intent:
        """Record that ``body`` is about to be sent for ``key`` at StackOne's time ``at``
        (a lower bound of it: earlier is the safe side); return the intent.

        Every ``record_*`` call returns once its record is durable, unless ``wait`` is
        False: then the record is only queued, and :meth:`sync` makes it durable (with
        everything queued before it). The applier queues a batch and syncs it once.
        """
        project = body.get("project_id")
        intent = Intent(
            key=key,
            digest=body_digest(body),
            at=at,
            title=str(body.get("title", "")),
            project_id=project if isinstance(project, str) else None,
        )
        self._append(intent.to_json(), wait)
        return intent

    def record_created(
        self,
        key: str,
        ticket_id: str,
        remote_id: str | None,
        applied: Body,
        *,
        created_at: str | None = None,
        wait: bool = True,
    ) -> StateEntry:
        """Durably record that ``key`` exists remotely as ``ticket_id``; return its entry."""
        entry = StateEntry(
            id=ticket_id,
            remote_id=remote_id,
            created_at=created_at or format_time(datetime.now(UTC), "us"),
            applied=dict(applied),
        )
        self._append({"op": "created", "key": key, **entry.to_json()}, wait)
        return entry

    def record_failed(self, key: str, message: str, *, wait: bool = True) -> None:
        """Durably record that no ticket exists for ``key``'s last intent (closes it)."""
        self._append({"op": "failed", "key": key, "message": message}, wait)

    def record_updated(
        self, key: str, ticket_id: str, applied: Body, *, wait: bool = True
    ) -> None:
        """Durably record that ``key`` was patched: its state ``applied`` becomes ``applied``."""
        record = {"op": "updated", "key": key, "id": ticket_id, "applied": dict(applied)}
        self._append(record, wait)

    def record_updating(
        self, key: str, ticket_id: str, fields: Body, *, wait: bool = True
    ) -> None:
        """Record that a PATCH setting ``fields`` is about to be sent for ``key``."""
        record = {"op": "updating", "key": key, "id": ticket_id, "fields": dict(fields)}
        self._append(record, wait)

    def record_moved(self, source: str, target: str, *, wait: bool = True) -> None:
        """Record that the entry of ``source`` is tracked as ``target`` from now on."""
        self._append({"op": "moved", "key": target, "from": source}, wait)

    def record_outcome(self, op: str, key: str, *, wait: bool = True, **data: Any) -> None:
        """Record ``update-failed``, ``closed`` (with ``applied``), ``forgotten``, ``deleted``."""
        if op not in ("update-failed", "closed", "forgotten", "deleted"):
            raise ValueError(f"not a journal outcome: {op}")
        self._append({"op": op, "key": key, **data}, wait)

    def close(self) -> None:
        """Make queued records durable (unless the journal broke), then close the file."""
        with self._cond:
            if self._fd >= 0 and self._broken is None:
                self._wait_durable(self._queued)
            fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- group commit ----------------------------------------------------------------

    def sync(self) -> None:
        """Return once every record queued so far is durable (one fsync for all of them)."""
        with self._cond:
            self._wait_durable(self._queued)

    def _append(self, record: Mapping[str, Any], wait: bool) -> None:
        line = _line(record)
        with self._cond:
            self._check_usable()
            self._pending.append(line)
            self._queued += 1
            if wait:
                self._wait_durable(self._queued)

    def _wait_durable(self, mine: int) -> None:
        # Called with the condition held.
        while self._durable < mine:
            self._check_usable()
            if self._flushing:
                # Another caller is writing: our line goes in its batch or the next one.
                self._cond.wait()
                continue
            self._flush_pending_locked()

    def _flush_pending_locked(self) -> None:
        # Called with the condition held; becomes the leader for everything queued so far.
        batch, self._pending = self._pending, []
        upto = self._queued
        self._flushing = True
        self._cond.release()
        ok = False
        # Overwritten below; stays if a KeyboardInterrupt lands mid-write.
        problem = f"the write to the journal {self.path} was interrupted"
        try:
            started = time.perf_counter()
            _write_all(self._fd, b"".join(batch))
            _datasync(self._fd)
            self.write_seconds += time.perf_counter() - started
            ok = True
        except OSError as exc:
            problem = f"cannot write the journal {self.path}: {exc.strerror}"
        finally:
            self._cond.acquire()
            self._flushing = False
            if ok:
                self._durable = upto
            elif self._broken is None:
                # Part of the batch may be on disk: we cannot tell callers their record is
                # durable, and appending after a possibly torn line would corrupt the file.
                self._broken = problem
            self._cond.notify_all()

    def _check_usable(self) -> None:
        if self._broken is not None:
            raise StateError(f"{self._broken}: stopped; run apply again to reconcile")
        if self._fd < 0:
            raise StateError(f"the journal {self.path} is closed")


def _line(record: Mapping[str, Any]) -> bytes:
    return (json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _cut_torn_tail(fd: int) -> None:
    """Drop a last line without its newline (a write torn by a kill), before appending.

    A last line that is a whole record, torn just before its newline, is kept and given
    its newline instead: :func:`ticketsync.state.recovery.read_records` already counts it (the run
    that opens the journal recovered it, and may have relied on its ids), so cutting it
    here would make the state written at the end of that very run forget a ticket the run
    treated as tracked.
    """
    size = os.fstat(fd).st_size
    if size == 0:
        return
    if os.pread(fd, 1, size - 1) == b"\n":
        return
    # Search backwards for the last newline; the torn tail is at most one record long.
    end = size
    keep = 0
    while end > 0:
        start = max(0, end - 65536)
        chunk = os.pread(fd, end - start, start)
        cut = chunk.rfind(b"\n")
        if cut >= 0:
            keep = start + cut + 1
            break
        end = start
    if _is_record(os.pread(fd, size - keep, keep)):
        _write_all(fd, b"\n")  # O_APPEND: lands at the end, completing the line
    else:
        os.ftruncate(fd, keep)
    os.fsync(fd)


def _is_record(line: bytes) -> bool:
    """Whether ``line`` is a whole journal record.

    The same test as :func:`ticketsync.state.recovery.read_records` applies.
    """
    try:
        record = json.loads(line.decode("utf-8"))
    except ValueError:
        return False
    return is_record(record)


def is_record(record: object) -> bool:
    """Whether a parsed line is a journal record: a base line, or an op on a key."""
    if not isinstance(record, dict):
        return False
    if record.get("op") == "base":
        return isinstance(record.get("lineage"), str) and isinstance(record.get("serial"), int)
    return isinstance(record.get("key"), str)
