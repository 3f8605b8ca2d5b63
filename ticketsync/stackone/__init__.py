"""StackOne's ticketing API: the seam (:mod:`~ticketsync.stackone.api`), the HTTP client
and what paces and retries it, a ticket as read back in the create body's shape, and the
matching of remote tickets to keys."""
