"""ticketsync's own JSON documents (the state file, the directory file, a saved plan): one
reader for all three.

Each is decoded, then its version checked (before the schema, so that a file written by a
newer ticketsync gets the message that helps: upgrade), then checked against its compiled
schema. Whatever is wrong is raised as the caller's error, in the caller's words
(:class:`Format`): the reader decides what is wrong, never how it is said.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ticketsync.errors import TicketSyncError


@dataclass(frozen=True)
class Format:
    """A kind of document, and how its reader words what is wrong with one."""

    #: its schema (``schemas/NAME.schema.json``)
    schema: str
    #: the version this ticketsync writes, and the newest it reads
    version: int
    #: what a bad document raises (its one argument: the message)
    error: type[TicketSyncError]
    #: the message for a document that is not one, given what is wrong with it (not
    #: UTF-8, not JSON, the schema's first problem)
    corrupt: Callable[[str], str]
    #: the message for a version newer than :attr:`version`
    newer: Callable[[int], str]
    #: the message for an older version; None: older versions are read (and upgraded)
    older: Callable[[int], str] | None = None
    #: the field that holds the version
    field: str = "version"
    #: the message for text that is not JSON; None: :attr:`corrupt` says so
    not_json: Callable[[json.JSONDecodeError], str] | None = None
    #: whether a schema problem says how many more there are
    count_more: bool = True
    #: a check cheaper than the schema's that, when True, the schema would pass (the
    #: common case of a big file); False sends the document to the schema
    well_formed: Callable[[Any], bool] | None = None


def read(raw: bytes | str, kind: Format) -> Any:
    """The checked document of ``raw``: :func:`decode`, then :func:`check`."""
    data = decode(raw, kind)
    check(data, kind)
    return data


def decode(raw: bytes | str, kind: Format) -> Any:
    """The JSON value of ``raw`` (bytes: UTF-8); ``kind``'s error if it is not one."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise kind.error(kind.corrupt("not UTF-8 text")) from None
    try:
        with collector_off():  # a big document is an acyclic heap: see collector_off
            return json.loads(text)
    except json.JSONDecodeError as exc:
        if kind.not_json is not None:
            raise kind.error(kind.not_json(exc)) from None
        raise kind.error(kind.corrupt(
            f"not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}")) from None


def check(data: Any, kind: Format) -> None:
    """``kind``'s error unless ``data`` is of the version this ticketsync reads and
    satisfies the schema."""
    version = data.get(kind.field) if isinstance(data, dict) else None
    if isinstance(version, int) and not isinstance(version, bool):
        if version > kind.version:
            raise kind.error(kind.newer(version))
        if version < kind.version and kind.older is not None:
            raise kind.error(kind.older(version))
    if kind.well_formed is not None and kind.well_formed(data):
        return
    from ticketsync.declare import schema  # jsonschema's import is paid only here

    problems = schema.check(kind.schema, data)
    if problems:
        where, message = problems[0]
        at = ".".join(str(part) for part in where) or "(top level)"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 and kind.count_more \
            else ""
        raise kind.error(kind.corrupt(f"{at}: {message}{more}"))


@contextmanager
def collector_off() -> Iterator[None]:
    """Hold Python's cyclic garbage collector off while a big document or project is built.

    That allocates millions of containers that all live on, none of them in a reference
    cycle: the collector, triggered by allocations, would walk the growing heap again and
    again for nothing (json.loads of a 90,000-ticket state: 1.35 s with it, 0.48 s
    without; a plan of 100k tickets at 2.3x the bare parse instead of ~1x). Reference
    counting still frees everything as usual; the collector is back on however the block
    ends, and left off if it was off.
    """
    if not gc.isenabled():  # the caller's choice: leave it alone
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
