"""`ticketsync plan` end to end over real files: exact output, exit codes, no writes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import enter_project, invoke

from ticketsync.declare import schema
from ticketsync.state.file import StateEntry, new_state, write_state

FILES = {
    "tickets/a.yaml": """\
        defaults:
          project_id: project-001
        tickets:
          parent-a:
            title: Parent in a
          child-b:
            title: Child of b
            parent: parent-b
        """,
    "tickets/b.yaml": """\
        tickets:
          parent-b:
            title: Parent in b
            priority: high
        """,
}


@pytest.fixture(autouse=True)
def project_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    enter_project(tmp_path, monkeypatch)
    for name, text in FILES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return tmp_path


def track(project_dir: Path, **bodies: tuple[str, dict[str, Any]]) -> Path:
    """Write a state tracking ``key=(id, applied body)``."""
    state = new_state("acc-1")
    state = type(state)(state.version, state.lineage, state.serial, state.written_at,
                        state.account_id,
                        {k: StateEntry(i, None, "2024-05-01T12:00:00Z", b)
                         for k, (i, b) in bodies.items()})
    path = project_dir / "ticketsync.state.json"
    write_state(path, state)
    return path


def bodies() -> dict[str, dict[str, Any]]:
    """The create bodies of the current files, as apply would send (and record) them."""
    code, out, _ = invoke("plan", "--format", "json")
    assert code == 0
    return {
        c["key"]: {**c["body"], **({"parent_id": f"tkt-{c['parent']}"} if c["parent"] else {})}
        for c in json.loads(out)["creates"]
    }


NOTE = (
    "Note: no state file at ticketsync.state.json: every declared ticket would be created. "
    "Run `ticketsync init` for a new project, or restore the state from git.\n"
)


def test_without_a_state_everything_is_created_parents_across_files_first(
    project_dir: Path,
) -> None:
    before = sorted(p.name for p in project_dir.rglob("*"))
    code, out, err = invoke("plan")
    assert (code, err) == (0, NOTE)
    assert out == (
        '+ create parent-a  "Parent in a"\n'
        '+ create parent-b  "Parent in b"\n'
        '+ create child-b  "Child of b"\n'
        "\n"
        "Plan: 3 to create, 0 to update, 0 unchanged.\n"
    )
    assert sorted(p.name for p in project_dir.rglob("*")) == before  # plan never writes


def test_the_json_document_is_pinned_and_valid(project_dir: Path) -> None:
    track(project_dir, **{"parent-b": ("tkt-b", {"title": "Parent in b",
                                                 "priority": {"value": "high"}})})
    code, out, _ = invoke("plan", "--format", "json")
    doc = json.loads(out)
    assert code == 0 and schema.check("plan", doc) == []
    assert doc["creates"] == [
        {"key": "child-b", "title": "Child of b",
         "body": {"title": "Child of b", "project_id": "project-001", "parent_id": "tkt-b"},
         "parent": None, "status": None, "file": "tickets/a.yaml", "line": 6, "col": 3},
        {"key": "parent-a", "title": "Parent in a",
         "body": {"title": "Parent in a", "project_id": "project-001"},
         "parent": None, "status": None, "file": "tickets/a.yaml", "line": 4, "col": 3},
    ]
    assert doc["summary"] == {"create": 2, "update": 0, "overwrite": 0, "conflict": 0,
                              "fixed": 0, "close": 0, "forget": 0, "keep": 0, "settle": 0,
                              "drift": 0, "unchanged": 1, "changed_not_applied": 0,
                              "move": 0, "import": 0}
    assert (doc["serial"], len(doc["lineage"]), doc["inputs_digest"] != "") == (1, 36, True)


def test_everything_tracked_is_no_changes_and_exit_0(project_dir: Path) -> None:
    sent = bodies()
    track(project_dir, **{k: (f"tkt-{k}", b) for k, b in sent.items()})
    assert invoke("plan", "--detailed-exitcode") == (0, "No changes.\n", "")


def test_changed_fields_undeclared_and_declared_untracked(project_dir: Path) -> None:
    (project_dir / "ticketsync.yaml").write_text("updates: false\n", encoding="utf-8")
    sent = bodies()
    track(
        project_dir,
        **{"parent-b": ("tkt-b", {**sent["parent-b"], "priority": {"value": "low"}}),
           "parent-a": ("tkt-a", sent["parent-a"]),
           "gone": ("tkt-gone", {"title": "Gone"})},
    )
    code, out, err = invoke("plan", "--detailed-exitcode")
    assert (code, err) == (2, "")
    assert out == (
        '+ create child-b  "Child of b"\n'
        "! changed parent-b (not applied: updates are off)\n"
        '    priority: "low" -> "high"\n'
        '? untracked gone  "Gone" (in the state but declared in no file; left alone)\n'
        "  (if a ticket was renamed, run `ticketsync state mv OLD NEW`; to forget one, "
        "`ticketsync state rm KEY`; `removed:` in ticketsync.yaml can close or forget them)\n"
        "\n"
        "Plan: 1 to create, 0 to update, 1 unchanged; "
        "1 changed but not applied (updates are off).\n"
    )
    (project_dir / "ticketsync.yaml").write_text("updates: true\n", encoding="utf-8")
    code, out, _ = invoke("plan", "--detailed-exitcode")
    assert code == 2
    assert '~ update parent-b\n    priority: "low" -> "high"\n' in out
    assert out.endswith("Plan: 1 to create, 1 to update, 1 unchanged.\n")


def test_changes_that_updates_off_would_not_apply_exit_0(project_dir: Path) -> None:
    (project_dir / "ticketsync.yaml").write_text("updates: false\n", encoding="utf-8")
    sent = bodies()
    track(project_dir, **{k: (f"tkt-{k}", {**b, "title": "Old"}) for k, b in sent.items()})
    code, out, _ = invoke("plan", "--detailed-exitcode")
    assert code == 0
    assert out.endswith("Plan: 0 to create, 0 to update, 0 unchanged; "
                        "3 changed but not applied (updates are off).\n")


def test_paths_limit_the_files(project_dir: Path) -> None:
    code, out, _ = invoke("plan", "tickets/b.yaml")
    assert (code, out) == (0, '+ create parent-b  "Parent in b"\n\n'
                              "Plan: 1 to create, 0 to update, 0 unchanged.\n")


def test_out_saves_a_plan_that_is_current(project_dir: Path) -> None:
    from ticketsync.declare.config import load_config
    from ticketsync.declare.loader import load_project
    from ticketsync.plan.saved import check_plan_current, load_plan
    from ticketsync.state.file import read_state

    track(project_dir)
    code, out, err = invoke("plan", "--out", "plan.json")
    assert code == 0 and out.startswith("+ create ")
    assert err == (
        "Saved the plan to plan.json: apply it with `ticketsync apply --plan plan.json`.\n"
    )
    saved = load_plan(project_dir / "plan.json")
    config = load_config(None, cwd=project_dir, env={})
    check_plan_current(saved, read_state(config.state_path), load_project(config))
    assert [c.key for c in saved.creates] == ["parent-a", "parent-b", "child-b"]


def test_markdown_and_github_formats(project_dir: Path) -> None:
    code, out, _ = invoke("plan", "--format", "markdown")
    assert code == 0 and out.startswith("## ticketsync plan\n\n**Plan: 3 to create")
    assert "| `child-b` | Child of b | `parent-b` |  | `tickets/a.yaml:6` |" in out
    code, out, _ = invoke("plan", "--format", "github")
    assert code == 0
    first = out.splitlines()[0]
    assert first == '::notice file=tickets/a.yaml,line=4::create parent-a "Parent in a"'


def test_the_brake_shows_in_the_plan(project_dir: Path) -> None:
    (project_dir / "ticketsync.yaml").write_text("max_creates: 2\n", encoding="utf-8")
    code, out, _ = invoke("plan", "--detailed-exitcode")
    assert code == 2
    assert ("! max_creates: this plan creates 3 tickets, more than max_creates (2): "
            "apply refuses it without --force\n") in out


@pytest.mark.parametrize(
    "args", [("plan", "--format", "nope"), ("plan", "--bogus"), ("plan", "--out")]
)
def test_usage_errors_exit_64(args: tuple[str, ...]) -> None:
    code, out, err = invoke(*args)
    assert (code, out) == (64, "")
    assert "Error: " in err


def test_bad_input_exits_1_with_locations(project_dir: Path) -> None:
    bad = project_dir / "tickets/c.yaml"
    bad.write_text("tickets:\n  x:\n    titel: X\n", encoding="utf-8")
    code, out, err = invoke("plan", "--detailed-exitcode")
    assert (code, out) == (1, "")
    assert [line.split(": error: ")[0] for line in err.splitlines()] == [
        "tickets/c.yaml:2:3", "tickets/c.yaml:3:5"
    ]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{corrupt", "the state file is corrupt"),
        (json.dumps(new_state("acc-other").to_json()).encode(), "belongs to account acc-other"),
    ],
)
def test_a_bad_state_exits_1_and_is_left_alone(
    project_dir: Path, monkeypatch: pytest.MonkeyPatch, raw: bytes, message: str
) -> None:
    monkeypatch.setenv("STACKONE_ACCOUNT_ID", "acc-1")
    path = project_dir / "ticketsync.state.json"
    path.write_bytes(raw)
    code, out, err = invoke("plan", "--detailed-exitcode")
    assert (code, out) == (1, "")
    assert err.startswith("Error: ") and message in err and err.count("\n") == 1
    assert path.read_bytes() == raw


def test_plan_never_imports_requests(project_dir: Path) -> None:
    code = (
        "import sys\n"
        "from ticketsync.cli import main\n"
        "try:\n    main.main(['plan'])\n"
        "except SystemExit as exc:\n    assert exc.code == 0, exc.code\n"
        "print('requests' in sys.modules, file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stderr.splitlines()[-1] == "False"


def test_plan_after_a_crashed_apply_counts_what_its_journal_recorded(
    project_dir: Path,
) -> None:
    # The apply was killed after parent-b was created and journaled, before the state
    # file was rewritten: the plan must not offer to create parent-b again.
    from ticketsync.state.journal import Journal, journal_path_for

    path = track(project_dir)
    body = bodies()["parent-b"]
    with Journal(journal_path_for(path)) as journal:
        journal.record_intent("parent-b", body, at=datetime.now(UTC))
        journal.record_created("parent-b", "tkt-parent-b", None, body)
    before = path.read_bytes()
    code, out, _ = invoke("plan")
    assert code == 0
    assert "parent-b" not in out.replace("parent: parent-b", "")
    assert out.endswith("Plan: 2 to create, 0 to update, 1 unchanged.\n")
    assert path.read_bytes() == before  # plan never writes, not even to fold the journal


def test_plan_format_github_annotates_bad_input(project_dir: Path) -> None:
    (project_dir / "tickets" / "b.yaml").write_text(
        "tickets:\n  parent-b:\n    title: Parent in b\n    priority: urgent\n", encoding="utf-8"
    )
    code, out, err = invoke("plan", "--format", "github")
    assert code == 1
    assert err == ""
    assert out == (
        "::error file=tickets/b.yaml,line=4,col=15::tickets.parent-b.priority: 'urgent' is "
        "not one of lowest, low, medium, high, highest\n"
    )


def test_format_mermaid_prints_the_tree_alone(project_dir: Path) -> None:
    code, out, _ = invoke("plan", "--format", "mermaid")
    assert code == 0
    assert out == (
        "flowchart LR\n"
        "    classDef tracked stroke-dasharray: 4 4\n"
        "    classDef more fill:none,stroke:none\n"
        '    n0["parent-b<br/>Parent in b"]\n'
        '    n1["child-b<br/>Child of b"]\n'
        '    n2["parent-a<br/>Parent in a"]\n'
        "    n0 --> n1\n"
    )


def test_the_markdown_plan_draws_the_tree(project_dir: Path) -> None:
    code, out, _ = invoke("plan", "--format", "markdown")
    assert code == 0
    table, diagram = out.split("```mermaid\n")
    assert "| `child-b` | Child of b | `parent-b` |" in table
    assert diagram.startswith("flowchart LR\n") and diagram.endswith("    n0 --> n1\n```\n")
