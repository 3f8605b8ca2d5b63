"""``python -m ticketsync``: the same as the ``ticketsync`` command."""

import sys

try:
    from ticketsync.cli import run
except KeyboardInterrupt:  # pragma: no cover - Ctrl-C (or a CI cancel) while starting:
    # nothing was read or sent yet; a traceback of the imports would only alarm.
    sys.exit(130)

if __name__ == "__main__":  # pragma: no cover - exercised through a subprocess test
    run()
