"""The steps of the GitHub Action (``action.yml``): ``python -m ticketsync.ci.github STEP``.

* ``plan``: plans every project the pull request touches (every project outside a pull
  request), prints annotations on the declarations' lines, writes the plan to the job
  summary and to one sticky pull-request comment, and sets the step's outputs.
* ``apply``: applies every project, writes a summary and the outputs (the created tickets
  as JSON for the next step). Exits as ``ticketsync apply`` did.
* ``commit-state``: commits the projects' state files and pushes them; the action runs it
  after every apply, a failed one included.

The action's inputs arrive as ``INPUT_*`` variables (``INPUT_WORKING_DIRECTORY``,
``INPUT_ARGS``, ``INPUT_COMMENT``); the runner's as ``GITHUB_*``. A comment that cannot be
posted (a pull request from a fork has a read-only token) is a warning, not a failure: the
plan is in the job summary.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from ticketsync.ci import steps
from ticketsync.ci.forges import GitHub
from ticketsync.errors import ForgeError, TicketSyncError
from ticketsync.plan.render import github_escape

#: Who commits the state file: the identity GitHub shows for Actions' own commits.
BOT = ("github-actions[bot]", "41898282+github-actions[bot]@users.noreply.github.com")


def warning(message: str) -> None:
    print(f"::warning title=ticketsync::{github_escape(message)}", flush=True)


def pull_request_number(event: Mapping[str, object]) -> int | None:
    """The pull request of a ``pull_request`` (or ``pull_request_target``) event."""
    pull = event.get("pull_request")
    number = pull.get("number") if isinstance(pull, dict) else None
    return number if isinstance(number, int) else None


def forge_for(env: Mapping[str, str]) -> GitHub | None:
    """The pull request's API, or None outside a pull request or without a token."""
    number = pull_request_number(steps.read_event(env.get("GITHUB_EVENT_PATH")))
    token, repository = env.get("GITHUB_TOKEN", ""), env.get("GITHUB_REPOSITORY", "")
    if number is None or not token or not repository:
        return None
    return GitHub(env.get("GITHUB_API_URL") or "https://api.github.com", token, repository,
                  number)


def _inputs(env: Mapping[str, str]) -> tuple[Path, str, list[str]]:
    folder = env.get("INPUT_WORKING_DIRECTORY", "").strip() or "."
    return Path.cwd(), folder, steps.split_args(env.get("INPUT_ARGS", ""))


def plan(env: Mapping[str, str]) -> int:
    root, folder, args = _inputs(env)
    forge = forge_for(env)
    try:
        step = steps.plan_step(root, folder, args, forge)
        for message in step.warnings:
            warning(message)
        steps.append_summary(env.get("GITHUB_STEP_SUMMARY"), step.markdown)
        steps.write_outputs(env.get("GITHUB_OUTPUT"), step.outputs(root))
        if forge is not None and env.get("INPUT_COMMENT", "true").strip().lower() == "true":
            try:
                done = steps.comment(forge, steps.marker_for(folder), step)
                print(f"ticketsync: plan comment {done}", flush=True)
            except ForgeError as exc:
                warning(f"could not comment on the pull request ({exc}); the plan is in "
                        "the job summary (a pull request from a fork has a read-only token)")
    finally:
        if forge is not None:
            forge.close()
    return step.exit_code


def apply(env: Mapping[str, str]) -> int:
    root, folder, args = _inputs(env)
    step = steps.apply_step(root, folder, args)
    steps.append_summary(env.get("GITHUB_STEP_SUMMARY"), step.markdown())
    steps.write_outputs(env.get("GITHUB_OUTPUT"), step.outputs(root))
    return step.exit_code


def commit_state(env: Mapping[str, str]) -> int:
    root, folder, args = _inputs(env)
    files = steps.state_files(root, folder, args, env)
    ref = env.get("GITHUB_REF", "")
    branch = env.get("GITHUB_REF_NAME") if ref.startswith("refs/heads/") else None
    print(f"ticketsync: {steps.commit_state(root, files, branch=branch, author=BOT)}",
          flush=True)
    return 0


STEPS = {"plan": plan, "apply": apply, "commit-state": commit_state}


def main(argv: Sequence[str], env: Mapping[str, str]) -> int:
    """Run step ``argv[0]``; problems become ``::error`` lines and exit 1."""
    if len(argv) != 1 or argv[0] not in STEPS:
        print(f"::error title=ticketsync::usage: python -m ticketsync.ci.github "
              f"{'|'.join(STEPS)} (the action's `command` input is plan or apply)", flush=True)
        return 64
    try:
        return STEPS[argv[0]](env)
    except TicketSyncError as exc:
        print(f"::error title=ticketsync::{github_escape(str(exc))}", flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], os.environ))
