"""Property tests of the pure window arithmetic: no server, no I/O."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_events._checks import format_ending_at, parse_ending_at
from airflow_provider_events._paging import MAX_PAGE_LENGTH, join_pages, point_key, split_window

OFFSETS = st.builds(
    lambda hours, minutes: timezone(timedelta(hours=hours, minutes=minutes if hours >= 0 else -minutes)),
    st.integers(-12, 14),
    st.sampled_from([0, 30, 45]),
).filter(lambda tz: timedelta(hours=-12) <= tz.utcoffset(None) <= timedelta(hours=14))
MOMENTS = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2035, 1, 1))


def server_buckets(ending_at: datetime, length: int, unit: str) -> list[date | datetime]:
    """What the API covers for one request: the bucket holding ending_at and the length-1 before it."""
    if unit == "day":
        last: date | datetime = ending_at.date()
        step = timedelta(days=1)
    else:
        last = ending_at.replace(minute=0, second=0, microsecond=0).astimezone(timezone.utc)
        step = timedelta(hours=1)
    return [last - step * back for back in range(length - 1, -1, -1)]


@settings(max_examples=300, deadline=None)
@given(
    length=st.integers(1, 10_000),
    unit=st.sampled_from(["day", "hour"]),
    moment=MOMENTS,
    offset=OFFSETS,
)
def test_pages_cover_the_window_exactly(length: int, unit: str, moment: datetime, offset: timezone) -> None:
    ending_at = moment.replace(tzinfo=offset)
    pages = split_window(length, unit, ending_at)

    assert sum(page.length for page in pages) == length
    assert all(1 <= page.length <= MAX_PAGE_LENGTH for page in pages)
    assert all(page.length == MAX_PAGE_LENGTH for page in pages[1:])
    assert pages[-1].ending_at == ending_at
    assert all(page.ending_at.utcoffset() == offset.utcoffset(None) for page in pages)
    covered = [bucket for page in pages for bucket in server_buckets(page.ending_at, page.length, unit)]
    assert covered == server_buckets(ending_at, length, unit)


@settings(max_examples=200, deadline=None)
@given(moment=MOMENTS, offset=OFFSETS)
def test_ending_at_round_trips_through_its_wire_format(moment: datetime, offset: timezone) -> None:
    aware = moment.replace(tzinfo=offset, microsecond=0)
    text = format_ending_at(aware)
    assert parse_ending_at(text) == aware
    assert parse_ending_at(text).utcoffset() == offset.utcoffset(None)


def test_naive_and_z_mean_utc_and_none_means_the_given_now() -> None:
    assert parse_ending_at(datetime(2024, 1, 1, 12)) == datetime(2024, 1, 1, 12, tzinfo=timezone.utc)
    assert parse_ending_at("2024-01-01T12:00:00Z").utcoffset() == timedelta(0)
    assert parse_ending_at("2024-01-01T12:00:00").tzinfo == timezone.utc
    now = datetime(2030, 5, 5, 5, tzinfo=timezone.utc)
    assert parse_ending_at(None, now=now) == now
    assert format_ending_at(parse_ending_at(datetime(2024, 1, 1))) == "2024-01-01T00:00:00+00:00"


def test_a_zone_with_dst_is_pinned_to_its_offset_at_that_instant() -> None:
    summer = parse_ending_at(datetime(2024, 7, 1, 12, tzinfo=ZoneInfo("America/Denver")))
    assert summer.utcoffset() == timedelta(hours=-6)
    pages = split_window(365, "day", summer)
    # 100 calendar days in the offset of ending_at, even across the DST change in November
    assert [page.ending_at.utcoffset() for page in pages] == [timedelta(hours=-6)] * 4


@pytest.mark.parametrize("bad", ["yesterday", "2024-13-01T00:00:00", 12345, ""])
def test_unparseable_ending_at_is_a_value_error_naming_it(bad: object) -> None:
    with pytest.raises(ValueError, match="ending_at"):
        parse_ending_at(bad)  # type: ignore[arg-type]


def _keyed(points: list[dict]) -> list:
    return [(point_key(point["time"], "hour"), point) for point in points]


def _hours(start: int, count: int) -> list:
    base = datetime(2024, 1, 1, tzinfo=timezone.utc)
    return _keyed(
        [{"time": (base + timedelta(hours=start + i)).isoformat(), "count": start + i} for i in range(count)]
    )


def test_join_keeps_a_point_two_pages_share_once() -> None:
    joined = join_pages([_hours(0, 3), _hours(2, 3)], "hour", 5)
    assert [point["count"] for point in joined] == [0, 1, 2, 3, 4]


def test_join_compares_instants_not_strings() -> None:
    other_zone = _keyed(
        [{"time": datetime(2024, 1, 1, 3, tzinfo=timezone(timedelta(hours=-5))).isoformat(), "count": 9}]
    )  # 08:00 UTC, right after 07:00 UTC
    assert len(join_pages([_hours(0, 8), other_zone], "hour", 9)) == 9


def test_join_refuses_a_gap_or_a_short_series() -> None:
    with pytest.raises(ValueError, match="gap"):
        join_pages([_hours(0, 2), _hours(3, 2)], "hour", 4)
    with pytest.raises(ValueError, match="expected 5"):
        join_pages([_hours(0, 4)], "hour", 5)
