"""``interval_window``: the buckets that start inside a data interval, checked against integer arithmetic."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_events._calendar import interval_window

UTC = timezone.utc
STEP = {"day": timedelta(days=1), "hour": timedelta(hours=1)}
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
starts = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=offsets)
durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=40))
units = st.sampled_from(["day", "hour"])


def expected_buckets(start: datetime, end: datetime, unit: str) -> tuple[int, int]:
    """Indices (first, last) of the buckets starting in [start, end), counted on start's wall clock."""
    offset = start.utcoffset()
    assert offset is not None
    epoch = datetime(1970, 1, 1, tzinfo=timezone(offset))
    step = STEP[unit] / timedelta(microseconds=1)
    lower = (start - epoch) / timedelta(microseconds=1)
    upper = (end - epoch) / timedelta(microseconds=1)
    return math.ceil(lower / step), math.ceil(upper / step) - 1


@given(start=starts, duration=durations, unit=units, end_zone=offsets)
def test_matches_the_buckets_counted_by_arithmetic(
    start: datetime, duration: timedelta, unit: str, end_zone: timezone
) -> None:
    end = (start + duration).astimezone(end_zone)  # the end's own offset must not matter
    first, last = expected_buckets(start, end, unit)
    if last < first:
        with pytest.raises(ValueError, match=r"no \w+ bucket starts inside"):
            interval_window(start, end, unit)
        return
    length, ending_at = interval_window(start, end, unit)
    assert length == last - first + 1
    epoch = datetime(1970, 1, 1, tzinfo=start.tzinfo)
    assert ending_at == epoch + STEP[unit] * last
    assert ending_at.utcoffset() == start.utcoffset()


@given(start=starts, duration=durations, unit=units)
def test_every_bucket_starts_inside_and_none_is_left_out(
    start: datetime, duration: timedelta, unit: str
) -> None:
    end = start + duration
    try:
        length, ending_at = interval_window(start, end, unit)
    except ValueError:
        # Then even the first bucket boundary at or after start falls at or after end.
        assert duration < STEP[unit]
        return
    step = STEP[unit]
    first = ending_at - step * (length - 1)
    assert start <= first and ending_at < end
    assert first - step < start and ending_at + step >= end
    fields = (first.minute, first.second, first.microsecond) + ((first.hour,) if unit == "day" else ())
    assert set(fields) == {0}


@given(start=starts, duration=durations, unit=units)
def test_pendulum_and_naive_inputs_agree_with_datetime(
    start: datetime, duration: timedelta, unit: str
) -> None:
    end = start + duration
    utc_start, utc_end = start.astimezone(UTC), end.astimezone(UTC)
    try:
        expected = interval_window(utc_start, utc_end, unit)
    except ValueError:
        expected = None
    for pair in [
        (pendulum.instance(utc_start), pendulum.instance(utc_end)),
        (utc_start.replace(tzinfo=None), utc_end.replace(tzinfo=None)),
    ]:
        if expected is None:
            with pytest.raises(ValueError):
                interval_window(*pair, unit)
        else:
            length, ending_at = interval_window(*pair, unit)
            assert (length, ending_at) == expected
            assert type(ending_at) is datetime


def test_a_daily_interval_in_utc() -> None:
    start, end = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 2, tzinfo=UTC)
    assert interval_window(start, end, "hour") == (24, datetime(2024, 1, 1, 23, tzinfo=UTC))
    assert interval_window(start, end, "day") == (1, start)
    assert interval_window(pendulum.datetime(2024, 1, 1), pendulum.datetime(2024, 1, 8), "day") == (
        7,
        datetime(2024, 1, 7, tzinfo=UTC),
    )


def test_a_dst_day_in_a_zone_is_pinned_to_the_offset_of_its_start() -> None:
    paris = "Europe/Paris"
    length, ending_at = interval_window(
        pendulum.datetime(2024, 3, 31, tz=paris), pendulum.datetime(2024, 4, 1, tz=paris), "hour"
    )
    assert length == 23  # the night the clocks went forward
    assert ending_at == datetime(2024, 3, 31, 22, tzinfo=timezone(timedelta(hours=1)))


@pytest.mark.parametrize(
    ("start", "end", "unit"),
    [
        (datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC), "hour"),  # empty
        (datetime(2024, 1, 1, 0, 30, tzinfo=UTC), datetime(2024, 1, 1, 1, tzinfo=UTC), "hour"),
        (datetime(2024, 1, 1, 1, tzinfo=UTC), datetime(2024, 1, 2, tzinfo=UTC), "day"),
        (datetime(2024, 1, 2, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC), "day"),  # reversed
    ],
)
def test_no_bucket_starting_inside_is_a_value_error(start: datetime, end: datetime, unit: str) -> None:
    with pytest.raises(ValueError, match=f"no {unit} bucket starts inside the interval"):
        interval_window(start, end, unit)


def test_an_unknown_unit_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unit must be 'day' or 'hour', got 'week'"):
        interval_window(datetime(2024, 1, 1), datetime(2024, 2, 1), "week")
