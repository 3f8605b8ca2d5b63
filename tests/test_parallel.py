"""Parsing in forked workers gives exactly what parsing in this process gives."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from ticketsync import parallel
from ticketsync.config import Config
from ticketsync.errors import InputError
from ticketsync.loader import load_project


def _pid_of(item: int) -> tuple[int, int]:
    return item, os.getpid()


def test_big_inputs_are_spread_over_worker_processes_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _: {0, 1})
    results = parallel.map_in_processes(_pid_of, list(range(40)), total_bytes=10**9)
    assert [item for item, _ in results] == list(range(40))
    assert {pid for _, pid in results} - {os.getpid()}, (
        f"no worker process did any of it; threads alive: {threading.enumerate()}"
    )


def test_small_inputs_stay_in_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _: {0, 1})
    results = parallel.map_in_processes(_pid_of, [1, 2, 3], total_bytes=10)
    assert results == [(1, os.getpid()), (2, os.getpid()), (3, os.getpid())]


def test_a_threaded_process_never_forks(monkeypatch: pytest.MonkeyPatch) -> None:
    # Forking while another thread may hold a lock can deadlock the child.
    monkeypatch.setattr(os, "sched_getaffinity", lambda _: {0, 1})
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        results = parallel.map_in_processes(_pid_of, list(range(8)), total_bytes=10**9)
    finally:
        stop.set()
        other.join()
    assert {pid for _, pid in results} == {os.getpid()}


def _project(tmp_path: Path, broken: bool) -> Path:
    folder = tmp_path / "tickets"
    folder.mkdir()
    for n in range(12):
        lines = ["defaults: {project_id: p-1}", "tickets:"]
        for t in range(30):
            lines += [f"  t-{n}-{t}:", f"    title: Ticket {n}/{t}", "    priority: high"]
            if t:
                lines.append(f"    parent: t-{n}-{t - 1}")
        if broken and n % 5 == 0:
            lines += ["  bad-one:", "    title: x", "    prioirty: high"]
        (folder / f"f{n:02d}.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("broken", [False, True], ids=["valid", "with-errors"])
def test_the_loader_gives_the_same_project_in_parallel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, broken: bool
) -> None:
    root = _project(tmp_path, broken)
    monkeypatch.chdir(root)
    monkeypatch.setattr(os, "sched_getaffinity", lambda _: {0, 1})
    config = Config(root=root)
    outcomes = []
    for min_bytes in (10**12, 0):  # in this process, then in workers
        monkeypatch.setattr(parallel, "MIN_BYTES", min_bytes)
        try:
            outcomes.append(load_project(config))
        except InputError as exc:
            outcomes.append(exc.problems)  # type: ignore[arg-type]
    assert outcomes[0] == outcomes[1]
    if broken:  # an unknown field in 3 files, and 'bad-one' declared in all 3
        messages = [problem.message for problem in outcomes[0]]  # type: ignore[union-attr]
        assert sorted(m.split(":")[0] for m in messages) == [
            "duplicate ticket key", "duplicate ticket key",
            "unknown field 'prioirty' (did you mean 'priority'?)",
            "unknown field 'prioirty' (did you mean 'priority'?)",
            "unknown field 'prioirty' (did you mean 'priority'?)",
        ]
    else:
        assert len(outcomes[0].tickets) == 360  # type: ignore[union-attr]


def test_platforms_without_sched_getaffinity_count_their_cores(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # macOS has no os.sched_getaffinity: the pool must not turn into an AttributeError.
    monkeypatch.delattr(os, "sched_getaffinity")
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert parallel.map_in_processes(_pid_of, [1, 2], total_bytes=10**9) == [
        (1, os.getpid()), (2, os.getpid())
    ]
