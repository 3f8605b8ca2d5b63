"""Loading a project: ticket files -> checked, normalised :class:`~ticketsync.model.Ticket`s.

Every problem of every file is collected and raised once, as one :class:`InputError`, so
that users fix their files in one pass. A valid file (the common case) costs a C parse, a
compiled-schema check and one small pass per ticket; the precise messages (paths, line and
column, "did you mean") are only worked out for files that fail the check. Problems that
span the project (unknown parents, cycles) cost a lookup each, never a pass over the
project or a second read of a file, however many there are.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from ticketsync.declare import documents, moves, refs, templates
from ticketsync.declare.config import SANDBOX_ACCOUNT, Config
from ticketsync.declare.directory import load_directory
from ticketsync.declare.discovery import find_files, where_tickets_go
from ticketsync.declare.hints import Hints
from ticketsync.declare.names import Resolver
from ticketsync.declare.parents import check_parents
from ticketsync.declare.ticket_file import read_file
from ticketsync.errors import ConfigError, InputError
from ticketsync.model import Import, Location, Move, Problem, Project, Ticket


def load_project(config: Config, paths: Sequence[str] = (), *, cwd: Path | None = None,
                 now: datetime | None = None) -> Project:
    """Load, check and normalise the tickets of ``paths`` (default: ``config.tickets``).

    Paths on the command line are relative to ``cwd`` (default: the current directory),
    those of the config to ``config.root``. Names are resolved against the directory file
    (``config.directory_path``), when there is one (:mod:`ticketsync.declare.names`).
    ``now``: the instant whose periods recurring templates declare (default: this
    machine's clock; a run that talks to StackOne passes StackOne's). Raises
    :class:`InputError` with every problem found, :class:`ConfigError` when a path matches
    nothing, :class:`~ticketsync.declare.directory.DirectoryError` for a directory file that
    cannot be used.
    """
    here = Path.cwd() if cwd is None else cwd
    base = here if paths else config.root
    try:
        files = find_files(base, paths or config.tickets, exclude=config.config_file)
    except ConfigError as exc:
        if paths:
            raise
        raise ConfigError(f"{exc}: {where_tickets_go(config, here)}") from None
    problems: list[Problem] = []
    tickets: dict[str, Ticket] = {}
    declared: dict[str, Location] = {}
    parent_at: dict[str, Location] = {}
    digest = hashlib.sha256()
    names = [_display(path, here) for path in files]
    resolver, directory_bytes = resolver_for(config, here)
    if directory_bytes is not None:  # an input too: a pull may change what a name means
        digest.update(b"\0directory\0" + directory_bytes)
    schedules = templates.Schedules(now)
    cited: list[refs.Use] = []  # {ref:KEY} (README: references), checked once all keys are known
    moved: list[Move] = []
    imports: list[Import] = []
    with documents.collector_off():  # a big project is an acyclic heap: see collector_off
        for path, name in zip(files, names, strict=True):
            result = read_file(path, name, config.marker_field, resolver, schedules)
            problems.extend(result.problems)
            if result.text is None:
                continue
            digest.update(f"{_relative(path, config.root)}\0{len(result.text)}\0".encode())
            digest.update(result.text)
            for key, item in result.found.items():
                location = item.location if isinstance(item, Ticket) else item
                first = declared.setdefault(key, location)
                if first is not location:
                    message = f"duplicate ticket key: also at {first}"
                    problems.append(Problem(location, f"tickets.{key}", message))
                elif isinstance(item, Ticket):
                    tickets[key] = item
            parent_at.update(result.parent_at)
            cited.extend(result.cited)
            moved.extend(result.moves)
            imports.extend(result.imports)
        problems.extend(check_parents(tickets, declared, parent_at))
        problems.extend(refs.check(cited, declared, Hints.for_keys(declared).closest))
        problems.extend(moves.check(moved, imports, declared))
        if problems:
            raise InputError(problems)
        return Project(
            tickets={key: tickets[key] for key in sorted(tickets)},
            files=tuple(names),
            digest=digest.hexdigest(),
            recurring=schedules.found,
            moves=tuple(moved),
            imports=tuple(imports),
        )


def resolver_for(config: Config, cwd: Path) -> tuple[Resolver, bytes | None]:
    """The names of the project's directory file (none if there is no such file), and
    the file's bytes.

    A directory of another account is refused: its ids mean nothing there. Runs against
    the built-in sandbox take the project's directory whatever account it was pulled from
    (the sandbox accepts ids it does not know, unless they look like its own).
    """
    path = config.directory_path
    account = None if config.account_id == SANDBOX_ACCOUNT else config.account_id
    try:
        directory, raw = load_directory(path, account_id=account)
    except FileNotFoundError:
        return Resolver(None, file=_display(path, cwd)), None
    return Resolver(directory, file=_display(path, cwd)), raw


def _display(path: Path, cwd: Path) -> str:
    try:
        return path.relative_to(cwd).as_posix()
    except ValueError:
        return str(path)


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.resolve().as_posix()

