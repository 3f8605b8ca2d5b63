"""Several projects in one repository: `-C DIR`, and `plan`/`apply --projects PATH`.

Each project keeps its own config, state file, lock and key variable; one run gives one
summary and one exit code, and a failure in one project never stops or touches another.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import enter_project, invoke, write
from sandbox_helpers import MakeSandbox

from ticketsync.declare.paths import display_path
from ticketsync.declare.projects import find_projects, touched_projects
from ticketsync.errors import ConfigError

PLATFORM = """\
    tickets:
      outage:
        title: System outage
        project_id: project-001
      postmortem:
        title: Postmortem
        project_id: project-001
        parent: outage
    """
MOBILE = """\
    tickets:
      crash:
        title: App crashes on start
        project_id: project-002
    """


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository with two projects, an unrelated folder and a hidden one."""
    enter_project(tmp_path, monkeypatch)
    for name, tickets in (("platform", PLATFORM), ("mobile", MOBILE)):
        write(tmp_path / name / "ticketsync.yaml", "tickets: [tickets/]\n")
        write(tmp_path / name / "tickets" / "t.yaml", tickets)
    write(tmp_path / "docs" / "readme.yaml", "not: a project\n")
    write(tmp_path / ".git" / "x" / "ticketsync.yaml", "tickets: [nope/]\n")
    return tmp_path


def test_projects_are_the_folders_holding_a_config(repo: Path) -> None:
    write(repo / "platform" / "sub" / "ticketsync.yaml", "tickets: [t/]\n")
    write(repo / "node_modules" / "x" / "ticketsync.yaml", "tickets: [t/]\n")
    found = find_projects([repo, repo / "platform"])
    assert [p.relative_to(repo).as_posix() for p in found] == [
        "mobile", "platform", "platform/sub"]
    with pytest.raises(ConfigError, match=r"docs: no ticketsync\.yaml in it or below it"):
        find_projects([Path("docs")])
    with pytest.raises(ConfigError, match="nowhere: no such folder"):
        find_projects([Path("nowhere")])


def test_projects_whose_state_settings_name_one_file_are_refused_naming_both(
    repo: Path,
) -> None:
    """Issue #17 item 7: each would see the other's tickets as no longer declared."""
    write(repo / "mobile" / "ticketsync.yaml", "state: ../platform/ticketsync.state.json\n")
    write(repo / "docs" / "broken" / "ticketsync.yaml", "tickets: {oops: 1}\n")
    with pytest.raises(ConfigError) as caught:
        find_projects([repo])
    assert str(caught.value) == (
        "mobile/ticketsync.yaml and platform/ticketsync.yaml both keep their state in "
        "platform/ticketsync.state.json: two projects sharing a state file would close each "
        "other's tickets; give each project a `state:` file of its own"
    )
    # One of them alone is fine; a config that does not load is left to its own run.
    assert [p.name for p in find_projects([repo / "mobile", repo / "docs"])] == [
        "broken", "mobile"]


def test_a_changed_file_touches_the_deepest_project_holding_it(repo: Path) -> None:
    write(repo / "platform" / "sub" / "ticketsync.yaml", "tickets: [t/]\n")
    write(repo / "ticketsync.yaml", "tickets: [tickets/]\n")
    projects = find_projects([repo])
    touched = touched_projects(
        ["platform/sub/t/a.yaml", "mobile/ticketsync.state.json", "README.md"], projects, repo)
    assert [display_path(p, repo) for p in touched] == [".", "mobile", "platform/sub"]
    assert touched_projects(["docs/readme.yaml"], find_projects([repo / "mobile"]), repo) == []


def test_dash_c_runs_as_if_started_in_the_folder(repo: Path) -> None:
    code, out, err = invoke("-C", "platform", "plan")
    assert code == 0, err
    assert out.endswith("Plan: 2 to create, 0 to update, 0 unchanged.\n")
    assert err.startswith("Note: no state file at ticketsync.state.json")
    # Cumulative, like git: -C platform -C tickets is platform/tickets.
    code, out, err = invoke("-C", "platform", "-C", "tickets", "validate", "t.yaml")
    assert (code, out) == (0, "2 tickets in 1 file OK\n"), err


def test_dash_c_to_a_missing_folder_is_a_usage_error(repo: Path) -> None:
    code, _, err = invoke("-C", "nowhere", "plan")
    assert code == 64
    assert "Invalid value for '-C': cannot run in 'nowhere': No such file or directory" in err


def test_plan_of_several_projects_is_one_summary_and_one_exit_code(repo: Path) -> None:
    code, out, err = invoke("plan", "--projects", ".", "--detailed-exitcode")
    assert code == 2, err
    assert out == (
        "== mobile ==\n"
        '+ create crash  "App crashes on start"\n\n'
        "Plan: 1 to create, 0 to update, 0 unchanged.\n\n"
        "== platform ==\n"
        '+ create outage  "System outage"\n'
        '+ create postmortem  "Postmortem"\n\n'
        "Plan: 2 to create, 0 to update, 0 unchanged.\n\n"
        "2 projects: 2 planned, 2 with changes, 0 failed.\n"
    )
    # Paths are shown from where the command started: the state of each project.
    assert "Note: no state file at mobile/ticketsync.state.json" in err
    assert "Note: no state file at platform/ticketsync.state.json" in err


def test_annotations_of_several_projects_name_the_files_from_the_repository_root(
    repo: Path,
) -> None:
    write(repo / "mobile" / "tickets" / "t.yaml", "tickets:\n  crash:\n    titel: x\n")
    code, out, _ = invoke("plan", "--projects", ".", "--format", "github")
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith("::error file=mobile/tickets/t.yaml,line=2,col=3::tickets.crash")
    assert lines[1].startswith("::error file=mobile/tickets/t.yaml,line=3,col=5::")
    assert lines[2] == '::notice file=platform/tickets/t.yaml,line=2::create outage "System outage"'
    assert lines[-2:] == ["platform: Plan: 2 to create, 0 to update, 0 unchanged.",
                          "2 projects: 1 planned, 1 with changes, 1 failed (mobile)."]


def test_json_and_markdown_have_a_section_per_project(repo: Path) -> None:
    write(repo / "mobile" / "tickets" / "t.yaml", "tickets: [oops]\n")
    code, out, _ = invoke("plan", "--projects", "mobile", "--projects", "platform",
                          "--format", "json")
    assert code == 1
    doc = json.loads(out)
    assert [(p["project"], p["ok"]) for p in doc["projects"]] == [
        ("mobile", False), ("platform", True)]
    assert "mobile/tickets/t.yaml:1:" in doc["projects"][0]["error"]
    assert doc["projects"][1]["plan"]["summary"]["create"] == 2
    code, out, _ = invoke("plan", "--projects", ".", "--format", "markdown")
    assert code == 1
    assert out.startswith("## ticketsync plan\n\n**2 projects: 1 planned, 1 with changes, "
                          "1 failed (mobile).**\n")
    assert "### `mobile`\n\n> [!CAUTION]" in out
    assert "### `platform`\n\n**Plan: 2 to create" in out
    assert "#### To create (2)" in out and "```mermaid\nflowchart LR" in out


def test_one_project_is_titled_with_its_folder(repo: Path) -> None:
    code, out, _ = invoke("plan", "--projects", "platform", "--format", "markdown")
    assert code == 0
    assert out.startswith("## ticketsync plan: `platform`\n\n**Plan: 2 to create")
    assert "| `postmortem` | Postmortem | `outage` |  | `platform/tickets/t.yaml:5` |" in out


def test_mermaid_of_several_projects(repo: Path) -> None:
    code, out, _ = invoke("plan", "--projects", ".", "--format", "mermaid")
    assert code == 0
    assert '    subgraph p0["mobile"]' in out and '    subgraph p1["platform"]' in out
    assert "        p1n0 --> p1n1" in out


@pytest.mark.parametrize(("args", "message"), [
    (("plan", "--projects", ".", "tickets/"), "PATH arguments cannot be combined"),
    (("plan", "--projects", ".", "--out", "p.json"), "--out cannot be combined"),
    (("--config", "x.yaml", "plan", "--projects", "."), "--config cannot be combined"),
    (("apply", "--projects", ".", "--plan", "p.json"), "--plan cannot be combined"),
])
def test_what_several_projects_cannot_take_is_a_usage_error(
    repo: Path, args: tuple[str, ...], message: str
) -> None:
    code, _, err = invoke(*args)
    assert code == 64
    assert message in err


def test_a_broken_project_never_stops_or_touches_another(repo: Path) -> None:
    write(repo / "mobile" / "tickets" / "t.yaml", "tickets:\n  crash: {title: [}\n")
    code, out, err = invoke("apply", "--projects", ".", "--sandbox", "--yes")
    assert code == 1
    assert out.splitlines()[0] == "== mobile =="
    assert "== platform ==" in out
    assert "Apply complete: 2 created, 0 updated, 0 failed." in out
    assert out.endswith("2 projects: 1 applied, 1 failed (mobile).\n")
    assert "mobile/tickets/t.yaml:2:" in err
    assert not (repo / "mobile" / ".ticketsync").exists()  # nothing of mobile was made
    platform_state = json.loads(
        (repo / "platform" / ".ticketsync" / "sandbox.state.json").read_text())
    assert sorted(platform_state["tickets"]) == ["outage", "postmortem"]
    # Fixed, the next run applies mobile and finds platform done.
    write(repo / "mobile" / "tickets" / "t.yaml", MOBILE)
    code, out, err = invoke("apply", "--projects", ".", "--sandbox", "--yes")
    assert code == 0, err
    assert "Apply complete: 1 created, 0 updated, 0 failed." in out
    assert "== platform ==\nNo changes.\n" in out
    assert out.endswith("2 projects: 2 applied, 0 failed.\n")


def test_a_corrupt_state_fails_its_project_alone(repo: Path) -> None:
    assert invoke("apply", "--projects", "mobile", "--sandbox", "--yes")[0] == 0
    state = repo / "mobile" / ".ticketsync" / "sandbox.state.json"
    state.write_text("{ corrupt", encoding="utf-8")
    code, out, _ = invoke("plan", "--projects", ".", "--sandbox", "--format", "github")
    assert code == 1
    assert out.startswith("::error title=ticketsync mobile::")  # an annotation of its own
    assert "platform: Plan: 2 to create" in out
    code, out, err = invoke("apply", "--projects", ".", "--sandbox", "--yes")
    assert code == 1
    assert "Error: mobile: " in err
    assert state.read_text(encoding="utf-8") == "{ corrupt"  # never overwritten
    assert "Apply complete: 2 created" in out


def test_each_project_reads_its_own_key_variable(
    repo: Path, make_sandbox: MakeSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    servers = {}
    for name, variable in (("platform", "PLATFORM_KEY"), ("mobile", "MOBILE_KEY")):
        server = make_sandbox(db_path=repo / f"{name}.db", api_key=f"key-of-{name}")
        servers[name] = server
        write(repo / name / "ticketsync.yaml", (
            f"tickets: [tickets/]\naccount_id: acc-{name}\nbase_url: {server.url}\n"
            f"api_key_env: {variable}\n"))
        assert invoke("-C", name, "init")[0] == 0
    monkeypatch.setenv("PLATFORM_KEY", "key-of-platform")
    code, out, err = invoke("apply", "--projects", ".", "--yes")
    assert code == 1
    assert "Error: mobile: no API key: set MOBILE_KEY" in err
    assert "Apply complete: 2 created" in out
    monkeypatch.setenv("MOBILE_KEY", "key-of-mobile")
    code, out, err = invoke("apply", "--projects", ".", "--yes", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["ok"] is True
    mobile, platform = doc["projects"]
    assert [t["key"] for t in mobile["result"]["created"]] == ["crash"]
    assert platform["result"]["created"] == []
    assert mobile["result"]["state_file"] == "mobile/ticketsync.state.json"
    assert [t.title for t in servers["mobile"].store.all()] == ["App crashes on start"]


def test_several_projects_show_ids_by_name_each_through_its_own_directory(repo: Path) -> None:
    assert invoke("apply", "--projects", ".", "--sandbox", "--yes")[0] == 0
    assert invoke("-C", "platform", "directory", "pull", "--sandbox")[0] == 0  # mobile: none
    moved = PLATFORM.replace("project_id: project-001\n      postmortem",
                             "project_id: project-002\n      postmortem")
    write(repo / "platform" / "tickets" / "t.yaml", moved)
    write(repo / "mobile" / "tickets" / "t.yaml", MOBILE.replace("project-002", "project-001"))
    by_name = '    project_id: "Platform" (project-001) -> "Onboarding" (project-002)'
    by_id = "    project_id: project-002 -> project-001"  # no directory file in mobile/
    code, out, err = invoke("plan", "--projects", ".", "--sandbox")
    assert (code, err) == (0, "")
    assert f"== platform ==\n~ update outage\n{by_name}\n" in out
    assert f"== mobile ==\n~ update crash\n{by_id}\n" in out
    for fmt in ("github", "markdown"):
        shown = invoke("plan", "--projects", ".", "--sandbox", "--format", fmt)[1]
        assert '"Platform" (project-001) -> "Onboarding" (project-002)' in shown, fmt
