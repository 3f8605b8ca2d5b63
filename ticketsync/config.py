"""The project configuration: ``ticketsync.yaml``, the environment, and the defaults.

Precedence: command-line option > environment variable > config file > default. The API key
is *not* part of the config: it only ever comes from ``STACKONE_API_KEY`` (or a prompt),
and is never written anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CONFIG_FILE = "ticketsync.yaml"
DEFAULT_STATE = "ticketsync.state.json"
SANDBOX_DIR = ".ticketsync"
SANDBOX_DB = "sandbox.db"
SANDBOX_STATE = "sandbox.state.json"
SANDBOX_ACCOUNT = "sandbox"


@dataclass(frozen=True)
class Config:
    """Resolved settings of one run. Relative paths are relative to ``root``."""

    root: Path
    tickets: tuple[str, ...] = ("tickets/",)
    state: Path = Path(DEFAULT_STATE)
    account_id: str | None = None
    base_url: str = "https://api.stackone.com"
    rate_limit: int = 900
    concurrency: int = 16
    max_creates: int = 200
    updates: bool = False
    marker_field: str | None = None
    config_file: Path | None = None

    @property
    def state_path(self) -> Path:
        return self.state if self.state.is_absolute() else self.root / self.state

    def sandboxed(self) -> Config:
        """The same project aimed at the built-in sandbox: its own state, no account."""
        from dataclasses import replace

        return replace(
            self,
            state=Path(SANDBOX_DIR) / SANDBOX_STATE,
            account_id=SANDBOX_ACCOUNT,
        )

    @property
    def sandbox_db(self) -> Path:
        return self.root / SANDBOX_DIR / SANDBOX_DB
