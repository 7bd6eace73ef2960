"""Calendar arithmetic: which buckets start inside an interval, local days and their UTC offsets, DST.

A day bucket of the API is 24 hours from midnight in the offset of ``ending_at``, so a zone's day
is one bucket only while its offset holds. Each local day is asked in the offset of its last
instant: its bucket then ends exactly when the local day ends (when a daily run starts). A day on
which the clocks change (23 or 25 hours) is no API day at all: exact plans ask for its hours
instead, and sum them. Pure: no I/O, no Airflow (what a run covers is :mod:`._run`).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone, tzinfo

from airflow_provider_events._checks import UNITS, parse_ending_at
from airflow_provider_events._paging import UNIT_STEP, Window

Segment = tuple[int, datetime]


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


def _day_zone(start: datetime, zone: tzinfo | None) -> tzinfo:
    return zone or start.tzinfo or timezone.utc


def day_length(day: date, zone: tzinfo) -> timedelta:
    """How long ``day`` lasts in ``zone``: 24 hours, or 23 or 25 (or 23.5...) on a day the clocks change."""
    return day_end(day, zone) - day_end(day - timedelta(days=1), zone)


def _hours_of(day: date, zone: tzinfo) -> Window:
    hours = day_length(day, zone) // UNIT_STEP["hour"]
    return Window(hours, day_end(day, zone) - UNIT_STEP["hour"], "hour", day)


def _whole_days(first: date, last: date, zone: tzinfo) -> list[Window]:
    return [Window(*segment) for segment in day_segments(first, last, zone)]


def exact_day_windows(first: date, last: date, zone: tzinfo) -> list[Window]:
    """
    The local days ``first`` .. ``last`` of ``zone`` as windows, oldest first, each day's count exact.

    A day that is not 24 hours long but whole hours (the day the clocks change) is asked as its
    hours, ending with its last one, and marked to be summed into one day. The API's day buckets
    are 24 hours, so no day request can count it; its hours are exact instants, and a day is the
    sum of its hours. The other days are asked as :func:`day_segments`. A change that is not a
    whole hour (Lord Howe Island's 30 minutes) leaves a day no hours can tile: it stays the API's
    24 hours ending when the local day ends.
    """
    if last < first:
        raise ValueError(f"no local day from {first} to {last}")
    windows: list[Window] = []
    stretch = first  # the first day not yet planned
    for index in range((last - first).days + 1):
        day = first + timedelta(days=index)
        length = day_length(day, zone)
        if length == UNIT_STEP["day"] or length % UNIT_STEP["hour"]:
            continue
        if stretch < day:
            windows += _whole_days(stretch, day - timedelta(days=1), zone)
        windows.append(_hours_of(day, zone))
        stretch = day + timedelta(days=1)
    if stretch <= last:
        windows += _whole_days(stretch, last, zone)
    return windows


def interval_windows(start: datetime, end: datetime, unit: str, zone: tzinfo | None = None) -> list[Window]:
    """
    The buckets that start inside ``[start, end)`` as windows, oldest first.

    Days are the local days of ``zone`` (None: the zone of ``start``, UTC when naive), planned by
    :func:`exact_day_windows`. Hours are one window, as :func:`interval_window`. Raises
    ``ValueError`` when no bucket starts inside the interval.
    """
    if unit == "day":
        local = _day_zone(start, zone)
        return exact_day_windows(*days_starting_inside(start, end, local), local)
    return [Window(*interval_window(_hour_anchor(start, zone), end, unit), unit)]


def trailing_windows(
    length: int, unit: str, start: datetime, end: datetime, zone: tzinfo | None = None
) -> list[Window]:
    """
    ``length`` buckets ending with the last one that starts before ``end``, as :func:`interval_windows`.

    So a run asking ``length`` buckets gets the same last bucket as a run over its whole interval.
    """
    if unit == "day":
        local = _day_zone(start, zone)
        last = last_day_before(end, local)
        return exact_day_windows(last - timedelta(days=length - 1), last, local)
    anchor = _hour_anchor(start, zone)
    end_at = parse_ending_at(end).astimezone(anchor.tzinfo)
    return [Window(length, interval_window(end_at - UNIT_STEP[unit], end_at, unit)[1], unit)]


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
