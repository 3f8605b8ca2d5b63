"""Reading the journal back: folding it into the state after a run or a crash.

:mod:`ticketsync.journal` writes records; this module turns them into what the state file
should say, and is the one way a command that read the journal writes the state back
(:func:`commit_state`): the journal loses records only once the state holding them is on
disk, and the intents still uncertain stay in it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC
from pathlib import Path
from typing import Any

from ticketsync.errors import StateError
from ticketsync.journal import Intent, journal_path_for, parse_time
from ticketsync.state import (
    State,
    StateEntry,
    atomic_write_text,
    fsync_dir,
    read_state,
    utc_now,
    write_state,
)


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
            if not isinstance(record, dict) or not isinstance(record.get("key"), str):
                raise ValueError("not a journal record")
        except ValueError:
            if number - 1 == last:
                continue  # torn by a kill mid-write
            raise StateError(
                f"{path}:{number}: the journal is corrupt; move it aside and run apply "
                "(the pre-create lookup then adopts the tickets it recorded)"
            ) from None
        yield record


def fold(state: State, records: Iterator[dict[str, Any]]) -> tuple[State, list[Intent]]:
    """Apply journal records to ``state``; return it with the intents still uncertain."""
    tickets: dict[str, StateEntry] = dict(state.tickets)
    pending: dict[str, Intent] = {}
    for record in records:
        op, key = record.get("op"), record["key"]
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
            tickets[key] = StateEntry(
                id=str(record["id"]),
                remote_id=record.get("remote_id"),
                created_at=str(record.get("created_at", "")),
                applied=dict(record.get("applied") or {}),
            )
        elif op == "failed":
            pending.pop(key, None)
        elif op == "updated" and key in tickets:
            tickets[key] = replace(tickets[key], applied=dict(record.get("applied") or {}))
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


def has_records(journal_path: Path) -> bool:
    """Whether a journal with at least one byte exists (cheap check before folding)."""
    try:
        return journal_path.stat().st_size > 0
    except FileNotFoundError:
        return False


def load_effective_state(state_path: Path, account_id: str | None = None) -> State:
    """The state as it really is: the state file plus its journal, read-only.

    ``plan`` uses this so that a plan made after a crashed apply does not propose to create
    tickets that the crashed run did create and journal.
    """
    state = read_state(state_path, account_id=account_id)
    folded, _ = recover(state, journal_path_for(state_path))
    return folded


def state_written_at(uncertain: Sequence[Intent], now: str) -> str:
    """The ``written_at`` for a state written at ``now`` (the state's own format), beside
    the journal's ``uncertain`` intents.

    ``written_at`` is where the next run's pre-create lookup starts (minus the skew margin),
    and that lookup is all a fresh checkout has: CI commits the state file, even after a
    partial failure, but never the journal. So a state must never claim to be newer than a
    create it does not record and that may have happened: with an intent still open, the
    state is dated no later than that intent (its "as of" time), else the next run from a
    fresh checkout could miss the ticket and create it a second time. Truncated to the
    second, as the state writes times: earlier is the safe direction.
    """
    moment = min([parse_time(now)] + [intent.at for intent in uncertain])
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def commit_state(path: Path, state: State, uncertain: list[Intent]) -> State:
    """Write ``state`` (which holds every folded record) to ``path``, then compact.

    The one way a command that read the journal writes the state: the journal loses its
    records only once the state file holding them is durably in place, it keeps the
    ``uncertain`` intents, and the state is dated no later than the oldest of them (see
    :func:`state_written_at`).
    """
    written = write_state(path, state, now=state_written_at(uncertain, utc_now()))
    compact(journal_path_for(path), uncertain)
    return written


def compact(journal_path: Path, uncertain: list[Intent]) -> None:
    """Keep only the still-uncertain intents; remove the journal when there are none.

    Call this only after the state holding every folded record was written durably:
    the records dropped here must already be in the state file. Atomic (temp + rename).
    """
    if not uncertain:
        try:
            journal_path.unlink()
        except FileNotFoundError:
            return
        fsync_dir(journal_path.parent)
        return
    text = "".join(
        json.dumps(intent.to_json(), sort_keys=True, ensure_ascii=False) + "\n"
        for intent in uncertain
    )
    atomic_write_text(journal_path, text)
