"""Fixtures shared by every test module. Keep this file small: import fixtures from a
helper module named after what they serve (``sandbox_helpers`` for the local server)."""

from __future__ import annotations

from sandbox_helpers import make_sandbox, sandbox, sandbox_process

__all__ = ["make_sandbox", "sandbox", "sandbox_process"]
