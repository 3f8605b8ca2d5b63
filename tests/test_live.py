"""The one live status line: drawn in place on a terminal, never in a log."""

from __future__ import annotations

import pytest

from ticketsync.cli.live import LiveLine

ERASE = "\r\x1b[2K"


def test_in_a_log_only_the_lines_for_good_are_printed(capsys: pytest.CaptureFixture[str]) -> None:
    line = LiveLine(live=False)
    line.draw("[1/4] 1.0/s")
    line.echo("failed b: 422")
    line.draw("[2/4] 2.0/s")
    line.clear()
    assert capsys.readouterr() == ("", "failed b: 422\n")


def test_on_a_terminal_a_line_for_good_lands_above_the_live_one(
        capsys: pytest.CaptureFixture[str]) -> None:
    line = LiveLine(live=True, err=False)
    line.echo("first")  # nothing drawn yet: nothing to erase
    line.draw("[1/4]")
    line.draw("[2/4]")
    line.echo("failed b: 422")
    line.clear()  # erased already: not twice
    line.draw("[3/4]")
    line.clear()
    assert capsys.readouterr().out == (
        f"first\n{ERASE}[1/4]{ERASE}[2/4]{ERASE}failed b: 422\n{ERASE}[3/4]{ERASE}")
