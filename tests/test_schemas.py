"""The shipped schemas: valid Draft 2020-12, examples validate, found in both install modes."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from ticketsync.declare import schema, yamlio

ROOT = Path(__file__).resolve().parent.parent
NAMES = ("ticket-file", "config")


@pytest.mark.parametrize("name", NAMES)
def test_schema_is_valid_draft_2020_12(name: str) -> None:
    document = json.loads((ROOT / "schemas" / f"{name}.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(document)
    assert document["$id"].endswith(f"{name}.schema.json")
    for example in document["examples"]:
        assert schema.check(name, example) == []


# ticketsync's own inputs: configs and files under a tickets/ folder (examples/ci/ holds
# CI workflow files, which are not ours to validate).
EXAMPLES = sorted(
    p
    for p in (ROOT / "examples").rglob("*.y*ml")
    if p.name == "ticketsync.yaml" or "tickets" in p.relative_to(ROOT).parts
)


@pytest.mark.parametrize("path", EXAMPLES, ids=str)
def test_every_example_validates(path: Path) -> None:
    data = yamlio.read_document(path, str(path)).data
    name = "config" if path.name == "ticketsync.yaml" else "ticket-file"
    assert schema.check(name, data) == []


def test_installed_package_finds_the_schemas() -> None:
    for name in NAMES:
        assert (resources.files("ticketsync") / "schemas" / f"{name}.schema.json").is_file()


@pytest.mark.slow
def test_wheel_ships_the_schemas(tmp_path: Path) -> None:
    pytest.importorskip("wheel", reason="setuptools needs 'wheel' to build without isolation")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    [wheel] = tmp_path.glob("ticketsync_stackone-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for name in NAMES:
        assert f"ticketsync/schemas/{name}.schema.json" in names
