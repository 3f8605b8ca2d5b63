"""JSON Schema checks: the only module that uses a JSON Schema library.

The schemas live in the top-level ``schemas/`` folder, shipped inside the package as
``ticketsync/schemas`` (a symlink in the source tree, real files in a wheel).

Two paths, because a valid document is the common case and must be cheap:

* fast: the schema compiled to plain Python by ``fastjsonschema`` (ahead of time, see
  :mod:`ticketsync.compiled_schemas`) answers valid/invalid;
* precise: only for an invalid document, ``jsonschema`` lists *every* violation with its
  path, so that users fix their files in one pass.

The two must give one answer. Patterns end with ``(?![\\s\\S])``, never ``$`` (which the
two libraries read differently); and should the precise check ever find nothing wrong with
a document the fast one refused, the refusal is reported as it is, located, never dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

#: A place inside a JSON document: keys and list indexes from the root.
JsonPath = tuple[str | int, ...]

_SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"


@dataclass(frozen=True)
class Violation:
    """One way a document breaks a schema.

    ``validator`` is the schema keyword that failed, as jsonschema names it
    (``"additionalProperties"``, ``"required"``, ``"not"``, ``"pattern"``, ``"enum"``,
    ``"type"``, ...), ``validator_value`` that keyword's value in the schema, and
    ``instance`` the value at ``path`` that failed it. ``names`` are the property names it
    is about: the missing one for ``required``, the unexpected ones for
    ``additionalProperties``. ``message`` is jsonschema's (English, for people only).
    """

    path: JsonPath
    validator: str
    message: str
    validator_value: Any = None
    instance: Any = None
    names: tuple[str, ...] = ()


@cache
def schema_bytes(name: str) -> bytes:
    """The bytes of the shipped schema ``name`` (e.g. ``"ticket-file"``)."""
    return (_SCHEMAS / f"{name}.schema.json").read_bytes()


def schema_text(name: str) -> str:
    """The text of the shipped schema ``name``."""
    return schema_bytes(name).decode("utf-8")


@cache
def load_schema(name: str) -> dict[str, Any]:
    """The shipped schema ``name`` as a dict."""
    import json

    schema: dict[str, Any] = json.loads(schema_bytes(name))
    return schema


@cache
def _fast_validator(name: str) -> Callable[[object], object]:
    from ticketsync import compiled_schemas

    text = schema_bytes(name)
    return compiled_schemas.validator(name, text) or compiled_schemas.compile_now(text)


def _fast_error(name: str, data: object) -> Any:
    """The fast validator's refusal of ``data`` (a JsonSchemaValueException), or None."""
    from ticketsync.compiled_schemas import JsonSchemaValueException

    try:
        _fast_validator(name)(data)
    except JsonSchemaValueException as exc:
        return exc
    return None


def is_valid(name: str, data: object) -> bool:
    """Whether ``data`` satisfies schema ``name`` (the fast path)."""
    return _fast_error(name, data) is None


def violations(name: str, data: object) -> list[Violation]:
    """Every violation of schema ``name`` by ``data``, sorted by path then message.

    Returns ``[]`` for a valid document, at the cost of the fast path only.
    """
    refused = _fast_error(name, data)
    if refused is None:
        return []
    found: dict[tuple[JsonPath, str, str], Violation] = {}
    for error in _precise_errors(name, data):
        for violation in _leaf_violations(error):
            found.setdefault((violation.path, violation.validator, violation.message), violation)
    if not found:  # the two libraries disagree: say so, located, and never pass
        violation = _unexplained(refused, data)
        found[(violation.path, violation.validator, violation.message)] = violation
    return sorted(found.values(), key=lambda v: (tuple(map(str, v.path)), v.message))


def check(name: str, data: object) -> list[tuple[JsonPath, str]]:
    """Every violation of schema ``name`` by ``data``, as (path, message), sorted by path.

    Returns ``[]`` for a valid document, at the cost of the fast path only.
    """
    return [(violation.path, violation.message) for violation in violations(name, data)]


def _precise_errors(name: str, data: object) -> Iterator[Any]:
    import jsonschema

    validator_cls = jsonschema.validators.validator_for(load_schema(name))
    return validator_cls(load_schema(name)).iter_errors(data)  # type: ignore[arg-type]


def _leaf_violations(error: Any) -> list[Violation]:
    """The most specific violations of ``error``: for oneOf/anyOf, the best branch's ones."""
    if error.context:
        import jsonschema.exceptions

        # A branch that refuses the value's very type does not apply to it (priority
        # {value: urgent} is no string): the branches that do apply explain better.
        wrong_type = {
            e.relative_schema_path[0]
            for e in error.context
            if e.validator == "type" and not e.relative_path
        }
        applicable = [
            e for e in error.context if e.relative_schema_path[0] not in wrong_type
        ] or error.context
        best = jsonschema.exceptions.best_match(applicable)
        if best is not None:
            return _leaf_violations(best)
    path: JsonPath = tuple(error.absolute_path)
    kind, value, instance = str(error.validator), error.validator_value, error.instance
    if kind == "required" and isinstance(instance, dict):
        # jsonschema gives one error per missing property and names it in English only.
        return [
            Violation(path, kind, f"{field!r} is a required property", value, instance, (field,))
            for field in value
            if field not in instance
        ]
    names: tuple[str, ...] = ()
    if kind == "additionalProperties" and isinstance(instance, dict):
        known = error.schema.get("properties", {})
        names = tuple(str(key) for key in instance if key not in known)
    return [Violation(path, kind, error.message, value, instance, names)]


def _unexplained(refused: Any, data: object) -> Violation:
    """The fast validator's refusal, as a violation, when jsonschema found nothing."""
    path = _path_of(refused.name or "data", data)
    rule = str(refused.rule or "schema")
    shown = repr(refused.value)
    if len(shown) > 80:  # a whole mapping, for a rule about its keys
        shown = shown[:76] + " ..."
    definition = refused.definition
    return Violation(
        path,
        rule,
        f"{shown} is refused by the schema's {rule!r} rule, but the detailed check finds no"
        " reason: please report this as a ticketsync bug",
        definition.get(rule) if isinstance(definition, dict) else None,
        refused.value,
    )


def _path_of(name: str, data: object) -> JsonPath:
    """The path that fastjsonschema's dotted ``name`` (``data.tickets.a.b[0]``) stands for.

    Keys may hold dots themselves, so each step takes the longest key of the mapping that
    the rest of the name starts with; where nothing fits, the path stops there.
    """
    rest = name.removeprefix("data")
    path: list[str | int] = []
    node = data
    while rest:
        if rest.startswith("[") and isinstance(node, list) and "]" in rest:
            index, _, after = rest[1:].partition("]")
            if not index.isdigit() or int(index) >= len(node):
                break
            path.append(int(index))
            node, rest = node[int(index)], after
        elif rest.startswith(".") and isinstance(node, dict):
            fits = [
                key
                for key in node
                if isinstance(key, str)
                and rest[1:].startswith(key)
                and rest[1 + len(key) : 2 + len(key)] in ("", ".", "[")
            ]
            if not fits:
                break
            key = max(fits, key=len)
            path.append(key)
            node, rest = node[key], rest[1 + len(key) :]
        else:
            break
    return tuple(path)
