"""The state file: which declared tickets exist remotely, with their ids (docs/design.md, "The state
file").

The state is the only thing that stands between a re-run and a duplicate ticket, so this
module is strict in both directions:

* reading refuses anything it does not fully understand (not JSON, not the schema, a
  newer ``version``, another account, another project's config) with a message naming the
  file, and never "repairs"
  it: the caller stops, the file stays byte-identical, the user restores it from git;
* writing is atomic (temp file in the same folder, fsync, ``os.replace``, fsync the
  folder), so the file on disk is always either the old or the new complete document,
  whatever instant a process is killed at.

Values are frozen; the helpers return new states. Locking is :mod:`ticketsync.state.lock`'s job.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ticketsync.declare import documents
from ticketsync.declare.paths import display_path  # messages show paths one way
from ticketsync.errors import StateError
from ticketsync.model import State, StateEntry, is_valid_key
from ticketsync.times import format_time

#: The state format this ticketsync writes; it reads this one and every older one (1:
#: before read-back, the README's "Keeping tickets in step"; 2: before ``project``), upgrading them
#: on the next write. 3 only adds the optional ``project``, but readers of 2 refuse any unknown
#: field as corruption ("restore it from git"): the bump makes them say "upgrade ticketsync".
STATE_VERSION = 3

#: How far the runner's clock may be from StackOne's (docs/design.md, "No duplicates": the
#: guarantees hold up to an hour either way). A state made by ``init`` has never talked to StackOne,
#: so the runner's clock is all it has; dated this much earlier, its ``written_at`` is a time
#: StackOne's clock had certainly passed at ``init``. A first apply killed mid-way and
#: re-run from that state must look back to every ticket it made: dated by the runner's
#: clock alone, a runner 15 minutes ahead looked from after they were made and made them
#: again (issue #17). Earlier is always true of an empty state, so nothing is lost.
MAX_CLOCK_SKEW = timedelta(hours=1)

__all__ = [
    "MAX_CLOCK_SKEW",
    "STATE_VERSION",
    "State",
    "StateEntry",
    "atomic_write_text",
    "display_path",
    "dump_state",
    "fsync_dir",
    "new_state",
    "project_of",
    "read_state",
    "renamed",
    "with_entry",
    "without",
    "write_state",
]


def new_state(account_id: str | None, *, project: str | None = None) -> State:
    """A fresh, empty state with a new lineage (what ``ticketsync init`` writes).

    Nothing exists yet, so it is complete as of any time, and ``written_at`` is the one
    date of a state not taken from StackOne: this machine's time minus
    :data:`MAX_CLOCK_SKEW`, so that it is earlier than StackOne's time however the two
    clocks disagree (the first apply lists from there, minus a margin; from then on every
    date is StackOne's). ``project``: see :func:`project_of`.
    """
    return State(
        version=STATE_VERSION,
        lineage=str(uuid.uuid4()),
        serial=0,
        written_at=format_time(datetime.now(UTC) - MAX_CLOCK_SKEW),
        account_id=account_id,
        tickets={},
        project=project,
    )


def project_of(state_path: Path, config_path: Path) -> str:
    """The ``project`` a state at ``state_path`` records for the config at ``config_path``:
    the config's path relative to the state file's folder, POSIX (symlinks resolved).

    Relative, so that it stays the same in every checkout of the repository, wherever it
    lies; ``config_path`` need not exist (a project of defaults is bound to where its
    ``ticketsync.yaml`` would be, that is to its folder).
    """
    config, folder = Path(config_path).resolve(), Path(state_path).resolve().parent
    try:
        return Path(os.path.relpath(config, folder)).as_posix()
    except ValueError:  # pragma: no cover - Windows: another drive has no relative path
        return config.as_posix()


def read_state(
    path: Path, *, account_id: str | None = None, project: str | None = None
) -> State:
    """Read and check the state file at ``path``.

    ``account_id`` is the account this run works in: a state bound to another one is
    refused (ids of one account mean nothing in another). ``project`` is this run's
    config (:func:`project_of`): a state bound to another config is refused (two projects
    sharing a state would each close the other's tickets as removed). Raises
    :class:`StateError` naming the file for a missing, unreadable, corrupt,
    schema-invalid or newer file, or one bound to another account or project.
    """
    shown = display_path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise StateError(
            f"no state file at {shown}: run `ticketsync init` first for a new project, or "
            "restore the file from git (a lost state must not re-create every ticket)"
        ) from None
    except OSError as exc:
        raise StateError(
            f"{shown}: cannot read the state file: {exc.strerror}; check the `state` "
            "setting of ticketsync.yaml"
        ) from None
    kind = _format(shown)
    data = documents.read(raw, kind)
    bad = next((key for key in data["tickets"] if not is_valid_key(key)), None)
    if bad is not None:
        raise StateError(kind.corrupt(f"tickets: {bad!r} is not a valid key"))
    with documents.collector_off():
        state = _state_from_json(data)
    if account_id is not None and state.account_id is not None and (
        state.account_id != account_id
    ):
        raise StateError(
            f"state file {shown} belongs to account {state.account_id}, not {account_id}: "
            "check STACKONE_ACCOUNT_ID and account_id in ticketsync.yaml; it was left as it is"
        )
    if project is not None and state.project is not None and state.project != project:
        # Shown from the working folder even when outside it (`-C p2` with a state in ..).
        folder = path.resolve().parent
        owner, this = _from_here(folder / state.project), _from_here(folder / project)
        raise StateError(
            f"state file {_from_here(path)} belongs to the project of {owner}, not {this}: "
            "give each project a `state:` file of its own in its config (if that config "
            f'was moved here, set "project": "{project}" in the state file); it was left as '
            "it is"
        )
    return state


def _from_here(path: Path) -> str:
    """``path`` relative to the working folder, ``..`` included (else as is)."""
    try:
        return Path(os.path.relpath(Path(path).resolve(), Path.cwd().resolve())).as_posix()
    except (ValueError, OSError):  # pragma: no cover - another drive; no working folder
        return str(path)


def _format(shown: str) -> documents.Format:
    """The state file as a document, its problems worded for the file shown as ``shown``:
    never repaired, left as it is for the user to restore from git."""
    return documents.Format(
        schema="state",
        version=STATE_VERSION,
        error=StateError,
        corrupt=lambda what: (f"{shown}: the state file is corrupt ({what}); it was left as "
                              "it is: restore it from git"),
        newer=lambda version: (f"{shown}: written by a newer ticketsync (state version "
                               f"{version}, this one reads {STATE_VERSION}): upgrade "
                               "ticketsync; the file was left as it is"),
    )


def _state_from_json(data: dict[str, Any]) -> State:
    """The state of a checked document, upgraded to this version (a version 1 file simply
    has nothing read back yet, a version 2 file no ``project``: bound at the next write)."""
    return State(
        version=STATE_VERSION,
        lineage=data["lineage"],
        serial=data["serial"],
        written_at=data["written_at"],
        account_id=data["account_id"],
        refreshed_at=data.get("refreshed_at"),
        tickets={key: _entry(e) for key, e in data["tickets"].items()},
        project=data.get("project"),
    )


def _entry(e: dict[str, Any]) -> StateEntry:
    if len(e) == 4:  # the common case of a big state: a version 1 entry, or one never read back
        return StateEntry(e["id"], e["remote_id"], e["created_at"], e["applied"])
    return StateEntry(
        e["id"], e["remote_id"], e["created_at"], e["applied"],
        ticket_number=e.get("ticket_number"), ticket_url=e.get("ticket_url"),
        status=e.get("status"), remote=e.get("remote") or {}, pending=e.get("pending") or {},
        closed=bool(e.get("closed")), deleted=bool(e.get("deleted")),
    )


def dump_state(state: State) -> str:
    """The file text of ``state``: sorted keys, 2-space indent, trailing newline.

    Deterministic, so that one new ticket is a few added lines in ``git diff``. orjson
    writes exactly the bytes of ``json.dumps(sort_keys=True, indent=2,
    ensure_ascii=False)`` about 18 times faster (the stdlib falls back to its pure-Python
    encoder whenever ``indent`` is set: 4.5 s for a 100,000-ticket state). Values orjson
    refuses (an integer beyond 64 bits) go through the stdlib, byte for byte the same.
    """
    doc = state.to_json()
    try:
        import orjson

        return orjson.dumps(
            doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE
        ).decode("utf-8")
    except (ImportError, TypeError):  # orjson.JSONEncodeError is a TypeError
        return json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def write_state(path: Path, state: State) -> State:
    """Write ``state`` to ``path`` atomically with its serial bumped; return what was written.

    The low-level write: commands go through :class:`ticketsync.run.workspace.Session`, which
    holds the lock, has read the current file (so a corrupt or foreign one is never
    replaced), folds the journal first and dates ``written_at``.
    """
    written = replace(state, serial=state.serial + 1)
    atomic_write_text(path, dump_state(written))
    return written


def atomic_write_text(path: Path, text: str) -> None:
    """Replace ``path`` by ``text`` so that a crash at any instant leaves old or new, whole.

    The temp file lives in the same folder (``os.replace`` is atomic only within one file
    system); it is fsync'd before the rename so the new name never points at missing
    data, and the folder is fsync'd after so the rename itself survives a power cut.
    """
    folder = path.parent
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o644  # mkstemp's 0600 would hide a committed file from other users
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(text.encode("utf-8"))
            tmp.flush()
            os.fchmod(tmp.fileno(), mode)
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        # Never leave a half-written temp file behind on an error we saw (a kill -9 can
        # still leave one: it is harmless, being hidden and never read).
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    fsync_dir(folder)


def fsync_dir(folder: Path) -> None:
    try:
        dir_fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # pragma: no cover - platforms that cannot open a folder
        return
    try:
        os.fsync(dir_fd)
    except OSError:  # pragma: no cover - some file systems refuse fsync on a folder
        pass
    finally:
        os.close(dir_fd)


def with_entry(state: State, key: str, entry: StateEntry) -> State:
    """``state`` with ``key`` tracked as ``entry`` (added or replaced)."""
    tickets = dict(state.tickets)
    tickets[key] = entry
    return replace(state, tickets=tickets)


def without(state: State, *keys: str) -> State:
    """``state`` without ``keys``; :class:`StateError` naming the first one not tracked."""
    missing = next((key for key in keys if key not in state.tickets), None)
    if missing is not None:
        raise StateError(f"{missing!r} is not in the state (see `ticketsync state list`)")
    gone = set(keys)
    return replace(state, tickets={k: v for k, v in state.tickets.items() if k not in gone})


def renamed(state: State, old: str, new: str) -> State:
    """``state`` with the entry of ``old`` moved to ``new`` (a renamed ticket key)."""
    if old not in state.tickets:
        raise StateError(f"{old!r} is not in the state (see `ticketsync state list`)")
    if new in state.tickets:
        raise StateError(
            f"{new!r} is already in the state: `ticketsync state rm {new}` first if that "
            "entry is wrong"
        )
    tickets = {k: v for k, v in state.tickets.items() if k != old}
    tickets[new] = state.tickets[old]
    return replace(state, tickets=tickets)
