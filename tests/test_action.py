"""The GitHub Action (``action.yml``), its steps run as a runner would run them.

Against the sandbox (``args: --sandbox``), with GitHub's comment API faked over loopback
(:class:`test_action_runner.FakeForge`), and real git repositories in temporary folders
for the state commit.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from cli_helpers import write
from test_action_runner import (
    ROOT,
    TOKEN,
    ActionRunner,
    FakeForge,
    fake_forge,
    load_action,
    read_outputs,
)

from ticketsync.ci import steps
from ticketsync.ci.forges import GitHub, check_api_url
from ticketsync.errors import ForgeError

__all__ = ["fake_forge"]  # a fixture

PLATFORM = """\
    tickets:
      outage:
        title: System outage
        project_id: project-001
      postmortem:
        title: "Postmortem: \\"why\\" <and> `how`"
        project_id: project-001
        parent: outage
    """
MOBILE = """\
    tickets:
      crash:
        title: App crashes on start
        project_id: project-002
    """


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A checkout with two projects side by side, and a folder that is none."""
    root = tmp_path / "workspace"
    for name, tickets in (("platform", PLATFORM), ("mobile", MOBILE)):
        write(root / name / "ticketsync.yaml", "tickets: [tickets/]\n")
        write(root / name / "tickets" / "t.yaml", tickets)
    write(root / "docs" / "notes.md", "not a project\n")
    return root


@pytest.fixture
def runner(workspace: Path, tmp_path: Path, fake_forge: FakeForge) -> ActionRunner:
    return ActionRunner(workspace, tmp_path / "temp", api_url=fake_forge.url)


def ours(forge: FakeForge) -> dict[int, str]:
    return {i: body for i, body in forge.comments.items()
            if body.startswith("<!-- ticketsync-plan -->\n")}


def test_the_action_is_composite_and_installs_from_its_own_checkout() -> None:
    action = load_action()
    assert action["runs"]["using"] == "composite"
    assert set(action["inputs"]) >= {"command", "working-directory", "args", "comment",
                                     "commit-state", "python-version"}
    assert set(action["outputs"]) >= {"has-changes", "counts", "created"}
    steps_ = action["runs"]["steps"]
    [install] = [s for s in steps_ if "pip install" in s.get("run", "")]
    assert install["env"]["ACTION_PATH"] == "${{ github.action_path }}"
    assert re.search(r'pip install [^\n]*"\$ACTION_PATH"$', install["run"], re.M)
    for step in steps_:
        # Inputs reach scripts through env only: `${{ }}` in a script is an injection.
        assert "${{" not in step.get("run", ""), step["name"]
    commit = next(s for s in steps_ if "commit-state" in s.get("run", ""))
    assert commit["if"].startswith("always() && inputs.command == 'apply'")


def test_a_plan_comments_once_and_the_next_push_updates_that_comment(
    runner: ActionRunner, fake_forge: FakeForge
) -> None:
    fake_forge.comments = {1: "LGTM", 2: "a human's comment"}
    fake_forge.files = ["platform/tickets/t.yaml", "docs/notes.md"]
    run = runner.run(command="plan", args="--sandbox")
    step = run.step("ticketsync plan")
    assert (step.ran, step.exit_code) == (True, 0), step.stdout + step.stderr
    assert not run.step("Commit").ran
    # Annotations on the declarations' lines, paths from the repository's root.
    assert '::notice file=platform/tickets/t.yaml,line=2::create outage "System outage"' in (
        step.stdout.splitlines())
    [(first_id, body)] = ours(fake_forge).items()
    assert body.startswith("<!-- ticketsync-plan -->\n## ticketsync plan: `platform`\n")
    assert "```mermaid\nflowchart LR\n" in body and "n0 --> n1" in body
    assert "#34;why#34; #60;and#62; #96;how#96;" in body  # the title, escaped in the diagram
    assert "mobile" not in body  # not touched by this pull request
    assert run.summary.startswith("## ticketsync plan: `platform`")
    assert run.outputs["has-changes"] == "true"
    assert json.loads(run.outputs["counts"])["create"] == 2
    assert json.loads(run.outputs["projects"]) == ["platform"]
    assert json.loads(run.outputs["created"]) == []
    # The next push touches mobile too: the same comment now has a section for each.
    fake_forge.files.append("mobile/tickets/t.yaml")
    again = runner.run(command="plan", args="--sandbox")
    assert again.step("ticketsync plan").exit_code == 0
    assert list(ours(fake_forge)) == [first_id]
    body = fake_forge.comments[first_id]
    assert "**2 projects: 2 planned, 2 with changes, 0 failed.**" in body
    assert "### `mobile`" in body and "### `platform`" in body
    assert fake_forge.writes() == [
        ("POST", "/repos/acme/tickets/issues/7/comments"),
        ("PATCH", f"/repos/acme/tickets/issues/comments/{first_id}"),
    ]
    assert fake_forge.comments[1] == "LGTM"  # other comments are left alone
    # A push that changes nothing in the plan writes nothing.
    runner.run(command="plan", args="--sandbox")
    assert len(fake_forge.writes()) == 2


def test_bad_input_is_annotated_on_its_line_commented_and_fails_the_step(
    runner: ActionRunner, fake_forge: FakeForge, workspace: Path
) -> None:
    write(workspace / "mobile" / "tickets" / "t.yaml",
          "tickets:\n  crash:\n    title: x\n    priority: urgent\n")
    fake_forge.files = ["mobile/tickets/t.yaml", "platform/tickets/t.yaml"]
    run = runner.run(command="plan", args="--sandbox")
    step = run.step("ticketsync plan")
    assert step.exit_code == 1
    assert step.stdout.startswith("::error file=mobile/tickets/t.yaml,line=4,col=15::")
    [body] = ours(fake_forge).values()
    assert "### `mobile`\n\n> [!CAUTION]" in body and "'urgent' is not one of" in body
    assert "### `platform`\n\n**Plan: 2 to create" in body
    assert json.loads(run.outputs["failed"])[0]["project"] == "mobile"


def test_a_fork_cannot_comment_and_the_plan_still_lands_in_the_summary(
    runner: ActionRunner, fake_forge: FakeForge
) -> None:
    fake_forge.read_only = True
    fake_forge.files = ["platform/tickets/t.yaml"]
    run = runner.run(command="plan", args="--sandbox")
    step = run.step("ticketsync plan")
    assert step.exit_code == 0
    assert "::warning title=ticketsync::could not comment on the pull request" in step.stdout
    assert TOKEN not in step.stdout + step.stderr
    assert "## ticketsync plan: `platform`" in run.summary


def test_a_pull_request_touching_no_project_gets_no_comment(
    runner: ActionRunner, fake_forge: FakeForge
) -> None:
    fake_forge.files = ["docs/notes.md"]
    run = runner.run(command="plan", args="--sandbox", comment="true")
    assert run.step("ticketsync plan").exit_code == 0
    assert fake_forge.writes() == []
    assert "touches no ticketsync project" in run.summary
    assert run.outputs["has-changes"] == "false"
    assert json.loads(run.outputs["projects"]) == []


def test_comment_false_posts_nothing(runner: ActionRunner, fake_forge: FakeForge) -> None:
    fake_forge.files = ["platform/tickets/t.yaml"]
    run = runner.run(command="plan", args="--sandbox", comment="false")
    assert run.step("ticketsync plan").exit_code == 0
    assert fake_forge.writes() == []


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout


def clone(origin: Path, into: Path) -> Path:
    git(origin.parent, "clone", "--quiet", str(origin), str(into))
    git(into, "config", "user.name", "Dev")
    git(into, "config", "user.email", "dev@example.com")
    return into


@pytest.fixture
def checkout(workspace: Path, tmp_path: Path) -> Path:
    """``workspace`` committed to a bare ``origin`` and checked out again, as CI does."""
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "--quiet", "--bare", "-b", "main", str(origin))
    git(workspace, "init", "--quiet", "-b", "main")
    git(workspace, "add", ".")
    git(workspace, "-c", "user.name=Dev", "-c", "user.email=dev@example.com", "commit",
        "--quiet", "-m", "tickets")
    git(workspace, "push", "--quiet", str(origin), "main")
    return clone(origin, tmp_path / "checkout")


def test_apply_commits_the_state_after_a_partial_failure(
    checkout: Path, tmp_path: Path, fake_forge: FakeForge
) -> None:
    # One ticket names a parent that does not exist: the sandbox refuses it (422).
    write(checkout / "platform" / "tickets" / "orphan.yaml", """\
        tickets:
          orphan:
            title: Its parent does not exist
            parent_id: tkt-missing
        """)
    runner = ActionRunner(checkout, tmp_path / "temp", api_url=fake_forge.url,
                          event={"ref": "refs/heads/main"},
                          env={"GITHUB_REF": "refs/heads/main", "GITHUB_REF_NAME": "main"})
    run = runner.run(command="apply", args="--sandbox")
    applied, commit = run.step("ticketsync apply"), run.step("Commit")
    assert applied.exit_code == 1, applied.stderr
    assert "Apply complete: 2 created, 0 updated, 1 failed." in applied.stderr
    assert (commit.ran, commit.exit_code) == (True, 0), commit.stderr
    assert "ticketsync: committed and pushed to main" in commit.stdout
    created = json.loads(run.outputs["created"])
    assert sorted((t["project"], t["key"]) for t in created) == [
        ("mobile", "crash"), ("platform", "outage"), ("platform", "postmortem")]
    assert all(t["id"] and t["number"] and t["url"] for t in created)
    [failed] = json.loads(run.outputs["failed"])
    assert (failed["project"], failed["key"]) == ("platform", "orphan")
    assert run.outputs["has-changes"] == "true"
    assert json.loads(run.outputs["counts"])["failed"] == 1
    assert "### Failed (1)" in run.summary and "`orphan` in `platform`" in run.summary
    # What origin now holds: the state files, committed alone, with every created ticket.
    fresh = clone(tmp_path / "origin.git", tmp_path / "after")
    assert git(fresh, "log", "-1", "--format=%s%n%an").splitlines() == [
        "ticketsync: record applied tickets [skip ci]", "Dev"]
    assert git(fresh, "show", "--name-only", "--format=", "HEAD").split() == [
        "mobile/.ticketsync/sandbox.state.json", "platform/.ticketsync/sandbox.state.json"]
    state = json.loads((fresh / "platform/.ticketsync/sandbox.state.json").read_text())
    assert sorted(state["tickets"]) == ["outage", "postmortem"]
    # Nothing new since: a commit step has nothing to commit.
    files = steps.state_files(checkout, ".", ["--sandbox"], {})
    assert steps.commit_state(checkout, files, branch="main") == (
        "the state files are unchanged: nothing to commit")


def test_the_state_commit_is_rebased_when_the_branch_moved_on(
    checkout: Path, tmp_path: Path
) -> None:
    other = clone(tmp_path / "origin.git", tmp_path / "other")
    write(other / "README.md", "meanwhile\n")
    git(other, "add", "README.md")
    git(other, "commit", "--quiet", "-m", "meanwhile")
    git(other, "push", "--quiet", "origin", "main")
    state = checkout / "platform" / "ticketsync.state.json"
    state.write_text("{}\n", encoding="utf-8")
    done = steps.commit_state(checkout, [state, checkout / "missing.json"], branch="main")
    assert done == "committed and pushed to main"
    fresh = clone(tmp_path / "origin.git", tmp_path / "after")
    assert git(fresh, "log", "--format=%s").splitlines()[:2] == [
        "ticketsync: record applied tickets [skip ci]", "meanwhile"]


def test_the_step_without_a_project_fails_with_the_fix(runner: ActionRunner) -> None:
    run = runner.run(command="plan", **{"working-directory": "docs"})
    step = run.step("ticketsync plan")
    assert step.exit_code == 1
    assert "::error title=ticketsync::" in step.stdout and "ticketsync init" in step.stdout


def test_an_unknown_command_is_a_usage_error(runner: ActionRunner) -> None:
    step = runner.run(command="destroy").step("ticketsync destroy")
    assert step.exit_code == 64
    assert "the action's `command` input is plan or apply" in step.stdout


def test_the_github_client_refuses_plain_http_and_foreign_pages(fake_forge: FakeForge) -> None:
    with pytest.raises(ForgeError, match="not an https:// URL"):
        check_api_url("http://api.github.example")
    assert check_api_url("https://api.github.com/") == "https://api.github.com"
    github = GitHub(fake_forge.url, TOKEN, "acme/tickets", 7)
    fake_forge.comments = {1: "a", 2: "b", 3: "c"}
    try:
        assert [c.id for c in github.comments()] == [1, 2, 3]  # two pages
        fake_forge.url = "http://127.0.0.2:9"  # the next page's link leaves the API
        with pytest.raises(ForgeError, match="the next page is on another server"):
            github.comments()
        wrong = GitHub(fake_forge.url.replace("127.0.0.2:9", "127.0.0.1:1"), TOKEN, "a/b", 1)
        with pytest.raises(ForgeError, match="no answer"):
            wrong.comments()
    finally:
        github.close()


def test_marker_per_working_directory() -> None:
    assert steps.marker_for(".") == steps.marker_for("./") == "<!-- ticketsync-plan -->"
    assert steps.marker_for("teams/a--b>") == "<!-- ticketsync-plan: teams/a-b -->"


def test_the_action_installs_nothing_by_an_index_name() -> None:
    text = (ROOT / "action.yml").read_text(encoding="utf-8")
    assert "pip install ticketsync" not in text and "ticketsync==" not in text


@pytest.mark.slow
def test_a_cancelled_apply_step_lets_ticketsync_write_its_state(tmp_path: Path) -> None:
    """GitHub cancels a job with SIGINT then SIGTERM to the step's process: the step must
    pass it on to ticketsync and wait, never kill it before its state file is written."""
    import os
    import signal
    import sys
    import time

    from sandbox_helpers import spawn_sandbox, stored_tickets

    root = tmp_path / "workspace"
    tickets = "tickets:\n" + "".join(f"  t{i:02}:\n    title: Ticket {i}\n" for i in range(40))
    write(root / "platform" / "tickets" / "t.yaml", tickets)
    with spawn_sandbox(tmp_path / "server.db", "--latency-ms", "150") as server:
        write(root / "platform" / "ticketsync.yaml",
              f"tickets: [tickets/]\naccount_id: acc-1\nbase_url: {server.url}\n")
        env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(tmp_path),
               "LANG": "C.UTF-8", "STACKONE_API_KEY": "any-key", "INPUT_COMMAND": "apply",
               "INPUT_WORKING_DIRECTORY": ".", "INPUT_ARGS": "--concurrency 2",
               "GITHUB_OUTPUT": str(tmp_path / "output"),
               "TICKETSYNC_VENV": str(Path(sys.executable).parent.parent)}
        subprocess.run([sys.executable, "-m", "ticketsync", "-C", "platform", "init"],
                       cwd=root, env=env, check=True, capture_output=True)
        [step] = [s for s in load_action()["runs"]["steps"] if s.get("id") == "run"]
        process = subprocess.Popen(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c",
                                    step["run"]], cwd=root, env=env, text=True,
                                   stderr=subprocess.PIPE, stdout=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while len(stored_tickets(server.db_path)) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGTERM)  # the step's own process: exec made it python
        _, err = process.communicate(timeout=60)
        stored = {t.title for t in stored_tickets(server.db_path)}
    assert process.returncode == 130, err
    assert "Apply interrupted" in err
    state = json.loads((root / "platform" / "ticketsync.state.json").read_text())
    recorded = {entry["applied"]["title"] for entry in state["tickets"].values()}
    assert 4 <= len(recorded) < 40
    assert recorded <= stored and len(stored - recorded) <= 2  # at most the ones in flight
    counts = json.loads(read_outputs(tmp_path / "output")["counts"])
    assert counts["created"] == len(recorded)
