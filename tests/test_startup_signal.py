"""Ctrl-C (or a CI cancel) while ticketsync is still starting: no traceback, ever."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from cli_helpers import traceback_of_ours


def test_sigint_during_start_up_never_prints_a_traceback(tmp_path: Path) -> None:
    outcomes = []
    for delay in (0.0, 0.02, 0.05, 0.1, 0.2):  # inside the imports on any machine
        process = subprocess.Popen(
            [sys.executable, "-m", "ticketsync", "validate"], cwd=tmp_path, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        time.sleep(delay)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
        assert not traceback_of_ours(err), err
        outcomes.append(process.returncode)
    # Interrupted (130, or the default action before Python took over the signal, or 1
    # when Python's own start-up was cut), or done before the signal came (validate of an
    # empty folder: exit 1).
    assert set(outcomes) <= {130, -signal.SIGINT, 1}, outcomes
