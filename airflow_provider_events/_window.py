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
from datetime import date, datetime, time, timedelta, timezone, tzinfo
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


# -- local calendar days ------------------------------------------------------------------------------
# A day bucket of the API is 24 hours from midnight in the offset of ending_at, so a zone's day is
# one bucket only while its offset holds. Each local day is asked in the offset of its last instant:
# its bucket then ends exactly when the local day ends (when a daily run starts). A day on which the
# clocks change (23 or 25 hours) is no API day at all: exact plans ask for its hours instead.

Segment = tuple[int, datetime]


@dataclass(frozen=True)
class Request:
    """
    One request of a window: ``length`` buckets of ``unit`` ending with the one holding ``ending_at``.

    ``ending_at`` None means now. With ``day`` set, the points (the hours of that local day) are
    summed into one day point dated ``day``, as the API would write a day it could express.
    """

    length: int
    ending_at: datetime | None
    unit: str = "day"
    day: date | None = None


def _utc(moment: datetime) -> datetime:
    """``moment`` as a stdlib datetime in UTC (naive means UTC), where subtracting is exact arithmetic."""
    utc = parse_ending_at(moment).astimezone(timezone.utc)
    # Rebuilt as a plain datetime: pendulum's arithmetic returns its own types.
    return datetime.combine(utc.date(), utc.time(), timezone.utc)


def _local_date(moment: datetime, zone: tzinfo) -> date:
    return moment.astimezone(zone).date()


def day_offset(day: date, zone: tzinfo) -> timedelta:
    """The UTC offset of the last instant of ``day`` in ``zone``: the offset that day is asked in."""
    next_midnight = datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(timezone.utc)
    return (next_midnight - timedelta(microseconds=1)).astimezone(zone).utcoffset() or timedelta(0)


def day_end(day: date, zone: tzinfo) -> datetime:
    """The instant ``day`` ends in ``zone`` (the next day's first), in the offset ``day`` is asked in."""
    return datetime.combine(day + timedelta(days=1), time(0), timezone(day_offset(day, zone)))


def day_segments(first: date, last: date, zone: tzinfo) -> list[Segment]:
    """
    The local days ``first`` .. ``last`` of ``zone`` as requests of constant offset, oldest first.

    Each segment is ``(length, ending_at)``: ``length`` consecutive days, ``ending_at`` the midnight
    starting the last of them in their shared offset. Days on both sides of a change of offset
    cannot share a request (the API would shift one side by the change), so each change starts a
    new segment; concatenated in order they hold every day once.
    """
    if last < first:
        raise ValueError(f"no local day from {first} to {last}")
    segments: list[Segment] = []
    run_start = first
    for index in range((last - first).days + 1):
        day = first + timedelta(days=index)
        offset = day_offset(day, zone)
        if day == last or day_offset(day + timedelta(days=1), zone) != offset:
            ending_at = datetime.combine(day, time(0), timezone(offset))
            segments.append(((day - run_start).days + 1, ending_at))
            run_start = day + timedelta(days=1)
    return segments


def days_starting_inside(start: datetime, end: datetime, zone: tzinfo) -> tuple[date, date]:
    """First and last local date of ``zone`` whose first instant is in ``[start, end)``, or ``ValueError``."""
    lower, upper = _utc(start), _utc(end)
    first = _local_date(lower, zone)
    if day_end(first - timedelta(days=1), zone) < lower:
        first += timedelta(days=1)
    last = last_day_before(upper, zone)
    if upper <= lower or last < first:
        raise ValueError(f"no day bucket starts inside the interval [{start.isoformat()}, {end.isoformat()})")
    return first, last


def last_day_before(end: datetime, zone: tzinfo) -> date:
    """The last local date of ``zone`` that starts before ``end``."""
    return _local_date(_utc(end) - timedelta(microseconds=1), zone)


def _hour_anchor(start: datetime, zone: tzinfo | None) -> datetime:
    # Hours are exact instants, aligned as before in the offset of start (UTC in Airflow), unless the
    # zone's hours start at another minute (India, Nepal...): then they are aligned in its offset.
    if zone is not None:
        local = _utc(start).astimezone(zone)
        if (local.utcoffset() or timedelta(0)) % timedelta(hours=1):
            return parse_ending_at(local)  # pinned to its offset at start, as interval_window aligns
    return parse_ending_at(start)


# -- exact local days: a day of 23 or 25 hours is the sum of its hours -----------------------------------


def _day_zone(start: datetime, zone: tzinfo | None) -> tzinfo:
    return zone or start.tzinfo or timezone.utc


def day_length(day: date, zone: tzinfo) -> timedelta:
    """How long ``day`` lasts in ``zone``: 24 hours, or 23 or 25 (or 23.5...) on a day the clocks change."""
    return day_end(day, zone) - day_end(day - timedelta(days=1), zone)


def _hours_of(day: date, zone: tzinfo) -> Request:
    hours = day_length(day, zone) // UNIT_STEP["hour"]
    return Request(hours, day_end(day, zone) - UNIT_STEP["hour"], "hour", day)


def _whole_days(first: date, last: date, zone: tzinfo) -> list[Request]:
    return [Request(*segment) for segment in day_segments(first, last, zone)]


def exact_day_requests(first: date, last: date, zone: tzinfo) -> list[Request]:
    """
    The local days ``first`` .. ``last`` of ``zone`` as requests, oldest first, each day's count exact.

    A day that is not 24 hours long but whole hours (the day the clocks change) is asked as its
    hours, ending with its last one, and marked to be summed into one day. The API's day buckets
    are 24 hours, so no day request can count it; its hours are exact instants, and a day is the
    sum of its hours. The other days are asked as :func:`day_segments`. A change that is not a
    whole hour (Lord Howe Island's 30 minutes) leaves a day no hours can tile: it stays the API's
    24 hours ending when the local day ends.
    """
    if last < first:
        raise ValueError(f"no local day from {first} to {last}")
    requests: list[Request] = []
    stretch = first  # the first day not yet planned
    for index in range((last - first).days + 1):
        day = first + timedelta(days=index)
        length = day_length(day, zone)
        if length == UNIT_STEP["day"] or length % UNIT_STEP["hour"]:
            continue
        if stretch < day:
            requests += _whole_days(stretch, day - timedelta(days=1), zone)
        requests.append(_hours_of(day, zone))
        stretch = day + timedelta(days=1)
    if stretch <= last:
        requests += _whole_days(stretch, last, zone)
    return requests


def interval_requests(start: datetime, end: datetime, unit: str, zone: tzinfo | None = None) -> list[Request]:
    """
    The buckets that start inside ``[start, end)`` as requests, oldest first.

    Days are the local days of ``zone`` (None: the zone of ``start``, UTC when naive), planned by
    :func:`exact_day_requests`. Hours are one request, as :func:`interval_window`. Raises
    ``ValueError`` when no bucket starts inside the interval.
    """
    if unit == "day":
        local = _day_zone(start, zone)
        return exact_day_requests(*days_starting_inside(start, end, local), local)
    return [Request(*interval_window(_hour_anchor(start, zone), end, unit), unit)]


def trailing_requests(
    length: int, unit: str, start: datetime, end: datetime, zone: tzinfo | None = None
) -> list[Request]:
    """
    ``length`` buckets ending with the last one that starts before ``end``, as :func:`interval_requests`.

    So a run asking ``length`` buckets gets the same last bucket as a run over its whole interval.
    """
    if unit == "day":
        local = _day_zone(start, zone)
        last = last_day_before(end, local)
        return exact_day_requests(last - timedelta(days=length - 1), last, local)
    anchor = _hour_anchor(start, zone)
    end_at = parse_ending_at(end).astimezone(anchor.tzinfo)
    return [Request(length, interval_window(end_at - UNIT_STEP[unit], end_at, unit)[1], unit)]


def days_as_hours(start: datetime, end: datetime, zone: tzinfo | None = None) -> Segment:
    """
    The local days that start inside ``[start, end)`` as one window of hours ``(length, ending_at)``.

    The same events as the days, whatever changes of offset they span, but in one request. Raises
    ``ValueError`` when no day starts inside the interval, or the days are not whole hours long.
    """
    local = _day_zone(start, zone)
    first, last = days_starting_inside(start, end, local)
    ends = day_end(last, local)
    span = ends - day_end(first - timedelta(days=1), local)
    if span % UNIT_STEP["hour"]:
        raise ValueError(f"the local days {first} to {last} in {local} are not whole hours ({span})")
    return span // UNIT_STEP["hour"], ends - UNIT_STEP["hour"]
