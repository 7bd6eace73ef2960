"""EventCountTrigger against the emulator over real HTTP: firing, failing once, serialising."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any

import pytest

from airflow_provider_events._waiting import total_count
from airflow_provider_events.emulator import EventsEmulator, Fault
from airflow_provider_events.exceptions import (
    EventsAnalyticsAuthError,
    EventsAnalyticsError,
    EventsAnalyticsRateLimitError,
    EventsAnalyticsRequestError,
    EventsAnalyticsServerError,
)
from airflow_provider_events.triggers.events import (
    EventCountTrigger,
    error_event,
    error_from_event,
)

SERIES = "/events/data_series"
ENDING_AT = "2024-03-10T15:30:00+00:00"
INSIDE_WINDOW = datetime(2024, 3, 10, 14, 45, tzinfo=timezone.utc)
FAST_HOOK = {"retry_limit": 2, "retry_delay": 0.001, "timeout": 5}


def window_total(emulator: EventsEmulator, event: str = "purchase") -> int:
    return sum(point["count"] for point in emulator.series(event, 3, "hour", ENDING_AT))


def make_trigger(events_conn: str, threshold: int, **overrides: Any) -> EventCountTrigger:
    kwargs: dict[str, Any] = {
        "event": "purchase",
        "threshold": threshold,
        "length": 3,
        "unit": "hour",
        "ending_at": ENDING_AT,
        "events_conn_id": events_conn,
        "hook_params": FAST_HOOK,
        "poke_interval": 0.05,
    }
    return EventCountTrigger(**(kwargs | overrides))


async def collect(trigger: EventCountTrigger, limit: float = 20) -> list[dict[str, Any]]:
    """Every event the trigger yields before its generator ends (a loop would hit the time limit)."""

    async def run() -> list[dict[str, Any]]:
        return [event.payload async for event in trigger.run()]

    return await asyncio.wait_for(run(), limit)


def test_fires_at_once_when_the_threshold_is_already_met(emulator: EventsEmulator, events_conn: str) -> None:
    total = window_total(emulator)
    events = asyncio.run(collect(make_trigger(events_conn, threshold=total)))
    assert events == [{"status": "success", "total": total}]
    assert emulator.request_count(SERIES) == 1


def test_polls_until_recorded_events_cross_the_threshold(emulator: EventsEmulator, events_conn: str) -> None:
    total = window_total(emulator)
    trigger = make_trigger(events_conn, threshold=total + 4)

    async def scenario() -> dict[str, Any]:
        first = asyncio.ensure_future(anext(trigger.run()))
        while emulator.request_count(SERIES) < 3 and not first.done():
            await asyncio.sleep(0.01)
        assert not first.done(), "fired below the threshold"
        emulator.record("purchase", 4, at=INSIDE_WINDOW)
        event = await asyncio.wait_for(first, 5)
        return event.payload

    assert asyncio.run(scenario()) == {"status": "success", "total": total + 4}


def test_a_rejected_key_ends_with_one_error_event_after_one_request(
    emulator: EventsEmulator, events_conn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = emulator.connection_json().replace(emulator.api_key, "sk-wrong-key-000000")
    monkeypatch.setenv("AIRFLOW_CONN_EVENTS_ANALYTICS_DEFAULT", bad)
    events = asyncio.run(collect(make_trigger(events_conn, threshold=1)))
    assert len(events) == 1
    assert events[0]["status"] == "error"
    assert events[0]["error_class"] == "EventsAnalyticsAuthError"
    assert events[0]["status_code"] == 401
    assert "sk-wrong-key" not in events[0]["message"]
    assert emulator.request_count(SERIES) == 1


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, "EventsAnalyticsRequestError"),
        (403, "EventsAnalyticsAuthError"),
        (404, "EventsAnalyticsRequestError"),
    ],
)
def test_a_request_error_ends_at_once(
    emulator: EventsEmulator, events_conn: str, status: int, error_class: str
) -> None:
    emulator.enqueue(Fault(status), times=10)
    events = asyncio.run(collect(make_trigger(events_conn, threshold=1)))
    assert [(event["status"], event["error_class"], event["status_code"]) for event in events] == [
        ("error", error_class, status)
    ]
    assert emulator.request_count(SERIES) == 1


def test_a_503_storm_ends_with_one_error_event_once_retries_are_spent(
    emulator: EventsEmulator, events_conn: str
) -> None:
    emulator.enqueue(Fault(503), times=50)
    events = asyncio.run(collect(make_trigger(events_conn, threshold=1)))
    assert len(events) == 1
    assert events[0]["error_class"] == "EventsAnalyticsServerError"
    assert events[0]["status_code"] == 503
    assert emulator.request_count(SERIES) == FAST_HOOK["retry_limit"] + 1


def test_a_malformed_page_is_an_error_not_a_low_count(emulator: EventsEmulator, events_conn: str) -> None:
    emulator.enqueue(Fault(200, mangle="short"), times=50)
    events = asyncio.run(collect(make_trigger(events_conn, threshold=0)))
    assert [(event["status"], event["error_class"]) for event in events] == [
        ("error", "EventsAnalyticsError")
    ]
    assert emulator.request_count(SERIES) == FAST_HOOK["retry_limit"] + 1


def test_transient_503s_are_retried_inside_one_poll(emulator: EventsEmulator, events_conn: str) -> None:
    total = window_total(emulator)
    emulator.enqueue(Fault(503), times=2)
    events = asyncio.run(collect(make_trigger(events_conn, threshold=total)))
    assert events == [{"status": "success", "total": total}]
    assert emulator.request_count(SERIES) == 3


def test_serialize_round_trips_without_the_key(emulator: EventsEmulator, events_conn: str) -> None:
    trigger = make_trigger(
        events_conn,
        threshold=250,
        ending_at=datetime(2024, 3, 10, 15, 30),  # naive: UTC
        app_id="app-1",
        segment_id="seg-9",
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_events.triggers.events.EventCountTrigger"
    assert kwargs["ending_at"] == ENDING_AT
    assert kwargs["events_conn_id"] == events_conn
    assert emulator.api_key not in repr(kwargs)
    rebuilt = EventCountTrigger(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)


def test_serialize_keeps_a_moving_window_moving(events_conn: str) -> None:
    _, kwargs = make_trigger(events_conn, threshold=1, ending_at=None).serialize()
    assert kwargs["ending_at"] is None


def test_a_bad_ending_at_is_refused_when_the_trigger_is_built(events_conn: str) -> None:
    with pytest.raises(ValueError, match="ending_at"):
        make_trigger(events_conn, threshold=1, ending_at="yesterday")


@pytest.mark.parametrize(
    "error",
    [
        EventsAnalyticsAuthError("GET /x answered HTTP 401: nope", status_code=401),
        EventsAnalyticsRequestError("GET /x answered HTTP 400: bad", status_code=400),
        EventsAnalyticsRateLimitError("GET /x answered HTTP 429: slow down", status_code=429),
        EventsAnalyticsServerError("GET /x got no answer", status_code=None),
        EventsAnalyticsError("GET /x returned 2 points, expected 3"),
    ],
)
def test_an_error_event_rebuilds_the_same_error(error: EventsAnalyticsError) -> None:
    rebuilt = error_from_event(error_event(error))
    assert type(rebuilt) is type(error)
    assert str(rebuilt) == str(error)
    assert rebuilt.status_code == error.status_code


def test_an_unknown_error_class_falls_back_to_the_base_class() -> None:
    rebuilt = error_from_event({"status": "error", "error_class": "KeyError", "message": "boom"})
    assert type(rebuilt) is EventsAnalyticsError
    assert str(rebuilt) == "boom"


def test_total_count_sums_the_counts() -> None:
    assert total_count([{"time": "a", "count": 3}, {"time": "b", "count": 4}]) == 7
    assert total_count([]) == 0
