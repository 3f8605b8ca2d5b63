"""A small stand-in for the GitHub Actions runner, and a forge API faked over loopback.

``ActionRunner`` runs the steps of ``action.yml`` as the runner does: each ``run:`` step in
``bash --noprofile --norc -eo pipefail``, its ``env:`` and ``if:`` evaluated with the
inputs, a fresh ``$GITHUB_OUTPUT`` per step, one ``$GITHUB_STEP_SUMMARY``, and the
pull-request event in ``$GITHUB_EVENT_PATH``. Two steps are not run: ``setup-python``
(a ``uses:`` step) and the install step, which needs the network; the runner provides
the virtual environment the install step would have made, on this interpreter.

``FakeForge`` answers the few GitHub and GitLab REST calls the steps make (comments or
notes, the pull request's files), with pagination, and records every request.

The tests at the end check the stand-ins themselves.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
ACTION = ROOT / "action.yml"
TOKEN = "test-token-never-printed"
REPOSITORY = "acme/tickets"
PULL = 7


def load_action() -> dict[str, Any]:
    action: dict[str, Any] = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    return action


# --- expressions ---------------------------------------------------------------------

_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def _lookup(path: str, contexts: dict[str, Any]) -> Any:
    value: Any = contexts
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            raise KeyError(f"unknown expression {path!r}")
        value = value[part]
    return value


def evaluate(expression: str, contexts: dict[str, Any], failed: bool = False) -> Any:
    """The subset of GitHub's expressions the action uses: references, string literals,
    ``==``/``!=``, ``&&``, and the status functions."""
    terms = [term.strip() for term in expression.split("&&")]
    if len(terms) > 1:
        return all(evaluate(term, contexts, failed) for term in terms)
    term = terms[0]
    if term in ("always()", "success()", "failure()"):
        return {"always()": True, "success()": not failed, "failure()": failed}[term]
    for operator in ("==", "!="):
        if operator in term:
            left, right = (evaluate(side.strip(), contexts, failed)
                           for side in term.split(operator))
            return (str(left) == str(right)) == (operator == "==")
    if term.startswith("'") and term.endswith("'"):
        return term[1:-1].replace("''", "'")
    return _lookup(term, contexts)


def substitute(text: str, contexts: dict[str, Any]) -> str:
    return _EXPRESSION.sub(lambda m: str(evaluate(m.group(1), contexts)), text)


def _condition(step: dict[str, Any], contexts: dict[str, Any], failed: bool) -> bool:
    condition = str(step.get("if", "success()"))
    condition = _EXPRESSION.sub(lambda m: m.group(1), condition)
    if not any(f in condition for f in ("always()", "success()", "failure()")):
        condition = f"success() && {condition}"  # what GitHub adds to a bare condition
    return bool(evaluate(condition, contexts, failed))


def read_outputs(path: Path) -> dict[str, str]:
    """``$GITHUB_OUTPUT`` as the runner reads it: ``name=value`` and heredoc entries."""
    values: dict[str, str] = {}
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    index = 0
    while index < len(lines):
        line = lines[index]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, index + 1)
            values[name] = "\n".join(lines[index + 1 : end])
            index = end + 1
            continue
        name, value = line.split("=", 1)
        values[name] = value
        index += 1
    return values


# --- the runner ------------------------------------------------------------------------


@dataclass
class StepRun:
    name: str
    ran: bool
    exit_code: int = 0
    stdout: str = ""
    stderr: str = ""


@dataclass
class ActionRun:
    steps: list[StepRun]
    outputs: dict[str, str]
    summary: str

    def step(self, prefix: str) -> StepRun:
        return next(step for step in self.steps if step.name.startswith(prefix))

    @property
    def failed(self) -> bool:
        return any(step.exit_code for step in self.steps)


@dataclass
class ActionRunner:
    """Runs ``action.yml`` in ``workspace`` for a pull-request (or push) event."""

    workspace: Path
    temp: Path
    api_url: str = "http://127.0.0.1:9"
    event: dict[str, Any] = field(default_factory=lambda: {
        "action": "synchronize", "number": PULL, "pull_request": {"number": PULL}})
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.temp.mkdir(parents=True, exist_ok=True)
        # What the install step would leave: a python that has ticketsync installed.
        python = self.temp / "runner" / "ticketsync-venv" / "bin" / "python"
        python.parent.mkdir(parents=True, exist_ok=True)
        python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n', encoding="utf-8")
        python.chmod(0o755)

    def run(self, **inputs: str) -> ActionRun:
        action = load_action()
        given = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()}
        unknown = set(inputs) - set(given)
        assert not unknown, f"the action has no input {unknown}"
        summary = self.temp / "step_summary.md"
        summary.write_text("", encoding="utf-8")
        event = self.temp / "event.json"
        event.write_text(json.dumps(self.event), encoding="utf-8")
        contexts: dict[str, Any] = {
            "github": {"action_path": str(ROOT), "token": TOKEN,
                       "workspace": str(self.workspace)},
            "runner": {"temp": str(self.temp / "runner")},
            "steps": {},
        }
        contexts["inputs"] = {**given, **{k: substitute(v, contexts) for k, v in
                                          {**given, **inputs}.items()}}
        results: list[StepRun] = []
        failed = False
        for number, step in enumerate(action["runs"]["steps"]):
            name = substitute(str(step.get("name", f"step {number}")), contexts)
            if not _condition(step, contexts, failed) or "uses" in step or (
                "pip install" in step.get("run", "")
            ):
                results.append(StepRun(name, ran=False))
                continue
            output = self.temp / f"output-{number}"
            env = {
                "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
                "HOME": str(self.temp), "LANG": "C.UTF-8", "CI": "true",
                "GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(self.workspace),
                "GITHUB_ACTION_PATH": str(ROOT), "RUNNER_TEMP": str(self.temp / "runner"),
                "GITHUB_EVENT_PATH": str(event), "GITHUB_OUTPUT": str(output),
                "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_API_URL": self.api_url,
                "GITHUB_REPOSITORY": REPOSITORY, "GITHUB_REF": f"refs/pull/{PULL}/merge",
                "GITHUB_REF_NAME": f"{PULL}/merge",
                **self.env,
                **{k: substitute(str(v), contexts) for k, v in step.get("env", {}).items()},
            }
            done = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                cwd=self.workspace, env=env, capture_output=True, text=True, timeout=120,
                check=False,
            )
            results.append(StepRun(name, True, done.returncode, done.stdout, done.stderr))
            failed = failed or done.returncode != 0
            if "id" in step:
                contexts["steps"][step["id"]] = {"outputs": read_outputs(output)}
        outputs = {}
        for name, spec in action["outputs"].items():
            try:
                outputs[name] = substitute(spec["value"], contexts)
            except KeyError:  # the step that sets it did not run
                outputs[name] = ""
        return ActionRun(results, outputs, summary.read_text(encoding="utf-8"))


# --- the forge -------------------------------------------------------------------------


@dataclass
class FakeForge:
    """GitHub's and GitLab's comment and file listings, in memory, over loopback HTTP."""

    page_size: int = 2
    files: list[str] = field(default_factory=list)
    comments: dict[int, str] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    read_only: bool = False  # a fork's pull request: writes answer 403
    next_id: int = 100

    def start(self) -> str:
        forge = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                forge.handle(self, "GET")

            def do_POST(self) -> None:
                forge.handle(self, "POST")

            def do_PATCH(self) -> None:
                forge.handle(self, "PATCH")

            def do_PUT(self) -> None:
                forge.handle(self, "PUT")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        return self.url

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    def handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(request.path)
        self.requests.append((method, parts.path))
        authorized = (request.headers.get("Authorization") == f"Bearer {TOKEN}"
                      or request.headers.get("PRIVATE-TOKEN") == TOKEN)
        if not authorized:
            return self.answer(request, 401, {"message": "Bad credentials"})
        length = int(request.headers.get("Content-Length") or 0)
        body = json.loads(request.rfile.read(length) or b"null")
        path = parts.path
        listing = re.fullmatch(
            r"/repos/acme/tickets/issues/7/comments|/projects/42/merge_requests/7/notes", path)
        if method == "GET" and listing:
            items = [{"id": i, "body": b, "system": False} for i, b in self.comments.items()]
            return self.page(request, items, parts.query)
        if method == "GET" and path in ("/repos/acme/tickets/pulls/7/files",
                                        "/projects/42/merge_requests/7/diffs"):
            key = "filename" if path.startswith("/repos") else "new_path"
            return self.page(request, [{key: f} for f in self.files], parts.query)
        if self.read_only:
            return self.answer(request, 403, {"message": "Resource not accessible by integration"})
        if method == "POST" and listing:
            self.next_id += 1
            self.comments[self.next_id] = body["body"]
            return self.answer(request, 201, {"id": self.next_id, "body": body["body"]})
        edit = re.fullmatch(r"/repos/acme/tickets/issues/comments/(\d+)|"
                            r"/projects/42/merge_requests/7/notes/(\d+)", path)
        if method in ("PATCH", "PUT") and edit:
            number = int(edit.group(1) or edit.group(2))
            if number not in self.comments:
                return self.answer(request, 404, {"message": "Not Found"})
            self.comments[number] = body["body"]
            return self.answer(request, 200, {"id": number, "body": body["body"]})
        return self.answer(request, 404, {"message": "Not Found"})

    def page(self, request: BaseHTTPRequestHandler, items: list[Any], query: str) -> None:
        page = int(parse_qs(query).get("page", ["1"])[0])
        start = (page - 1) * self.page_size
        headers = {}
        if start + self.page_size < len(items):
            path = urlsplit(request.path).path
            headers["Link"] = f'<{self.url}{path}?page={page + 1}>; rel="next"'
        self.answer(request, 200, items[start : start + self.page_size], headers)

    def answer(self, request: BaseHTTPRequestHandler, status: int, data: Any,
               headers: dict[str, str] | None = None) -> None:
        raw = json.dumps(data).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(raw)))
        for name, value in (headers or {}).items():
            request.send_header(name, value)
        request.end_headers()
        request.wfile.write(raw)

    def writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p in self.requests if m != "GET"]


@pytest.fixture
def fake_forge() -> Any:
    forge = FakeForge()
    forge.start()
    try:
        yield forge
    finally:
        forge.stop()


# --- the stand-ins' own tests -----------------------------------------------------------


def test_expressions_as_github_evaluates_them() -> None:
    contexts = {"inputs": {"command": "apply", "commit-state": "true"}}
    assert evaluate("always() && inputs.command == 'apply' && inputs.commit-state == 'true'",
                    contexts, failed=True)
    assert not evaluate("inputs.command == 'plan'", contexts)
    assert evaluate("inputs.command != ''", contexts)
    step = {"if": "inputs.command == 'apply'"}
    assert _condition(step, contexts, failed=False)
    assert not _condition(step, contexts, failed=True)  # a bare condition adds success()
    with pytest.raises(KeyError):
        substitute("${{ inputs.nope }}", contexts)


def test_outputs_are_read_as_the_runner_reads_them(tmp_path: Path) -> None:
    from ticketsync.ci.steps import write_outputs

    path = tmp_path / "out"
    write_outputs(str(path), {"one": "1", "json": '{"a":1}', "text": "two\nlines"})
    assert read_outputs(path) == {"one": "1", "json": '{"a":1}', "text": "two\nlines"}


def test_the_fake_forge_paginates_and_checks_the_token(fake_forge: FakeForge) -> None:
    import requests

    fake_forge.comments = {1: "a", 2: "b", 3: "c"}
    url = f"{fake_forge.url}/repos/acme/tickets/issues/7/comments"
    first = requests.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
    assert [c["id"] for c in first.json()] == [1, 2]
    assert first.links["next"]["url"].endswith("?page=2")
    assert requests.get(url, timeout=5).status_code == 401


def test_the_runner_gives_the_step_a_python_with_ticketsync(tmp_path: Path) -> None:
    runner = ActionRunner(tmp_path, tmp_path / "temp")
    python = tmp_path / "temp" / "runner" / "ticketsync-venv" / "bin" / "python"
    done = subprocess.run([str(python), "-m", "ticketsync", "--version"], capture_output=True,
                          text=True, check=True, env={**os.environ, "PATH": "/usr/bin:/bin"})
    assert done.stdout.startswith("ticketsync, version ")
    assert runner.event["pull_request"]["number"] == PULL
