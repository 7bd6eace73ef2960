"""Tests of how the emulator answers a request: checks, key, routes, faults, control, rate limit, log."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests

from airflow_provider_events.emulator import EventsEmulator, Fault
from tests.conftest import API_KEY
from tests.emulator_calls import BASE_PARAMS, LIST, SERIES, control, fetch

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
def test_invalid_parameters_are_400_naming_the_parameter(emulator, http, override, named):
    params = {**BASE_PARAMS, **override}
    response = fetch(http, emulator, **{k: v for k, v in params.items() if v is not None})

    assert response.status_code == 400
    body = response.json()
    assert body["message"].startswith(named)
    assert isinstance(body["errors"], list)


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-key-0000", API_KEY, f"bearer {API_KEY}"])
def test_missing_or_wrong_key_is_401_without_echoing_it(emulator, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = requests.get(emulator.url + SERIES, params=BASE_PARAMS, headers=headers, timeout=5)

    assert response.status_code == 401
    assert response.json()["message"] == "Unknown or missing REST API Key"
    assert "wrong-key" not in response.text
    assert API_KEY not in response.text
    assert "X-RateLimit-Remaining" in response.headers
    assert API_KEY not in repr(emulator.requests)


def test_unknown_path_is_404_and_other_methods_are_405(emulator, http):
    assert http.get(emulator.url + "/events/nope", timeout=5).status_code == 404
    assert http.get(emulator.url + "/events/nope", timeout=5).json() == {"message": "Not found"}
    response = http.post(emulator.url + SERIES, data=b"x" * 100, timeout=5)
    assert response.status_code == 405
    assert fetch(http, emulator, **BASE_PARAMS).status_code == 200  # the body did not desync keep-alive


# --- /events/list ---------------------------------------------------------------------------------


def test_events_list_pages_of_250_sorted():
    with EventsEmulator(API_KEY, events=600) as emu, requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {API_KEY}"
        pages = [fetch(http, emu, LIST, page=page).json()["events"] for page in range(4)]
        default = fetch(http, emu, LIST).json()
        bad = [fetch(http, emu, LIST, page=page).status_code for page in ("-1", "x", "")]

    assert [len(page) for page in pages] == [250, 250, 100, 0]
    assert [name for page in pages for name in page] == [f"event_{index:04d}" for index in range(600)]
    assert default == {"message": "success", "events": pages[0]}
    assert bad == [400, 400, 400]


def test_events_list_defaults_to_five_sorted_names(emulator, http):
    names = fetch(http, emulator, LIST).json()["events"]
    assert names == sorted(names)
    assert names == ["add_to_cart", "app_open", "checkout_started", "purchase", "signup"]


# --- faults ---------------------------------------------------------------------------------------


def test_fault_status_body_and_headers_replace_the_answer_even_without_a_key(emulator, http):
    emulator.enqueue(Fault(503, headers={"retry-after": "2", "X-Custom": "yes"}))
    emulator.enqueue(Fault(500, body="boom"), Fault(202, body={"message": "queued"}))

    unauthenticated = requests.get(emulator.url + SERIES, params=BASE_PARAMS, timeout=5)
    assert unauthenticated.status_code == 503
    assert unauthenticated.json() == {"message": "Service Unavailable", "errors": ["Service Unavailable"]}
    assert {"retry-after", "X-Custom"} <= set(unauthenticated.raw.headers.keys())
    text = fetch(http, emulator, **BASE_PARAMS)
    assert (text.status_code, text.text, text.headers["Content-Type"]) == (
        500,
        "boom",
        "text/plain; charset=utf-8",
    )
    assert fetch(http, emulator, **BASE_PARAMS).json() == {"message": "queued"}
    assert fetch(http, emulator, **BASE_PARAMS).status_code == 200
    assert [r.status for r in emulator.requests] == [503, 500, 202, 200]


def test_faults_are_consumed_in_order_and_times(emulator, http):
    emulator.enqueue(Fault(500), Fault(502), times=2)
    statuses = [fetch(http, emulator, **BASE_PARAMS).status_code for _ in range(5)]
    assert statuses == [500, 500, 502, 502, 200]
    emulator.enqueue(Fault(500))
    emulator.clear_faults()
    assert fetch(http, emulator, **BASE_PARAMS).status_code == 200


def test_fault_with_a_path_waits_for_that_path(emulator, http):
    emulator.enqueue(Fault(500, path=LIST), Fault(502))
    assert fetch(http, emulator, **BASE_PARAMS).status_code == 200  # head of queue does not match
    assert fetch(http, emulator, LIST).status_code == 500
    assert fetch(http, emulator, LIST).status_code == 502


def test_fault_delay_provokes_a_read_timeout(emulator, http):
    emulator.enqueue(Fault(delay=0.4))
    with pytest.raises(requests.exceptions.ReadTimeout):
        http.get(emulator.url + SERIES, params=BASE_PARAMS, timeout=0.1)
    assert fetch(http, emulator, **BASE_PARAMS).status_code == 200


def _expected(
    emulator: EventsEmulator, length: int = 5, ending_at: str = BASE_PARAMS["ending_at"]
) -> list[Any]:
    return emulator.series("purchase", length, "day", ending_at)


MANGLE_CHECKS: dict[str, Callable[[EventsEmulator, requests.Response], bool]] = {
    "short": lambda emu, r: r.json()["data"] == _expected(emu)[1:],
    "long": lambda emu, r: r.json()["data"] == _expected(emu, 6, "2014-12-11T23:59:59-07:00"),
    "no_count": lambda emu, r: [("count" in p) for p in r.json()["data"]].count(False) == 1,
    "no_data": lambda emu, r: r.json() == {"message": "success"},
    "not_json": lambda emu, r: (r.text, r.headers["Content-Type"]) == ("<html>oops</html>", "text/html"),
}


@pytest.mark.parametrize("mangle", sorted(MANGLE_CHECKS))
def test_mangles_alter_the_normal_200(emulator, http, mangle):
    emulator.enqueue(Fault(mangle=mangle, headers={"x-extra": "1"}))
    response = fetch(http, emulator, **BASE_PARAMS)

    assert response.status_code == 200
    assert MANGLE_CHECKS[mangle](emulator, response)
    assert response.headers["x-extra"] == "1"
    assert response.headers["X-RateLimit-Limit"] == "250000"
    assert fetch(http, emulator, **BASE_PARAMS).json()["data"] == _expected(emulator)


def test_mangle_leaves_an_error_answer_alone(emulator, http):
    emulator.enqueue(Fault(mangle="no_data"))
    response = fetch(http, emulator, **{**BASE_PARAMS, "length": "0"})
    assert response.status_code == 400
    assert "length" in response.json()["message"]


def test_disconnect_sends_half_the_body_then_closes(emulator, http):
    emulator.enqueue(Fault(mangle="disconnect"))
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)):
        fetch(http, emulator, **BASE_PARAMS)
    assert emulator.requests[-1].status == 0
    assert fetch(http, emulator, **BASE_PARAMS).status_code == 200


# --- the control endpoint -------------------------------------------------------------------------


def test_events_posted_to_the_control_endpoint_count_like_record(emulator, http):
    at = "2014-12-10T19:30:00-07:00"
    before = fetch(http, emulator, **BASE_PARAMS).json()["data"][-1]["count"]

    answer = control(emulator, {"event": "purchase", "count": 40, "at": at})
    control(emulator, {"event": "purchase", "count": 2, "at": at, "app_id": "other-app"})

    assert answer.status_code == 200
    assert answer.json() == {"message": "recorded", "event": "purchase", "count": 40, "at": at}
    assert fetch(http, emulator, **BASE_PARAMS).json()["data"][-1]["count"] == before + 40
    assert emulator.request_count("/_emulator/events") == 0  # control is not API traffic: no log, no budget


def test_a_control_post_without_at_counts_now(emulator):
    now = datetime.now(timezone.utc)
    before = emulator.count("signup", now, "hour") + emulator.count(
        "signup", now + timedelta(hours=1), "hour"
    )
    assert control(emulator, {"event": "signup", "count": 3}).status_code == 200
    after = emulator.count("signup", now, "hour") + emulator.count("signup", now + timedelta(hours=1), "hour")
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
def test_a_bad_control_body_is_400_naming_the_field_and_records_nothing(emulator, body, named):
    answer = control(emulator, body)
    assert answer.status_code == 400
    assert named in answer.json()["message"]
    assert emulator._recorded == {}


def test_control_needs_the_key_and_post(emulator):
    assert control(emulator, {"event": "purchase"}, key="wrong").status_code == 401
    assert control(emulator, None, method="GET").status_code == 405
    assert emulator._recorded == {}


# --- rate limit, latency, log ---------------------------------------------------------------------


def test_rate_limit_answers_429_with_headers_once_spent(http):
    with EventsEmulator(API_KEY, rate_limit=3, rate_window=3600) as emu:
        before = time.time()  # the emulator reads the clock later: its whole seconds can only be fewer
        responses = [fetch(http, emu, **BASE_PARAMS) for _ in range(4)]
        after = time.time()  # ... and earlier than this
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
    assert reset % 3600 == 0 and before < reset <= after + 3600  # the end of the hour they came in
    assert 1 <= int(limited.headers["Retry-After"]) <= reset - before + 1  # whole seconds to the reset
    assert log == [200, 200, 200, 429]
    assert after_reset.status_code == 200


def test_latency_is_added_to_every_answer(emulator, http):
    emulator.latency = 0.2
    started = time.perf_counter()
    assert fetch(http, emulator, LIST).status_code == 200
    assert time.perf_counter() - started >= 0.2


def test_request_log_records_what_arrived(emulator, http):
    fetch(http, emulator, **BASE_PARAMS)
    fetch(http, emulator, LIST, page=1)

    first, second = emulator.requests
    assert (first.method, first.path, first.params, first.status) == ("GET", SERIES, BASE_PARAMS, 200)
    assert first.headers["Authorization"] == f"Bearer {API_KEY}"
    assert (second.path, second.params) == (LIST, {"page": "1"})
    assert first.at <= second.at <= time.time()
    assert (emulator.request_count(), emulator.request_count(SERIES), emulator.request_count(LIST)) == (
        2,
        1,
        1,
    )
