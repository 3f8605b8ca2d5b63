"""Shell completion, click's mechanism: the script a shell sources, and its protocol.

``eval "$(_TICKETSYNC_COMPLETE=bash_source ticketsync)"`` (or ``zsh_source``) installs
it; the shell then calls ``ticketsync`` with ``_TICKETSYNC_COMPLETE=bash_complete`` and
the words typed so far. These tests run the installed command as the shell would.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
TICKETSYNC = BIN / "ticketsync"


def complete(instruction: str, words: str, cword: int, cwd: Path | None = None) -> str:
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp"),
           "LANG": "C.UTF-8", "_TICKETSYNC_COMPLETE": instruction, "COMP_WORDS": words,
           "COMP_CWORD": str(cword)}
    done = subprocess.run([str(TICKETSYNC)], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize(("shell", "lines"), [
    ("bash", ["_ticketsync_completion() {",
              "    complete -o nosort -F _ticketsync_completion ticketsync"]),
    ("zsh", ["#compdef ticketsync", "    compdef _ticketsync_completion ticketsync"]),
])
def test_the_script_to_source(shell: str, lines: list[str]) -> None:
    script = complete(f"{shell}_source", "", 0).splitlines()
    for line in lines:
        assert line in script
    assert "_TICKETSYNC_COMPLETE=" + ("bash_complete" if shell == "bash" else "zsh_complete") in (
        "\n".join(script))


def test_a_command_name_completes_through_the_protocol() -> None:
    assert complete("bash_complete", "ticketsync pl", 1) == "plain,plan\n"
    # zsh: type, value, help (the command's short help) per completion
    assert complete("zsh_complete", "ticketsync pl", 1).splitlines()[:3] == [
        "plain", "plan", "Show what apply would do to match the..."]
    names = complete("bash_complete", "ticketsync ", 1).splitlines()
    assert {"plain,apply", "plain,plan", "plain,validate", "plain,state"} <= set(names)


def test_options_and_their_values_complete() -> None:
    assert complete("bash_complete", "ticketsync plan --format m", 3).splitlines() == [
        "plain,markdown", "plain,mermaid"]
    assert "plain,--projects" in complete("bash_complete", "ticketsync apply --pro", 2)
    assert complete("bash_complete", "ticketsync -C ", 2) == "dir,\n"


def test_bash_completes_with_the_sourced_script(tmp_path: Path) -> None:
    script = complete("bash_source", "", 0)
    driver = (f"{script}\nCOMP_WORDS=(ticketsync sta); COMP_CWORD=1; COMPREPLY=()\n"
              "_ticketsync_completion ticketsync\necho \"${COMPREPLY[@]}\"\n")
    done = subprocess.run(["bash", "--noprofile", "--norc", "-c", driver], cwd=tmp_path,
                          env={"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(tmp_path)},
                          capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stdout) == (0, "state\n"), done.stderr
