"""Paging a window of ``/events/data_series``: pages of at most 100 buckets out, one series back in.

A window is ``length`` buckets of ``unit`` ending with the bucket that contains ``ending_at``.
The API serves at most :data:`MAX_PAGE_LENGTH` buckets a request, so a longer window is split
into pages whose ``ending_at`` step back by exactly 100 units from the requested one, in the
fixed UTC offset of ``ending_at``. Pages are never derived from returned time strings, whose
zone the API does not document; the joined series must be exactly ``length`` consecutive buckets.
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

MAX_PAGE_LENGTH = 100
UNIT_STEP = {"day": timedelta(days=1), "hour": timedelta(hours=1)}


@dataclass(frozen=True)
class Window:
    """
    ``length`` buckets of ``unit`` ending with the one holding ``ending_at`` (None: now).

    What a run covers is a list of windows (:mod:`~airflow_provider_events._run`), a request asks
    for one (:mod:`~airflow_provider_events._request`), and a page is a window of at most 100
    buckets. With ``day`` set, the window is that local day's hours, summed into one day point
    dated ``day``, as the API would write a day it could express.
    """

    length: int
    ending_at: datetime | None
    unit: str = "day"
    day: date | None = None


def split_window(length: int, unit: str, ending_at: datetime) -> list[Window]:
    """Split a window into pages of at most 100 buckets, oldest first, with no gap and no overlap."""
    step = UNIT_STEP[unit] * MAX_PAGE_LENGTH
    pages = []
    remaining, index = length, 0
    while remaining > 0:
        size = min(MAX_PAGE_LENGTH, remaining)
        pages.append(Window(size, ending_at - step * index, unit))
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
