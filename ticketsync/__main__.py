"""``python -m ticketsync``: the same as the ``ticketsync`` command."""

from ticketsync.cli import run

if __name__ == "__main__":  # pragma: no cover - exercised through a subprocess test
    run()
