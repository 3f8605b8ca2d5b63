"""``python -m ticketsync.compiled_schemas``: regenerate the compiled schema validators."""

import sys

from ticketsync.compiled_schemas import main

if __name__ == "__main__":  # pragma: no cover - tests call main() itself
    sys.exit(main())
