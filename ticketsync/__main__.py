"""``python -m ticketsync`` and the ``ticketsync`` console script: one entry point.

The command line is imported inside :func:`entry`, so that a Ctrl-C (or a CI cancel)
that lands while click and the command modules are still being imported ends the way
one during a command does (exit 130, no traceback): nothing was read or sent yet.
"""

import sys


def entry() -> None:
    """Start the ``ticketsync`` command."""
    try:
        from ticketsync.cli import run
    except KeyboardInterrupt:
        sys.exit(130)
    run()


if __name__ == "__main__":  # pragma: no cover - exercised through a subprocess test
    entry()
