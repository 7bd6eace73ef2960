"""EventsAnalyticsHook against the emulator over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_events.emulator import DEFAULT_EVENTS, EventsEmulator, Fault
from airflow_provider_events.exceptions import (
    EventsAnalyticsAuthError,
    EventsAnalyticsRateLimitError,
    EventsAnalyticsRequestError,
    EventsAnalyticsServerError,
)
from airflow_provider_events.hooks.events import EventsAnalyticsHook
from tests.conftest import API_KEY
from tests.fake_clock import FakeClock

SERIES = "/events/data_series"
END = "2024-03-10T17:30:00+00:00"


def test_250_hours_are_three_pages_joined_into_the_emulators_series(hook, emulator: EventsEmulator) -> None:
    series = hook.get_series("purchase", length=250, unit="hour", ending_at=END)

    assert series == emulator.series("purchase", 250, "hour", END)
    assert emulator.request_count(SERIES) == 3
    assert sorted(int(r.params["length"]) for r in emulator.requests) == [50, 100, 100]


def test_365_days_ending_in_a_minus_7_offset_are_four_pages(hook, emulator: EventsEmulator) -> None:
    ending_at = "2023-12-31T22:00:00-07:00"  # already 2024-01-01 in UTC: days follow the given offset
    series = hook.get_series("signup", length=365, ending_at=ending_at)

    assert series == emulator.series("signup", 365, "day", ending_at)
    assert series[-1]["time"] == "2023-12-31"
    assert emulator.request_count(SERIES) == 4
    assert {r.params["ending_at"][-6:] for r in emulator.requests} == {"-07:00"}


def test_app_and_segment_go_on_every_page(hook, emulator: EventsEmulator) -> None:
    series = hook.get_series(
        "purchase", length=230, unit="hour", ending_at=END, app_id="app-1", segment_id="seg-9"
    )

    assert series == emulator.series("purchase", 230, "hour", END, app_id="app-1", segment_id="seg-9")
    assert series != emulator.series("purchase", 230, "hour", END)
    assert [(r.params["app_id"], r.params["segment_id"]) for r in emulator.requests] == [
        ("app-1", "seg-9")
    ] * 3


def test_requests_carry_the_bearer_key_and_a_user_agent_but_no_extras(emulator, monkeypatch) -> None:
    conn = {
        "conn_type": "events_analytics",
        "host": emulator.url,
        "password": API_KEY,
        "extra": {"x-debug": "1"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_WITH_EXTRA", json.dumps(conn))

    EventsAnalyticsHook("with_extra").get_series("purchase", length=2, ending_at=END)

    headers = {name.lower(): value for name, value in emulator.requests[0].headers.items()}
    assert headers["authorization"] == f"Bearer {API_KEY}"
    assert headers["user-agent"].startswith("airflow-provider-events/")
    assert "x-debug" not in headers


def test_pages_are_fetched_concurrently(emulator, events_conn) -> None:
    emulator.latency = 1.0
    hook = EventsAnalyticsHook(events_conn, max_concurrency=16)
    budget = hook.pipeline.budget
    sent_before_first_answer: list[int] = []
    observe = budget.observe

    def first_answer(*args: Any, **kwargs: Any) -> None:
        sent_before_first_answer.append(budget._sent)
        observe(*args, **kwargs)

    budget.observe = first_answer  # type: ignore[method-assign]
    hook.get_series("purchase", length=800, ending_at=END)

    assert len(emulator.requests) == 8
    # Counted, not timed: sequential requests would send one, then wait for its answer. Before
    # the first answer only half the slots go (the budget may be spent by other clients): all 8.
    assert sent_before_first_answer[0] >= 2


def test_401_fails_after_one_request_naming_the_status_and_not_the_key(emulator, monkeypatch) -> None:
    conn = {"conn_type": "events_analytics", "host": emulator.url, "password": "sk-wrong-key-123456"}
    monkeypatch.setenv("AIRFLOW_CONN_BAD_KEY", json.dumps(conn))

    with pytest.raises(EventsAnalyticsAuthError) as caught:
        EventsAnalyticsHook("bad_key", retry_delay=0.01).get_series("purchase", length=3, ending_at=END)

    assert emulator.request_count() == 1
    assert caught.value.status_code == 401
    assert "401" in str(caught.value) and SERIES in str(caught.value)
    assert "sk-wrong-key-123456" not in str(caught.value) and "sk-wrong-key-123456" not in repr(caught.value)


def test_500_then_502_then_success_returns_the_full_series(hook, emulator: EventsEmulator) -> None:
    emulator.enqueue(Fault(500), Fault(502))

    series = hook.get_series("purchase", length=24, unit="hour", ending_at=END)

    assert series == emulator.series("purchase", 24, "hour", END)
    assert [r.status for r in emulator.requests] == [500, 502, 200]


def test_429_with_retry_after_waits_about_a_second_then_succeeds(hook, emulator: EventsEmulator) -> None:
    emulator.enqueue(Fault(429, headers={"Retry-After": "1"}))
    hook.pipeline.clock = clock = FakeClock()

    series = hook.get_series("purchase", length=5, ending_at=END)

    assert series == emulator.series("purchase", 5, "day", END)
    assert [r.status for r in emulator.requests] == [429, 200]
    assert clock.slept == [1.0]  # what the API asked for, no more


def test_persistent_503_stops_after_retry_limit_retries(emulator, events_conn) -> None:
    emulator.enqueue(Fault(503), times=20)

    with pytest.raises(EventsAnalyticsServerError, match="503"):
        EventsAnalyticsHook(events_conn, retry_limit=3, retry_delay=0.01).get_series(
            "x", length=1, ending_at=END
        )

    assert emulator.request_count() == 4


def test_429_spent_retries_raise_the_rate_limit_error(emulator, events_conn) -> None:
    emulator.enqueue(Fault(429, headers={"retry-after": "0"}), times=5)

    with pytest.raises(EventsAnalyticsRateLimitError):
        EventsAnalyticsHook(events_conn, retry_limit=2, retry_delay=0.01).get_series(
            "x", length=1, ending_at=END
        )

    assert emulator.request_count() == 3


def test_400_is_not_retried(hook, emulator: EventsEmulator) -> None:
    emulator.enqueue(Fault(400, body={"message": "Bad Syntax", "errors": ["length is bad"]}))

    with pytest.raises(EventsAnalyticsRequestError, match="Bad Syntax - length is bad"):
        hook.get_series("purchase", length=5, ending_at=END)

    assert emulator.request_count() == 1


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"event": "", "length": 5}, "event"),
        ({"event": "purchase", "length": 0}, "length"),
        ({"event": "purchase", "length": 5, "unit": "week"}, "unit"),
        ({"event": "purchase", "length": 5, "ending_at": "last tuesday"}, "ending_at"),
        ({"event": "purchase", "length": 5, "app_id": ""}, "app_id"),
    ],
)
def test_bad_arguments_raise_before_any_request(hook, emulator, kwargs, word) -> None:
    event = kwargs.pop("event")
    with pytest.raises(ValueError, match=word):
        hook.get_series(event, **kwargs)
    assert emulator.request_count() == 0


def test_list_events_reads_every_page(monkeypatch) -> None:
    with EventsEmulator(api_key=API_KEY, events=600) as emulator:
        monkeypatch.setenv("AIRFLOW_CONN_EVENTS_ANALYTICS_DEFAULT", emulator.connection_json())
        names = EventsAnalyticsHook().list_events()

        assert names == [f"event_{i:04d}" for i in range(600)]
        assert [r.params.get("page", "0") for r in emulator.requests] == ["0", "1", "2"]


def test_list_events_stops_at_an_empty_last_page(monkeypatch) -> None:
    with EventsEmulator(api_key=API_KEY, events=500) as emulator:
        monkeypatch.setenv("AIRFLOW_CONN_EVENTS_ANALYTICS_DEFAULT", emulator.connection_json())
        assert len(EventsAnalyticsHook().list_events()) == 500
        assert emulator.request_count() == 3


def test_test_connection_reports_success_a_bad_key_and_a_dead_url(emulator, events_conn, monkeypatch) -> None:
    ok, message = EventsAnalyticsHook(events_conn).test_connection()
    assert ok, message

    bad = {"conn_type": "events_analytics", "host": emulator.url, "password": "nope-nope"}
    monkeypatch.setenv("AIRFLOW_CONN_BAD", json.dumps(bad))
    ok, message = EventsAnalyticsHook("bad").test_connection()
    assert not ok and "401" in message and "API key" in message and "nope-nope" not in message

    emulator.stop()
    ok, message = EventsAnalyticsHook(events_conn, timeout=2).test_connection()
    assert not ok and "no answer" in message


def test_the_key_is_registered_with_the_secret_masker(hook) -> None:
    from airflow.sdk._shared.secrets_masker import redact

    assert hook.target.api_key == API_KEY
    assert API_KEY not in repr(hook.target)
    assert API_KEY not in str(redact(f"key={API_KEY}"))


def test_the_environments_proxy_carries_list_and_series_requests(emulator, monkeypatch) -> None:
    # The emulator stands in for the proxy: it answers absolute-form requests for any host, so a
    # host that cannot resolve works only if both transports really go through HTTP_PROXY.
    conn = {
        "conn_type": "events_analytics",
        "host": "http://events.invalid:8080",
        "password": API_KEY,
        "extra": {"allow_insecure_http": True},
    }
    monkeypatch.setenv("AIRFLOW_CONN_PROXIED", json.dumps(conn))
    monkeypatch.setenv("HTTP_PROXY", emulator.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    hook = EventsAnalyticsHook("proxied", retry_limit=0, timeout=5)

    assert hook.list_events() == DEFAULT_EVENTS
    assert hook.get_series("purchase", length=150, ending_at=END) == emulator.series(
        "purchase", 150, "day", END
    )
    assert [r.path for r in emulator.requests] == ["/events/list", SERIES, SERIES]
