"""One plan, every format: ``plan --also FORMAT=FILE``, and the CI plan step that runs
``ticketsync plan`` once (with ``--refresh``: one read-back, one plan) for its
annotations, its comment and its outputs."""

from __future__ import annotations

import json
import subprocess
import textwrap
from collections.abc import Sequence
from pathlib import Path

import pytest
from cli_helpers import enter_project, invoke

from ticketsync.ci import steps


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "workspace"
    for name, key in (("platform", "outage"), ("mobile", "crash")):
        (root / name / "tickets").mkdir(parents=True)
        (root / name / "ticketsync.yaml").write_text("tickets: [tickets/]\n", encoding="utf-8")
        (root / name / "tickets" / "t.yaml").write_text(textwrap.dedent(f"""\
            tickets:
              {key}:
                title: The {key}
                tags: [ops]
            """), encoding="utf-8")
    return enter_project(root, monkeypatch)


def test_also_writes_the_plan_shown_in_each_other_format(workspace: Path) -> None:
    code, out, _ = invoke("plan", "--projects", ".", "--format", "github",
                          "--also", "markdown=plan.md", "--also", "json=plan.json")
    assert code == 0
    for fmt, file in (("markdown", "plan.md"), ("json", "plan.json"), ("github", None)):
        alone = invoke("plan", "--projects", ".", "--format", fmt)[1]
        assert (out if file is None else (workspace / file).read_text("utf-8")) == alone


def test_also_in_one_project_matches_its_format_alone(workspace: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(workspace / "platform")
    code, out, _ = invoke("plan", "--also", "json=p.json", "--also", "mermaid=p.mmd")
    assert (code, out) == invoke("plan")[:2]
    assert Path("p.json").read_text("utf-8") == invoke("plan", "--format", "json")[1]
    assert Path("p.mmd").read_text("utf-8") == invoke("plan", "--format", "mermaid")[1]


def test_an_also_without_a_format_names_the_form(workspace: Path) -> None:
    code, out, err = invoke("plan", "--projects", ".", "--also", "plan.md")
    assert (code, out) == (64, "")
    assert err.splitlines()[-1] == (
        "Error: Invalid value for '--also': 'plan.md': give FORMAT=FILE, FORMAT one of text, "
        "json, markdown, github, mermaid (e.g. --also markdown=plan.md)")
    assert not (workspace / "plan.md").exists()


def test_the_plan_step_runs_ticketsync_plan_once(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    runs: list[list[str]] = []
    real = steps.ticketsync

    def counted(args: Sequence[str], *, cwd: Path, capture: bool = True
                ) -> subprocess.CompletedProcess[str]:
        runs.append(list(args))
        return real(args, cwd=cwd, capture=capture)

    monkeypatch.setattr(steps, "ticketsync", counted)
    step = steps.plan_step(workspace, ".", ["--sandbox", "--refresh"], None)
    assert [run[:1] for run in runs] == [["plan"]]
    assert step.exit_code == 0
    assert step.markdown.startswith("## ticketsync plan\n")
    assert "**2 projects: 2 planned, 2 with changes, 0 failed.**" in step.markdown
    assert step.doc is not None
    assert [p["project"] for p in step.doc["projects"]] == ["mobile", "platform"]
    assert json.loads(step.outputs(workspace)["counts"])["create"] == 2
    # The annotations, on the step's own stdout: ticketsync's, never captured.
    assert "::notice" in capfd.readouterr().out


def test_the_gitlab_plan_step_runs_it_once_too(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs: list[list[str]] = []
    real = steps.ticketsync

    def counted(args: Sequence[str], *, cwd: Path, capture: bool = True
                ) -> subprocess.CompletedProcess[str]:
        runs.append(list(args))
        return real(args, cwd=cwd, capture=capture)

    monkeypatch.setattr(steps, "ticketsync", counted)
    step = steps.plan_step(workspace, "platform", [], None, annotations=False)
    assert len(runs) == 1
    assert step.markdown.startswith("## ticketsync plan")
    assert step.doc is not None and step.doc["ok"] is True
