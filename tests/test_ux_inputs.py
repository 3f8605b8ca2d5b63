"""UX review: a missing or empty tickets folder, a config file that is not one, bad plan files.

Each mistake gets one line that says what to do next, with the exit code of the README's "Commands".
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import enter_project, invoke


@pytest.fixture(autouse=True)
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "proj ünï"  # spaces and non-ASCII in paths too
    root.mkdir()
    enter_project(root, monkeypatch)
    return root


@pytest.mark.parametrize("command", ["validate", "plan"])
def test_no_tickets_folder_and_no_config(command: str) -> None:
    assert invoke(command) == (
        1,
        "",
        "Error: tickets/: no such file or folder: add ticket files there (`ticketsync init` "
        "starts a project), or give their paths as arguments\n",
    )


def test_no_tickets_folder_with_a_config(project: Path) -> None:
    (project / "ticketsync.yaml").write_text("tickets: [tickets/]\n", encoding="utf-8")
    assert invoke("validate") == (
        1,
        "",
        "Error: tickets/: no such file or folder: add ticket files there, or change "
        "`tickets:` in ticketsync.yaml\n",
    )


def test_an_empty_tickets_folder_is_not_silently_ok(project: Path) -> None:
    """It used to print `0 tickets in 0 files OK`, like a folder with every file in it."""
    (project / "ticketsync.yaml").write_text("tickets: [tickets/]\n", encoding="utf-8")
    (project / "tickets").mkdir()
    assert invoke("validate") == (
        1,
        "",
        "Error: tickets/: no ticket files (*.yaml, *.yml) found: add ticket files there, or "
        "change `tickets:` in ticketsync.yaml\n",
    )
    (project / "empty").mkdir()
    assert invoke("validate", "empty") == (
        1, "", "Error: empty: no ticket files (*.yaml, *.yml) found\n"
    )


def test_from_a_subfolder_the_project_config_is_pointed_at(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "ticketsync.yaml").write_text("tickets: [tickets/]\n", encoding="utf-8")
    (project / "docs" / "notes").mkdir(parents=True)
    monkeypatch.chdir(project / "docs" / "notes")
    for command in ("validate", "plan"):
        assert invoke(command) == (
            1,
            "",
            "Error: tickets/: no such file or folder: this folder has no ticketsync.yaml, but "
            "../../ticketsync.yaml exists: run ticketsync from ../.., or pass "
            "--config ../../ticketsync.yaml\n",
        )


@pytest.mark.parametrize(
    "text,message",
    [
        ("- tickets/\n", "not a config file: it holds a list"),
        ("tickets/\n", "not a config file: it holds a string"),
        (
            "tickets:\n  a: {title: A}\n",
            "not a config file: its 'tickets' is a mapping of tickets (is it a ticket file?)",
        ),
    ],
)
def test_a_config_that_is_not_one(project: Path, text: str, message: str) -> None:
    (project / "ticketsync.yaml").write_text(text, encoding="utf-8")
    assert invoke("validate") == (
        1,
        "",
        f"ticketsync.yaml:1:1: error: {message}; expected settings such as "
        "'tickets: [tickets/]'\n",
    )


def test_a_ticket_file_given_as_config(project: Path) -> None:
    (project / "t.yaml").write_text("tickets:\n  a: {title: A}\n", encoding="utf-8")
    code, out, err = invoke("--config", "t.yaml", "plan")
    assert (code, out) == (1, "")
    assert err.startswith("t.yaml:1:1: error: not a config file: its 'tickets' is a mapping")


@pytest.mark.parametrize("value", ["5", "[]", "[1]", "{}"])
def test_tickets_setting_of_a_wrong_type(project: Path, value: str) -> None:
    """jsonschema's best anyOf branch said `[] is not of type 'string'`."""
    (project / "ticketsync.yaml").write_text(f"tickets: {value}\n", encoding="utf-8")
    code, out, err = invoke("validate")
    assert (code, out) == (1, "")
    if value == "{}":
        assert "not a config file" in err
        return
    assert err == (
        "ticketsync.yaml:1:10: error: tickets: expected a path, or a non-empty list of "
        "paths (files, folders, globs)\n"
    )


def test_setting_typos_get_a_did_you_mean(project: Path) -> None:
    (project / "ticketsync.yaml").write_text("max_create: 3\nzzz: 1\n", encoding="utf-8")
    assert invoke("validate") == (
        1,
        "",
        "ticketsync.yaml:1:1: error: max_create: unknown setting 'max_create' "
        "(did you mean 'max_creates'?)\n"
        "ticketsync.yaml:2:1: error: zzz: unknown setting 'zzz'\n",
    )


def _one_ticket(project: Path) -> None:
    (project / "tickets").mkdir()
    (project / "tickets" / "a.yaml").write_text("tickets:\n  a: {title: A}\n", encoding="utf-8")
    assert invoke("init")[0] == 0


def test_plan_out_into_a_missing_folder(project: Path) -> None:
    _one_ticket(project)
    code, out, err = invoke("plan", "--out", "plans/plan.json")
    assert (code, out) == (1, '+ create a  "A"\n\nPlan: 1 to create, 0 to update, 0 unchanged.\n')
    assert err == (
        "Error: plans/plan.json: cannot write the plan: the folder plans does not exist: "
        "create it, or choose another --out\n"
    )


@pytest.mark.parametrize(
    "content,what",
    [
        ("not json", "plan.json:1:1: the plan is not valid JSON (Expecting value)"),
        ('{"a": 1}', "plan.json: not a valid plan document: (top level): 'creates' is a "
                     "required property"),
    ],
)
def test_apply_plan_with_a_file_that_is_not_a_plan(project: Path, content: str, what: str) -> None:
    _one_ticket(project)
    (project / "plan.json").write_text(content, encoding="utf-8")
    assert invoke("apply", "--plan", "plan.json", "--yes") == (
        1,
        "",
        f"Error: {what}: is it a plan saved by `ticketsync plan --out`? Make a new one with "
        "`ticketsync plan --out plan.json`\n",
    )
