"""Tests of EventsEmulator itself: buckets and counts, recorded events, and its lifecycle, over real HTTP."""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta, timezone

import pytest
import requests

from airflow_provider_events.emulator import EventsEmulator, bucket_starts, parse_ending_at
from tests.conftest import API_KEY
from tests.emulator_calls import BASE_PARAMS, LIST, control, fetch, times_of

# --- buckets and counts --------------------------------------------------------------------------


def test_day_series_is_calendar_days_in_the_offset_of_ending_at(emulator, http):
    # 23:59:59-07:00 is already 2014-12-11 in UTC: the last bucket must still be the local date.
    response = fetch(http, emulator, **BASE_PARAMS)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["message"] == "success"
    assert times_of(response) == ["2014-12-06", "2014-12-07", "2014-12-08", "2014-12-09", "2014-12-10"]
    tz = timezone(timedelta(hours=-7))
    for day, point in zip(range(6, 11), body["data"], strict=True):
        assert point["count"] == emulator.count("purchase", datetime(2014, 12, day, tzinfo=tz), "day")
        assert point["count"] > 0


@pytest.mark.parametrize("offset", ["-07:00", "+05:30"])
def test_hour_series_is_whole_local_hours_ending_with_the_one_holding_ending_at(emulator, http, offset):
    ending_at = f"2014-12-10T23:59:59{offset}"
    response = fetch(http, emulator, event="purchase", length=24, unit="hour", ending_at=ending_at)

    assert response.status_code == 200
    assert times_of(response) == [f"2014-12-10T{hour:02d}:00:00{offset}" for hour in range(24)]
    starts = [datetime.fromisoformat(text) for text in times_of(response)]
    assert all(later - earlier == timedelta(hours=1) for earlier, later in itertools.pairwise(starts))
    assert starts[-1] <= parse_ending_at(ending_at) < starts[-1] + timedelta(hours=1)
    assert all(point["count"] > 0 for point in response.json()["data"])


def test_hour_buckets_floor_minutes_in_local_time(emulator, http):
    response = fetch(http, emulator, event="e", length=3, unit="hour", ending_at="2014-12-10T05:45:10+05:30")
    assert times_of(response) == [f"2014-12-10T{h}:00:00+05:30" for h in ("03", "04", "05")]


def test_response_offset_renders_the_same_instants_in_another_offset(http):
    ending_at = "2014-12-10T23:59:59-07:00"
    with EventsEmulator(API_KEY, response_offset="-05:00") as shifted, EventsEmulator(API_KEY) as plain:
        moved = fetch(http, shifted, event="purchase", length=2, unit="hour", ending_at=ending_at)
        same = fetch(http, plain, event="purchase", length=2, unit="hour", ending_at=ending_at)
        utc = fetch(http, plain, event="purchase", length=1, unit="hour", ending_at="2014-12-10T23:59:59Z")

    assert times_of(moved) == ["2014-12-11T00:00:00-05:00", "2014-12-11T01:00:00-05:00"]
    assert [p["count"] for p in moved.json()["data"]] == [p["count"] for p in same.json()["data"]]
    assert times_of(utc) == ["2014-12-10T23:00:00+00:00"]


@pytest.mark.parametrize("unit", ["day", "hour"])
def test_series_equals_a_single_request(emulator, http, unit):
    params = {"event": "signup", "unit": unit, "ending_at": "2024-03-31T12:00:00+02:00", "app_id": "a1"}
    response = fetch(http, emulator, length=100, segment_id="s1", **params)
    expected = emulator.series("signup", 100, unit, params["ending_at"], app_id="a1", segment_id="s1")

    assert response.json()["data"] == expected
    assert emulator.series("signup", 250, unit, params["ending_at"], "a1", "s1")[-100:] == expected
    assert emulator.series("signup", 100, unit, params["ending_at"]) != expected  # app and segment matter


@pytest.mark.parametrize("name", ["Purchase", " purchase ", "purchse"])
def test_a_name_it_does_not_list_counts_zero_even_when_recorded(emulator, http, name):
    emulator.record(name, 50, at=datetime(2024, 1, 1, 10, tzinfo=timezone.utc))
    response = fetch(http, emulator, event=name, length=3, unit="hour", ending_at="2024-01-01T11:00:00Z")

    assert response.status_code == 200
    assert [point["count"] for point in response.json()["data"]] == [0, 0, 0]
    assert emulator.count(name, datetime(2024, 1, 1, 10), "hour") == 0
    listed = emulator.series("purchase", 3, "hour", "2024-01-01T11:00:00Z")
    assert sum(point["count"] for point in listed) > 0  # the listed name it mistyped counts


def test_series_takes_datetimes_naive_meaning_utc(emulator):
    naive = emulator.series("purchase", 3, "hour", datetime(2024, 1, 1, 10, 30))
    assert naive == emulator.series("purchase", 3, "hour", "2024-01-01T10:30:00Z")
    assert naive[-1]["time"] == "2024-01-01T10:00:00+00:00"


@pytest.mark.parametrize("offset", ["+00:00", "-07:00", "+05:45", "+14:00"])
def test_a_days_count_is_the_sum_of_its_24_hours_in_the_same_offset(emulator, http, offset):
    emulator.record("purchase", 9, at=datetime(2024, 2, 29, 11, 59, tzinfo=timezone.utc))
    for day in ("2024-02-28", "2024-02-29", "2024-03-01"):
        daily = fetch(
            http, emulator, event="purchase", length=1, unit="day", ending_at=f"{day}T12:00:00{offset}"
        )
        hourly = fetch(
            http, emulator, event="purchase", length=24, unit="hour", ending_at=f"{day}T23:00:00{offset}"
        )
        hours = hourly.json()["data"]
        assert [point["time"][:10] for point in hours] == [day] * 24
        assert daily.json()["data"][0]["count"] == sum(point["count"] for point in hours), (day, offset)


def test_a_days_count_depends_on_the_offset_its_day_is_counted_in(emulator):
    utc = emulator.series("purchase", 1, "day", "2024-02-29T12:00:00+00:00")
    new_york = emulator.series("purchase", 1, "day", "2024-02-29T12:00:00-05:00")
    assert utc[0]["time"] == new_york[0]["time"] == "2024-02-29"
    assert utc[0]["count"] != new_york[0]["count"]  # another 24 hours, another total


def test_bucket_starts_step_back_exactly_one_unit():
    ending_at = parse_ending_at("2024-03-10T00:10:00+05:45")
    starts = bucket_starts(ending_at, 3, "hour")
    assert [s.isoformat() for s in starts] == [
        "2024-03-09T22:00:00+05:45",
        "2024-03-09T23:00:00+05:45",
        "2024-03-10T00:00:00+05:45",
    ]
    assert [s.date().isoformat() for s in bucket_starts(ending_at, 2, "day")] == ["2024-03-09", "2024-03-10"]


# --- recorded events ------------------------------------------------------------------------------


def test_record_adds_to_the_hour_and_local_day_buckets(emulator, http):
    at = datetime(2014, 12, 11, 2, 30)  # naive UTC: 2014-12-10 19:30 at -07:00
    hour_before = emulator.count("purchase", datetime(2014, 12, 11, 2), "hour")
    local_day_before = fetch(http, emulator, **BASE_PARAMS).json()["data"][-1]["count"]

    emulator.record("purchase", 7, at=at)
    emulator.record("purchase", 100, at=at, app_id="other-app")

    assert emulator.count("purchase", datetime(2014, 12, 11, 2), "hour") == hour_before + 7
    assert fetch(http, emulator, **BASE_PARAMS).json()["data"][-1]["count"] == local_day_before + 7
    hour = fetch(
        http, emulator, event="purchase", length=1, unit="hour", ending_at="2014-12-10T19:59:59-07:00"
    )
    assert hour.json()["data"][0]["count"] == hour_before + 7
    emulator.reset()
    assert emulator.count("purchase", datetime(2014, 12, 11, 2), "hour") == hour_before


def test_without_background_counts_are_only_what_was_recorded(http):
    at = datetime(2014, 12, 10, 9, 30, tzinfo=timezone.utc)
    with EventsEmulator(API_KEY, background=False) as quiet:
        params = {"event": "purchase", "length": "3", "unit": "hour", "ending_at": "2014-12-10T10:00:00Z"}
        before = [point["count"] for point in fetch(http, quiet, **params).json()["data"]]
        quiet.record("purchase", 7, at=at)
        assert control(quiet, {"event": "purchase", "count": 5, "at": "2014-12-10T10:15:00Z"}).ok
        after = [point["count"] for point in fetch(http, quiet, **params).json()["data"]]
        day = quiet.count("purchase", at, "day")
    assert before == [0, 0, 0]
    assert after == [0, 7, 5] and day == 12
    assert EventsEmulator(API_KEY).count("purchase", at, "day") > 0  # the default serves generated counts


def test_a_negative_count_takes_events_back_but_never_below_zero(http):
    hour = "2014-12-10T10:00:00Z"
    params = {"event": "purchase", "length": "1", "unit": "hour", "ending_at": hour}
    with EventsEmulator(API_KEY, background=False) as quiet:
        assert control(quiet, {"event": "purchase", "count": 50, "at": hour}).ok
        taken = control(quiet, {"event": "purchase", "count": -30, "at": "2014-12-10T10:45:00Z"})
        too_many = control(quiet, {"event": "purchase", "count": -21, "at": hour})
        with pytest.raises(ValueError, match="cannot take back 21 'purchase' events"):
            quiet.record("purchase", -21, at=datetime(2014, 12, 10, 10, 5))
        with pytest.raises(ValueError, match="non-zero integer"):
            quiet.record("purchase", 0)
        count = fetch(http, quiet, **params).json()["data"][0]["count"]
    assert taken.json()["count"] == -30
    assert too_many.status_code == 400 and "holds 20" in too_many.json()["message"]
    assert count == 20


def test_record_defaults_to_now(emulator):
    now = datetime.now(timezone.utc)

    def this_and_next_hour() -> int:
        return emulator.count("signup", now, "hour") + emulator.count(
            "signup", now + timedelta(hours=1), "hour"
        )

    before = this_and_next_hour()
    emulator.record("signup")
    assert this_and_next_hour() == before + 1


# --- lifecycle ------------------------------------------------------------------------------------


def test_connection_json_points_at_the_emulator(emulator):
    assert json.loads(emulator.connection_json()) == {
        "conn_type": "events_analytics",
        "host": emulator.url,
        "password": API_KEY,
    }


def test_stop_is_idempotent_and_drops_keep_alive_connections(http):
    emu = EventsEmulator(API_KEY).start()
    assert fetch(http, emu, LIST).status_code == 200
    url = emu.url
    emu.stop()
    emu.stop()
    with pytest.raises(requests.exceptions.ConnectionError):
        http.get(url + LIST, timeout=2)
