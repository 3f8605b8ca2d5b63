"""The CI steps called in-process: the paths the runner-level tests do not take.

ticketsync itself still runs in a subprocess, as in CI; the step's own code runs here.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from test_action_runner import TOKEN, FakeForge, fake_forge, read_outputs

from ticketsync.ci import github, gitlab, steps
from ticketsync.ci.forges import GitLab, upsert_comment
from ticketsync.errors import ForgeError

__all__ = ["fake_forge"]  # a fixture


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
              {key}-child:
                title: Its child
                parent: {key}
            """), encoding="utf-8")
    monkeypatch.chdir(root)
    return root


def runner_env(tmp_path: Path, forge: FakeForge, event: dict[str, Any], **extra: str
               ) -> dict[str, str]:
    (tmp_path / "event.json").write_text(json.dumps(event), encoding="utf-8")
    return {"GITHUB_EVENT_PATH": str(tmp_path / "event.json"), "GITHUB_API_URL": forge.url,
            "GITHUB_REPOSITORY": "acme/tickets", "GITHUB_TOKEN": TOKEN,
            "GITHUB_OUTPUT": str(tmp_path / "output"),
            "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"), "INPUT_ARGS": "--sandbox",
            **extra}


def test_outside_a_pull_request_every_project_is_planned_and_nothing_commented(
    workspace: Path, tmp_path: Path, fake_forge: FakeForge, capsys: pytest.CaptureFixture[str]
) -> None:
    env = runner_env(tmp_path, fake_forge, {"ref": "refs/heads/main"})
    assert github.main(["plan"], env) == 0
    assert fake_forge.requests == []
    outputs = read_outputs(tmp_path / "output")
    assert json.loads(outputs["projects"]) == ["mobile", "platform"]
    assert json.loads(outputs["counts"])["create"] == 4
    assert "**2 projects: 2 planned, 2 with changes, 0 failed.**" in (
        tmp_path / "summary.md").read_text(encoding="utf-8")


def test_unreadable_files_of_a_pull_request_plan_every_project(
    workspace: Path, tmp_path: Path, fake_forge: FakeForge, capsys: pytest.CaptureFixture[str]
) -> None:
    env = runner_env(tmp_path, fake_forge, {"pull_request": {"number": 7}},
                     GITHUB_REPOSITORY="acme/other")  # its files: 404
    assert github.main(["plan"], env) == 0
    out = capsys.readouterr().out
    assert "::warning title=ticketsync::could not list the pull request's files" in out
    assert "planning every project" in out
    assert json.loads(read_outputs(tmp_path / "output")["projects"]) == ["mobile", "platform"]


def test_apply_in_process_reports_created_tickets(
    workspace: Path, tmp_path: Path, fake_forge: FakeForge
) -> None:
    env = runner_env(tmp_path, fake_forge, {}, INPUT_WORKING_DIRECTORY="platform")
    assert github.main(["apply"], env) == 0
    outputs = read_outputs(tmp_path / "output")
    assert [t["key"] for t in json.loads(outputs["created"])] == ["outage", "outage-child"]
    assert json.loads(outputs["projects"]) == ["platform"]
    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "| `platform` | 2 | 0 | 0 | 0 | ok |" in summary
    assert "- `outage` (SBX-1) in `platform`" in summary  # a sandbox URL is no link
    # Not on a branch (a pull request's ref): committed, not pushed; without git: an error.
    env["GITHUB_REF"] = "refs/pull/7/merge"
    assert github.main(["commit-state"], env) == 1


def test_apply_that_cannot_report_says_so() -> None:
    step = steps.ApplyStep([], 64, None)
    assert "failed (exit 64) before it could report" in step.markdown()
    assert step.outputs(Path.cwd())["created"] == "[]"


def test_a_plan_that_shows_nothing_says_so(workspace: Path) -> None:
    step = steps.plan_step(workspace, ".", ["--bogus"], None, annotations=False)
    assert step.exit_code == 64
    assert "`ticketsync plan` failed (exit 64) before it could show anything" in step.markdown


def test_args_are_split_as_a_shell_would_never_run_by_one() -> None:
    assert steps.split_args("--rate-limit 60 'a b' $(rm -rf /)") == [
        "--rate-limit", "60", "a b", "$(rm", "-rf", "/)"]
    with pytest.raises(steps.CiError, match="args: No closing quotation"):
        steps.split_args("'open")


def test_outputs_and_summary_files_are_optional(tmp_path: Path) -> None:
    steps.write_outputs(None, {"a": "b"})
    steps.append_summary(None, "x")
    steps.append_summary(str(tmp_path / "s.md"), "no newline")
    assert (tmp_path / "s.md").read_text(encoding="utf-8") == "no newline\n"
    assert steps.read_event(str(tmp_path / "missing.json")) == {}
    assert github.pull_request_number({"pull_request": {"number": "7"}}) is None


def test_a_config_that_does_not_load_is_left_out_of_the_commit(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workspace / "mobile" / "ticketsync.yaml").write_text("tickets: {oops: 1}\n")
    files = steps.state_files(workspace, ".", [], {})
    assert files == [workspace / "platform" / "ticketsync.state.json"]
    assert "mobile: its config does not load" in capsys.readouterr().err
    assert steps.commit_state(workspace, files, branch="main") == "no state file to commit"


def test_gitlab_notes_in_process(fake_forge: FakeForge) -> None:
    forge = GitLab(fake_forge.url, TOKEN, "42", 7)
    fake_forge.files = ["a/b.yaml"]
    try:
        assert upsert_comment(forge, "<!-- m -->", "one", create=False) == "skipped"
        assert upsert_comment(forge, "<!-- m -->", "one") == "created"
        assert upsert_comment(forge, "<!-- m -->", "one") == "unchanged"
        assert upsert_comment(forge, "<!-- m -->", "two") == "updated"
        assert forge.changed_files() == ["a/b.yaml"]
        fake_forge.read_only = True
        with pytest.raises(ForgeError, match="403 Resource not accessible"):
            forge.update_comment(999, "x")
    finally:
        forge.close()


def test_gitlab_plan_in_process_without_a_merge_request(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert gitlab.main(["plan"], {"TICKETSYNC_ARGS": "--sandbox"}) == 0
    assert "### `platform`" in (workspace / "plan.md").read_text(encoding="utf-8")
    assert gitlab.main(["plan"], {"TICKETSYNC_WORKING_DIRECTORY": "nowhere"}) == 1
    assert "Error: " in capsys.readouterr().err


def test_gitlab_note_failure_is_a_warning(
    workspace: Path, fake_forge: FakeForge, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_forge.read_only = True
    fake_forge.files = ["mobile/tickets/t.yaml"]
    env = {"CI_API_V4_URL": fake_forge.url, "CI_PROJECT_ID": "42",
           "CI_MERGE_REQUEST_IID": "7", "GITLAB_TOKEN": TOKEN, "TICKETSYNC_ARGS": "--sandbox"}
    assert gitlab.main(["plan"], env) == 0
    assert "Warning: could not write the merge-request note" in capsys.readouterr().err
