"""The CI examples and the pre-commit hook: their structure, and the PR half run for real.

Users copy these files unchanged, so a command or option they name that does not exist
(or a lost concurrency group) is a bug here, not in their pipeline.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from cli_helpers import copy_example

from ticketsync.cli import main

ROOT = Path(__file__).resolve().parent.parent
GITHUB = ROOT / "examples" / "ci" / "github-actions.yml"
GITLAB = ROOT / "examples" / "ci" / "gitlab-ci.yml"
#: The scheduled runs, for recurring templates (the README's "Recurring tickets").
GITHUB_SCHEDULED = ROOT / "examples" / "ci" / "github-scheduled.yml"
GITLAB_SCHEDULED = ROOT / "examples" / "ci" / "gitlab-ci-scheduled.yml"


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


def _github_steps(job: str, path: Path = GITHUB) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = _load(path)["jobs"][job]["steps"]
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


def test_github_plans_of_one_pull_request_never_race_for_the_comment() -> None:
    concurrency = _load(GITHUB)["jobs"]["plan"]["concurrency"]
    assert concurrency["group"] == "ticketsync-plan-${{ github.event.pull_request.number }}"
    assert concurrency["cancel-in-progress"] is True  # a plan only reads: safe to cancel


def _action_step(job: str, path: Path = GITHUB) -> dict[str, Any]:
    [step] = [s for s in _github_steps(job, path) if str(s.get("uses", "")).startswith(
        "ticketsync/ticketsync@")]
    return step


def test_github_jobs_run_this_repositorys_action_at_this_version() -> None:
    from ticketsync import __version__

    for job, command in (("plan", "plan"), ("apply", "apply")):
        step = _action_step(job)
        assert step["uses"] == f"ticketsync/ticketsync@v{__version__}"
        assert step["with"]["command"] == command
        assert _github_steps(job)[0]["uses"] == "actions/checkout@v4"


def test_github_apply_takes_the_key_from_secrets_and_commits_state_always() -> None:
    step = _action_step("apply")
    assert step["env"]["STACKONE_API_KEY"] == "${{ secrets.STACKONE_API_KEY }}"
    assert step["with"].get("commit-state", "true") == "true"
    action = _load(ROOT / "action.yml")
    assert action["inputs"]["commit-state"]["default"] == "true"
    [commit] = [s for s in action["runs"]["steps"] if "commit-state" in s.get("run", "")]
    assert commit["if"].startswith("always()")


def test_github_plan_comment_is_updated_not_repeated() -> None:
    step = _action_step("plan")
    assert step["with"].get("comment", "true") == "true"
    from ticketsync.ci.steps import MARKER

    assert MARKER == "<!-- ticketsync-plan -->"  # found again on the next push


def _all_github_commands() -> list[list[str]]:
    commands = []
    for path in (GITHUB, GITHUB_SCHEDULED):
        for job in _load(path)["jobs"]:
            for step in _github_steps(job, path):
                commands += _ticketsync_commands(step.get("run", ""))
    return commands


def _all_gitlab_commands() -> list[list[str]]:
    commands = []
    for path in (GITLAB, GITLAB_SCHEDULED):
        for job in _gitlab_jobs(path).values():
            for line in job["script"]:
                commands += _ticketsync_commands(line)
    return commands


def _gitlab_jobs(path: Path) -> dict[str, Any]:
    """The jobs of a GitLab file: every top-level key but the keywords."""
    keywords = {"stages", "default", "include", "variables", "workflow"}
    return {name: job for name, job in _load(path).items() if name not in keywords}


@pytest.mark.parametrize(
    "words", _all_github_commands() + _all_gitlab_commands(), ids=" ".join
)
def test_every_command_in_the_ci_examples_exists(words: list[str]) -> None:
    _assert_command_exists(words)


def test_gitlab_applies_never_overlap_and_commit_state() -> None:
    doc = _load(GITLAB)
    assert doc["apply"]["resource_group"] == "ticketsync-apply"
    script = "\n".join(doc["apply"]["script"])
    assert "ticketsync apply --yes --projects . || status=$?" in script
    commit = "python -m ticketsync.ci.gitlab commit-state"
    assert script.index("|| status=$?") < script.index(commit)
    assert script.rstrip().endswith("exit ${status:-0}")
    assert doc["plan"]["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
    assert doc["plan"]["script"] == ["python -m ticketsync.ci.gitlab plan"]


def test_the_ci_steps_the_gitlab_examples_name_exist() -> None:
    from ticketsync.ci import gitlab

    named = [line.split()[-1] for path in (GITLAB, GITLAB_SCHEDULED)
             for job in _gitlab_jobs(path).values() for line in job["script"]
             if line.startswith("python -m ticketsync.ci.gitlab ")]
    assert sorted(named) == ["commit-state", "commit-state", "plan"]
    assert set(named) <= set(gitlab.STEPS)


# -- the scheduled runs (recurring templates, the README's "Recurring tickets")
# ------------------------------------


def test_the_all_commands_check_reads_the_scheduled_examples_too() -> None:
    assert ["ticketsync", "apply", "--yes", "--projects", "."] in _all_gitlab_commands()
    assert len(_all_gitlab_commands()) == 2  # the apply on merge, the scheduled apply


def test_github_scheduled_runs_weekly_and_by_hand_and_commits_the_state() -> None:
    doc = _load(GITHUB_SCHEDULED)
    triggers = doc[True] if True in doc else doc["on"]
    assert set(triggers) == {"schedule", "workflow_dispatch"}
    [cron] = [entry["cron"] for entry in triggers["schedule"]]
    minute, hour, day, month, weekday = cron.split()
    assert (minute, hour, day, month, weekday) == ("17", "6", "*", "*", "1")  # Mondays
    [job] = doc["jobs"].values()
    assert job["permissions"]["contents"] == "write"
    step = _action_step("apply", GITHUB_SCHEDULED)
    merged = {k: v for k, v in _action_step("apply").items() if k != "id"}
    assert step == merged  # the same action, version, inputs and secrets
    assert step["with"].get("commit-state", "true") == "true"
    assert "--now" not in str(step)  # StackOne's time decides the period, never a guess


def test_github_scheduled_and_merged_applies_share_one_queue() -> None:
    scheduled = next(iter(_load(GITHUB_SCHEDULED)["jobs"].values()))["concurrency"]
    assert scheduled == _load(GITHUB)["jobs"]["apply"]["concurrency"]
    assert scheduled == {"group": "ticketsync-apply", "cancel-in-progress": False}


def test_gitlab_scheduled_job_runs_on_schedules_only_one_apply_at_a_time() -> None:
    [(name, job)] = _gitlab_jobs(GITLAB_SCHEDULED).items()
    assert name == "apply-scheduled" and job["stage"] in _load(GITLAB)["stages"]
    assert job["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "schedule"'}]
    assert job["resource_group"] == _load(GITLAB)["apply"]["resource_group"]
    assert job["script"] == _load(GITLAB)["apply"]["script"]  # the same apply and commit
    assert job["before_script"] == _load(GITLAB)["default"]["before_script"]
    # The apply on merge stays out of scheduled pipelines: one apply per schedule.
    assert _load(GITLAB)["apply"]["rules"][0] == {
        "if": '$CI_PIPELINE_SOURCE == "schedule"', "when": "never"}


def test_pre_commit_hook_validates_the_whole_project() -> None:
    hooks = _load(ROOT / ".pre-commit-hooks.yaml")
    assert [h["id"] for h in hooks] == ["ticketsync-validate"]
    hook = hooks[0]
    assert hook["entry"] == "ticketsync validate"
    assert hook["language"] == "python"
    assert hook["pass_filenames"] is False
    _assert_command_exists(hook["entry"].split())


def test_merge_request_half_runs_against_the_quickstart(tmp_path: Path) -> None:
    """The plan job's script, run as GitLab would (outside a merge request: no note)."""
    import os

    project = tmp_path / "quickstart"
    copy_example(ROOT / "examples" / "quickstart", project)
    [line] = _load(GITLAB)["plan"]["script"]
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "LANG": "C.UTF-8",
           "TICKETSYNC_ARGS": "--sandbox"}
    result = subprocess.run(
        [sys.executable, *shlex.split(line)[1:]], cwd=project, env=env, capture_output=True,
        text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    plan = (project / "plan.md").read_text(encoding="utf-8")
    assert plan.startswith("## ticketsync plan\n\n**Plan: 15 to create")
    assert "```mermaid" in plan and "prod-outage" in plan
    assert "no merge-request note" in result.stderr
    # Break a line: the plan fails and says where.
    broken = project / "tickets" / "onboarding.yaml"
    broken.write_text(
        broken.read_text(encoding="utf-8").replace("priority: low", "priority: urgent"),
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, *shlex.split(line)[1:]], cwd=project, env=env, capture_output=True,
        text=True, timeout=120, check=False,
    )
    assert result.returncode == 1
    assert "tickets/onboarding.yaml:" in (project / "plan.md").read_text(encoding="utf-8")
