"""JSON Schema checks: the only module that imports a JSON Schema library.

The schemas live in the top-level ``schemas/`` folder, shipped inside the package as
``ticketsync/schemas`` (a symlink in the source tree, real files in a wheel).

Two paths, because a valid document is the common case and must be cheap:

* fast: the schema compiled to plain Python by ``fastjsonschema`` answers valid/invalid;
* precise: only for an invalid document, ``jsonschema`` lists *every* violation with its
  path, so that users fix their files in one pass.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

#: A place inside a JSON document: keys and list indexes from the root.
JsonPath = tuple[str | int, ...]


def schema_text(name: str) -> str:
    """The text of the shipped schema ``name`` (e.g. ``"ticket-file"``)."""
    return (resources.files("ticketsync") / "schemas" / f"{name}.schema.json").read_text(
        encoding="utf-8"
    )


@cache
def load_schema(name: str) -> dict[str, Any]:
    """The shipped schema ``name`` as a dict."""
    schema: dict[str, Any] = json.loads(schema_text(name))
    return schema


@cache
def _fast_validator(name: str) -> Callable[[object], object]:
    import fastjsonschema

    validator: Callable[[object], object] = fastjsonschema.compile(
        load_schema(name), use_default=False, use_formats=False
    )
    return validator


def is_valid(name: str, data: object) -> bool:
    """Whether ``data`` satisfies schema ``name`` (the fast path)."""
    import fastjsonschema

    try:
        _fast_validator(name)(data)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


def check(name: str, data: object) -> list[tuple[JsonPath, str]]:
    """Every violation of schema ``name`` by ``data``, as (path, message), sorted by path.

    Returns ``[]`` for a valid document, at the cost of the fast path only.
    """
    if is_valid(name, data):
        return []
    import jsonschema

    validator_cls = jsonschema.validators.validator_for(load_schema(name))
    validator = validator_cls(load_schema(name))
    found: list[tuple[JsonPath, str]] = []
    for error in validator.iter_errors(data):  # type: ignore[arg-type]
        found.extend(_leaf_errors(error))
    if not found:  # pragma: no cover - the two libraries disagree: say so, never pass
        found.append(((), "does not match the schema"))
    return sorted(set(found), key=lambda item: (tuple(map(str, item[0])), item[1]))


def _leaf_errors(error: Any) -> list[tuple[JsonPath, str]]:
    """The most specific messages of ``error``: for oneOf/anyOf, the best branch's ones."""
    if error.context:
        import jsonschema.exceptions

        best = jsonschema.exceptions.best_match(error.context)
        if best is not None:
            return _leaf_errors(best)
    return [(tuple(error.absolute_path), error.message)]
