"""The page a sandbox ticket's URL opens in a browser: the ticket as a tracker shows it.

Plain HTML, every value escaped (a title can hold anything a file or a person wrote), no
script, no style sheet: enough to check what an apply did, nothing a tracker's UI does.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from typing import Any

from ticketsync.sandbox.shapes import statuses
from ticketsync.sandbox.store import StoredTicket

#: The fields shown, in this order, after the title and the status.
_SHOWN = ("assignees", "reporters", "priority", "tags", "project_id", "type", "component_ids",
          "parent_id", "unified_custom_fields")


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_text(item) for item in value)
    if isinstance(value, Mapping) and set(value) <= {"id", "value", "source_value"}:
        return str(value.get("value") or value.get("id") or "")
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def ticket_page(ticket: StoredTicket) -> str:
    """The ticket's page (``GET /browse/SBX-3``)."""
    f = ticket.fields
    status = f.get("status") or statuses(f.get("project_id"), f.get("type"))[0]
    content = f.get("content") or []
    text = "\n".join(str(part.get("plain") or part.get("html") or "") for part in content
                     if isinstance(part, Mapping))
    rows = "".join(
        f"<tr><th>{html.escape(name)}</th><td>{html.escape(_text(f[name]))}</td></tr>\n"
        for name in _SHOWN if f.get(name) not in (None, [], {}, ""))
    number, title = html.escape(ticket.remote_id), html.escape(ticket.title or "")
    return (
        "<!doctype html>\n<html><head><meta charset=\"utf-8\">"
        f"<title>{number}: {title}</title></head>\n<body>\n"
        f"<h1>{number}: {title}</h1>\n"
        f"<p>Status: <b>{html.escape(str(status.get('name', '')))}</b>. "
        f"Created {ticket.created_at}, updated {ticket.updated_at}.</p>\n"
        f"<table>\n{rows}</table>\n<pre>{html.escape(text)}</pre>\n"
        "<p><small>ticketsync sandbox: edit it with <code>ticketsync sandbox edit "
        f"{number} FIELD=VALUE</code>.</small></p>\n</body></html>\n"
    )


def missing_page(number: str) -> str:
    """The page of a number the sandbox does not hold (deleted, or never made)."""
    shown = html.escape(number)
    return (
        "<!doctype html>\n<html><head><meta charset=\"utf-8\">"
        f"<title>{shown}: not found</title></head>\n<body>\n<h1>{shown}: not found</h1>\n"
        "<p>This sandbox holds no such ticket: deleted, reset, or never made.</p>\n"
        "</body></html>\n"
    )
