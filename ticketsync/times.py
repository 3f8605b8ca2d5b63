"""Times as ticketsync reads and writes them: one parser, one formatter.

Every time written is UTC with a ``Z``; only the precision differs, by what reads it:
the state keeps seconds (truncated: an earlier bound lists more, never less), StackOne
takes and gives milliseconds, and the journal keeps microseconds (intents must order
finer than the state's seconds). Every time read accepts ``Z`` or an offset, and a time
that names no zone is UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

#: How finely a time is written: the state's seconds, StackOne's milliseconds, the
#: journal's microseconds.
Precision = Literal["s", "ms", "us"]


def parse_time(text: str) -> datetime:
    """An ISO 8601 date-time (``Z``, ``z`` or an offset; none: UTC) as an aware time.

    Raises ValueError for text that is not one."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def read_time(value: Any) -> datetime | None:
    """:func:`parse_time` of a value read from outside (a server's answer): None when it
    is not a string or not a time, rather than an error."""
    if not isinstance(value, str):
        return None
    try:
        return parse_time(value)
    except ValueError:
        return None


def format_time(moment: datetime, precision: Precision = "s") -> str:
    """``moment`` in UTC with ``Z``, truncated (never rounded up) to ``precision``.

    A naive ``moment`` is refused: which zone it meant is a guess."""
    if moment.utcoffset() is None:
        raise ValueError("a time without a zone is ambiguous")
    utc = moment.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if precision == "ms":
        text += f".{utc.microsecond // 1000:03d}"
    elif precision == "us":
        text += f".{utc.microsecond:06d}"
    return text + "Z"


def now_text(precision: Precision = "s") -> str:
    """This machine's time, formatted by :func:`format_time`."""
    return format_time(datetime.now(UTC), precision)
