"""Ctrl-C (or a CI cancel) while ticketsync is still starting: no traceback, ever."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
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


@pytest.mark.parametrize("how", ["console script", "python -m"])
def test_sigint_inside_the_imports_exits_130_without_a_traceback(how: str,
                                                                 tmp_path: Path) -> None:
    """The signal lands exactly while click is imported (a hook raises what Python's
    handler would), for the installed command as for ``python -m``."""
    script = Path(sys.executable).with_name("ticketsync")
    if how == "console script" and not script.exists():
        pytest.skip("ticketsync is not installed as a command beside this Python")
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import builtins\n"
        "_real = builtins.__import__\n"
        "def _interrupted(name, *args, **kwargs):\n"
        "    if name == 'click':\n"
        "        raise KeyboardInterrupt\n"
        "    return _real(name, *args, **kwargs)\n"
        "builtins.__import__ = _interrupted\n", encoding="utf-8")
    command = [str(script)] if how == "console script" else [sys.executable, "-m", "ticketsync"]
    done = subprocess.run(
        [*command, "validate"], check=False, cwd=tmp_path, text=True, capture_output=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(hook)})
    assert (done.returncode, done.stdout, done.stderr) == (130, "", "")
