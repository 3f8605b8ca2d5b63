"""``apply --format json``: a published document, with its schema beside the plan's
(``schemas/apply.schema.json``); every document apply prints validates against it."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from cli_helpers import enter_project, invoke

from ticketsync.ci.steps import APPLY_COUNTS
from ticketsync.declare import schema
from ticketsync.run.apply import ApplyResult, Event
from ticketsync.run.events import FATES as OUTCOMES
from ticketsync.run.report import apply_document, projects_document
from ticketsync.state.file import StateEntry, new_state, with_entry


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("platform", "mobile"):
        folder = tmp_path / name
        (folder / "tickets").mkdir(parents=True)
        (folder / "ticketsync.yaml").write_text("tickets: [tickets/]\n", encoding="utf-8")
        (folder / "tickets" / "t.yaml").write_text(textwrap.dedent(f"""\
            tickets:
              {name}-epic:
                title: The {name} epic
              {name}-task:
                title: A task
                parent: {name}-epic
            """), encoding="utf-8")
    return enter_project(tmp_path, monkeypatch)


def test_every_document_of_a_sandbox_apply_validates(workspace: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = invoke("apply", "--sandbox", "--yes", "--format", "json",
                          "--projects", ".")
    doc = json.loads(out)
    assert (code, schema.check("apply", doc)) == (0, [])
    assert [p["project"] for p in doc["projects"]] == ["mobile", "platform"]
    assert [t["key"] for t in doc["projects"][1]["result"]["created"]] == [
        "platform-epic", "platform-task"]
    monkeypatch.chdir(workspace / "platform")
    code, out, _ = invoke("apply", "--sandbox", "--yes", "--format", "json")
    again = json.loads(out)
    assert (code, schema.check("apply", again)) == (0, [])
    assert again["summary"] == dict.fromkeys(APPLY_COUNTS, 0)


def test_a_project_that_fails_to_load_still_gives_a_valid_document(workspace: Path) -> None:
    (workspace / "mobile" / "tickets" / "t.yaml").write_text("tickets: {bad key: {}}\n",
                                                             encoding="utf-8")
    code, out, _ = invoke("apply", "--sandbox", "--yes", "--format", "json",
                          "--projects", ".")
    doc = json.loads(out)
    assert (code, doc["ok"], schema.check("apply", doc)) == (1, False, [])
    assert doc["projects"][0]["result"] is None and doc["projects"][0]["error"]


def test_every_outcome_has_its_list_and_count_in_the_schema() -> None:
    state = with_entry(new_state("acc"), "a", StateEntry(id="t-1", remote_id=None,
                                                          created_at="", applied={}))
    events = [Event(kind, "a", "t-1", f"{kind} because") for kind in OUTCOMES]
    events.append(Event("retried", "a", "t-1", "not an outcome: left out"))
    result = ApplyResult(**dict.fromkeys(OUTCOMES, 1), unsettled=1, halted="stopped")
    doc = apply_document(result, events, state, "ticketsync.state.json")
    assert schema.check("apply", doc) == []
    assert schema.check("apply", projects_document([("p", None, doc), ("q", "no", None)])) == []
    assert [name for name in doc if name in OUTCOMES] == list(OUTCOMES)
    assert doc["failed"] == [{"key": "a", "id": "t-1", "number": None, "url": None,
                              "message": "failed because"}]
    assert tuple(doc["summary"]) == APPLY_COUNTS
    assert schema.check("apply", {**doc, "created": [{"key": "a"}]}) != []
