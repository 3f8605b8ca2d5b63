"""Every command and every option is documented in the README (a missing one fails)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import pytest
from cli_helpers import copy_example

from ticketsync.cli import main

README_PATH = Path(__file__).resolve().parent.parent / "README.md"
README = README_PATH.read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: str) -> Iterator[tuple[str, click.Command]]:
    for name, command in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        yield path, command
        if isinstance(command, click.Group):
            yield from _commands(command, path)


COMMANDS = list(_commands(main, "ticketsync"))


def test_the_cli_has_its_commands() -> None:
    names = {path for path, _ in COMMANDS}
    for expected in ("validate", "plan", "apply", "init", "state", "sandbox"):
        assert f"ticketsync {expected}" in names


@pytest.mark.parametrize("path", [path for path, _ in COMMANDS])
def test_every_command_is_in_the_readme(path: str) -> None:
    assert f"`{path}" in README, f"README.md does not document `{path}`"


def _section(path: str) -> str:
    """The README text documenting ``path``: its command's section, or the global options."""
    if path == "ticketsync":
        start = README.index("Global options")
        return README[start : README.index("\n\n", start)]
    top = " ".join(path.split()[:2])
    start = README.index(f"### `{top}")
    end = README.find("\n## ", start)
    following = README.find("\n### ", start + 1)
    return README[start : min(e for e in (end, following) if e != -1)]


OPTIONS = sorted(
    {
        (path, opt)
        for path, command in [("ticketsync", main), *COMMANDS]
        for param in command.params
        if isinstance(param, click.Option)
        for opt in param.opts
        if opt.startswith("--") and opt != "--help"
    }
)


@pytest.mark.parametrize(("path", "option"), OPTIONS)
def test_every_option_is_in_its_commands_readme_section(path: str, option: str) -> None:
    assert f"`{option}" in _section(path), f"README.md does not document {option} of `{path}`"


def test_every_command_help_ends_with_an_example() -> None:
    for path, command in COMMANDS:
        if isinstance(command, click.Group):
            continue
        assert command.help and "Example" in command.help, f"`{path}` help has no example"


def _two_commands() -> list[str]:
    start = README.index("## Two commands")
    section = README[start : README.index("\n## ", start + 1)]
    return [block.split("\n")[1] for block in section.split("```sh")[1:]]


def test_ci_runs_exactly_the_readmes_test_command() -> None:
    demo, tests = _two_commands()
    ci = (README_PATH.parent / ".ci" / "run").read_text(encoding="utf-8").rstrip().splitlines()
    assert ci[-1] == tests
    assert demo.endswith("ticketsync plan --sandbox)")
    assert "ticketsync apply --sandbox --yes" in demo


def test_the_readmes_demo_ends_with_no_changes(tmp_path: Path) -> None:
    # The first command minus its install step, run as written on a copy of the repo's
    # quickstart: validate, plan, apply and a second plan against the built-in sandbox.
    import subprocess
    import sys

    demo, _ = _two_commands()
    run = demo[demo.index("(cd examples/quickstart") :]
    quickstart = Path("examples") / "quickstart"
    copy_example(README_PATH.parent / quickstart, tmp_path / quickstart)
    bindir = Path(sys.executable).parent
    env = {"PATH": f"{bindir}:/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    assert (bindir / "ticketsync").exists(), "the ticketsync script is installed beside python"
    result = subprocess.run(
        ["bash", "-c", run], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "15 tickets in 3 files OK (12 made by templates)"
    assert "Apply complete: 15 created, 0 updated, 0 failed." in lines
    assert lines[-1] == "No changes."
    assert "Traceback" not in result.stderr


def test_every_message_the_recovery_guide_quotes_is_one_ticketsync_prints() -> None:
    """docs/recovery.md is found by searching for a message: each heading quotes one, and
    its words must still be in the code (a reworded message makes the guide lie). Each run
    of three or more plain words of a heading (placeholders such as KEY, paths and numbers
    break runs) is looked for in the package's source, adjacent string literals joined."""
    root = README_PATH.parent
    guide = (root / "docs" / "recovery.md").read_text(encoding="utf-8")
    source = "\n".join(p.read_text(encoding="utf-8") for p in (root / "ticketsync").rglob("*.py"))
    joined = re.sub(r"""["']\s*\n\s*f?["']""", "", source)  # "abc "\n  "def" -> "abc def"
    flat = " ".join(joined.split())
    headings = re.findall(r"^## `+([^`]+?)`+", guide, flags=re.MULTILINE)
    assert len(headings) >= 14
    for heading in headings:
        for text in _plain_runs(heading):
            assert text in flat, f"docs/recovery.md quotes '{text}', no longer in the code"


def _plain_runs(message: str) -> list[str]:
    """The runs of three or more plain words of a quoted message. A placeholder (KEY, N, a
    path, a number) ends a run, and takes the word before it along (`pid N`, `account A`):
    that word is printed by the same formatted value in the code."""
    runs: list[str] = []
    run: list[str] = []
    for word in [*message.replace("...", " ").split(), "N"]:
        if re.fullmatch(r"[a-z][a-z'-]*[,:;]?", word):
            run.append(word)
            continue
        if re.fullmatch(r"[A-Z0-9]+[.,]?", word) and run:
            run.pop()
        if len(run) >= 3:
            runs.append(" ".join(run).rstrip(",:;"))
        run = []
    return runs


def _ticket_file_blocks() -> list[tuple[str, str]]:
    """The README's ticket files: the YAML blocks that start with ``# tickets/NAME``."""
    blocks = re.findall(r"```yaml\n(# (tickets/[\w.-]+\.yaml)\n.*?)```", README, re.S)
    return [(name, text) for text, name in blocks]


def _project_of(name: str, text: str, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A project in ``folder`` (entered) with one ticket file and the quickstart's
    directory, whose names the README's examples use."""
    quickstart = README_PATH.parent / "examples" / "quickstart"
    (folder / "tickets").mkdir()
    (folder / name).write_text(text, encoding="utf-8")
    (folder / "ticketsync.directory.json").write_bytes(
        (quickstart / "ticketsync.directory.json").read_bytes())
    monkeypatch.chdir(folder)


@pytest.mark.parametrize(("name", "text"), _ticket_file_blocks())
def test_the_readmes_ticket_files_are_valid_with_the_quickstarts_directory(
    name: str, text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    _project_of(name, text, tmp_path, monkeypatch)
    result = CliRunner().invoke(main, ["validate"])
    assert result.exit_code == 0, result.output


def test_the_readmes_template_session_is_what_ticketsync_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    [(name, text)] = [(n, t) for n, t in _ticket_file_blocks() if "for_each:" in t]
    session = README[README.index(text):]
    session = session[session.index("```console\n") + 11 : session.index("\n```\n", 20)]
    _project_of(name, text, tmp_path, monkeypatch)
    runner = CliRunner()
    for command in re.split(r"^\$ ", session, flags=re.M)[1:]:
        typed, *shown = command.rstrip("\n").split("\n")
        args = typed.split()[1:] + (["--sandbox"] if typed.endswith(" plan") else [])
        output = runner.invoke(main, args).stdout.splitlines()
        assert [line for line in shown if line != "..."] == [
            line for line in output[: len(shown)] if line in shown
        ], typed
        assert shown[0] == output[0]


def _session_after(text: str) -> str:
    """The first console block after ``text`` in the README."""
    session = README[README.index(text):]
    start = session.index("```console\n") + 11
    return session[start : session.index("\n```\n", start)]


def _replay(session: str, on_comment: Callable[[str], None] | None = None) -> int:
    """Run each command of a README console session as typed (``$ # ...`` lines are
    comments, handed to ``on_comment``): the lines shown must appear in its output in
    order ("..." stands for lines left out), the first first. The commands run."""
    from click.testing import CliRunner

    ran = 0
    for command in re.split(r"^\$ ", session, flags=re.M)[1:]:
        typed, *shown = command.rstrip("\n").split("\n")
        if typed.startswith("# "):
            if on_comment is not None:
                on_comment(typed)
            continue
        result = CliRunner().invoke(main, typed.split("#")[0].split()[1:])
        assert result.exit_code == 0, (typed, result.output)
        output = result.stdout.splitlines()
        wanted = [line for line in shown if line not in ("...", "")]
        assert [line for line in output if line in wanted] == wanted, typed
        assert shown[0] in ("...", output[0]), typed
        ran += 1
    return ran


def test_the_readmes_recurring_session_is_what_ticketsync_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each command as typed (its own --sandbox and --now), against a sandbox of its own."""
    [(name, text)] = [(n, t) for n, t in _ticket_file_blocks() if "every:" in t]
    _project_of(name, text, tmp_path, monkeypatch)
    assert _replay(_session_after(text)) == 4


def test_the_readmes_references_session_is_what_ticketsync_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The references section, replayed against a sandbox of its own."""
    [(name, text)] = [(n, t) for n, t in _ticket_file_blocks() if "{ref:" in t]
    _project_of(name, text, tmp_path, monkeypatch)
    assert _replay(_session_after(text)) == 3


def test_the_readmes_worked_example_of_keeping_tickets_in_step_is_what_ticketsync_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The "Keeping tickets in step" session, replayed against a sandbox of its own; the
    file changes where the session's comment says it does."""
    [(name, text)] = [(n, t) for n, t in _ticket_file_blocks()
                      if "rotate-db-credentials:" in t and "priority: high\n" in t]
    _project_of(name, text, tmp_path, monkeypatch)
    path = tmp_path / name

    def edit(comment: str) -> None:
        if "now the file says" in comment:
            path.write_text(path.read_text().replace("priority: high\n", "priority: highest\n")
                            .replace("[user-001]", "[user-007]"))

    assert _replay(_session_after(text), edit) == 7
