"""``apply --plan FILE`` reads and checks the saved plan once per run: before the
read-back (a stale plan is refused before anything is read) and to apply it alike."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cli_helpers import enter_project, invoke, write

from ticketsync.model import Plan
from ticketsync.plan import saved


def test_a_saved_plan_is_read_once_per_apply(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    enter_project(tmp_path, monkeypatch)
    write(tmp_path / "ticketsync.yaml", "tickets: [tickets/]\n")
    write(tmp_path / "tickets" / "t.yaml", """\
        tickets:
          epic:
            title: The epic
          task:
            title: A task
            parent: epic
        """)
    assert invoke("apply", "--sandbox", "--yes")[0] == 0  # the sandbox's state, made
    write(tmp_path / "tickets" / "more.yaml", "tickets:\n  more:\n    title: One more\n")
    assert invoke("plan", "--sandbox", "--out", "plan.json")[0] == 0
    reads: list[Path] = []
    real = saved.load_plan

    def counted(path: Path) -> Plan:
        reads.append(path)
        return real(path)

    monkeypatch.setattr(saved, "load_plan", counted)
    code, out, _ = invoke("apply", "--sandbox", "--yes", "--plan", "plan.json")
    assert (code, reads) == (0, [Path("plan.json")])
    assert out.splitlines()[-2:] == ["Apply complete: 1 created, 0 updated, 0 failed.",
                                     "Created: SBX-3 (more)."]


def test_a_stale_saved_plan_is_still_refused_before_anything_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    enter_project(tmp_path, monkeypatch)
    write(tmp_path / "ticketsync.yaml", "tickets: [tickets/]\n")
    write(tmp_path / "tickets" / "t.yaml", "tickets:\n  epic:\n    title: The epic\n")
    assert invoke("apply", "--sandbox", "--yes")[0] == 0
    assert invoke("plan", "--sandbox", "--out", "plan.json")[0] == 0
    write(tmp_path / "tickets" / "t.yaml", "tickets:\n  epic:\n    title: Renamed\n")
    opened: list[Any] = []
    monkeypatch.setattr("ticketsync.stackone.connect.open_api",
                        lambda *args, **kwargs: opened.append(args))
    code, _, err = invoke("apply", "--sandbox", "--yes", "--plan", "plan.json")
    assert (code, opened) == (1, [])
    assert err == ("Error: the ticket files or the directory file have changed since this plan "
                   "was made: run `ticketsync plan --out plan.json --sandbox` again\n")
