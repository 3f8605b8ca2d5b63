"""One writer at a time on a state file (docs/design.md, "One writer").

The lock is ``fcntl.flock`` on ``<state>.lock``: the kernel drops it when the holder's
process ends, however it ends (kill -9 included), so a dead holder can never wedge a
project. The file's *content* — ``{pid, host, since, command}`` of the holder — only serves
the messages: who holds the lock, and whether a previous holder died holding it.

A clean release deletes the lock file (while still holding the lock), so a lock file that
exists with content when we acquire it was left by a process that died: we take it over
and report that through ``on_stale`` / :attr:`StateLock.stale` — library code never prints.

Deleting a lock file races with a process that opened it just before: that process may
then lock an inode that no longer has a name while a third one creates a new file. So after
locking, we check that the path still names the inode we locked, and start again if not.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from ticketsync.errors import LockError
from ticketsync.times import now_text


def lock_path_for(state_path: Path) -> Path:
    """The lock file of a state file: ``<state>.lock`` beside it."""
    return state_path.with_name(state_path.name + ".lock")


class StateLock:
    """Hold the state lock for a ``with`` block; a second holder fails at once.

    ``command`` is what the holder is doing, shown to whoever is refused (default: the
    command line, which never holds the API key: that only comes from the environment).
    """

    def __init__(
        self,
        state_path: Path,
        *,
        command: str | None = None,
        on_stale: Callable[[str], None] | None = None,
    ) -> None:
        self.state_path = state_path
        self.path = lock_path_for(state_path)
        self.command = command if command is not None else _default_command()
        self.on_stale = on_stale
        #: After acquiring: the warning about a dead previous holder, if there was one.
        self.stale: str | None = None
        self._fd: int | None = None

    def acquire(self) -> StateLock:
        """Take the lock or raise :class:`LockError` naming the holder and what to do."""
        if self._fd is not None:
            raise LockError(f"{self.path}: this process already holds the lock")
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                from ticketsync.state.file import display_path

                raise LockError(
                    f"{display_path(self.path)}: cannot create the lock file: {exc.strerror}; "
                    "the state's folder must be writable"
                ) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(fd)
                os.close(fd)
                raise LockError(self._held_message(holder)) from None
            except BaseException:
                os.close(fd)
                raise
            if _same_file(fd, self.path):
                break
            os.close(fd)  # the holder we waited behind deleted it: lock the new file
        self._fd = fd
        previous = _parse_holder(os.pread(fd, 4096, 0))
        # Our details first, the stale report after: until they are written, a run that
        # finds the lock held reads the dead holder's (see _read_holder).
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": now_text(),
            "command": self.command,
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info, sort_keys=True) + "\n").encode("utf-8"), 0)
        if previous is not None:
            self.stale = (
                f"took over a stale lock from pid {previous.get('pid', '?')} "
                f"({previous.get('host', '?')}, since {previous.get('since', '?')}): "
                "that process ended without releasing it"
            )
            if self.on_stale is not None:
                self.on_stale(self.stale)
        return self

    def release(self) -> None:
        """Delete the lock file, then drop the lock (see the module docstring for why)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.unlink(self.path)
        except FileNotFoundError:  # pragma: no cover - someone removed it by hand
            pass
        finally:
            os.close(fd)  # closing drops the flock

    def __enter__(self) -> StateLock:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def _held_message(self, holder: dict[str, Any] | None) -> str:
        from ticketsync.state.file import display_path

        if holder is None:
            who = "another ticketsync process"
        else:
            who = (
                f"pid {holder.get('pid', '?')} on {holder.get('host', '?')} "
                f"since {holder.get('since', '?')}"
            )
            if holder.get("command"):
                who += f" ({holder['command']})"
        return (
            f"the state {display_path(self.state_path)} is locked by {who}: wait for it to "
            "finish and run again (a lock whose process has died is released by itself)"
        )


def _default_command() -> str:
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    return " ".join([name, *sys.argv[1:]])[:200]


def _same_file(fd: int, path: Path) -> bool:
    try:
        on_disk = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (held.st_dev, held.st_ino) == (on_disk.st_dev, on_disk.st_ino)


def _read_holder(fd: int) -> dict[str, Any] | None:
    """The details of the process holding the lock. It writes them just after locking:
    until then the file is empty, or still names the dead process it took over from, so
    both are given a moment (a holder on another host cannot be checked: taken as is)."""
    holder = None
    for _ in range(50):
        holder = _parse_holder(os.pread(fd, 4096, 0))
        if holder is not None and not _dead_here(holder):
            return holder
        time.sleep(0.01)
    return holder


def _dead_here(holder: dict[str, Any]) -> bool:
    """Whether ``holder`` names a process of this host that no longer runs."""
    pid = holder.get("pid")
    if holder.get("host") != socket.gethostname() or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def _parse_holder(raw: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None
