"""What an apply did, as the published document of ``apply --format json``
(``schemas/apply.schema.json``), which the CI steps read for their outputs and summary."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ticketsync.model import State
from ticketsync.run.apply import ApplyResult
from ticketsync.run.events import FATES, Event, Kind

__all__ = ["FORMAT_VERSION", "apply_document", "projects_document"]

FORMAT_VERSION = 1
#: The fates whose items say why (``message``).
_EXPLAINED = (Kind.FAILED, Kind.SKIPPED, Kind.NOT_STARTED)


def apply_document(result: ApplyResult, events: Sequence[Event], state: State,
                   state_file: str) -> dict[str, Any]:
    """One project's apply: each ticket's fate with its ids, number and URL when known
    (from ``state``, as committed), and the counts.

    A ticket created whose declared status could not be set is in ``created`` and in
    ``failed`` (the ticket exists; its status is wrong).
    """
    lists: dict[str, list[dict[str, Any]]] = {kind: [] for kind in FATES}
    for event in events:
        if event.kind not in lists:
            continue
        entry = state.tickets.get(event.key)
        item: dict[str, Any] = {
            "key": event.key,
            "id": event.id or (entry.id if entry else None),
            "number": entry.ticket_number if entry else None,
            "url": entry.ticket_url if entry else None,
        }
        if event.kind in _EXPLAINED:
            item["message"] = event.message
        lists[event.kind].append(item)
    return {
        "format_version": FORMAT_VERSION,
        "ok": result.ok,
        "interrupted": result.interrupted,
        "halted": result.halted,
        "state_file": state_file,
        "summary": {
            "created": result.created, "adopted": result.adopted, "updated": result.updated,
            "closed": result.closed, "forgotten": result.forgotten,
            "settled": result.settled, "failed": result.failed,
            "skipped": result.skipped, "not_started": result.not_started,
            "unsettled": result.unsettled,
        },
        **{kind: sorted(items, key=lambda item: item["key"]) for kind, items in lists.items()},
    }


def projects_document(
    runs: Sequence[tuple[str, str | None, dict[str, Any] | None]],
) -> dict[str, Any]:
    """A ``--projects`` apply: (project, error, its :func:`apply_document` or None) each."""
    return {
        "format_version": FORMAT_VERSION,
        "ok": all(error is None for _, error, _ in runs),
        "projects": [{"project": name, "ok": error is None, "error": error, "result": doc}
                     for name, error, doc in runs],
    }
