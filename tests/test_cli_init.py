"""`ticketsync init`: a commented config if absent, an empty state, never an overwrite."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import enter_project, invoke

from ticketsync.state.file import read_state


@pytest.fixture(autouse=True)
def project_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    enter_project(tmp_path, monkeypatch)
    return tmp_path


def test_init_writes_a_config_and_an_empty_state(project_dir: Path) -> None:
    code, out, err = invoke("init", "--account-id", "acc-1")
    assert (code, err) == (0, "")
    assert out == (
        "Wrote ticketsync.yaml (every setting is commented).\n"
        "Wrote ticketsync.state.json (empty, account acc-1). Commit it with your ticket files.\n"
        + GITIGNORE_LINE
    )
    config = (project_dir / "ticketsync.yaml").read_text(encoding="utf-8")
    assert "\naccount_id: acc-1\n" in config and "# max_creates: 200" in config
    state = read_state(project_dir / "ticketsync.state.json", account_id="acc-1")
    assert (state.serial, dict(state.tickets), state.account_id) == (1, {}, "acc-1")
    assert sorted(p.name for p in project_dir.iterdir()) == [
        "ticketsync.state.json", "ticketsync.yaml"
    ]


def test_the_written_config_loads_as_the_defaults(project_dir: Path) -> None:
    from ticketsync.declare.config import load_config

    invoke("init")
    config = load_config(None, cwd=project_dir, env={})
    assert (config.tickets, config.max_creates, config.updates, config.account_id,
            config.concurrency, config.removed, config.max_removals) == (
        ("tickets/",), 200, True, None, None, "keep", 20
    )


def test_init_keeps_an_existing_config_and_takes_the_account_from_the_environment(
    project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project_dir / "ticketsync.yaml").write_text("tickets: [t/]\n", encoding="utf-8")
    monkeypatch.setenv("STACKONE_ACCOUNT_ID", "acc-env")
    code, out, _ = invoke("init")
    assert code == 0
    assert out.splitlines()[0] == "ticketsync.yaml exists: left as it is."
    assert (project_dir / "ticketsync.yaml").read_text(encoding="utf-8") == "tickets: [t/]\n"
    state = json.loads((project_dir / "ticketsync.state.json").read_text(encoding="utf-8"))
    assert state["account_id"] == "acc-env"


def test_init_refuses_to_overwrite_a_state(project_dir: Path) -> None:
    state = project_dir / "ticketsync.state.json"
    state.write_bytes(b"not even json")
    code, out, err = invoke("init")
    assert (code, out) == (1, "")
    assert err.startswith("Error: ticketsync.state.json already exists: refusing to overwrite")
    assert state.read_bytes() == b"not even json"
    assert not (project_dir / "ticketsync.yaml").exists()


GITIGNORE_LINE = ("Add the line `.ticketsync/` to .gitignore: it holds the sandbox's tickets "
                  "and state, for this machine only (`echo .ticketsync/ >> .gitignore`).\n")


def test_init_sandbox_starts_a_project_with_the_sandbox_state(project_dir: Path) -> None:
    """As its help says: the project config (if absent), and the sandbox's own state."""
    code, out, _ = invoke("init", "--sandbox")
    assert code == 0
    assert out == ("Wrote ticketsync.yaml (every setting is commented).\n"
                   "Wrote .ticketsync/sandbox.state.json (empty, account sandbox).\n"
                   + GITIGNORE_LINE)
    assert not (project_dir / "ticketsync.state.json").exists()
    code, _, err = invoke("init", "--sandbox")
    assert (code, err) == (1, "Error: .ticketsync/sandbox.state.json already exists: refusing "
                              "to overwrite a state file (it records the tickets already "
                              "created); `ticketsync state list --sandbox` shows what it "
                              "tracks\n")


def test_init_offers_the_gitignore_line_until_it_is_there(project_dir: Path) -> None:
    (project_dir / ".gitignore").write_text("*.pyc\n/.ticketsync\n", encoding="utf-8")
    code, out, _ = invoke("init")
    assert (code, GITIGNORE_LINE in out) == (0, False)
    (project_dir / ".gitignore").write_text("*.pyc\n", encoding="utf-8")
    assert invoke("init", "--sandbox")[1].endswith(GITIGNORE_LINE)
    assert (project_dir / ".gitignore").read_text(encoding="utf-8") == "*.pyc\n"  # offered only
