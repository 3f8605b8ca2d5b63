"""Every install line users can copy names this project: its distribution or its repository.

``ticketsync`` on PyPI is an unrelated project. A copied ``pip install ticketsync`` would
install someone else's code into a job that holds a StackOne key, so each ``pip install``
in the examples, the docs, the action, the pre-commit hook and the README must name the
distribution that ``setup.cfg`` declares, this repository, or a local checkout of it.
"""

from __future__ import annotations

import configparser
import re
import shlex
from pathlib import Path

import pytest
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
METADATA = configparser.ConfigParser()
METADATA.read(ROOT / "setup.cfg", encoding="utf-8")
DISTRIBUTION = METADATA["metadata"]["name"]
REPOSITORY = METADATA["metadata"]["url"]  # https://github.com/OWNER/NAME
OWNER_NAME = REPOSITORY.removeprefix("https://github.com/")

#: What users copy from: every file of these places (not what running them leaves in
#: hidden folders: the README's first command applies the quickstart in place).
SOURCES = sorted(
    [path for folder in ("examples", "docs") for path in (ROOT / folder).rglob("*")
     if path.is_file() and not any(part.startswith(".")
                                   for part in path.relative_to(ROOT / folder).parts)]
    + [ROOT / "action.yml", ROOT / ".pre-commit-hooks.yaml", ROOT / "README.md"]
)

_INSTALL = re.compile(r"\b(?:pip3?|pipx|python3?(?:\.\d+)? -m pip|uv pip|uv tool) install\b(.*)")
#: Options whose next word is theirs, not a requirement.
_WITH_VALUE = {"-c", "--constraint", "-i", "--index-url", "--extra-index-url", "-f",
               "--find-links", "--python", "-t", "--target", "--prefix", "-d"}
#: The action's own checkout, as its install step names it (action.yml: env ACTION_PATH).
_CHECKOUT = {"$ACTION_PATH", "${ACTION_PATH}", "${{ github.action_path }}", "$GITHUB_ACTION_PATH"}


def _ours(url: str) -> bool:
    url = url.removeprefix("git+")
    return url == REPOSITORY or url.startswith((f"{REPOSITORY}/", f"{REPOSITORY}@",
                                               f"{REPOSITORY}.git"))


def _local(word: str) -> bool:
    path = re.sub(r"\[[^\]]*\]$", "", word)  # .[test]
    return path in (".", "..") or path.startswith(("./", "../"))


def problem(word: str) -> str | None:
    """Why ``word`` of an install line is not this project (None: it is)."""
    if word in _CHECKOUT or _local(word):
        return None
    if "://" in word and "@" not in word.split("://", 1)[0]:
        return None if _ours(word) else f"{word}: not this repository ({REPOSITORY})"
    try:
        requirement = Requirement(word)
    except InvalidRequirement:
        return f"{word}: not a requirement this test can read"
    if canonicalize_name(requirement.name) != canonicalize_name(DISTRIBUTION):
        return f"{word}: not this project's distribution ({DISTRIBUTION})"
    if requirement.url is not None and not _ours(requirement.url):
        return f"{word}: not this repository ({REPOSITORY})"
    return None


def install_problems(text: str) -> list[str]:
    """Every install line of ``text`` that names something else than this project."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        for match in _INSTALL.finditer(line):
            try:
                words = shlex.split(match.group(1), comments=True)
            except ValueError:
                words = match.group(1).split()
            skip = False
            for word in words:
                if skip or word in ("&&", ";", "|", ")"):
                    skip = False
                    if word in ("&&", ";", "|", ")"):
                        break
                    continue
                if word.startswith("-"):
                    skip = word in _WITH_VALUE
                    continue
                why = problem(word)
                if why:
                    found.append(f"line {number}: {why}")
    return found


def reference_problems(text: str) -> list[str]:
    """pre-commit ``repo:`` lines and ``uses:`` of a ticketsync action: this repository."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        repo = re.search(r"\brepo:\s*(\S+)", line)
        if repo and "ticketsync" in repo.group(1) and not _ours(repo.group(1)):
            found.append(f"line {number}: pre-commit repo {repo.group(1)}")
        uses = re.search(r"\buses:\s*([\w.-]+/[\w.-]+)@", line)
        if uses and "ticketsync" in uses.group(1) and uses.group(1) != OWNER_NAME:
            found.append(f"line {number}: action {uses.group(1)}")
    return found


def test_the_distribution_is_not_the_unrelated_ticketsync() -> None:
    assert canonicalize_name(DISTRIBUTION) != "ticketsync"
    assert DISTRIBUTION == "ticketsync-stackone"
    assert REPOSITORY.startswith("https://github.com/")


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_install_line_names_this_project(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert install_problems(text) + reference_problems(text) == []


def test_the_places_users_copy_from_do_install_something() -> None:
    lines = [line for path in SOURCES for line in path.read_text(encoding="utf-8").splitlines()
             if _INSTALL.search(line)]
    assert any(DISTRIBUTION in line for line in lines)  # the name itself, somewhere
    assert any("$ACTION_PATH" in line for line in lines)  # the action's own checkout


@pytest.mark.parametrize("line", [
    'pip install "ticketsync==0.1.0"',
    "pip install ticketsync",
    "python -m pip install -U ticketsync[yaml]",
    "pipx install ticketsync",
    "pip install git+https://github.com/someone/ticketsync@v1",
    'pip install "ticketsync-stackone @ https://example.com/t.tar.gz"',
    "uv pip install --python 3.11 ticketsync && ticketsync plan",
])
def test_the_check_catches_a_foreign_install(line: str) -> None:
    assert install_problems(line) != []


@pytest.mark.parametrize("line", [
    "pip install .", "pip install -e '.[test]'", f'pip install "{DISTRIBUTION}==0.1.0"',
    f'pip install "{DISTRIBUTION} @ git+{REPOSITORY}@v0.1.0"',
    f"pip install --no-index --find-links ./wheels {DISTRIBUTION}",
])
def test_the_check_accepts_this_project(line: str) -> None:
    assert install_problems(line) == []
