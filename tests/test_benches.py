"""The benchmarks keep working: each runs at a tiny size (figures are not checked here,
only that it runs to its report), and the templated project of the plan benchmark is a
fair one: its baseline (the same tickets written out) loads to the very same bodies."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ticketsync.declare.config import load_config
from ticketsync.declare.loader import load_project

BENCH = Path(__file__).resolve().parent.parent / "bench"


def test_the_written_out_baseline_is_the_same_tickets_as_the_templates(tmp_path: Path) -> None:
    sys.path.insert(0, str(BENCH))
    try:
        from gen import generate_templated
    finally:
        sys.path.remove(str(BENCH))
    generate_templated(tmp_path / "t", tmp_path / "w", 300, 3)
    loaded = {}
    for folder in ("t", "w"):
        (tmp_path / "ticketsync.yaml").write_text(f"tickets: [{folder}/]\n")
        project = load_project(load_config(None, cwd=tmp_path, env={}), cwd=tmp_path)
        loaded[folder] = {k: (t.body, t.parent) for k, t in project.tickets.items()}
    assert len(loaded["t"]) == 300
    assert loaded["t"] == loaded["w"]
    assert sum(parent is not None for _, parent in loaded["t"].values()) > 0


@pytest.mark.slow
def test_the_plan_benchmark_runs_and_reports_templates() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH / "bench_plan.py"), "--tickets", "200", "--files", "2",
         "--repeat", "1", "--templates"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "200 tickets made by templates, in 2 files" in done.stdout
    assert "templates: plan at " in done.stdout and "of today's ratio" in done.stdout


@pytest.mark.slow
def test_the_apply_benchmark_runs_with_and_without_its_bookkeeping() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH / "bench_apply.py"), "--tickets", "15", "--latencies",
         "0.1", "--skip-fixed", "--big", "100"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "latency 0.1 s, concurrency auto: " in done.stdout
    assert "durability (journal + state writes) costs" in done.stdout
