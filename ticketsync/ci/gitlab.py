"""The steps of the GitLab example (``examples/ci/gitlab-ci.yml``):
``python -m ticketsync.ci.gitlab STEP``.

* ``plan``: plans every project the merge request touches, writes ``plan.md`` (an
  artifact), prints it, and keeps one merge-request note with it, updated in place on
  every push. The note needs ``GITLAB_TOKEN``: a project access token with the ``api``
  scope (the job's own token cannot write notes); without it, no note is written.
* ``commit-state``: commits the projects' state files and pushes them with
  ``STATE_PUSH_TOKEN`` (a project access token with ``write_repository``), sent as an
  HTTP header, never in a URL.

Settings: ``TICKETSYNC_WORKING_DIRECTORY`` (default ``.``) and ``TICKETSYNC_ARGS``.
"""

from __future__ import annotations

import base64
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from ticketsync.ci import steps
from ticketsync.ci.forges import GitLab
from ticketsync.errors import ForgeError, TicketSyncError

AUTHOR = ("ticketsync", "ticketsync@example.invalid")


def forge_for(env: Mapping[str, str]) -> GitLab | None:
    """The merge request's API, or None outside a merge request or without a token."""
    iid, token = env.get("CI_MERGE_REQUEST_IID", ""), env.get("GITLAB_TOKEN", "")
    api, project = env.get("CI_API_V4_URL", ""), env.get("CI_PROJECT_ID", "")
    if not (iid.isdigit() and token and api and project):
        return None
    return GitLab(api, token, project, int(iid))


def _inputs(env: Mapping[str, str]) -> tuple[Path, str, list[str]]:
    folder = env.get("TICKETSYNC_WORKING_DIRECTORY", "").strip() or "."
    return Path.cwd(), folder, steps.split_args(env.get("TICKETSYNC_ARGS", ""))


def plan(env: Mapping[str, str]) -> int:
    root, folder, args = _inputs(env)
    forge = forge_for(env)
    try:
        step = steps.plan_step(root, folder, args, forge, annotations=False)
        for message in step.warnings:
            print(f"Warning: {message}", file=sys.stderr)
        (root / "plan.md").write_text(step.markdown, encoding="utf-8")
        print(step.markdown, flush=True)
        if forge is None:
            print("ticketsync: no merge-request note (needs GITLAB_TOKEN with the api "
                  "scope, in a merge-request pipeline)", file=sys.stderr)
        else:
            try:
                done = steps.comment(forge, steps.marker_for(folder), step)
                print(f"ticketsync: plan note {done}", flush=True)
            except ForgeError as exc:
                print(f"Warning: could not write the merge-request note: {exc}",
                      file=sys.stderr)
    finally:
        if forge is not None:
            forge.close()
    return step.exit_code


def commit_state(env: Mapping[str, str]) -> int:
    root, folder, args = _inputs(env)
    files = steps.state_files(root, folder, args, env)
    token, branch = env.get("STATE_PUSH_TOKEN", ""), env.get("CI_COMMIT_BRANCH") or None
    remote, options = "origin", []
    if token and env.get("CI_SERVER_HOST") and env.get("CI_PROJECT_PATH"):
        remote = f"https://{env['CI_SERVER_HOST']}/{env['CI_PROJECT_PATH']}.git"
        basic = base64.b64encode(f"oauth2:{token}".encode()).decode()
        options = ["-c", f"http.extraHeader=Authorization: Basic {basic}"]
    done = steps.commit_state(root, files, branch=branch, remote=remote,
                              git_options=options, author=AUTHOR)
    print(f"ticketsync: {done}", flush=True)
    return 0


STEPS = {"plan": plan, "commit-state": commit_state}


def main(argv: Sequence[str], env: Mapping[str, str]) -> int:
    """Run step ``argv[0]``; problems become one ``Error:`` line and exit 1."""
    if len(argv) != 1 or argv[0] not in STEPS:
        print(f"usage: python -m ticketsync.ci.gitlab {'|'.join(STEPS)}", file=sys.stderr)
        return 64
    try:
        return STEPS[argv[0]](env)
    except TicketSyncError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], os.environ))
