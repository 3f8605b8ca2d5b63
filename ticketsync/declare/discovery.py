"""Which files make up a project: the ticket files named by paths, folders and globs."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from pathlib import Path

from ticketsync.declare.config import Config
from ticketsync.errors import ConfigError

EXTENSIONS = (".yaml", ".yml")


def find_files(base: Path, entries: Iterable[str], *, exclude: Path | None = None) -> list[Path]:
    """The files named by ``entries``: files, folders (recursive ``*.yaml``/``*.yml``), globs.

    Hidden folders (``.git``, ``.ticketsync``) and the config file ``exclude`` are skipped
    inside folders and globs (a file named as such is read). Raises :class:`ConfigError`
    for an entry that matches nothing, or nothing but what is skipped.
    """
    skip = exclude.resolve() if exclude is not None else None

    def skipped(path: Path) -> bool:
        return skip is not None and path.name == skip.name and path.resolve() == skip

    found: dict[Path, None] = {}  # ordered set: the first naming wins
    for entry in entries:
        target = Path(entry) if Path(entry).is_absolute() else base / entry
        if glob.has_magic(entry):
            matches = [Path(m) for m in sorted(glob.glob(str(target), recursive=True))]
        elif target.exists():
            matches = [target]
        else:
            raise ConfigError(f"{entry}: no such file or folder")
        named: list[Path] = []
        for match in matches:
            if match.is_dir():
                named.extend(path for path in sorted(_walk(match)) if not skipped(path))
            elif match.is_file() and (
                match == target or (match.suffix in EXTENSIONS and not skipped(match))
            ):
                named.append(match)
        if not named:
            raise ConfigError(f"{entry}: no ticket files (*.yaml, *.yml) found")
        found.update(dict.fromkeys(named))
    return list(found)


def where_tickets_go(config: Config, cwd: Path) -> str:
    """What to do when the config's ``tickets`` paths find nothing: the next step."""
    if config.config_file is None:
        for folder in cwd.resolve().parents:
            if (folder / "ticketsync.yaml").is_file():
                found = os.path.relpath(folder / "ticketsync.yaml", cwd.resolve())
                return (
                    f"this folder has no ticketsync.yaml, but {found} exists: run ticketsync "
                    f"from {os.path.dirname(found)}, or pass --config {found}"
                )
        return (
            "add ticket files there (`ticketsync init` starts a project), or give their "
            "paths as arguments"
        )
    return f"add ticket files there, or change `tickets:` in {config.config_file.name}"


def _walk(folder: Path) -> Iterable[Path]:
    for root, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            if name.endswith(EXTENSIONS) and not name.startswith("."):
                yield Path(root, name)
