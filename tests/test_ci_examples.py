"""The CI examples and the pre-commit hook: their structure, and the PR half run for real.

Users copy these files unchanged, so a command or option they name that does not exist
(or a lost concurrency group) is a bug here, not in their pipeline.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from ticketsync.cli import main

ROOT = Path(__file__).resolve().parent.parent
GITHUB = ROOT / "examples" / "ci" / "github-actions.yml"
GITLAB = ROOT / "examples" / "ci" / "gitlab-ci.yml"


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _ticketsync_commands(script: str) -> list[list[str]]:
    """Each `ticketsync ...` invocation in a shell script, without redirections."""
    found = []
    for raw in script.splitlines():
        line = raw.strip()
        if not line.startswith("ticketsync "):
            continue
        words = shlex.split(line.split(">")[0].split("||")[0].split("|")[0])
        found.append(words)
    return found


def _github_steps(job: str) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = _load(GITHUB)["jobs"][job]["steps"]
    return steps


def _parse(words: list[str]) -> str:
    """Parse ``ticketsync ARGS`` exactly as click would, without running it: subcommands,
    options and their values (a mistyped choice is a UsageError). The command's name."""
    ctx = main.make_context("ticketsync", list(words[1:]))
    command: click.Command = main
    while isinstance(command, click.Group):
        name, sub, rest = command.resolve_command(ctx, ctx._protected_args + ctx.args)
        assert sub is not None and name is not None
        ctx = sub.make_context(name, rest, parent=ctx)
        command = sub
    return str(command.name)


def _assert_command_exists(words: list[str]) -> None:
    """The command parses: click accepts its subcommands, options and their values."""
    try:
        _parse(words)
    except click.UsageError as exc:
        raise AssertionError(f"`{' '.join(words)}` is not a valid command: {exc}") from None


@pytest.mark.parametrize("words", [
    "ticketsync plan --format githb", "ticketsync aply --yes", "ticketsync state lst",
    "ticketsync plan --detailed-exit-code", "ticketsync apply --concurrency 0",
])
def test_a_mistyped_command_in_a_workflow_would_be_caught(words: str) -> None:
    """The check above can fail: `--help` appended to a command used to hide all of these."""
    with pytest.raises(AssertionError, match="is not a valid command"):
        _assert_command_exists(shlex.split(words))


def test_github_workflow_triggers_jobs_and_permissions() -> None:
    doc = _load(GITHUB)
    triggers = doc[True] if True in doc else doc["on"]  # YAML 1.1 reads `on` as True
    assert set(triggers) == {"pull_request", "push"}
    assert triggers["push"]["branches"] == ["main"]
    jobs = doc["jobs"]
    assert jobs["plan"]["if"] == "github.event_name == 'pull_request'"
    assert jobs["apply"]["if"] == "github.event_name == 'push'"
    assert jobs["plan"]["permissions"]["pull-requests"] == "write"
    assert jobs["apply"]["permissions"]["contents"] == "write"


def test_github_applies_never_overlap() -> None:
    concurrency = _load(GITHUB)["jobs"]["apply"]["concurrency"]
    assert concurrency["group"] == "ticketsync-apply"
    assert concurrency["cancel-in-progress"] is False


def test_github_apply_takes_the_key_from_secrets_and_commits_state_always() -> None:
    steps = _github_steps("apply")
    apply_step = next(s for s in steps if s.get("name") == "Apply")
    assert apply_step["env"]["STACKONE_API_KEY"] == "${{ secrets.STACKONE_API_KEY }}"
    assert _ticketsync_commands(apply_step["run"]) == [["ticketsync", "apply", "--yes"]]
    commit = next(s for s in steps if s.get("name") == "Commit the state file")
    assert commit["if"] == "always()"
    assert "git add ticketsync.state.json" in commit["run"]


def test_github_plan_comment_is_updated_not_repeated() -> None:
    step = next(s for s in _github_steps("plan") if s.get("name") == "Comment the plan")
    script = step["with"]["script"]
    assert "updateComment" in script and "createComment" in script
    assert "<!-- ticketsync-plan -->" in script


def _all_github_commands() -> list[list[str]]:
    commands = []
    for job in ("plan", "apply"):
        for step in _github_steps(job):
            commands += _ticketsync_commands(step.get("run", ""))
    return commands


def _all_gitlab_commands() -> list[list[str]]:
    doc = _load(GITLAB)
    commands = []
    for job in ("plan", "apply"):
        for line in doc[job]["script"]:
            commands += _ticketsync_commands(line)
    return commands


@pytest.mark.parametrize(
    "words", _all_github_commands() + _all_gitlab_commands(), ids=" ".join
)
def test_every_command_in_the_ci_examples_exists(words: list[str]) -> None:
    _assert_command_exists(words)


def test_gitlab_applies_never_overlap_and_commit_state() -> None:
    doc = _load(GITLAB)
    assert doc["apply"]["resource_group"] == "ticketsync-apply"
    script = "\n".join(doc["apply"]["script"])
    assert "ticketsync apply --yes || status=$?" in script
    assert "git add ticketsync.state.json" in script
    assert script.rstrip().endswith("exit ${status:-0}")
    assert doc["plan"]["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]


def test_pre_commit_hook_validates_the_whole_project() -> None:
    hooks = _load(ROOT / ".pre-commit-hooks.yaml")
    assert [h["id"] for h in hooks] == ["ticketsync-validate"]
    hook = hooks[0]
    assert hook["entry"] == "ticketsync validate"
    assert hook["language"] == "python"
    assert hook["pass_filenames"] is False
    _assert_command_exists(hook["entry"].split())


def _run(words: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ticketsync", *words[1:]],
        cwd=cwd, capture_output=True, text=True, timeout=120, check=False,
    )


def test_pull_request_half_runs_against_the_quickstart(tmp_path: Path) -> None:
    project = tmp_path / "quickstart"
    shutil.copytree(ROOT / "examples" / "quickstart", project)
    commands = [s.get("run", "") for s in _github_steps("plan")]
    validate, plan_github, plan_markdown = (
        c for c in _ticketsync_commands("\n".join(commands))
    )
    # validate --format github: silent annotations when the files are fine.
    result = _run(validate, project)
    assert result.returncode == 0, result.stderr
    assert "::error" not in result.stdout
    # The plan steps, aimed at the sandbox's state: notices for each ticket to create.
    result = _run([*plan_github, "--sandbox"], project)
    assert result.returncode == 0, result.stderr
    notices = [line for line in result.stdout.splitlines() if line.startswith("::notice")]
    assert len(notices) == 5
    assert any("prod-outage-postmortem" in n and "platform.yaml" in n for n in notices)
    result = _run([*plan_markdown, "--sandbox"], project)
    assert result.returncode == 0, result.stderr
    assert "prod-outage" in result.stdout
    assert "5 to create" in result.stdout
    # Break a line: the annotation points at it.
    broken = project / "tickets" / "onboarding.yaml"
    broken.write_text(
        broken.read_text(encoding="utf-8").replace("priority: low", "priority: urgent"),
        encoding="utf-8",
    )
    result = _run(validate, project)
    assert result.returncode == 1
    assert result.stdout.startswith("::error file=tickets/onboarding.yaml,line=")
    assert "urgent" in result.stdout
