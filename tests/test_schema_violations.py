"""schema.violations: structured results (callers branch on the validator kind, never on
jsonschema's English), and a refusal that the precise check cannot explain is never silent.
"""

from __future__ import annotations

from typing import Any

import pytest

from ticketsync.declare import schema


def _kinds(document: Any) -> list[tuple[schema.JsonPath, str]]:
    return [(v.path, v.validator) for v in schema.violations("ticket-file", document)]


def test_each_violation_names_its_validator_kind() -> None:
    document = {
        "extra": 1,
        "tickets": {
            "bad key!": {"title": "x"},
            "a": {"titel": "x"},
            "b": {"title": "B", "description": "d", "content": [{"plain": "p"}]},
            "c": {"title": 5, "priority": {"value": "urgent"}},
        },
    }
    assert _kinds(document) == [
        ((), "additionalProperties"),
        (("tickets",), "pattern"),
        (("tickets", "a"), "required"),  # sorted by message: "'title' is ..." first
        (("tickets", "a"), "additionalProperties"),
        (("tickets", "b"), "not"),
        (("tickets", "c", "priority", "value"), "enum"),
        (("tickets", "c", "title"), "type"),
    ]
    found = {v.validator: v for v in schema.violations("ticket-file", document)}
    assert found["pattern"].instance == "bad key!"
    assert found["required"].names == ("title",)
    assert found["additionalProperties"].names in {("extra",), ("titel",)}
    assert found["not"].validator_value == {"required": ["content"]}
    assert found["enum"].validator_value[:2] == ["lowest", "low"]


def test_required_names_every_missing_field() -> None:
    [found] = schema.violations("config", {"marker": {}})
    assert (found.path, found.validator) == (("marker",), "required")
    assert found.names == ("custom_field",)
    assert found.message == "'custom_field' is a required property"


def test_check_keeps_its_path_and_message_pairs() -> None:
    assert schema.check("config", {"rate_limit": "fast"}) == [
        (("rate_limit",), "'fast' is not of type 'integer'")
    ]
    assert schema.check("config", {}) == []


def test_a_refusal_the_precise_check_cannot_explain_is_located_and_explicit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As if the two libraries read a rule differently: the compiled check refuses, jsonschema
    # finds nothing. The document must not pass, and the answer must say where and why.
    monkeypatch.setattr(schema, "_precise_errors", lambda name, data: iter(()))
    document = {"tickets": {"a.b": {"title": "A"}, "c": {"title": "C", "priority": "urgent"}}}
    [found] = schema.violations("ticket-file", document)
    assert found.path == ("tickets", "c", "priority")
    assert found.validator == "anyOf"
    assert found.instance == "urgent"
    assert found.message == (
        "'urgent' is refused by the schema's 'anyOf' rule, but the detailed check finds no"
        " reason: please report this as a ticketsync bug"
    )
    assert schema.check("ticket-file", document) == [(found.path, found.message)]


def test_an_unexplained_refusal_under_a_dotted_key_is_located_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(schema, "_precise_errors", lambda name, data: iter(()))
    document = {"tickets": {"a.b": {"title": "A", "tags": ["x", 5]}}}
    [found] = schema.violations("ticket-file", document)
    assert found.path == ("tickets", "a.b", "tags", 1)
    assert (found.validator, found.instance) == ("type", 5)
