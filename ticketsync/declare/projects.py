"""The projects of a repository: every folder that holds a ``ticketsync.yaml``.

Teams keep ``platform/`` and ``mobile/`` side by side, each with its own config, state file
and StackOne account. ``plan`` and ``apply --projects PATH`` run every project found at or
under PATH; the CI steps plan the projects a pull request touches. Two projects whose
``state:`` settings name one file are refused before any of them runs: each would see the
other's tickets as no longer declared, and ``removed: close`` would close them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath

from ticketsync.declare.config import CONFIG_FILE
from ticketsync.declare.paths import display_path
from ticketsync.errors import ConfigError

#: Folders never searched for projects, besides every hidden one (.git, .venv, .ticketsync).
SKIPPED = frozenset({"node_modules", "venv", "__pycache__"})


def find_projects(roots: Sequence[Path]) -> list[Path]:
    """Every folder at or under each of ``roots`` that holds a ``ticketsync.yaml``.

    Absolute, resolved, each once, in the order of their paths. Hidden folders and
    :data:`SKIPPED` are not searched. Raises :class:`ConfigError` for a root that does not
    exist or holds no project (more often a mistyped folder than an empty one), and for
    two projects that share a state file (:func:`check_state_files`).
    """
    found: dict[Path, None] = {}
    for root in roots:
        if not root.is_dir():
            raise ConfigError(f"{root}: no such folder (--projects takes project folders)")
        here = [Path(folder) for folder, _, _ in _walk(root.resolve())]
        projects = [folder for folder in here if (folder / CONFIG_FILE).is_file()]
        if not projects:
            raise ConfigError(
                f"{root}: no {CONFIG_FILE} in it or below it: run `ticketsync init` in each "
                "project folder, or name the folders that hold one"
            )
        found.update(dict.fromkeys(projects))
    ordered = sorted(found, key=lambda path: path.parts)
    check_state_files(ordered)
    return ordered


def check_state_files(projects: Sequence[Path]) -> None:
    """Refuse two of ``projects`` (folders holding a ``ticketsync.yaml``) whose state
    settings resolve to one file, naming both configs.

    A project whose config does not load is left to its own run, which reports it where
    it belongs. (A run of one project refuses a state bound to another project's config
    too: see :func:`ticketsync.state.file.read_state`.)
    """
    from ticketsync.declare.config import load_config
    from ticketsync.errors import TicketSyncError

    owners: dict[Path, Path] = {}
    for folder in projects:
        try:
            config = load_config(None, cwd=folder, env={})  # `state:` needs no environment
        except TicketSyncError:
            continue
        state = config.state_path.resolve()
        first = owners.setdefault(state, config.config_path)
        if first != config.config_path:
            raise ConfigError(
                f"{display_path(first)} and {display_path(config.config_path)} both keep "
                f"their state in {display_path(state)}: two projects sharing a state file "
                "would close each other's tickets; give each project a `state:` file of "
                "its own"
            )


def _walk(root: Path) -> Iterable[tuple[str, list[str], list[str]]]:
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(
            name for name in subfolders if not name.startswith(".") and name not in SKIPPED
        )
        yield folder, subfolders, files


def touched_projects(changed: Iterable[str], projects: Sequence[Path], base: Path) -> list[Path]:
    """The projects that hold one of the ``changed`` files (POSIX paths relative to ``base``).

    A file belongs to the deepest project folder that contains it; a file in no project
    folder touches none. In the order of ``projects``.
    """
    folders = {display_path(project, base): project for project in projects}
    hit: set[str] = set()
    for name in changed:
        parts = PurePosixPath(name).parts
        for depth in range(len(parts) - 1, -1, -1):
            candidate = "/".join(parts[:depth]) or "."
            if candidate in folders:
                hit.add(candidate)
                break
    return [project for name, project in folders.items() if name in hit]
