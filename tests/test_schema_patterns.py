"""One answer per value: the compiled (fast) and jsonschema (precise) checks never disagree.

fastjsonschema reads a pattern's ``$`` as ``\\Z`` (end of string) and jsonschema as Python's
``$`` (end of string, or before a final newline): with ``^...$``, ``"zz\\n"`` was refused by
the fast check and accepted by the precise one, so a state holding that key was "corrupt"
with no reason given. Patterns end with ``(?![\\s\\S])`` instead, read alike by ECMA, Python
and both libraries.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ticketsync.declare import schema

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = sorted((ROOT / "schemas").glob("*.schema.json"))
#: Patterns still waiting for a fix (strict: when one is fixed, its mark fails and must go).
PENDING: set[tuple[str, str]] = set()
#: An unescaped ``$``: the anchor the two libraries read differently.
DOLLAR = re.compile(r"(?<!\\)\$")


def _patterns(node: Any, where: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                yield where, value
            else:
                yield from _patterns(value, f"{where}/{key}")
    elif isinstance(node, list):
        for n, value in enumerate(node):
            yield from _patterns(value, f"{where}/{n}")


PATTERNS = [
    pytest.param(
        pattern,
        id=f"{path.name}{where}",
        marks=[pytest.mark.xfail(strict=True)] if (path.name, where) in PENDING else [],
    )
    for path in SCHEMAS
    for where, pattern in _patterns(json.loads(path.read_text(encoding="utf-8")))
]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_no_pattern_ends_with_a_dollar(pattern: str) -> None:
    assert not DOLLAR.search(pattern), f"end {pattern!r} with (?![\\s\\S]), not $"


def _key_file(key: str, parent: str = "a") -> dict[str, Any]:
    return {"tickets": {"a": {"title": "A"}, key: {"title": "K", "parent": parent}}}


@pytest.mark.parametrize(
    "name,document,path",
    [
        ("ticket-file", _key_file("zz\n"), ("tickets",)),
        ("ticket-file", _key_file("zz", parent="a\n"), ("tickets", "zz", "parent")),
        ("config", {"marker": {"custom_field": "key\n"}}, ("marker", "custom_field")),
        (
            "state",
            {
                "version": 1,
                "lineage": "0" * 8 + "-0000-0000-0000-" + "0" * 12,
                "serial": 1,
                "written_at": "2024-05-01T12:00:00Z",
                "account_id": None,
                "tickets": {
                    "zz\n": {"id": "x", "remote_id": None, "created_at": "", "applied": {}}
                },
            },
            ("tickets",),
        ),
    ],
    ids=["ticket key", "parent", "marker field", "state key"],
)
def test_a_trailing_newline_is_refused_by_both_checks(
    name: str, document: dict[str, Any], path: tuple[str, ...]
) -> None:
    assert not schema.is_valid(name, document)
    [found] = schema.violations(name, document)
    assert (found.path, found.validator) == (path, "pattern")
    assert found.instance in ("zz\n", "a\n", "key\n")


def test_valid_keys_still_pass() -> None:
    document = _key_file("Z9._-" + "x" * 123)
    assert schema.is_valid("ticket-file", document)
    assert schema.violations("ticket-file", document) == []
