"""`ticketsync plan` (placeholder until the command lands; registers nothing)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
