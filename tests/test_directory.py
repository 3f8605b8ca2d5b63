"""The directory file (the README's "Names: the directory"): refused when it cannot be trusted (one
fixture per way), deterministic bytes, and bound to its account like the state."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cli_helpers import enter_project, invoke

from ticketsync.declare.config import Config
from ticketsync.declare.directory import (
    Component,
    Directory,
    DirectoryError,
    Project,
    TicketType,
    User,
    dump_directory,
    parse_seed,
    read_directory,
)
from ticketsync.declare.loader import load_project

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = "tests/fixtures/directories"
RESTORE = ("it was left as it is: restore it from git, or delete it and run "
           "`ticketsync directory pull`")

REFUSED = {
    "listed-twice.json": "the directory file is corrupt (projects: 'project-001' is listed "
    f"twice); {RESTORE}",
    "missing-field.json": "the directory file is corrupt (users.0: 'active' is a required "
    f"property (and 2 more)); {RESTORE}",
    "newer-version.json": "written by a newer ticketsync (directory version 3, this one "
    "reads 2): upgrade ticketsync; the file was left as it is",
    "not-json.json": "the directory file is corrupt (not JSON: Expecting value at line 2, "
    f"column 13); {RESTORE}",
    "not-utf8.json": f"the directory file is corrupt (not UTF-8 text); {RESTORE}",
    "wrong-type.json": "the directory file is corrupt (users.0.active: 'yes' is not of type "
    f"'boolean'); {RESTORE}",
}


@pytest.fixture(autouse=True)
def _at_the_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # messages show paths relative to the working folder


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_a_directory_that_cannot_be_trusted_is_refused(name: str) -> None:
    path = ROOT / FIXTURES / name
    before = path.read_bytes()
    with pytest.raises(DirectoryError) as info:
        read_directory(path)
    assert str(info.value) == f"{FIXTURES}/{name}: {REFUSED[name]}"
    assert path.read_bytes() == before


def test_every_fixture_is_checked() -> None:
    names = {p.name for p in (ROOT / FIXTURES).glob("*.json")}
    assert names == {*REFUSED, "valid.json"}


def test_a_directory_of_another_account_is_refused() -> None:
    path = ROOT / FIXTURES / "valid.json"
    assert read_directory(path, account_id="acc-1").account_id == "acc-1"
    with pytest.raises(DirectoryError) as info:
        read_directory(path, account_id="acc-2")
    assert str(info.value) == (
        f"directory file {FIXTURES}/valid.json belongs to account acc-1, not acc-2: check "
        "STACKONE_ACCOUNT_ID and account_id in ticketsync.yaml; it was left as it is (if the "
        "project moved to another account, delete it and run `ticketsync directory pull`)"
    )


def test_the_bytes_are_a_function_of_the_content() -> None:
    records = {
        "users": [User("u-2", "Bé", "b@x.io", "b", False), User("u-1", "A", None, None)],
        "projects": [Project("p-2", "Two"), Project("p-1", None)],
        "ticket_types": [TicketType("t-9", "Bug", "p-1"), TicketType("t-1", "Task"),
                         TicketType("t-2", "Bug", "p-1")],
        "components": [Component("c-2", "UI", "p-2"), Component("c-1", "API", "p-1")],
    }
    one = Directory.of("acc-1", "2026-01-01T00:00:00Z", **records)
    reversed_records = {kind: list(reversed(items)) for kind, items in records.items()}
    two = Directory.of("acc-1", "2026-01-01T00:00:00Z", **reversed_records)
    text = dump_directory(one)
    assert text == dump_directory(two)
    assert text.endswith("}\n") and '\n  "account_id": "acc-1",\n' in text  # 2-space indent
    doc = json.loads(text)
    assert list(doc) == sorted(doc)
    assert [u["id"] for u in doc["users"]] == ["u-1", "u-2"]
    assert [(t["project_id"], t["id"]) for t in doc["ticket_types"]] == [
        (None, "t-1"), ("p-1", "t-2"), ("p-1", "t-9")]
    assert "Bé" in text  # unicode as is: a renamed person reads well in a diff
    assert one.same_content(two.__class__.of("acc-1", "2027-01-01T00:00:00Z", **records))
    assert not one.same_content(Directory.of("acc-1", "x", users=records["users"]))


def test_what_is_written_reads_back_equal(tmp_path: Path) -> None:
    path = ROOT / FIXTURES / "valid.json"
    directory = read_directory(path)
    assert dump_directory(directory) == path.read_text(encoding="utf-8")


def test_a_seed_may_leave_out_the_pull_fields() -> None:
    seed = parse_seed({"users": [{"id": "u-1", "name": "A", "email": None,
                                  "username": None, "active": True}]}, "seed.json")
    assert [u.id for u in seed.users] == ["u-1"] and seed.projects == ()
    with pytest.raises(DirectoryError, match=r"^seed.json: the directory file is corrupt"):
        parse_seed({"users": [{"id": "u-1"}]}, "seed.json")


# -- what the commands make of it ------------------------------------------------------


def _project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, directory: str) -> Path:
    enter_project(tmp_path, monkeypatch)
    (tmp_path / "tickets").mkdir()
    (tmp_path / "tickets" / "t.yaml").write_text(
        "tickets:\n  a: {title: A, assignees: [alice@example.com]}\n")
    shutil.copy(ROOT / FIXTURES / directory, tmp_path / "ticketsync.directory.json")
    return tmp_path


def test_validate_stops_at_a_corrupt_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _project(tmp_path, monkeypatch, "not-json.json")
    assert invoke("validate") == (1, "", (
        "Error: ticketsync.directory.json: the directory file is corrupt (not JSON: Expecting "
        f"value at line 2, column 13); {RESTORE}\n"))


def test_runs_in_another_account_refuse_the_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _project(tmp_path, monkeypatch, "valid.json")
    assert invoke("validate")[0] == 0  # no account configured: nothing to compare with
    monkeypatch.setenv("STACKONE_ACCOUNT_ID", "acc-1")
    assert invoke("validate")[0] == 0
    monkeypatch.setenv("STACKONE_ACCOUNT_ID", "acc-2")
    code, out, err = invoke("validate")
    assert (code, out) == (1, "")
    assert err.startswith("Error: directory file ticketsync.directory.json belongs to account "
                          "acc-1, not acc-2: ")


def test_sandbox_runs_take_the_projects_directory_whatever_its_account(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(tmp_path, monkeypatch, "valid.json")
    config = Config(root=project, account_id="acc-2").sandboxed()
    tickets = load_project(config, cwd=project).tickets
    assert tickets["a"].body["assignees"] == ["user-001"]


def test_the_schema_is_valid_draft_2020_12_and_its_example_a_directory() -> None:
    import jsonschema

    from ticketsync.declare import schema

    document = json.loads((ROOT / "schemas" / "directory.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(document)
    assert document["$id"].endswith("directory.schema.json")
    for example in document["examples"]:
        assert schema.check("directory", example) == []
        assert parse_seed(example, "example").to_json() == example
