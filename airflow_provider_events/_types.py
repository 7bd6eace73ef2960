"""The shapes DAG authors write against: the units a window counts in, a point and an exported record."""

from __future__ import annotations

from typing import Any, Literal, TypedDict

Unit = Literal["day", "hour"]
"""A bucket of a series: ``"day"`` (the API's default) or ``"hour"``."""


class Point(TypedDict):
    """One bucket of a series, as the API wrote it.

    ``time`` is an ISO 8601 date (``2024-01-01``) for days and a date-time with an offset
    (``2024-01-01T23:00:00+00:00``) for hours; ``count`` is how many times the event happened.
    """

    time: str
    count: int


class EventRecord(TypedDict):
    """One exported row: a :class:`Point` with the name of its event."""

    event: str
    time: str
    count: int


Series = list[dict[str, Any]]
"""One event's points, oldest first, each a :class:`Point`."""
