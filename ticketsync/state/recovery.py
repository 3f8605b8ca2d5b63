"""Reading the journal back: what the state file should say after a run or a crash.

:mod:`ticketsync.state.journal` writes records; this module folds them into a state (in memory)
and rewrites the journal down to what is still open (:func:`compact`). Writing the state
itself is :class:`ticketsync.run.workspace.Session`'s job: the journal may lose its records
only once a state file holding them is durably in place.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ticketsync.errors import StateError
from ticketsync.model import State, StateEntry
from ticketsync.stackone.tickets import flat, nest
from ticketsync.state.file import atomic_write_text, fsync_dir
from ticketsync.state.journal import Intent, base_record, is_record
from ticketsync.times import parse_time


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    """The journal's records in order; nothing if there is no journal.

    A torn last line (no newline, or not JSON) is skipped: it was never acknowledged. A
    bad line *before* the end is corruption we cannot explain, and is refused.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StateError(f"{path}: cannot read the journal: {exc.strerror}") from None
    lines = raw.split(b"\n")
    last = len(lines) - 1  # the text after the final newline: b"" unless torn
    for number, line in enumerate(lines, start=1):
        if not line:
            continue
        try:
            record = json.loads(line.decode("utf-8"))
            if not is_record(record):
                raise ValueError("not a journal record")
        except ValueError:
            if number - 1 == last:
                continue  # torn by a kill mid-write
            raise StateError(
                f"{path}:{number}: the journal is corrupt; move it aside and run apply "
                "(the pre-create lookup then adopts the tickets it recorded)"
            ) from None
        yield record


def is_stale(state: State, base: dict[str, Any] | None) -> bool:
    """Whether a journal with this ``base`` line was already folded into ``state``.

    A state of the same lineage with a higher serial was written from these records (a
    process died between writing the state and compacting the journal): replaying them
    would undo what came after, such as a ``state rm``. A journal of another lineage, or
    of this serial or a later one (a state file restored from git), is folded: its
    tickets exist remotely, and forgetting them is how duplicates are born.
    """
    return (
        base is not None
        and base.get("lineage") == state.lineage
        and int(base.get("serial", 0)) < state.serial
    )


def fold(state: State, records: Iterable[dict[str, Any]]) -> tuple[State, list[Intent]]:
    """Apply journal records to ``state``; return it with the intents still uncertain."""
    tickets: dict[str, StateEntry] = dict(state.tickets)
    pending: dict[str, Intent] = {}
    patching: dict[str, dict[str, Any]] = {}  # key -> fields of a PATCH without an outcome
    stale = False
    for record in records:
        op = record.get("op")
        if op == "base":
            stale = is_stale(state, record)
            continue
        key = record["key"]
        if op == "intent":
            at = parse_time(str(record["at"]))
            earlier = pending.get(key)
            if earlier is not None:
                # A resend (after a lookup that found nothing) writes a fresh intent without
                # closing the one before: any of those sends may have made the ticket, so
                # the lookup must reach back to the first of them, not the last.
                at = min(at, earlier.at)
            pending[key] = Intent(
                key=key,
                digest=str(record.get("digest", "")),
                at=at,
                title=str(record.get("title", "")),
                project_id=record.get("project_id"),
            )
        elif op == "created":
            pending.pop(key, None)
            if not stale:
                tickets[key] = StateEntry(
                    id=str(record["id"]),
                    remote_id=record.get("remote_id"),
                    created_at=str(record.get("created_at", "")),
                    applied=dict(record.get("applied") or {}),
                )
        elif op == "failed":
            pending.pop(key, None)
        elif op == "updating":
            patching.setdefault(key, {}).update(flat(record.get("fields") or {}))
        elif op in ("update-failed", "updated", "closed"):
            patching.pop(key, None)
            if op != "update-failed" and key in tickets and not stale:
                entry = tickets[key]
                applied = dict(record.get("applied") or {})
                # Closed by ticketsync until a PATCH sets another status (a reopen).
                closed = op == "closed" or (entry.closed and applied.get("status") == "closed")
                tickets[key] = replace(entry, applied=applied, pending={}, closed=closed)
        elif op == "deleted" and key in tickets and not stale:
            tickets[key] = replace(tickets[key], deleted=True)
        elif op == "forgotten" and not stale:
            tickets.pop(key, None)
        elif op == "moved" and not stale:
            # Only while it still applies: folded twice (a journal replayed over a state
            # restored from git that already has it), it must not move anything back.
            source = record.get("from")
            if isinstance(source, str) and source in tickets and key not in tickets:
                tickets[key] = tickets.pop(source)
    for key, fields in patching.items():
        if key in tickets and not stale:
            sent = nest({**flat(tickets[key].pending), **flat(fields)})
            tickets[key] = replace(tickets[key], pending=sent)
    # An intent for a key the state already tracks was settled another way (for example
    # `ticketsync state import KEY ID` after an ambiguous reconciliation).
    uncertain = [intent for key, intent in pending.items() if key not in tickets]
    uncertain.sort(key=lambda intent: (intent.at, intent.key))
    return replace(state, tickets=tickets), uncertain


def recover(state: State, journal_path: Path) -> tuple[State, list[Intent]]:
    """Fold the journal at ``journal_path`` into ``state`` (in memory; nothing is written).

    Returns the state with every ``created``/``updated`` record applied, and the intents
    with no outcome: creates that may or may not have happened, oldest first.
    """
    return fold(state, read_records(journal_path))


def compact(journal_path: Path, state: State, uncertain: Sequence[Intent]) -> None:
    """Rewrite the journal as a base line for ``state`` and the still-uncertain intents;
    remove it when there are none.

    Call this only after ``state``, holding every folded record, was written durably: the
    records dropped here must already be in the state file. Atomic (temp + rename).
    """
    if not uncertain:
        try:
            journal_path.unlink()
        except FileNotFoundError:
            return
        fsync_dir(journal_path.parent)
        return
    records = [base_record(state.lineage, state.serial)] + [i.to_json() for i in uncertain]
    text = "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in records)
    atomic_write_text(journal_path, text)
