"""Rate-limit awareness: the hook slows down before the budget is spent, so it meets no 429."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from airflow_provider_events._budget import AdaptiveRate, RateBudget
from airflow_provider_events.emulator import EventsEmulator
from airflow_provider_events.hooks.events import EventsAnalyticsHook
from tests.conftest import API_KEY

NOW = 1_000_000.0


def test_the_budget_holds_back_the_requests_in_flight_then_waits_for_the_reset() -> None:
    budget = RateBudget(reserve=2)
    assert budget.take(NOW) == 0  # nothing known yet: go

    budget.observe({"x-ratelimit-remaining": "20", "x-ratelimit-reset": str(NOW + 10)}, NOW)

    assert [budget.take(NOW) for _ in range(12)] == [0] * 12  # budget to spare: no waiting
    assert not budget.pacing
    budget.observe({"x-ratelimit-remaining": "2", "x-ratelimit-reset": str(NOW + 10)}, NOW)
    assert 10 <= budget.take(NOW) <= 10.1  # only the reserve is left: wait for the window
    assert budget.take(NOW + 10) == 0  # the window has reset: the next answer tells the new budget


def test_a_nearly_spent_window_is_spread_over_the_time_left() -> None:
    budget = RateBudget(reserve=2)
    budget.observe({"x-ratelimit-remaining": "6", "x-ratelimit-reset": str(NOW + 8)}, NOW)  # <= 4 x 2

    assert budget.take(NOW) == 0
    assert budget.take(NOW) == pytest.approx(2.0)  # 8 s left for the 6 - 2 usable: one every 2 s
    assert budget.take(NOW + 2) == 0
    assert budget.pacing

    # A new window: one request goes to find out what it holds, the others poll for its answer.
    assert budget.take(NOW + 8) == 0
    assert budget.take(NOW + 8) == pytest.approx(0.01)
    budget.observe({"x-ratelimit-remaining": "99", "x-ratelimit-reset": str(NOW + 18)}, NOW + 8.1)
    assert budget.take(NOW + 8.1) == 0
    assert budget.take(NOW + 8.1) == pytest.approx(9.9 / 97)  # 9.9 s left for 99 - 2


def test_before_the_first_answer_only_half_the_slots_go() -> None:
    budget = RateBudget(reserve=16)
    assert [budget.take(NOW) for _ in range(8)] == [0] * 8
    assert budget.take(NOW) > 0  # the budget may be spent by others: wait for an answer
    budget.observe({}, NOW, status=200)  # any answer will do, even one without rate headers
    assert budget.take(NOW) == 0


def test_a_429_cuts_the_rate_once_per_round_and_cubic_grows_it_back() -> None:
    rate = AdaptiveRate()
    for tick in range(80):  # 80 requests a second, unthrottled
        assert rate.delay(NOW + tick / 80) == 0
        rate.take(NOW + tick / 80)
    now = NOW + 1
    rate.answer(True, now)
    assert rate.rate == pytest.approx(0.7 * rate.peak)
    assert 70 < rate.peak < 90
    cut = rate.rate
    rate.answer(True, now)  # a request sent before the cut: the cut already answered it
    assert rate.rate == cut
    assert rate.delay(now) > 0  # the bucket now spaces requests

    back = now + rate._k()
    while now < back:  # keep sending as fast as the bucket allows, with answers coming back
        now += max(rate.delay(now), 0.001)
        if rate.delay(now) == 0:
            rate.take(now)
            rate.answer(False, now)
    assert rate.peak * 0.95 < rate.rate <= rate.peak * 1.01  # K seconds on, back at the peak
    rate.answer(True, now)
    assert rate.rate == pytest.approx(0.7 * min(rate.peak / 0.7, rate.measured), rel=0.3)


def test_many_clients_on_one_small_budget_get_exact_series(monkeypatch) -> None:
    with EventsEmulator(api_key=API_KEY, rate_limit=30, rate_window=1) as emulator:
        conn = {"conn_type": "events_analytics", "host": emulator.url, "password": API_KEY}
        monkeypatch.setenv("AIRFLOW_CONN_SHARED_BUDGET", json.dumps(conn))
        end = "2024-02-01T00:00:00+00:00"
        hooks = [EventsAnalyticsHook("shared_budget", max_concurrency=4) for _ in range(3)]

        with ThreadPoolExecutor(3) as pool:
            series = list(
                pool.map(
                    lambda hook: hook.get_series("purchase", length=1500, unit="hour", ending_at=end), hooks
                )
            )

        assert series == [emulator.series("purchase", 1500, "hour", end)] * 3
        # 45 requests on a budget of 30 a window: some client must have found a window nearly spent.
        # Not every one: on a loaded machine a starved client may send all its requests into a fresh
        # window that the others have left alone, and then has no reason to pace.
        assert any(hook.pipeline.budget.pacing for hook in hooks)


def test_a_later_answer_of_the_same_window_can_only_lower_the_estimate() -> None:
    budget = RateBudget(reserve=0)
    budget.observe({"X-RateLimit-Remaining": "5", "X-RateLimit-Reset": str(NOW + 5)}, NOW)
    budget.observe({"X-RateLimit-Remaining": "9", "X-RateLimit-Reset": str(NOW + 5)}, NOW)  # late, stale
    assert [budget.take(NOW) for _ in range(5)] == [0] * 5
    assert budget.take(NOW) > 0


def test_waits_are_capped_and_junk_headers_are_ignored() -> None:
    budget = RateBudget(reserve=0, max_wait=3)
    budget.observe({"X-RateLimit-Remaining": "soon", "X-RateLimit-Reset": "later"}, NOW)
    assert budget.take(NOW) == 0
    budget.observe({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(NOW + 3600)}, NOW)
    assert budget.take(NOW) == 3


def test_a_long_series_against_a_small_budget_meets_no_429(monkeypatch) -> None:
    with EventsEmulator(api_key=API_KEY, rate_limit=12, rate_window=1) as emulator:
        conn = {"conn_type": "events_analytics", "host": emulator.url, "password": API_KEY}
        monkeypatch.setenv("AIRFLOW_CONN_SMALL_BUDGET", json.dumps(conn))
        end = "2024-02-01T00:00:00+00:00"

        series = EventsAnalyticsHook("small_budget", max_concurrency=4).get_series(
            "purchase", length=2000, unit="hour", ending_at=end
        )

        assert series == emulator.series("purchase", 2000, "hour", end)
        statuses = [request.status for request in emulator.requests]
        assert statuses.count(429) == 0
        assert len(statuses) == 20  # 20 pages in at least two windows of 12
