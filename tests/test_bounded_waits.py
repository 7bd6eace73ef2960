"""Bounded waits and one budget per endpoint: what the request pipeline sleeps, on a fake clock."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from airflow_provider_events._budget import MAX_AHEAD, RateBudget, reset_time, retry_after_seconds
from airflow_provider_events._client import HookSettings, RequestPipeline
from airflow_provider_events.emulator import EventsEmulator
from airflow_provider_events.exceptions import EventsAnalyticsRateLimitError
from airflow_provider_events.hooks.events import EventsAnalyticsAsyncHook, EventsAnalyticsHook
from tests.conftest import API_KEY
from tests.fake_clock import FakeClock

NOW = 1_765_000_000.0  # an epoch second of December 2025
END = "2024-05-01T00:00:00+00:00"
SERIES = "/events/data_series"
LIST = "/events/list"


class Log:
    """A logger that keeps what was said."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def warning(self, message: str, *args: Any) -> None:
        self.lines.append(message % args)

    info = debug = warning


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (str(NOW + 3540), NOW + 3540),  # epoch seconds, as the API documents
        (str(int((NOW + 3540) * 1000)), NOW + 3540),  # epoch milliseconds: converted
        ("60", NOW + 60),  # seconds from now, as some APIs send it
        (str(NOW + 40 * 86_400), NOW + MAX_AHEAD),  # weeks ahead: capped at a day
        (str(NOW - 5), None),  # past: the window has reset already
        ("soon", None),
        ("nan", None),
        ("-3", None),
    ],
)
def test_a_reset_header_is_read_sensibly(value: str, expected: float | None) -> None:
    assert reset_time(value, NOW) == (pytest.approx(expected) if expected is not None else None)


def test_retry_after_is_capped_at_a_day_and_falls_back_on_a_millisecond_reset() -> None:
    assert retry_after_seconds({"Retry-After": "9999999"}, NOW) == MAX_AHEAD
    ms = str(int((NOW + 90) * 1000))
    assert retry_after_seconds({"X-RateLimit-Reset": ms}, NOW) == pytest.approx(90)


def pipeline(**settings: Any) -> tuple[RequestPipeline, FakeClock]:
    pipe = RequestPipeline(HookSettings(**{"retry_limit": 5, "max_retry_wait": 1.0, **settings}))
    pipe.clock = clock = FakeClock()
    return pipe, clock


def spend(budget: RateBudget, clock: FakeClock, seconds: float, remaining: int = 0) -> None:
    headers = {"X-RateLimit-Remaining": str(remaining), "X-RateLimit-Reset": str(clock.now() + seconds)}
    budget.observe(headers, clock.now(), status=200)


def test_a_window_spent_beyond_the_bound_fails_at_once_naming_the_reset() -> None:
    pipe, clock = pipeline()
    spend(pipe.budget, clock, 3540)
    waits = pipe.request(SERIES, Log())

    with pytest.raises(EventsAnalyticsRateLimitError) as caught:
        waits.before_send()

    message = str(caught.value)
    assert "UTC (in 59 min" in message and "rate-limit window is spent" in message
    assert "retry_limit 5 x max_retry_wait 1 s" in message
    assert caught.value.retry_after == pytest.approx(3540, abs=1)
    assert clock.slept == []


def test_a_window_that_resets_within_the_bound_is_waited_for_in_capped_slices() -> None:
    pipe, clock = pipeline()
    spend(pipe.budget, clock, 3.5)
    waits = pipe.request(SERIES, Log())

    while (delay := waits.before_send()) > 0:
        clock.sleep(delay)

    assert clock.slept == [1.0, 1.0, 1.0, pytest.approx(0.55)]  # 3.5 s and the margin past the reset
    assert waits.waited <= 5 * 1.0


def test_one_request_never_waits_more_than_retry_limit_x_max_wait_in_all() -> None:
    pipe, clock = pipeline(retry_limit=3, max_retry_wait=2.0)
    waits = pipe.request(SERIES, Log())
    total = 0.0
    with pytest.raises(EventsAnalyticsRateLimitError):
        for _ in range(100):  # 429 after 429, each asking for a little more than the last
            while (delay := waits.before_send()) > 0:
                clock.sleep(delay)
                total += delay
            error = EventsAnalyticsRateLimitError("429", status_code=429, retry_after=1.5)
            delay = waits.after_failure(error)
            clock.sleep(delay)
            total += delay
    assert total <= 3 * 2.0


def test_a_long_wait_is_logged_once_with_its_reason_however_many_requests_share_it() -> None:
    pipe, clock = pipeline(max_retry_wait=60.0)
    spend(pipe.budget, clock, 30)
    log = Log()

    for _ in range(3):
        assert pipe.request(SERIES, log).before_send() == pytest.approx(30.05)

    assert len(log.lines) == 1
    assert log.lines[0].startswith("GET /events/data_series waits 30")
    assert "s: the API's rate-limit window is spent, until " in log.lines[0]
    assert "UTC (in 30 s)" in log.lines[0]


def test_the_listings_headers_never_pace_the_series_nor_the_reverse() -> None:
    pipe, clock = pipeline()
    spend(pipe.budget_of(LIST), clock, 3540, remaining=0)

    assert pipe.request(SERIES, Log()).before_send() == 0  # the series' own budget is untouched
    with pytest.raises(EventsAnalyticsRateLimitError, match="GET /events/list not sent"):
        pipe.request(LIST, Log()).before_send()
    assert pipe.budget_of(LIST) is not pipe.budget


@pytest.mark.parametrize("transport", ["sync", "async"])
def test_thirty_pages_after_a_nearly_spent_listing_do_not_crawl(transport: str, monkeypatch) -> None:
    with EventsEmulator(api_key=API_KEY, rate_limits={LIST: 2}) as emulator:
        monkeypatch.setenv("AIRFLOW_CONN_PER_ENDPOINT", emulator.connection_json())
        clock = FakeClock()

        def sync() -> list[Any]:
            hook = EventsAnalyticsHook("per_endpoint", max_concurrency=4)
            hook.pipeline.clock = clock
            assert hook.list_events()  # 1 of 2 left in the listing's window
            return hook.get_series("purchase", length=3000, ending_at=END)

        async def run_async() -> list[Any]:
            async with EventsAnalyticsAsyncHook("per_endpoint", max_concurrency=4) as hook:
                hook.pipeline.clock = clock
                hook.pipeline.budget_of(LIST).observe(
                    {"X-RateLimit-Remaining": "1", "X-RateLimit-Reset": str(time.time() + 3540)}
                )
                return await hook.get_series("purchase", length=3000, ending_at=END)

        series = sync() if transport == "sync" else asyncio.run(run_async())

        assert series == emulator.series("purchase", 3000, "day", END)
        assert emulator.request_count(SERIES) == 30
        assert [r.status for r in emulator.requests].count(429) == 0
        # only the short polls for the series' first answer; no pacing towards the listing's reset
        assert all(wait < 0.1 for wait in clock.slept)


def test_the_emulator_limits_a_path_apart_from_the_others(monkeypatch) -> None:
    with EventsEmulator(api_key=API_KEY, rate_limits={LIST: 1}) as emulator:
        monkeypatch.setenv("AIRFLOW_CONN_PER_PATH", emulator.connection_json())
        hook = EventsAnalyticsHook("per_path", retry_limit=0)
        hook.list_events()
        with pytest.raises(EventsAnalyticsRateLimitError):
            hook.list_events()
        assert hook.get_series("purchase", length=2, ending_at=END)
        assert [(r.path, r.status) for r in emulator.requests] == [(LIST, 200), (SERIES, 200)]


def test_a_window_spent_for_good_fails_at_the_first_429(monkeypatch) -> None:
    # a day's window: the reset is hours away, unless the test runs in the last seconds of a UTC day
    with EventsEmulator(api_key=API_KEY, rate_limit=0, rate_window=86_400) as emulator:
        monkeypatch.setenv("AIRFLOW_CONN_SPENT", emulator.connection_json())
        hook = EventsAnalyticsHook("spent", max_retry_wait=1.0)
        hook.pipeline.clock = clock = FakeClock()

        with pytest.raises(EventsAnalyticsRateLimitError) as caught:
            hook.get_series("purchase", length=2, ending_at=END)

        assert emulator.request_count() == 1
        assert "answered HTTP 429" in str(caught.value) and " UTC (in " in str(caught.value)
        assert clock.slept == []
        assert json.loads(emulator.connection_json())["password"] not in str(caught.value)
