"""Editor completion of names: the ticket-file schema with the directory's names in it.

``ticketsync directory pull`` writes ``ticket-file.schema.json`` beside the directory file:
the shipped ticket-file schema, where the fields that take names also *suggest* them (the
active users' emails, the projects', types' and components' names). A ticket file opts in
with its first line::

    # yaml-language-server: $schema=../ticket-file.schema.json

Suggestions only: each field still accepts any string (an id, a username), because the
schema cannot say which names fit which project; ``ticketsync validate`` checks them. The
bytes are a function of the directory, like the directory file's, so it is committed too.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ticketsync.declare import schema
from ticketsync.declare.directory import Directory

#: The file's name, beside the directory file.
EDITOR_SCHEMA = "ticket-file.schema.json"


def editor_schema_path(directory_path: Path) -> Path:
    """Where the editor schema of the directory file at ``directory_path`` goes."""
    return directory_path.with_name(EDITOR_SCHEMA)


def editor_schema(directory: Directory) -> dict[str, Any]:
    """The ticket-file schema with ``directory``'s names as suggestions."""
    doc: dict[str, Any] = copy.deepcopy(schema.load_schema("ticket-file"))
    doc.pop("$id", None)  # a local file: its $id would claim to be the published schema
    doc["title"] = f"ticketsync ticket file, with the names of account {directory.account_id}"
    doc["description"] = (
        "Written by `ticketsync directory pull` from the directory file beside it: the "
        "ticket-file schema, with the account's names suggested where a field takes one. "
        "Suggestions only: `ticketsync validate` checks every name. " + doc["description"]
    )
    people = _names(u.email or u.username or u.id for u in directory.users if u.active)
    suggestions = {
        "assignees": people, "reporters": people, "creator": people,
        "project": _names(p.name for p in directory.projects),
        "type": _names(t.name for t in directory.ticket_types),
        "components": _names(c.name for c in directory.components),
    }
    for definition in ("ticket", "defaults"):
        properties = doc["$defs"][definition]["properties"]
        for name, names in suggestions.items():
            node = properties[name]
            target = node["items"] if node.get("type") == "array" else node
            # any string is still valid: the enum branch is there for completion only
            target["anyOf"] = [{"enum": names}, {"type": "string"}]
    return doc


def dump_editor_schema(directory: Directory) -> str:
    return json.dumps(editor_schema(directory), indent=2, ensure_ascii=False) + "\n"


def _names(values: Iterable[str | None]) -> list[str]:
    return sorted({v for v in values if v})
