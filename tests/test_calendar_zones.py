"""Local days of a time zone as API requests: property tests of the pure arithmetic, no server."""

from __future__ import annotations

import itertools
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import pendulum
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_events._calendar import (
    day_offset,
    day_segments,
    days_as_hours,
    days_starting_inside,
    exact_day_windows,
    interval_window,
    interval_windows,
    trailing_windows,
)
from airflow_provider_events._paging import Window

UTC = timezone.utc
TINY = timedelta(microseconds=1)
# DST north and south, at 02:00, 01:00 UTC and midnight, half-hour offsets, 30-minute DST, none.
ZONES = [
    "America/New_York",
    "Europe/Berlin",
    "Australia/Sydney",
    "America/Santiago",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "UTC",
]
zones = st.sampled_from(ZONES).map(ZoneInfo)
days = st.dates(min_value=date(2000, 1, 1), max_value=date(2035, 1, 1))


def local_midnight(day: date, zone: tzinfo) -> datetime:
    """The first instant of ``day`` in ``zone`` (PEP 495: a skipped midnight is the end of the gap)."""
    return datetime.combine(day, time(0), zone).astimezone(UTC)


def api_days(segment: tuple[int, datetime]) -> list[date]:
    """The dates one day request returns: the date of ending_at in its own offset, and those before it."""
    length, ending_at = segment
    return [ending_at.date() - timedelta(days=back) for back in range(length - 1, -1, -1)]


@settings(max_examples=300, deadline=None)
@given(zone=zones, first=days, span=st.integers(0, 400))
def test_segments_hold_every_local_day_once_each_in_its_own_offset(zone, first, span) -> None:
    last = first + timedelta(days=span)
    segments = day_segments(first, last, zone)

    returned = [day for segment in segments for day in api_days(segment)]
    assert returned == [first + timedelta(days=n) for n in range(span + 1)]
    for segment in segments:
        assert {day_offset(day, zone) for day in api_days(segment)} == {segment[1].utcoffset()}
    offsets = [ending_at.utcoffset() for _, ending_at in segments]
    assert all(before != after for before, after in itertools.pairwise(offsets))


@settings(max_examples=300, deadline=None)
@given(zone=zones, day=days)
def test_a_days_bucket_ends_when_the_local_day_ends(zone, day) -> None:
    ((_, ending_at),) = day_segments(day, day, zone)
    bucket_start = ending_at.astimezone(UTC)
    bucket_end = bucket_start + timedelta(days=1)
    assert bucket_end == local_midnight(day + timedelta(days=1), zone)
    assert (bucket_end - TINY).astimezone(zone).date() == day
    if local_midnight(day + timedelta(days=1), zone) - local_midnight(day, zone) == timedelta(days=1):
        assert bucket_start == local_midnight(day, zone)  # a day without a change is exact


@settings(max_examples=300, deadline=None)
@given(zone=zones, day=days, runs=st.integers(1, 10))
def test_daily_intervals_give_their_own_date_and_tile_the_calendar(zone, day, runs) -> None:
    exported: list[date] = []
    for n in range(runs):
        start = local_midnight(day + timedelta(days=n), zone)
        end = local_midnight(day + timedelta(days=n + 1), zone)
        requests = interval_windows(start, end, "day", zone)
        assert [d for request in requests for d in request_days(request)] == [day + timedelta(days=n)]
        (hours,) = interval_windows(start, end, "hour", zone)
        if not (end - start) % timedelta(hours=1):  # Lord Howe has days of 23.5 and 24.5 hours
            assert hours.length == (end - start) / timedelta(hours=1)  # 23, 24 or 25
        exported.extend(request_days(requests[0]))
    assert exported == [day + timedelta(days=n) for n in range(runs)]


@settings(max_examples=200, deadline=None)
@given(zone=zones, day=days, span=st.integers(1, 60), length=st.integers(1, 300))
def test_length_ends_with_the_intervals_last_day(zone, day, span, length) -> None:
    start, end = local_midnight(day, zone), local_midnight(day + timedelta(days=span), zone)
    whole = interval_windows(start, end, "day", zone)
    trailing = trailing_windows(length, "day", start, end, zone)
    assert len([d for request in trailing for d in request_days(request)]) == length
    assert trailing[-1].ending_at == whole[-1].ending_at
    hours = trailing_windows(length, "hour", start, end, zone)
    assert hours == [Window(length, interval_windows(start, end, "hour", zone)[0].ending_at, "hour")]


fixed = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


@settings(max_examples=200, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2035, 1, 1), timezones=fixed),
    duration=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=40)),
    unit=st.sampled_from(["day", "hour"]),
)
def test_without_a_zone_a_fixed_offset_window_is_as_before(start, duration, unit) -> None:
    end = start + duration
    for lower, zone in [(start, None), (start.astimezone(UTC), UTC)]:
        try:
            expected = [interval_window(lower, end, unit)]
        except ValueError:
            with pytest.raises(ValueError, match=f"no {unit} bucket starts inside"):
                interval_windows(lower, end, unit, zone)
            continue
        assert [(r.length, r.ending_at, r.unit) for r in interval_windows(lower, end, unit, zone)] == [
            (*expected[0], unit)
        ]


def test_a_new_york_week_across_fall_back_is_two_requests_of_api_days() -> None:
    new_york = pendulum.timezone("America/New_York")
    start = pendulum.datetime(2024, 10, 30, tz=new_york)
    segments = day_segments(
        *days_starting_inside(start.in_timezone("UTC"), start.add(days=7).in_timezone("UTC"), new_york),
        new_york,
    )
    assert [(n, at.isoformat()) for n, at in segments] == [
        (4, "2024-11-02T00:00:00-04:00"),  # Oct 30 to Nov 2, in EDT
        (3, "2024-11-05T00:00:00-05:00"),  # Nov 3 (25 hours, ending in EST), 4 and 5
    ]


def test_a_zoned_start_without_a_timetable_zone_counts_that_zones_days() -> None:
    # A fall-back day handed over in its own zone is one local day, not two fixed-offset days.
    start = pendulum.datetime(2024, 10, 27, tz="Europe/Berlin")
    assert day_segments(*days_starting_inside(start, start.add(days=1), start.tzinfo), start.tzinfo) == [
        (1, datetime(2024, 10, 27, tzinfo=timezone(timedelta(hours=1))))
    ]
    (day,) = interval_windows(start, start.add(days=1), "day")  # the 25-hour day, as its hours
    assert (day.day, day.unit, day.length) == (date(2024, 10, 27), "hour", 25)
    assert interval_windows(start, start.add(days=1), "hour")[0].length == 25


def test_hours_of_a_half_hour_zone_are_aligned_in_its_offset() -> None:
    kolkata = ZoneInfo("Asia/Kolkata")
    start, end = local_midnight(date(2024, 5, 1), kolkata), local_midnight(date(2024, 5, 2), kolkata)
    (hours,) = interval_windows(start, end, "hour", kolkata)
    assert (hours.length, hours.ending_at and hours.ending_at.isoformat()) == (
        24,
        "2024-05-01T23:00:00+05:30",
    )
    # Without the zone, UTC hours: the last one would end half an hour after the interval.
    assert interval_windows(start, end, "hour") == [Window(24, datetime(2024, 5, 1, 18, tzinfo=UTC), "hour")]


def test_an_interval_without_a_local_day_is_a_value_error() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    start = local_midnight(date(2024, 5, 1), berlin) + timedelta(hours=1)
    with pytest.raises(ValueError, match="no day bucket starts inside the interval"):
        interval_windows(start, start + timedelta(hours=23), "day", berlin)


# -- exact days: a day of 23 or 25 hours is asked as its hours ---------------------------------------

HOUR = timedelta(hours=1)


def request_days(request: Window) -> list[date]:
    """The local dates one request stands for: its days, or the one day its hours are summed into."""
    if request.day is not None:
        return [request.day]
    assert request.ending_at is not None
    return api_days((request.length, request.ending_at))


def hours_covered(request: Window) -> tuple[datetime, datetime]:
    """The instants an hour request counts: from its first hour's start to its last hour's end."""
    assert request.ending_at is not None
    return request.ending_at - HOUR * (request.length - 1), request.ending_at + HOUR


@settings(max_examples=300, deadline=None)
@given(zone=zones, first=days, span=st.integers(0, 400))
def test_exact_requests_hold_every_local_day_once_and_each_change_day_as_exactly_its_hours(
    zone, first, span
) -> None:
    last = first + timedelta(days=span)
    requests = exact_day_windows(first, last, zone)

    assert [day for request in requests for day in request_days(request)] == [
        first + timedelta(days=n) for n in range(span + 1)
    ]
    for request in requests:
        for day in request_days(request):
            length = local_midnight(day + timedelta(days=1), zone) - local_midnight(day, zone)
            as_hours = length != timedelta(days=1) and not length % HOUR
            assert (request.day is not None) == as_hours
        if request.day is None:
            assert request.unit == "day"
            continue
        # 23 or 25 hours, ending when the local day ends, whole hours of the offset it is sent in.
        assert request.unit == "hour" and request.length in (23, 25)
        assert hours_covered(request) == (
            local_midnight(request.day, zone),
            local_midnight(request.day + timedelta(days=1), zone),
        )
        assert request.ending_at is not None and request.ending_at.minute == 0


@settings(max_examples=200, deadline=None)
@given(zone=zones, day=days, span=st.integers(1, 60), length=st.integers(1, 300))
def test_exact_windows_plan_the_same_days_as_the_segments(zone, day, span, length) -> None:
    start, end = local_midnight(day, zone), local_midnight(day + timedelta(days=span), zone)
    whole = [d for request in interval_windows(start, end, "day", zone) for d in request_days(request)]
    segments = day_segments(*days_starting_inside(start, end, zone), zone)
    assert whole == [d for segment in segments for d in api_days(segment)]
    trailing = [
        d for request in trailing_windows(length, "day", start, end, zone) for d in request_days(request)
    ]
    assert trailing == [day + timedelta(days=span - length + n) for n in range(length)]
    (hours,) = interval_windows(start, end, "hour", zone)
    assert (hours.unit, hours.day) == ("hour", None)
    if not (end - start) % HOUR:  # Lord Howe's days are not whole hours
        assert hours.length == (end - start) // HOUR


@settings(max_examples=300, deadline=None)
@given(zone=zones, day=days, span=st.integers(1, 30))
def test_days_as_hours_are_exactly_the_instants_of_those_days(zone, day, span) -> None:
    start, end = local_midnight(day, zone), local_midnight(day + timedelta(days=span), zone)
    if (end - start) % HOUR:  # Lord Howe's 30-minute change: no hours tile those days
        with pytest.raises(ValueError, match="not whole hours"):
            days_as_hours(start, end, zone)
        return
    length, ending_at = days_as_hours(start, end, zone)
    assert hours_covered(Window(length, ending_at, "hour")) == (start, end)
    assert ending_at.minute == 0


def test_a_new_york_week_across_fall_back_is_exact() -> None:
    new_york = ZoneInfo("America/New_York")
    requests = exact_day_windows(date(2024, 10, 30), date(2024, 11, 5), new_york)
    assert [(r.length, r.unit, r.ending_at and r.ending_at.isoformat(), r.day) for r in requests] == [
        (4, "day", "2024-11-02T00:00:00-04:00", None),  # Oct 30 to Nov 2, in EDT
        (25, "hour", "2024-11-03T23:00:00-05:00", date(2024, 11, 3)),  # its 25 hours, summed
        (2, "day", "2024-11-05T00:00:00-05:00", None),  # Nov 4 and 5, in EST
    ]
