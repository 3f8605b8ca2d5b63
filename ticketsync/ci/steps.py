"""The CI steps, whatever the forge: plan the projects a pull request touches, apply every
project, tell the next step what happened, and commit the state files back.

ticketsync itself runs in a subprocess (``python -m ticketsync``), exactly as a user's
step would run it, so the steps see its real output and exit codes. Its stderr goes
straight to the job's log.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ticketsync.ci.forges import Forge, upsert_comment
from ticketsync.declare.paths import display_path as shown
from ticketsync.declare.projects import find_projects, touched_projects
from ticketsync.errors import CiError, ForgeError, TicketSyncError
from ticketsync.run.events import FATES

#: The first line of the plan comment, hidden when rendered; one comment per folder.
MARKER = "<!-- ticketsync-plan -->"
#: The counts a plan's outputs sum over its projects.
PLAN_COUNTS = ("create", "update", "conflict", "close", "forget", "drift", "unchanged")
#: The counts an apply's outputs sum over its projects: the document's own.
APPLY_COUNTS = (*FATES, "unsettled")
COMMIT_MESSAGE = "ticketsync: record applied tickets [skip ci]"
NO_PROJECT = ("## ticketsync plan\n\nThis change touches no ticketsync project (no file "
              "in a folder that holds a `ticketsync.yaml`): nothing to plan.\n")


def marker_for(folder: str) -> str:
    """The hidden first line of the plan comment of ``folder`` (the action's input)."""
    name = folder.strip().strip("/") or "."
    if name == ".":
        return MARKER
    cleaned = name.replace("--", "-").replace(">", "")
    return f"<!-- ticketsync-plan: {cleaned} -->"


def split_args(text: str) -> list[str]:
    """The ``args`` input as words (shell quoting, never a shell)."""
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise CiError(f"args: {exc}: quote them as in a shell") from None


def projects_of(root: Path, folder: str) -> list[Path]:
    """Every project at or under ``folder`` (relative to ``root``)."""
    try:
        return find_projects([root / folder])
    except TicketSyncError as exc:
        raise CiError(str(exc)) from None


def ticketsync(args: Sequence[str], *, cwd: Path, capture: bool = True
               ) -> subprocess.CompletedProcess[str]:
    """Run ``ticketsync ARGS`` in ``cwd``; stdout captured (or shown), stderr shown.

    How CI cancels a job: SIGINT or SIGTERM to the step, SIGKILL seconds later. An apply
    that gets the signal stops sending and writes its state file before it exits, so the
    signal is passed on, once (the child has a session of its own, out of reach of a
    signal sent to this process's group), and the child is waited for, never killed:
    ``subprocess.run`` would kill it on KeyboardInterrupt, before its state is written.
    """
    process = subprocess.Popen(
        [sys.executable, "-m", "ticketsync", *args], cwd=cwd, text=True,
        stdout=subprocess.PIPE if capture else None, start_new_session=True,
    )

    def forward(signum: int, frame: object) -> None:
        if process.poll() is None:
            process.send_signal(signum)

    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        stdout, _ = process.communicate()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout or "", None)


def _project_args(root: Path, projects: Sequence[Path]) -> list[str]:
    return [word for project in projects for word in ("--projects", shown(project, root))]


def _document(text: str) -> dict[str, Any] | None:
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


@dataclass
class PlanStep:
    """What the plan step found: the projects planned, the comment, the JSON documents."""

    projects: list[Path]
    markdown: str
    exit_code: int = 0
    doc: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)

    def outputs(self, root: Path) -> dict[str, str]:
        entries = (self.doc or {}).get("projects", [])
        counts = dict.fromkeys(PLAN_COUNTS, 0)
        for entry in entries:
            for name in PLAN_COUNTS:
                counts[name] += int(((entry.get("plan") or {}).get("summary") or {}).get(name, 0))
        failed = [{"project": e["project"], "key": None, "message": e["error"]}
                  for e in entries if e.get("error")]
        return {
            "has-changes": _bool(any(entry.get("has_changes") for entry in entries)),
            "counts": _compact(counts),
            "created": "[]",
            "failed": _compact(failed),
            "projects": _compact([shown(p, root) for p in self.projects]),
        }


def plan_step(root: Path, folder: str, args: Sequence[str], forge: Forge | None, *,
              annotations: bool = True) -> PlanStep:
    """Plan the projects under ``folder`` that the pull request touches (all of them when
    its files cannot be listed): annotations to stdout (``annotations``), the Markdown
    comment, the JSON document. Input problems make the step fail, not stop."""
    projects = projects_of(root, folder)
    warnings = []
    if forge is not None:
        try:
            projects = touched_projects(forge.changed_files(), projects, root)
        except ForgeError as exc:
            warnings.append(f"could not list the pull request's files ({exc}): planning "
                            "every project")
    if not projects:
        return PlanStep([], NO_PROJECT, warnings=warnings)
    chosen = _project_args(root, projects)
    # One plan (with --refresh in args, one read-back), in every format the step needs:
    # three runs could read the tracker three times and disagree with each other.
    with tempfile.TemporaryDirectory(prefix="ticketsync-plan-") as scratch:
        markdown_file, json_file = Path(scratch, "plan.md"), Path(scratch, "plan.json")
        also = ["--also", f"json={json_file}"]
        if annotations:  # workflow commands: GitHub reads them from the step's stdout
            sys.stdout.flush()
            code = ticketsync(["plan", *chosen, "--format", "github", *also,
                               "--also", f"markdown={markdown_file}", *args], cwd=root,
                              capture=False).returncode
            text = _read(markdown_file)
        else:
            run = ticketsync(["plan", *chosen, "--format", "markdown", *also, *args],
                             cwd=root)
            code, text = run.returncode, run.stdout
        document = _document(_read(json_file))
    if not text.strip():
        text = (f"## ticketsync plan\n\n> [!CAUTION]\n> `ticketsync plan` failed (exit "
                f"{code}) before it could show anything: see the job's log.\n")
    return PlanStep(projects, text, code, document, warnings)


def _read(path: Path) -> str:
    """A document ``ticketsync plan --also`` wrote; empty when the run stopped before."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""


def comment(forge: Forge, marker: str, step: PlanStep) -> str:
    """Put the plan in the pull request's sticky comment; a pull request that touches no
    project gets none (an earlier one is updated to say so)."""
    return upsert_comment(forge, marker, step.markdown, create=bool(step.projects))


@dataclass
class ApplyStep:
    """What the apply step did: its exit code and ``apply --format json``'s document."""

    projects: list[Path]
    exit_code: int
    doc: dict[str, Any] | None

    def entries(self) -> list[dict[str, Any]]:
        return list((self.doc or {}).get("projects", []))

    def outputs(self, root: Path) -> dict[str, str]:
        counts = dict.fromkeys(APPLY_COUNTS, 0)
        created: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        for entry in self.entries():
            result = entry.get("result") or {}
            for name in APPLY_COUNTS:
                counts[name] += int((result.get("summary") or {}).get(name, 0))
            created += [{"project": entry["project"], **t} for t in result.get("created", [])]
            failed += [{"project": entry["project"], **t} for t in result.get("failed", [])]
            if entry.get("error") and not result:
                failed.append({"project": entry["project"], "key": None,
                               "message": entry["error"]})
        changed = sum(counts[n] for n in ("created", "adopted", "updated", "closed",
                                          "forgotten", "settled"))
        return {
            "has-changes": _bool(changed > 0),
            "counts": _compact(counts),
            "created": _compact(created),
            "failed": _compact(failed),
            "projects": _compact([shown(p, root) for p in self.projects]),
        }

    def markdown(self) -> str:
        """The job summary: each project's outcome, the tickets created, the failures."""
        lines = ["## ticketsync apply", ""]
        if self.doc is None:
            return "\n".join([*lines, f"`ticketsync apply` failed (exit {self.exit_code}) "
                              "before it could report: see the job's log.", ""])
        lines += ["| project | created | updated | closed | failed | outcome |",
                  "| --- | --- | --- | --- | --- | --- |"]
        made: list[str] = []
        bad: list[str] = []
        for entry in self.entries():
            result, name = entry.get("result") or {}, entry["project"]
            counts = result.get("summary") or {}
            outcome = "ok" if entry.get("ok") else _one_line(entry.get("error") or "failed")
            lines.append(f"| `{name}` | {counts.get('created', 0)} | "
                         f"{counts.get('updated', 0)} | {counts.get('closed', 0)} | "
                         f"{counts.get('failed', 0)} | {outcome} |")
            for ticket in result.get("created", []):
                number = ticket.get("number") or ticket.get("id")
                url = ticket.get("url")
                link = f"[{number}]({url})" if url and str(url).startswith("https://") else number
                made.append(f"- `{ticket['key']}` ({link}) in `{name}`")
            bad += [f"- `{t['key']}` in `{name}`: {_one_line(t.get('message') or '')}"
                    for t in result.get("failed", [])]
        if made:
            lines += ["", f"### Created ({len(made)})", "", *made[:200]]
        if bad:
            lines += ["", f"### Failed ({len(bad)})", "", *bad[:200]]
        return "\n".join(lines) + "\n"


def apply_step(root: Path, folder: str, args: Sequence[str]) -> ApplyStep:
    """``ticketsync apply --yes --format json`` over every project under ``folder``."""
    projects = projects_of(root, folder)
    sys.stdout.flush()
    run = ticketsync(["apply", "--yes", "--format", "json", *_project_args(root, projects),
                      *args], cwd=root)
    return ApplyStep(projects, run.returncode, _document(run.stdout))


def state_files(root: Path, folder: str, args: Sequence[str],
                env: Mapping[str, str]) -> list[Path]:
    """The state file of every project under ``folder`` (the sandbox's with ``--sandbox``
    in ``args``), read from each project's config: the commit step needs no output of the
    apply step, which a cancelled job may never have written."""
    from ticketsync.declare.config import load_config

    found = []
    for project in projects_of(root, folder):
        try:
            config = load_config(None, cwd=project, env=env)
        except TicketSyncError as exc:
            print(f"ticketsync: {shown(project, root)}: its config does not load ({exc}); "
                  "its state is not committed", file=sys.stderr)
            continue
        found.append((config.sandboxed() if "--sandbox" in args else config).state_path)
    return found


def git(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    run = subprocess.run(["git", *args], cwd=root, text=True, capture_output=True,
                         check=False)
    if check and run.returncode != 0:
        raise CiError(f"git {args[0]} failed: {run.stderr.strip() or run.stdout.strip()}")
    return run


def commit_state(root: Path, files: Sequence[Path], *, branch: str | None,
                 remote: str = "origin", git_options: Sequence[str] = (),
                 author: tuple[str, str] = ("ticketsync", "ticketsync@users.noreply.github.com"),
                 attempts: int = 3) -> str:
    """Commit ``files`` (only them) and push to ``branch``; what happened, in words.

    Runs after every apply, a failed or interrupted one too: the tickets it did create
    are in the state file, and the next run must find them there. A push refused because
    the branch moved on is rebased and retried (applies are serialised by the workflow's
    concurrency group; other commits may still land meanwhile).
    """
    present = [str(path) for path in files if path.exists()]
    if not present:
        return "no state file to commit"
    git(root, "add", "--", *present)
    if git(root, "diff", "--cached", "--quiet", "--", *present, check=False).returncode == 0:
        return "the state files are unchanged: nothing to commit"
    identity: list[str] = []
    if not git(root, "config", "user.email", check=False).stdout.strip():
        identity = ["-c", f"user.name={author[0]}", "-c", f"user.email={author[1]}"]
    git(root, *identity, "commit", "--quiet", "-m", COMMIT_MESSAGE, "--", *present)
    if branch is None:
        return "committed, not pushed (not on a branch)"
    for _ in range(attempts):
        if git(root, *git_options, "push", "--quiet", remote, f"HEAD:refs/heads/{branch}",
               check=False).returncode == 0:
            return f"committed and pushed to {branch}"
        rebased = git(root, *git_options, *identity, "pull", "--quiet", "--rebase", remote,
                      branch, check=False)
        if rebased.returncode != 0:
            git(root, "rebase", "--abort", check=False)
            raise CiError(f"could not rebase the state commit on {branch}: "
                          f"{rebased.stderr.strip()}")
    raise CiError(f"could not push the state commit to {branch} after {attempts} attempts")


def write_outputs(path: str | None, values: Mapping[str, str]) -> None:
    """Append step outputs to ``$GITHUB_OUTPUT`` (a value with newlines: heredoc form)."""
    if not path:
        return
    with open(path, "a", encoding="utf-8") as out:
        for name, value in values.items():
            if "\n" in value or "\r" in value:
                delimiter = f"ticketsync_{secrets.token_hex(8)}"
                out.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
            else:
                out.write(f"{name}={value}\n")


def append_summary(path: str | None, markdown: str) -> None:
    """Append to ``$GITHUB_STEP_SUMMARY`` (the job's summary page), when there is one."""
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(markdown if markdown.endswith("\n") else markdown + "\n")


def read_event(path: str | None) -> dict[str, Any]:
    """The webhook event that started the workflow (``$GITHUB_EVENT_PATH``), or {}."""
    if not path or not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8") as event:
        data = json.load(event)
    return data if isinstance(data, dict) else {}


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def _one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(str(text).split()).replace("|", "\\|")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
