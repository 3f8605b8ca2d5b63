"""How messages show a path: one way, whichever command or module words them."""

from __future__ import annotations

from pathlib import Path


def display_path(path: Path, base: Path | None = None) -> str:
    """``path`` relative to ``base`` (default: the working folder) when it is inside it
    (``.`` for ``base`` itself), as users typed it; else as given."""
    try:
        folder = Path.cwd() if base is None else base
        return Path(path).resolve().relative_to(folder.resolve()).as_posix()
    except (ValueError, OSError):
        return str(path)
