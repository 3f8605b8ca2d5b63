"""ticketsync: tickets as code, planned and applied through StackOne's ticketing API."""

__version__ = "0.1.0"
