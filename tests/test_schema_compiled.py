"""The committed compiled validators are those of today's schemas, and stale ones are unused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ticketsync import compiled_schemas
from ticketsync.declare import schema

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "ticketsync" / "compiled_schemas"


def test_every_schema_has_a_compiled_module() -> None:
    assert sorted(compiled_schemas.NAMES) == sorted(
        p.name.removesuffix(".schema.json") for p in (ROOT / "schemas").glob("*.schema.json")
    )


@pytest.mark.parametrize("name", compiled_schemas.NAMES)
def test_the_compiled_module_is_up_to_date(name: str) -> None:
    text = (ROOT / "schemas" / f"{name}.schema.json").read_bytes()
    module = PACKAGE / f"{compiled_schemas.module_name(name)}.py"
    expected = compiled_schemas.generate(text, f" from schemas/{name}.schema.json")
    assert module.read_text(encoding="utf-8") == expected, (
        f"{module.name} is out of date with schemas/{name}.schema.json: run "
        "`python -m ticketsync.compiled_schemas` and commit the result"
    )


@pytest.mark.parametrize("name", compiled_schemas.NAMES)
def test_runs_use_the_committed_module(name: str) -> None:
    assert compiled_schemas.validator(name, schema.schema_bytes(name)) is not None


def test_a_stale_module_is_never_used() -> None:
    # A schema edited without regenerating: its rules come from the schema itself.
    text = schema.schema_bytes("config").replace(b'"minimum": 1,', b'"minimum": 10,', 1)
    assert text != schema.schema_bytes("config")
    assert compiled_schemas.validator("config", text) is None
    stricter = compiled_schemas.compile_now(text)
    with pytest.raises(compiled_schemas.JsonSchemaValueException) as info:
        stricter({"rate_limit": 5})
    assert (info.value.name, info.value.rule) == ("data.rate_limit", "minimum")


def test_a_run_imports_no_compiler() -> None:
    code = (
        "import sys\nfrom ticketsync.declare import schema\n"
        "assert schema.is_valid('ticket-file', {'tickets': {'a': {'title': 'A'}}})\n"
        "assert not schema.is_valid('config', {'rate_limit': 0})\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('fastjsonschema', 'jsonschema', 'json')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout == "[]\n"


def test_regenerating_an_up_to_date_package_writes_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = {p.name: p.stat().st_mtime_ns for p in PACKAGE.glob("_*.py")}
    assert compiled_schemas.main() == 0
    assert capsys.readouterr().out == ""
    assert {p.name: p.stat().st_mtime_ns for p in PACKAGE.glob("_*.py")} == before
