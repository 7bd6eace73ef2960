"""Window arithmetic for ``/events/data_series``: pure functions, no I/O.

A window is ``length`` buckets of ``unit`` ending with the bucket that contains ``ending_at``.
The API serves at most :data:`MAX_PAGE_LENGTH` buckets a request, so a longer window is split
into pages whose ``ending_at`` step back by exactly 100 units from the requested one, in the
fixed UTC offset of ``ending_at``. Pages are never derived from returned time strings, whose
zone the API does not document.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from airflow_provider_events.exceptions import EventsAnalyticsConfigError

UNITS = ("day", "hour")
MAX_PAGE_LENGTH = 100
UNIT_STEP = {"day": timedelta(days=1), "hour": timedelta(hours=1)}


@dataclass(frozen=True)
class Page:
    """One request's share of a window: ``length`` buckets ending with the one holding ``ending_at``."""

    ending_at: datetime
    length: int


def check_series_args(event: object, length: object, unit: object) -> None:
    """Raise :class:`EventsAnalyticsConfigError` (a ``ValueError``) naming the first bad argument."""
    if not isinstance(event, str) or not event.strip():
        raise EventsAnalyticsConfigError(f"event must be a non-empty string, got {event!r}")
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise EventsAnalyticsConfigError(f"length must be an integer >= 1, got {length!r}")
    if unit not in UNITS:
        raise EventsAnalyticsConfigError(f"unit must be 'day' or 'hour', got {unit!r}")


def parse_ending_at(value: str | datetime | None, now: datetime | None = None) -> datetime:
    """
    Return ``value`` as an aware datetime in a fixed offset.

    ``None`` means ``now`` (default: the current time in UTC); naive datetimes and strings
    without an offset are taken as UTC. A zone with DST is pinned to its offset at that instant,
    so that stepping back by days stays in one offset, as the API does.
    """
    if value is None:
        moment = now or datetime.now(timezone.utc)
    elif isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise EventsAnalyticsConfigError(
                f"ending_at must be an ISO 8601 date-time such as 2024-01-31T23:00:00+00:00, got {value!r}"
            ) from None
    else:
        raise EventsAnalyticsConfigError(
            f"ending_at must be an ISO 8601 string, a datetime or None, got {value!r}"
        )
    offset = moment.utcoffset()
    if offset is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone(offset))


def format_ending_at(moment: datetime) -> str:
    """ISO 8601 with an explicit offset, as the API is always sent (``+00:00``, never naive)."""
    return moment.isoformat(timespec="seconds")


def split_window(length: int, unit: str, ending_at: datetime) -> list[Page]:
    """Split a window into pages of at most 100 buckets, oldest first, with no gap and no overlap."""
    step = UNIT_STEP[unit] * MAX_PAGE_LENGTH
    pages = []
    remaining, index = length, 0
    while remaining > 0:
        size = min(MAX_PAGE_LENGTH, remaining)
        pages.append(Page(ending_at=ending_at - step * index, length=size))
        remaining -= size
        index += 1
    pages.reverse()
    return pages


def point_key(time_text: object, unit: str) -> date | datetime:
    """
    The instant a returned point stands for: a date for days, an aware datetime for hours.

    Aware datetimes compare and subtract as instants whatever their offsets, so no conversion is
    needed. Raises ``ValueError`` when the string is not what the API documents for ``unit``.
    """
    if not isinstance(time_text, str):
        raise ValueError(f"time is not a string: {time_text!r}")
    if unit == "day":
        return date.fromisoformat(time_text)
    if time_text.endswith("Z"):  # Python 3.10's fromisoformat does not read "Z"
        time_text = time_text[:-1] + "+00:00"
    moment = datetime.fromisoformat(time_text)
    if moment.tzinfo is None:
        raise ValueError(f"hourly time has no UTC offset: {time_text!r}")
    return moment


KeyedPoint = tuple["date | datetime", dict[str, Any]]


def join_pages(pages: Sequence[Sequence[KeyedPoint]], unit: str, length: int) -> list[dict[str, Any]]:
    """
    Join checked pages of ``(point_key, point)`` (oldest first) into one series of points.

    A point two pages share is kept once. Raises ``ValueError`` when the result is not ``length``
    consecutive buckets: a series with a hole or a duplicate is never returned.
    """
    joined: list[dict[str, Any]] = []
    keys: list[date | datetime] = []
    for page in pages:
        for key, point in page:
            if keys and key <= keys[-1]:  # type: ignore[operator]
                if key in keys[-MAX_PAGE_LENGTH:]:
                    continue
                raise ValueError(f"points are out of order at {point['time']!r}")
            if keys and key - keys[-1] != UNIT_STEP[unit]:  # type: ignore[operator]
                raise ValueError(f"the series has a gap before {point['time']!r}")
            keys.append(key)
            joined.append(point)
    if len(joined) != length:
        raise ValueError(f"the joined series has {len(joined)} points, expected {length}")
    return joined


def interval_window(start: datetime, end: datetime, unit: str) -> tuple[int, datetime]:
    """
    The window of the buckets that start inside ``[start, end)``, as ``(length, ending_at)``.

    Buckets are aligned in the UTC offset of ``start`` (naive means UTC; a zone with DST is
    pinned to its offset at ``start``), and ``ending_at`` is the start of the last bucket, in that
    offset. A daily data interval for 2024-01-01 in UTC gives ``(24, 2024-01-01T23:00+00:00)``
    for hours and ``(1, 2024-01-01T00:00+00:00)`` for days. Raises ``ValueError`` when no bucket
    starts inside the interval.
    """
    if unit not in UNITS:
        raise ValueError(f"unit must be 'day' or 'hour', got {unit!r}")
    zone = timezone(parse_ending_at(start).utcoffset() or timedelta(0))
    # Rebuilt as plain datetimes: pendulum's arithmetic returns its own types.
    lower, upper = (
        datetime.combine(moment.date(), moment.time(), zone)
        for moment in (parse_ending_at(start).astimezone(zone), parse_ending_at(end).astimezone(zone))
    )
    first = lower.replace(minute=0, second=0, microsecond=0)
    last = upper.replace(minute=0, second=0, microsecond=0)
    if unit == "day":
        first, last = first.replace(hour=0), last.replace(hour=0)
    step = UNIT_STEP[unit]
    if first < lower:
        first += step
    if last >= upper:
        last -= step
    if last < first:
        raise ValueError(
            f"no {unit} bucket starts inside the interval [{start.isoformat()}, {end.isoformat()})"
        )
    return (last - first) // step + 1, last
