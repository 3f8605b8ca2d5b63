"""directory pull learns each (project, type)'s statuses from a ticket the state tracks,
so that validate refuses a status a ticket cannot take offline, before anything is made."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import copy_example, enter_project, invoke

ROOT = Path(__file__).resolve().parent.parent


def test_a_pull_after_an_apply_lets_validate_check_statuses_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = copy_example(ROOT / "examples" / "quickstart", tmp_path / "qs")
    enter_project(project, monkeypatch)
    assert invoke("apply", "--sandbox", "--yes")[0] == 0
    code, out, _ = invoke("directory", "pull", "--sandbox")
    assert code == 0, out
    assert ("Wrote ticketsync.directory.json: 320 users (13 deactivated), 8 projects, "
            "11 ticket types, 15 components, 6 workflows (statuses of a project and type)."
            ) in out
    doc = json.loads((project / "ticketsync.directory.json").read_text())
    assert doc["version"] == 2
    scopes = {(w["project_id"], w["type"]) for w in doc["statuses"]}
    assert ("project-001", None) in scopes
    (project / "tickets" / "new.yaml").write_text(
        "tickets:\n  new-one:\n    title: A new one\n    project: project-001\n"
        "    status: Doing\n")
    code, out, err = invoke("validate")
    assert code == 1
    assert "tickets/new.yaml:5:13: error: tickets.new-one.status: 'Doing' is not a status" in (
        out + err)
    assert "(did you mean 'Done'?)" in out + err
    # Pulled again with nothing new: the file is left as it is, statuses included.
    code, out, _ = invoke("directory", "pull", "--sandbox")
    assert code == 0 and out.startswith("No changes: ticketsync.directory.json is up to date")
