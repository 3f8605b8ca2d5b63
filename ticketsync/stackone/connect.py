"""The API a run talks to, opened from its config: StackOne, or the built-in sandbox.

Every command that talks to StackOne opens it here, so the client is built in one place
(its settings from the config, the key from the caller) and closed however the run ends.
``requests`` is imported here, never by ``validate`` or ``plan`` without ``--refresh``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING

from ticketsync.declare.config import Config
from ticketsync.errors import ConfigError
from ticketsync.stackone.api import TicketApi
from ticketsync.stackone.limiter import RateLimiter

if TYPE_CHECKING:
    from ticketsync.stackone.client import StackOneClient

__all__ = ["make_client", "open_api"]


@contextmanager
def open_api(
    config: Config, api_key: Callable[[], str], *, sandbox: bool,
    limiter: RateLimiter | None = None,
) -> Iterator[TicketApi]:
    """A client for the run: StackOne with ``api_key()`` (asked only then), or a sandbox
    served on a loopback port for the ``with`` block.

    The sandbox gets a random key for this run only: nothing to configure, nothing to leak.
    """
    if not sandbox:
        client = make_client(config, api_key(), limiter=limiter)
        try:
            yield client
        finally:
            client.close()
        return
    from ticketsync.sandbox import start_sandbox

    key = secrets.token_urlsafe(24)
    config.sandbox_db.parent.mkdir(parents=True, exist_ok=True)
    with start_sandbox(config.sandbox_db, api_key=key) as server:
        client = make_client(replace(config, base_url=server.url), key, limiter=limiter)
        try:
            yield client
        finally:
            client.close()


def make_client(config: Config, api_key: str, *,
                limiter: RateLimiter | None = None) -> StackOneClient:
    """A client for ``config``'s account; a limiter at ``config.rate_limit`` unless given."""
    from ticketsync.stackone.client import ACCOUNT_HINT, StackOneClient

    if not config.account_id:
        raise ConfigError(f"no StackOne account id: set {ACCOUNT_HINT}")
    limiter = limiter if limiter is not None else RateLimiter(config.rate_limit)
    return StackOneClient(config.base_url, api_key, config.account_id, limiter=limiter)
