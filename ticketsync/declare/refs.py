"""References between tickets (README: references): ``{ref:KEY}``, ``{ref:KEY.url}``,
``{ref:KEY.title}``.

A ticket's title and description may name another ticket, which may not exist yet when the
file is written. The loader keeps the text as declared, placeholders and all, and checks
here, offline, that each one names a declared key. The planner resolves them from the
state, and apply from what it learns as it creates (:func:`resolve_body`): a placeholder
whose ticket is not known yet stays in the text, as written, until it is.

``{{ref:KEY}}`` is not a reference, and is sent as written. (Templates turn ``{{`` into
``{`` when they expand, before this module sees the text: there, write ``{{{{ref:KEY}}}}``.)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ticketsync.model import Body, Location, Problem, Ticket

#: A reference: not preceded by a brace (``{{ref:x}}`` is literal text).
REF = re.compile(r"(?<!\{)\{ref:([^{}\s]+)\}")
#: What ``{ref:KEY.ATTR}`` may ask of a ticket besides its number.
ATTRS = ("url", "title")
#: The create body's text fields a reference may stand in: its title, and the plain and
#: html parts of its content (``description:`` becomes ``content: [{plain: ...}]``).
CONTENT_PARTS = ("plain", "html")


@dataclass(frozen=True)
class Target:
    """What a reference to one ticket becomes: its number (``ticket_number``, else its
    id), its URL ("" until read back), its title."""

    number: str
    url: str = ""
    title: str = ""

    def value(self, attr: str) -> str:
        return self.url if attr == "url" else self.title if attr == "title" else self.number


def split(raw: str, keys: Collection[str]) -> tuple[str, str]:
    """``KEY`` or ``KEY.url``/``KEY.title`` -> (key, what of it). A key may hold dots, so
    a declared key that is the whole of ``raw`` wins over an attribute."""
    if raw in keys:
        return raw, "number"
    head, _, attr = raw.rpartition(".")
    if head and attr in ATTRS:
        return head, attr
    return raw, "number"


def texts(body: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(field, text) of each text of ``body`` a reference may stand in."""
    title = body.get("title")
    if isinstance(title, str):
        yield "title", title
    content = body.get("content")
    if isinstance(content, list):
        for part in content:
            if isinstance(part, Mapping):
                for name in CONTENT_PARTS:
                    text = part.get(name)
                    if isinstance(text, str):
                        yield "content", text


def has_ref(body: Mapping[str, Any]) -> bool:
    """Whether ``body`` may hold a reference: a substring test per text, nothing parsed
    (most tickets cite none, and every plan asks this of each)."""
    title = body.get("title")
    if isinstance(title, str) and "{ref:" in title:
        return True
    content = body.get("content")
    if not isinstance(content, list):
        return False
    for part in content:
        if isinstance(part, dict):  # a body as loaded: plain dicts (no ABC check: hot)
            for name in CONTENT_PARTS:
                text = part.get(name)
                if text.__class__ is str and "{ref:" in text:
                    return True
    return False


def cited(body: Mapping[str, Any], keys: Collection[str]) -> list[str]:
    """The keys ``body``'s texts still reference (placeholders not resolved), sorted."""
    if not has_ref(body):
        return []
    found: set[str] = set()
    for _, text in texts(body):
        if "{ref:" in text:
            found.update(split(raw, keys)[0] for raw in REF.findall(text))
    return sorted(found)


def fields_citing(body: Mapping[str, Any]) -> tuple[str, ...]:
    """The fields of ``body`` whose text still holds a placeholder (what a fill-in sends)."""
    return tuple(sorted({name for name, text in texts(body) if REF.search(text)}))


def resolve_text(text: str, targets: Mapping[str, Target], keys: Collection[str]) -> str:
    """``text`` with each reference to a ticket of ``targets`` replaced; the others stay."""
    if "{ref:" not in text:
        return text

    def one(match: re.Match[str]) -> str:
        key, attr = split(match.group(1), keys)
        target = targets.get(key)
        return match.group(0) if target is None else target.value(attr)

    return REF.sub(one, text)


def resolve_body(body: Body, targets: Mapping[str, Target], keys: Collection[str]) -> Body:
    """``body`` with its references to ``targets`` resolved (the same object when it has
    none, so that the common case costs one substring test per text)."""
    if not has_ref(body):
        return body
    title, content = body.get("title"), body.get("content")
    out = dict(body)
    if isinstance(title, str):
        out["title"] = resolve_text(title, targets, keys)
    if isinstance(content, list):
        out["content"] = [
            {name: resolve_text(value, targets, keys) if name in CONTENT_PARTS
             and isinstance(value, str) else value for name, value in part.items()}
            if isinstance(part, Mapping) else part for part in content]
    return out


# -- checked offline, located -------------------------------------------------------------


@dataclass(frozen=True)
class Use:
    """One reference as written: in ticket ``ticket``, naming ``raw``, at ``location``
    (``path``: the dotted field path it is written at)."""

    ticket: str
    raw: str
    location: Location
    path: str


#: Which declared field a body's text comes from.
_DECLARED = {"title": ("title",), "content": ("description", "content")}


def uses(doc: Any, found: Mapping[str, Ticket | Location]) -> list[Use]:
    """Every reference in the tickets a file declares, located where it is written: the
    column of a one-line value, else the value's start. (``doc``: the file's
    :class:`~ticketsync.declare.yamlio.Document`; a template's are located at the
    template's field, the expanded text being the item's.)"""
    out: list[Use] = []
    data = doc.data if isinstance(doc.data, dict) else {}
    for key, ticket in found.items():
        if not isinstance(ticket, Ticket):
            continue
        for name, text in texts(ticket.body):
            if "{ref:" not in text:
                continue
            base = _declared_at(data, ticket, name)
            path = (*base, _first_field(doc, base, name))
            for nth, match in enumerate(REF.finditer(text)):
                out.append(Use(key, match.group(1), _at(doc, path, match.group(0), nth),
                               _dotted(path)))
    return out


def _declared_at(data: Mapping[str, Any], ticket: Ticket, name: str) -> tuple[Any, ...]:
    """Where the ticket's fields are written: its own mapping (in ``tickets:`` or in its
    template), or ``defaults`` when it inherits ``name``."""
    if ticket.origin is not None:
        own: tuple[Any, ...] = ("templates", ticket.origin.split(".", 1)[0], "tickets",
                                ticket.key.rsplit(".", 1)[1])
        fields = _get(data, own)
    else:
        own = ("tickets", ticket.key)
        fields = _get(data, own)
    if isinstance(fields, Mapping) and any(f in fields for f in _DECLARED[name]):
        return own
    return ("defaults",)


def _first_field(doc: Any, base: tuple[Any, ...], name: str) -> str:
    for field in _DECLARED[name]:
        if doc.node((*base, field)) is not None:
            return field
    return _DECLARED[name][0]


def _get(data: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        if not isinstance(data, Mapping):
            return None
        data = data.get(step)
    return data


def _at(doc: Any, path: tuple[Any, ...], written: str, nth: int) -> Location:
    """The column of ``written`` (the ``nth`` reference of its text) within a one-line
    scalar at ``path``, else the value's start."""
    where: Location = doc.locate(path)
    node = doc.node(path)
    value = getattr(node, "value", None)
    style = getattr(node, "style", None)
    if isinstance(value, str) and "\n" not in value and style in (None, "", "'", '"'):
        offset = value.find(written)
        if offset < 0:  # expanded from a template: the nth placeholder as written there
            starts = [m.start() for m in re.finditer(r"(?<!\{)\{ref:", value)]
            offset = starts[nth] if nth < len(starts) else -1
        if offset >= 0:
            quote = 1 if style in ("'", '"') else 0
            return Location(where.file, where.line, where.col + quote + offset)
    return where


def _dotted(path: tuple[Any, ...]) -> str:
    return ".".join(str(step) for step in path)


def check(found: list[Use], declared: Collection[str],
          closest: Callable[[str], str | None]) -> list[Problem]:
    """A located error for each reference to a key no file declares, with a "did you
    mean" (``closest``: the project's key hints)."""
    problems = []
    for use in found:
        key = split(use.raw, declared)[0]
        if key in declared:
            continue
        near = closest(key)
        hint = f" (did you mean '{near}'?)" if near else ""
        what = f"{{ref:{use.raw}}}"
        problems.append(Problem(use.location, use.path, (
            f"{what}: '{key}' is not a declared ticket key{hint}; a reference names a "
            "ticket declared in this project")))
    return problems
