"""The schemas' fast validators, compiled to Python once rather than at every run.

``fastjsonschema`` turns a JSON Schema into plain Python; doing that at run time cost about
36 ms per command, more than checking a small project. So the code is generated into this
package and committed, one module per schema of ``schemas/``. After editing a schema::

    python -m ticketsync.compiled_schemas

Each module records the sha256 of the schema text it was made from: :func:`validator`
uses it only while that matches the shipped schema (an edited schema that was not
regenerated is compiled at run time, never checked against the old rules), and
``tests/test_schema_compiled.py`` fails until the code is regenerated.

The generated code raises the two exception classes below instead of fastjsonschema's, so
that a run imports nothing of fastjsonschema (its import is most of the cost of a run).
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: The schemas compiled here (``schemas/NAME.schema.json``).
NAMES = ("ticket-file", "config", "state", "plan", "directory", "apply")
SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"

Validator = Callable[[object], object]

_FASTJSONSCHEMA_IMPORT = (
    "from fastjsonschema import JsonSchemaValueException, JsonSchemaValuesException\n"
)
_OUR_IMPORT = (
    "from ticketsync.compiled_schemas import JsonSchemaValueException, JsonSchemaValuesException\n"
)
_GUARD = "if True:  # pragma: no cover - generated; exercised through ticketsync.declare.schema\n"


class JsonSchemaValueException(ValueError):
    """A refusal by a compiled validator (the attributes of fastjsonschema's class).

    ``name`` is the dotted path from ``data`` (``data.tickets.a.priority``), ``rule`` the
    schema keyword that refused ``value``.
    """

    def __init__(
        self,
        message: str,
        value: Any = None,
        name: str | None = None,
        definition: Any = None,
        rule: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.value = value
        self.name = name
        self.definition = definition
        self.rule = rule


class JsonSchemaValuesException(ValueError):
    """Several refusals at once (only raised by validators compiled without fast_fail)."""

    def __init__(self, errors: list[JsonSchemaValueException]) -> None:
        super().__init__("; ".join(error.message for error in errors))
        self.errors = errors


def module_name(name: str) -> str:
    """The module that holds schema ``name``'s validator: ``ticket-file`` -> ``_ticket_file``."""
    return "_" + name.replace("-", "_")


def digest(text: bytes) -> str:
    return hashlib.sha256(text).hexdigest()


def validator(name: str, text: bytes) -> Validator | None:
    """The committed validator of schema ``name``, if it was generated from ``text``."""
    try:
        module = importlib.import_module(f"{__name__}.{module_name(name)}")
    except ImportError:  # a schema added without generating its module
        return None
    if getattr(module, "SCHEMA_SHA256", None) != digest(text):
        return None
    found: Validator = module.validate
    return found


def compile_now(text: bytes) -> Validator:
    """Compile the schema ``text`` in this process (the slow way: for a stale module)."""
    namespace: dict[str, Any] = {}
    exec(compile(generate(text), "<compiled schema>", "exec"), namespace)  # noqa: S102
    found: Validator = namespace["validate"]
    return found


def generate(text: bytes, source: str = "") -> str:
    """The Python source of the validator of the schema ``text`` (needs fastjsonschema)."""
    import ast
    import json
    import re

    import fastjsonschema

    code: str = fastjsonschema.compile_to_code(
        json.loads(text), use_default=False, use_formats=False
    )
    if code.count(_FASTJSONSCHEMA_IMPORT) != 1:
        raise RuntimeError(
            "fastjsonschema's generated code no longer imports its exceptions as expected:"
            " update ticketsync/compiled_schemas/__init__.py"
        )
    code = code.replace(_FASTJSONSCHEMA_IMPORT, _OUR_IMPORT)
    entry = re.search(r"^def (\w+)\(", code, re.MULTILINE)
    if entry is None:  # pragma: no cover - fastjsonschema always writes one function
        raise RuntimeError("fastjsonschema generated no validation function")
    # Indented under one excluded block, the generated branches stay out of our coverage
    # figure; the code means exactly the same (checked below on the syntax trees).
    guarded = _GUARD + "".join(
        f"    {line}" if line.strip() else line for line in code.splitlines(keepends=True)
    )
    block = ast.parse(guarded).body[0]
    if not isinstance(block, ast.If) or list(map(ast.dump, block.body)) != list(
        map(ast.dump, ast.parse(code).body)
    ):  # pragma: no cover - only a multi-line string literal could do it
        raise RuntimeError("indenting the generated code changed its meaning")
    header = (
        f"# Generated by `python -m ticketsync.compiled_schemas`{source} with fastjsonschema"
        f" {fastjsonschema.VERSION}.\n"
        "# Do not edit: edit the schema and regenerate.\n"
        "# mypy: ignore-errors\n"
        f'SCHEMA_SHA256 = "{digest(text)}"\n'
    )
    return f"{header}{guarded}\n\nvalidate = {entry[1]}\n"


def main() -> int:
    """Regenerate every module of this package from ``schemas/``; print what changed."""
    here = Path(__file__).resolve().parent
    for name in NAMES:
        text = (SCHEMAS / f"{name}.schema.json").read_bytes()
        path = here / f"{module_name(name)}.py"
        code = generate(text, f" from schemas/{name}.schema.json")
        old = path.read_text(encoding="utf-8") if path.exists() else None
        if old != code:
            path.write_text(code, encoding="utf-8")
            print(f"wrote {path}")
    return 0
