"""The GitLab example's steps: one merge-request note, updated in place on every push.

``python -m ticketsync.ci.gitlab plan`` runs as the example's plan job runs it, against
the sandbox, with GitLab's notes API faked over loopback.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from test_action_runner import TOKEN, FakeForge, fake_forge

from ticketsync.ci import gitlab

__all__ = ["fake_forge"]  # a fixture


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "workspace"
    for name, key in (("platform", "outage"), ("mobile", "crash")):
        (root / name / "tickets").mkdir(parents=True)
        (root / name / "ticketsync.yaml").write_text("tickets: [tickets/]\n", encoding="utf-8")
        (root / name / "tickets" / "t.yaml").write_text(textwrap.dedent(f"""\
            tickets:
              {key}:
                title: The {key}
            """), encoding="utf-8")
    return root


def plan_job(root: Path, forge: FakeForge, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "HOME": str(root), "LANG": "C.UTF-8",
           "CI_API_V4_URL": forge.url, "CI_PROJECT_ID": "42", "CI_MERGE_REQUEST_IID": "7",
           "GITLAB_TOKEN": TOKEN, "TICKETSYNC_ARGS": "--sandbox", **extra}
    return subprocess.run([sys.executable, "-m", "ticketsync.ci.gitlab", "plan"], cwd=root,
                          env=env, capture_output=True, text=True, timeout=120, check=False)


def test_the_note_is_updated_in_place_on_the_next_push(
    workspace: Path, fake_forge: FakeForge
) -> None:
    fake_forge.comments = {1: "a reviewer's note"}
    fake_forge.files = ["platform/tickets/t.yaml"]
    first = plan_job(workspace, fake_forge)
    assert first.returncode == 0, first.stderr
    assert "ticketsync: plan note created" in first.stdout
    [(note, body)] = [(i, b) for i, b in fake_forge.comments.items() if i != 1]
    assert body.startswith("<!-- ticketsync-plan -->\n## ticketsync plan: `platform`\n")
    assert (workspace / "plan.md").read_text(encoding="utf-8") == body.split("\n", 1)[1]
    fake_forge.files.append("mobile/tickets/t.yaml")
    second = plan_job(workspace, fake_forge)
    assert "ticketsync: plan note updated" in second.stdout
    assert sorted(fake_forge.comments) == [1, note]
    assert "### `mobile`" in fake_forge.comments[note]
    assert fake_forge.writes() == [("POST", "/projects/42/merge_requests/7/notes"),
                                   ("PUT", f"/projects/42/merge_requests/7/notes/{note}")]
    assert TOKEN not in first.stdout + first.stderr + second.stdout + second.stderr


def test_without_a_token_the_plan_is_written_and_no_note(
    workspace: Path, fake_forge: FakeForge
) -> None:
    done = plan_job(workspace, fake_forge, GITLAB_TOKEN="")
    assert done.returncode == 0
    assert "no merge-request note (needs GITLAB_TOKEN" in done.stderr
    assert fake_forge.requests == []
    assert "### `mobile`" in (workspace / "plan.md").read_text(encoding="utf-8")


def test_commit_state_pushes_with_the_token_in_a_header_only(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, ...]] = []

    def fake_commit(root: Path, files: list[Path], **options: object) -> str:
        calls.append((str(options["remote"]), *map(str, options["git_options"])))
        return "committed and pushed to main"

    monkeypatch.chdir(workspace)
    monkeypatch.setattr(gitlab.steps, "commit_state", fake_commit)
    env = {"STATE_PUSH_TOKEN": "s3cret", "CI_SERVER_HOST": "gitlab.example.com",
           "CI_PROJECT_PATH": "acme/tickets", "CI_COMMIT_BRANCH": "main"}
    assert gitlab.main(["commit-state"], env) == 0
    [(remote, option, header)] = calls
    assert remote == "https://gitlab.example.com/acme/tickets.git"  # no token in the URL
    assert (option, header) == ("-c", "http.extraHeader=Authorization: Basic b2F1dGgyOnMzY3JldA==")
    assert gitlab.main(["nope"], env) == 64
