"""One live status line on a terminal, under the lines a command prints.

``apply`` (count, rate, ETA), ``directory pull`` (listings, records) and ``export``
(tickets listed) each keep a line that redraws in place while they work. On anything
but a terminal (a CI log, a pipe) the line is never drawn: a log would keep every
redraw. A line printed through :meth:`LiveLine.echo` lands above the live line, which
is drawn again at the next :meth:`LiveLine.draw`.
"""

from __future__ import annotations

import click

#: Back to the start of the line and erase it. Written with ``color=True``: click strips
#: escape codes from what it judges no terminal, and a live line is drawn on one only.
_ERASE = "\r\x1b[2K"


class LiveLine:
    """The live line of a command: on stderr unless ``err`` is False (stdout)."""

    def __init__(self, *, live: bool, err: bool = True) -> None:
        self.live, self.err = live, err
        self._shown = False

    def draw(self, text: str) -> None:
        """Replace the live line with ``text`` (nothing when not live)."""
        if self.live:
            click.echo(_ERASE + text, nl=False, err=self.err, color=True)
            self._shown = True

    def echo(self, line: str) -> None:
        """Print ``line`` for good: above the live line on a terminal, plainly elsewhere."""
        self.clear()
        click.echo(line, err=self.err)

    def clear(self) -> None:
        """Erase the live line, if one is drawn (before the command's last words)."""
        if self._shown:
            click.echo(_ERASE, nl=False, err=self.err, color=True)
            self._shown = False
