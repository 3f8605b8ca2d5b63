"""How a plan shows a field's values (the README's "ticketsync plan"): quoted, by name, bounded.

A reviewer approves values, not field names, so every rendering of a change goes through
:func:`phrase`: the text plan puts it after ``FIELD:``, Markdown in a code span, GitHub in
an annotation. Values come from files and from the tracker, so they are untrusted: every
string is quoted by :func:`~ticketsync.declare.directory.quoted` (a newline, a carriage
return, an escape sequence or any other character that is not printable is written as its
escape), and every value is cut to a bounded length. Nothing in one can end its line.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from typing import Any

from ticketsync.declare.directory import Directory, quoted
from ticketsync.model import FieldValues, Plan

#: The fields that hold ids the directory names, and the kind of record each one holds.
REFERENCES = {"project_id": "projects", "type": "ticket_types", "component_ids": "components",
              "assignees": "users", "reporters": "users", "creator_id": "users"}
#: A value (or a name) longer than this is cut where a plan shows it.
VALUE_CHARS = 80
#: A list shows at most this many added (and removed) items; the rest are counted.
LIST_ITEMS = 10

#: How each kind of line says a field's values.
UPDATE, CONFLICT, OVERWRITE, HELD, FIXED, DRIFT = (
    "update", "conflict", "overwrite", "held", "fixed", "drift")
_AFTERWORD = {
    OVERWRITE: "replaces the tracker's {tracker}",
    HELD: "waits with the conflict",
    FIXED: "StackOne cannot change it once the ticket exists",
}


def shows_ids(plan: Plan) -> bool:
    """Whether a change of ``plan`` shows a field holding ids (people, a project...): only
    then is the directory worth reading to name them."""
    values = [v for u in plan.updates for v in u.values]
    values += [v for d in plan.drift for v in d.values]
    return any(v.field in REFERENCES for v in values)


def cut(text: str, limit: int = VALUE_CHARS) -> str:
    """``text`` at most ``limit`` characters long, an ellipsis marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def escaped(text: str) -> str:
    """``text`` with every character that is not printable written as its escape, as
    :func:`quoted` does, without the quotes: what is left cannot end a line, nor drive a
    terminal."""
    return "".join(char if char.isprintable() else
                   char.encode("unicode_escape").decode("ascii") for char in text)


def label(field: str, values: FieldValues) -> str:
    """The name a line gives ``field``: ``description`` for a content of one plain text
    (what the ``description:`` shorthand declares), the field's own name otherwise."""
    if field == "content" and all(_plain_only(v) for v in (values.before, values.after)):
        return "description"
    return escaped(cut(field))


def phrase(values: FieldValues, how: str, directory: Directory | None = None) -> str:
    """What changes in ``values.field``, as a line shows it after ``FIELD:``.

    ``how``: :data:`UPDATE` (``"high" -> "highest"``; lists as ``+ added  - removed``;
    texts as how many lines changed and the first change), :data:`CONFLICT` (declared,
    last applied and tracker values), :data:`DRIFT` (applied and tracker values), or an
    update with an afterword (:data:`OVERWRITE`, :data:`HELD`, :data:`FIXED`).
    """
    field = values.field
    if how == CONFLICT:
        return (f"declared {one(field, values.after, directory)}, last applied "
                f"{one(field, values.before, directory)}, tracker "
                f"{one(field, values.tracker, directory)}")
    if how == DRIFT:
        return (f"applied {one(field, values.before, directory)}, tracker "
                f"{one(field, values.tracker, directory)}")
    said = _change(field, values.before, values.after, directory)
    if how in _AFTERWORD:
        said += " (" + _AFTERWORD[how].format(
            tracker=one(field, values.tracker, directory)) + ")"
    return said


def one(field: str, value: Any, directory: Directory | None = None) -> str:
    """One value of ``field``, quoted, named and cut: ``"high"``, ``"Dana" (user-4)``,
    ``(none)``."""
    if value is None or value in ("", [], {}):
        return "(none)"
    kind = REFERENCES.get(field)
    if isinstance(value, list):
        shown = [one(field, item, directory) for item in value[:LIST_ITEMS]]
        more = [f"{len(value) - LIST_ITEMS} more"] if len(value) > LIST_ITEMS else []
        return "[" + ", ".join(shown + more) + "]"
    if kind is not None and isinstance(value, str):
        return _named(directory, kind, value)
    if field == "priority" and isinstance(value, Mapping):
        value = value.get("value") or value.get("id") or dict(value)
    if field == "content" and _text_of(value) is not None:
        lines = str(_text_of(value)).splitlines() or [""]
        extra = f" (+{len(lines) - 1} lines)" if len(lines) > 1 else ""
        return quoted(cut(lines[0])) + extra
    if isinstance(value, str):
        return quoted(cut(value))
    return escaped(cut(json.dumps(value, sort_keys=True, ensure_ascii=False)))


def _change(field: str, before: Any, after: Any, directory: Directory | None) -> str:
    if field == "content":
        old_text, new_text = _text_of(before), _text_of(after)
        if old_text is not None and new_text is not None:
            return _text_change(old_text, new_text)
    if isinstance(before, list) or isinstance(after, list):
        old = before if isinstance(before, list) else []
        new = after if isinstance(after, list) else []
        if not all(isinstance(v, str) for v in (*old, *new)):
            return f"{one(field, before, directory)} -> {one(field, after, directory)}"
        added = [v for v in new if v not in old]
        removed = [v for v in old if v not in new]
        if not added and not removed:
            return "the same, in another order"
        return "  ".join(_items("+", field, added, directory) + _items("-", field, removed,
                                                                        directory))
    return f"{one(field, before, directory)} -> {one(field, after, directory)}"


def _items(sign: str, field: str, values: list[str], directory: Directory | None) -> list[str]:
    shown = [f"{sign} {one(field, v, directory)}" for v in values[:LIST_ITEMS]]
    if len(values) > LIST_ITEMS:
        shown.append(f"{sign} {len(values) - LIST_ITEMS} more")
    return shown


def _text_change(old: str, new: str) -> str:
    """``2 lines changed (first: "Users see 502s" -> "Users see 503s")``: a long text as
    a bounded summary, whatever its length."""
    a, b = old.splitlines(), new.splitlines()
    changed = [op for op in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
               if op[0] != "equal"]
    if not changed:
        return "the same text, in other parts"
    count = sum(max(i2 - i1, j2 - j1) for _, i1, i2, j1, j2 in changed)
    _, i1, i2, j1, j2 = changed[0]
    first = (quoted(cut(a[i1])) if i1 < i2 else "(none)",
             quoted(cut(b[j1])) if j1 < j2 else "(none)")
    lines = "1 line" if count == 1 else f"{count} lines"
    return f"{lines} changed (first: {first[0]} -> {first[1]})"


def _plain_only(content: Any) -> bool:
    return content is None or (isinstance(content, list) and len(content) == 1
                                and isinstance(content[0], Mapping)
                                and set(content[0]) == {"plain"})


def _text_of(content: Any) -> str | None:
    """The text of a content (its parts' plain text, else HTML, one after the other)."""
    if content is None:
        return ""
    if not isinstance(content, list):
        return None
    parts = []
    for part in content:
        if not isinstance(part, Mapping):
            return None
        text = part.get("plain", part.get("html"))
        parts.append(text if isinstance(text, str) else "")
    return "\n".join(parts)


def _named(directory: Directory | None, kind: str, value: str) -> str:
    """``"Platform" (project-003)``; a bare id the directory does not name."""
    shown = escaped(cut(value))  # an id is the tracker's text too
    name = directory.name_of(kind, value) if directory is not None else None
    return f"{quoted(cut(name))} ({shown})" if name else shown
