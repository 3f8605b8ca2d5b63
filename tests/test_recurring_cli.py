"""Recurring templates through the command: ``--now`` previews, and the sandbox keeps one
instance per period across runs (the README's "Recurring tickets")."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from cli_helpers import enter_project, invoke, write

ROOT = Path(__file__).resolve().parent.parent

REVIEW = """\
    templates:
      ops-review:
        every: week
        starting: 2026-12-07
        previous: close
        tickets:
          review:
            title: "Ops review {period}"
            assignees: {rotate: [user-1, user-2]}
    """


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    write(tmp_path / "tickets" / "review.yaml", REVIEW)
    return enter_project(tmp_path, monkeypatch)


def test_plan_now_previews_a_year_of_weekly_periods(project: Path) -> None:
    monday = date(2026, 12, 7)
    seen = []
    for week in range(53):
        day = monday + timedelta(days=7 * week + week % 7)  # any day of the week
        code, out, _ = invoke("plan", "--sandbox", "--now", day.isoformat())
        year, number, _ = day.isocalendar()
        key = f"ops-review.{year}-W{number:02d}.review"
        assert code == 0
        assert f'+ create {key}  "Ops review {year}-W{number:02d}"' in out
        assert out.endswith("Plan: 1 to create, 0 to update, 0 unchanged.\n")
        seen.append(key)
    assert len(set(seen)) == 53


def test_a_bad_now_is_a_usage_error(project: Path) -> None:
    code, _, err = invoke("plan", "--now", "2026-13-01")
    assert code == 64
    assert err.splitlines()[-1] == (
        "Error: Invalid value for '--now': '2026-13-01' is not a date: write YYYY-MM-DD "
        "(such as 2026-12-07) or a date and time such as 2026-12-07T09:00:00Z")


@pytest.mark.slow
def test_one_instance_per_period_and_the_last_closed_with_the_next(project: Path) -> None:
    assert invoke("apply", "--sandbox", "--yes", "--now", "2026-12-08")[0] == 0
    assert invoke("apply", "--sandbox", "--yes", "--now", "2026-12-10")[0] == 0  # a re-run
    code, out, _ = invoke("plan", "--sandbox", "--now", "2026-12-13")
    assert (code, out) == (0, "No changes.\n")
    code, out, _ = invoke("plan", "--sandbox", "--now", "2026-12-15")
    assert "+ create ops-review.2026-W51.review" in out
    assert "close ops-review.2026-W50.review" in out
    assert invoke("apply", "--sandbox", "--yes", "--now", "2026-12-15")[0] == 0
    code, out, _ = invoke("plan", "--sandbox", "--now", "2026-12-16")
    assert (code, out) == (0, "No changes.\n")  # W50 held: closed once, never removed
    code, out, _ = invoke("state", "list", "--sandbox")
    assert [line.split("\t")[:3] for line in out.splitlines()] == [
        ["ops-review.2026-W50.review", "SBX-1", "Done (closed by ticketsync)"],
        ["ops-review.2026-W51.review", "SBX-2", "To Do"]]


def test_the_templates_benchmark_runs_to_its_report() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_templates.py"), "--items", "40",
         "--tickets", "20", "--repeat", "1"],
        capture_output=True, text=True, check=True, timeout=120)
    assert "a weekly template over 5 years / without:" in done.stdout
