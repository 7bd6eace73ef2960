"""Tests of the API emulator itself, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests

from airflow_provider_events.emulator import (
    EventsEmulator,
    Fault,
    bucket_starts,
    parse_ending_at,
)

KEY = "test-key-7f3a"
SERIES = "/events/data_series"
LIST = "/events/list"
ROOT = Path(__file__).resolve().parents[1]
BASE_PARAMS = {"event": "purchase", "length": "5", "ending_at": "2014-12-10T23:59:59-07:00"}


@pytest.fixture
def emu() -> Iterator[EventsEmulator]:
    with EventsEmulator(KEY) as emulator:
        yield emulator


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {KEY}"
        yield session


def fetch(
    http: requests.Session, emu: EventsEmulator, path: str = SERIES, **params: Any
) -> requests.Response:
    return http.get(emu.url + path, params=params, timeout=5)


def times_of(response: requests.Response) -> list[str]:
    return [point["time"] for point in response.json()["data"]]


# --- series --------------------------------------------------------------------------------------


def test_day_series_is_calendar_days_in_the_offset_of_ending_at(emu, http):
    # 23:59:59-07:00 is already 2014-12-11 in UTC: the last bucket must still be the local date.
    response = fetch(http, emu, **BASE_PARAMS)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["message"] == "success"
    assert times_of(response) == ["2014-12-06", "2014-12-07", "2014-12-08", "2014-12-09", "2014-12-10"]
    tz = timezone(timedelta(hours=-7))
    for day, point in zip(range(6, 11), body["data"], strict=True):
        assert point["count"] == emu.count("purchase", datetime(2014, 12, day, tzinfo=tz), "day")
        assert point["count"] > 0


@pytest.mark.parametrize("offset", ["-07:00", "+05:30"])
def test_hour_series_is_whole_local_hours_ending_with_the_one_holding_ending_at(emu, http, offset):
    ending_at = f"2014-12-10T23:59:59{offset}"
    response = fetch(http, emu, event="purchase", length=24, unit="hour", ending_at=ending_at)

    assert response.status_code == 200
    assert times_of(response) == [f"2014-12-10T{hour:02d}:00:00{offset}" for hour in range(24)]
    starts = [datetime.fromisoformat(text) for text in times_of(response)]
    assert all(later - earlier == timedelta(hours=1) for earlier, later in itertools.pairwise(starts))
    assert starts[-1] <= parse_ending_at(ending_at) < starts[-1] + timedelta(hours=1)
    assert all(point["count"] > 0 for point in response.json()["data"])


def test_hour_buckets_floor_minutes_in_local_time(emu, http):
    response = fetch(http, emu, event="e", length=3, unit="hour", ending_at="2014-12-10T05:45:10+05:30")
    assert times_of(response) == [f"2014-12-10T{h}:00:00+05:30" for h in ("03", "04", "05")]


def test_response_offset_renders_the_same_instants_in_another_offset(http):
    ending_at = "2014-12-10T23:59:59-07:00"
    with EventsEmulator(KEY, response_offset="-05:00") as shifted, EventsEmulator(KEY) as plain:
        moved = fetch(http, shifted, event="purchase", length=2, unit="hour", ending_at=ending_at)
        same = fetch(http, plain, event="purchase", length=2, unit="hour", ending_at=ending_at)
        utc = fetch(http, plain, event="purchase", length=1, unit="hour", ending_at="2014-12-10T23:59:59Z")

    assert times_of(moved) == ["2014-12-11T00:00:00-05:00", "2014-12-11T01:00:00-05:00"]
    assert [p["count"] for p in moved.json()["data"]] == [p["count"] for p in same.json()["data"]]
    assert times_of(utc) == ["2014-12-10T23:00:00+00:00"]


@pytest.mark.parametrize("unit", ["day", "hour"])
def test_series_equals_a_single_request(emu, http, unit):
    params = {"event": "signup", "unit": unit, "ending_at": "2024-03-31T12:00:00+02:00", "app_id": "a1"}
    response = fetch(http, emu, length=100, segment_id="s1", **params)
    expected = emu.series("signup", 100, unit, params["ending_at"], app_id="a1", segment_id="s1")

    assert response.json()["data"] == expected
    assert emu.series("signup", 250, unit, params["ending_at"], "a1", "s1")[-100:] == expected
    assert emu.series("signup", 100, unit, params["ending_at"]) != expected  # app and segment matter


@pytest.mark.parametrize("name", ["Purchase", " purchase ", "purchse"])
def test_a_name_it_does_not_list_counts_zero_even_when_recorded(emu, http, name):
    emu.record(name, 50, at=datetime(2024, 1, 1, 10, tzinfo=timezone.utc))
    response = fetch(http, emu, event=name, length=3, unit="hour", ending_at="2024-01-01T11:00:00Z")

    assert response.status_code == 200
    assert [point["count"] for point in response.json()["data"]] == [0, 0, 0]
    assert emu.count(name, datetime(2024, 1, 1, 10), "hour") == 0
    listed = emu.series("purchase", 3, "hour", "2024-01-01T11:00:00Z")
    assert sum(point["count"] for point in listed) > 0  # the listed name it mistyped counts


def test_series_takes_datetimes_naive_meaning_utc(emu):
    naive = emu.series("purchase", 3, "hour", datetime(2024, 1, 1, 10, 30))
    assert naive == emu.series("purchase", 3, "hour", "2024-01-01T10:30:00Z")
    assert naive[-1]["time"] == "2024-01-01T10:00:00+00:00"


@pytest.mark.parametrize("offset", ["+00:00", "-07:00", "+05:45", "+14:00"])
def test_a_days_count_is_the_sum_of_its_24_hours_in_the_same_offset(emu, http, offset):
    emu.record("purchase", 9, at=datetime(2024, 2, 29, 11, 59, tzinfo=timezone.utc))
    for day in ("2024-02-28", "2024-02-29", "2024-03-01"):
        daily = fetch(http, emu, event="purchase", length=1, unit="day", ending_at=f"{day}T12:00:00{offset}")
        hourly = fetch(
            http, emu, event="purchase", length=24, unit="hour", ending_at=f"{day}T23:00:00{offset}"
        )
        hours = hourly.json()["data"]
        assert [point["time"][:10] for point in hours] == [day] * 24
        assert daily.json()["data"][0]["count"] == sum(point["count"] for point in hours), (day, offset)


def test_a_days_count_depends_on_the_offset_its_day_is_counted_in(emu):
    utc = emu.series("purchase", 1, "day", "2024-02-29T12:00:00+00:00")
    new_york = emu.series("purchase", 1, "day", "2024-02-29T12:00:00-05:00")
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


# --- validation and auth -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"length": "0"}, "length"),
        ({"length": "101"}, "length"),
        ({"length": "x"}, "length"),
        ({"length": None}, "length"),
        ({"unit": "week"}, "unit"),
        ({"ending_at": "2014-12-10T23:59:59"}, "ending_at"),
        ({"ending_at": "yesterday"}, "ending_at"),
        ({"ending_at": "2014-12-10T23:59:59 05:30"}, "ending_at"),  # an unencoded '+'
        ({"event": None}, "event"),
        ({"event": ""}, "event"),
    ],
)
def test_invalid_parameters_are_400_naming_the_parameter(emu, http, override, named):
    params = {**BASE_PARAMS, **override}
    response = fetch(http, emu, **{k: v for k, v in params.items() if v is not None})

    assert response.status_code == 400
    body = response.json()
    assert body["message"].startswith(named)
    assert isinstance(body["errors"], list)


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-key-0000", KEY, f"bearer {KEY}"])
def test_missing_or_wrong_key_is_401_without_echoing_it(emu, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = requests.get(emu.url + SERIES, params=BASE_PARAMS, headers=headers, timeout=5)

    assert response.status_code == 401
    assert response.json()["message"] == "Unknown or missing REST API Key"
    assert "wrong-key" not in response.text
    assert KEY not in response.text
    assert "X-RateLimit-Remaining" in response.headers
    assert KEY not in repr(emu.requests)


def test_unknown_path_is_404_and_other_methods_are_405(emu, http):
    assert http.get(emu.url + "/events/nope", timeout=5).status_code == 404
    assert http.get(emu.url + "/events/nope", timeout=5).json() == {"message": "Not found"}
    response = http.post(emu.url + SERIES, data=b"x" * 100, timeout=5)
    assert response.status_code == 405
    assert fetch(http, emu, **BASE_PARAMS).status_code == 200  # the body did not desync keep-alive


# --- /events/list --------------------------------------------------------------------------------


def test_events_list_pages_of_250_sorted():
    with EventsEmulator(KEY, events=600) as emu, requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {KEY}"
        pages = [fetch(http, emu, LIST, page=page).json()["events"] for page in range(4)]
        default = fetch(http, emu, LIST).json()
        bad = [fetch(http, emu, LIST, page=page).status_code for page in ("-1", "x", "")]

    assert [len(page) for page in pages] == [250, 250, 100, 0]
    assert [name for page in pages for name in page] == [f"event_{index:04d}" for index in range(600)]
    assert default == {"message": "success", "events": pages[0]}
    assert bad == [400, 400, 400]


def test_events_list_defaults_to_five_sorted_names(emu, http):
    names = fetch(http, emu, LIST).json()["events"]
    assert names == sorted(names)
    assert names == ["add_to_cart", "app_open", "checkout_started", "purchase", "signup"]


# --- faults --------------------------------------------------------------------------------------


def test_fault_status_body_and_headers_replace_the_answer_even_without_a_key(emu, http):
    emu.enqueue(Fault(503, headers={"retry-after": "2", "X-Custom": "yes"}))
    emu.enqueue(Fault(500, body="boom"), Fault(202, body={"message": "queued"}))

    unauthenticated = requests.get(emu.url + SERIES, params=BASE_PARAMS, timeout=5)
    assert unauthenticated.status_code == 503
    assert unauthenticated.json() == {"message": "Service Unavailable", "errors": ["Service Unavailable"]}
    assert {"retry-after", "X-Custom"} <= set(unauthenticated.raw.headers.keys())
    text = fetch(http, emu, **BASE_PARAMS)
    assert (text.status_code, text.text, text.headers["Content-Type"]) == (
        500,
        "boom",
        "text/plain; charset=utf-8",
    )
    assert fetch(http, emu, **BASE_PARAMS).json() == {"message": "queued"}
    assert fetch(http, emu, **BASE_PARAMS).status_code == 200
    assert [r.status for r in emu.requests] == [503, 500, 202, 200]


def test_faults_are_consumed_in_order_and_times(emu, http):
    emu.enqueue(Fault(500), Fault(502), times=2)
    statuses = [fetch(http, emu, **BASE_PARAMS).status_code for _ in range(5)]
    assert statuses == [500, 500, 502, 502, 200]
    emu.enqueue(Fault(500))
    emu.clear_faults()
    assert fetch(http, emu, **BASE_PARAMS).status_code == 200


def test_fault_with_a_path_waits_for_that_path(emu, http):
    emu.enqueue(Fault(500, path=LIST), Fault(502))
    assert fetch(http, emu, **BASE_PARAMS).status_code == 200  # head of queue does not match
    assert fetch(http, emu, LIST).status_code == 500
    assert fetch(http, emu, LIST).status_code == 502


def test_fault_delay_provokes_a_read_timeout(emu, http):
    emu.enqueue(Fault(delay=0.4))
    with pytest.raises(requests.exceptions.ReadTimeout):
        http.get(emu.url + SERIES, params=BASE_PARAMS, timeout=0.1)
    assert fetch(http, emu, **BASE_PARAMS).status_code == 200


def _expected(emu: EventsEmulator, length: int = 5, ending_at: str = BASE_PARAMS["ending_at"]) -> list[Any]:
    return emu.series("purchase", length, "day", ending_at)


MANGLE_CHECKS: dict[str, Callable[[EventsEmulator, requests.Response], bool]] = {
    "short": lambda emu, r: r.json()["data"] == _expected(emu)[1:],
    "long": lambda emu, r: r.json()["data"] == _expected(emu, 6, "2014-12-11T23:59:59-07:00"),
    "no_count": lambda emu, r: [("count" in p) for p in r.json()["data"]].count(False) == 1,
    "no_data": lambda emu, r: r.json() == {"message": "success"},
    "not_json": lambda emu, r: (r.text, r.headers["Content-Type"]) == ("<html>oops</html>", "text/html"),
}


@pytest.mark.parametrize("mangle", sorted(MANGLE_CHECKS))
def test_mangles_alter_the_normal_200(emu, http, mangle):
    emu.enqueue(Fault(mangle=mangle, headers={"x-extra": "1"}))
    response = fetch(http, emu, **BASE_PARAMS)

    assert response.status_code == 200
    assert MANGLE_CHECKS[mangle](emu, response)
    assert response.headers["x-extra"] == "1"
    assert response.headers["X-RateLimit-Limit"] == "250000"
    assert fetch(http, emu, **BASE_PARAMS).json()["data"] == _expected(emu)


def test_mangle_leaves_an_error_answer_alone(emu, http):
    emu.enqueue(Fault(mangle="no_data"))
    response = fetch(http, emu, **{**BASE_PARAMS, "length": "0"})
    assert response.status_code == 400
    assert "length" in response.json()["message"]


def test_disconnect_sends_half_the_body_then_closes(emu, http):
    emu.enqueue(Fault(mangle="disconnect"))
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)):
        fetch(http, emu, **BASE_PARAMS)
    assert emu.requests[-1].status == 0
    assert fetch(http, emu, **BASE_PARAMS).status_code == 200


# --- recorded events, rate limit, latency, log ---------------------------------------------------


def test_record_adds_to_the_hour_and_local_day_buckets(emu, http):
    at = datetime(2014, 12, 11, 2, 30)  # naive UTC: 2014-12-10 19:30 at -07:00
    hour_before = emu.count("purchase", datetime(2014, 12, 11, 2), "hour")
    local_day_before = fetch(http, emu, **BASE_PARAMS).json()["data"][-1]["count"]

    emu.record("purchase", 7, at=at)
    emu.record("purchase", 100, at=at, app_id="other-app")

    assert emu.count("purchase", datetime(2014, 12, 11, 2), "hour") == hour_before + 7
    assert fetch(http, emu, **BASE_PARAMS).json()["data"][-1]["count"] == local_day_before + 7
    hour = fetch(http, emu, event="purchase", length=1, unit="hour", ending_at="2014-12-10T19:59:59-07:00")
    assert hour.json()["data"][0]["count"] == hour_before + 7
    emu.reset()
    assert emu.count("purchase", datetime(2014, 12, 11, 2), "hour") == hour_before


def control(emu: EventsEmulator, body: Any, key: str = KEY, method: str = "POST") -> requests.Response:
    headers = {"Authorization": f"Bearer {key}"}
    return requests.request(method, emu.url + "/_emulator/events", json=body, headers=headers, timeout=5)


def test_events_posted_to_the_control_endpoint_count_like_record(emu, http):
    at = "2014-12-10T19:30:00-07:00"
    before = fetch(http, emu, **BASE_PARAMS).json()["data"][-1]["count"]

    answer = control(emu, {"event": "purchase", "count": 40, "at": at})
    control(emu, {"event": "purchase", "count": 2, "at": at, "app_id": "other-app"})

    assert answer.status_code == 200
    assert answer.json() == {"message": "recorded", "event": "purchase", "count": 40, "at": at}
    assert fetch(http, emu, **BASE_PARAMS).json()["data"][-1]["count"] == before + 40
    assert emu.request_count("/_emulator/events") == 0  # control is not API traffic: no log, no budget


def test_a_control_post_without_at_counts_now(emu):
    now = datetime.now(timezone.utc)
    before = emu.count("signup", now, "hour") + emu.count("signup", now + timedelta(hours=1), "hour")
    assert control(emu, {"event": "signup", "count": 3}).status_code == 200
    after = emu.count("signup", now, "hour") + emu.count("signup", now + timedelta(hours=1), "hour")
    assert after == before + 3


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"count": 3}, "event"),
        ({"event": "purchase", "count": 0}, "count"),
        ({"event": "purchase", "count": "5"}, "count"),
        ({"event": "purchase", "at": "yesterday"}, "at"),
        ({"event": "purchase", "colour": "red"}, "colour"),
        (["purchase"], "JSON object"),
    ],
)
def test_a_bad_control_body_is_400_naming_the_field_and_records_nothing(emu, body, named):
    answer = control(emu, body)
    assert answer.status_code == 400
    assert named in answer.json()["message"]
    assert emu._recorded == {}


def test_control_needs_the_key_and_post(emu):
    assert control(emu, {"event": "purchase"}, key="wrong").status_code == 401
    assert control(emu, None, method="GET").status_code == 405
    assert emu._recorded == {}


def test_without_background_counts_are_only_what_was_recorded(http):
    at = datetime(2014, 12, 10, 9, 30, tzinfo=timezone.utc)
    with EventsEmulator(KEY, background=False) as quiet:
        params = {"event": "purchase", "length": "3", "unit": "hour", "ending_at": "2014-12-10T10:00:00Z"}
        before = [point["count"] for point in fetch(http, quiet, **params).json()["data"]]
        quiet.record("purchase", 7, at=at)
        assert control(quiet, {"event": "purchase", "count": 5, "at": "2014-12-10T10:15:00Z"}).ok
        after = [point["count"] for point in fetch(http, quiet, **params).json()["data"]]
        day = quiet.count("purchase", at, "day")
    assert before == [0, 0, 0]
    assert after == [0, 7, 5] and day == 12
    assert EventsEmulator(KEY).count("purchase", at, "day") > 0  # the default serves generated counts


def test_a_negative_count_takes_events_back_but_never_below_zero(http):
    hour = "2014-12-10T10:00:00Z"
    params = {"event": "purchase", "length": "1", "unit": "hour", "ending_at": hour}
    with EventsEmulator(KEY, background=False) as quiet:
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


def test_cli_no_background_serves_only_recorded_counts(tmp_path):
    port_file = tmp_path / "port"
    command = [sys.executable, "-m", "airflow_provider_events.emulator", "--port-file", str(port_file)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command += ["--api-key", KEY, "--no-background"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while not port_file.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        url = f"http://127.0.0.1:{int(port_file.read_text())}"
        headers = {"Authorization": f"Bearer {KEY}"}
        series = requests.get(url + SERIES, params=BASE_PARAMS, headers=headers, timeout=5).json()["data"]
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=10)
    assert [point["count"] for point in series] == [0] * 5
    assert process.returncode == 0


def test_record_defaults_to_now(emu):
    now = datetime.now(timezone.utc)

    def this_and_next_hour() -> int:
        return emu.count("signup", now, "hour") + emu.count("signup", now + timedelta(hours=1), "hour")

    before = this_and_next_hour()
    emu.record("signup")
    assert this_and_next_hour() == before + 1


def test_rate_limit_answers_429_with_headers_once_spent(http):
    with EventsEmulator(KEY, rate_limit=3, rate_window=3600) as emu:
        before = time.time()  # the emulator reads the clock later: its whole seconds can only be fewer
        responses = [fetch(http, emu, **BASE_PARAMS) for _ in range(4)]
        log = [r.status for r in emu.requests]
        emu.reset()
        after_reset = fetch(http, emu, **BASE_PARAMS)

    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert [r.headers["X-RateLimit-Remaining"] for r in responses] == ["2", "1", "0", "0"]
    limited = responses[-1]
    assert limited.json()["message"] == "Over rate limit"
    assert limited.json()["errors"]
    assert limited.headers["X-RateLimit-Limit"] == "3"
    reset = int(limited.headers["X-RateLimit-Reset"])
    assert reset % 3600 == 0 and time.time() < reset <= time.time() + 3600
    assert 1 <= int(limited.headers["Retry-After"]) <= reset - before + 1  # whole seconds to the reset
    assert log == [200, 200, 200, 429]
    assert after_reset.status_code == 200


def test_latency_is_added_to_every_answer(emu, http):
    emu.latency = 0.2
    started = time.perf_counter()
    assert fetch(http, emu, LIST).status_code == 200
    assert time.perf_counter() - started >= 0.2


def test_request_log_records_what_arrived(emu, http):
    fetch(http, emu, **BASE_PARAMS)
    fetch(http, emu, LIST, page=1)

    first, second = emu.requests
    assert (first.method, first.path, first.params, first.status) == ("GET", SERIES, BASE_PARAMS, 200)
    assert first.headers["Authorization"] == f"Bearer {KEY}"
    assert (second.path, second.params) == (LIST, {"page": "1"})
    assert first.at <= second.at <= time.time()
    assert (emu.request_count(), emu.request_count(SERIES), emu.request_count(LIST)) == (2, 1, 1)


def test_connection_json_points_at_the_emulator(emu):
    assert json.loads(emu.connection_json()) == {
        "conn_type": "events_analytics",
        "host": emu.url,
        "password": KEY,
    }


def test_stop_is_idempotent_and_drops_keep_alive_connections(http):
    emu = EventsEmulator(KEY).start()
    assert fetch(http, emu, LIST).status_code == 200
    url = emu.url
    emu.stop()
    emu.stop()
    with pytest.raises(requests.exceptions.ConnectionError):
        http.get(url + LIST, timeout=2)


# --- process and speed ---------------------------------------------------------------------------


def test_cli_serves_until_sigterm_and_exits_0(tmp_path):
    port_file = tmp_path / "port"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "EVENTS_EMULATOR_API_KEY": KEY}
    command = [sys.executable, "-m", "airflow_provider_events.emulator", "--port-file", str(port_file)]
    process = subprocess.Popen([*command, "--events", "3"], env=env, stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 10
        while not port_file.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        url = f"http://127.0.0.1:{int(port_file.read_text())}"
        headers = {"Authorization": f"Bearer {KEY}"}
        names = requests.get(url + LIST, headers=headers, timeout=5).json()["events"]
        params = {**BASE_PARAMS, "event": "event_0001"}
        series = requests.get(url + SERIES, params=params, headers=headers, timeout=5).json()["data"]
        body = {"event": "event_0001", "count": 5, "at": "2014-12-10T12:00:00-07:00"}
        recorded = requests.post(url + "/_emulator/events", json=body, headers=headers, timeout=5)
        after = requests.get(url + SERIES, params=params, headers=headers, timeout=5).json()["data"]
    finally:
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=10)

    assert process.returncode == 0
    assert out.strip() == f"Events emulator listening on {url}"
    assert names == ["event_0000", "event_0001", "event_0002"]
    assert series == EventsEmulator(events=3).series(
        "event_0001", 5, "day", BASE_PARAMS["ending_at"]
    )  # stable across processes
    assert any(point["count"] for point in series)
    assert recorded.status_code == 200
    assert after[-1]["count"] == series[-1]["count"] + 5 and after[:-1] == series[:-1]


def test_cli_help_names_the_key_variable_but_never_its_value():
    env = {**os.environ, "PYTHONPATH": str(ROOT), "EVENTS_EMULATOR_API_KEY": "sk-live-do-not-print"}
    command = [sys.executable, "-m", "airflow_provider_events.emulator", "--help"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    assert "$EVENTS_EMULATOR_API_KEY" in result.stdout and "/_emulator/events" in result.stdout
    assert "sk-live-do-not-print" not in result.stdout + result.stderr
