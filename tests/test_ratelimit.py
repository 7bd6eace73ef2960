"""Rate-limit awareness: the hook slows down before the budget is spent, so it meets no 429."""

from __future__ import annotations

import json

from airflow_provider_events._ratelimit import RateBudget
from airflow_provider_events.emulator import EventsEmulator
from airflow_provider_events.hooks.events import EventsAnalyticsHook
from tests.conftest import API_KEY

NOW = 1_000_000.0


def test_the_budget_holds_back_the_requests_in_flight_then_waits_for_the_reset() -> None:
    budget = RateBudget(reserve=2)
    assert budget.take(NOW) == 0  # nothing known yet: go

    budget.observe({"x-ratelimit-remaining": "4", "x-ratelimit-reset": str(NOW + 10)}, NOW)

    assert [budget.take(NOW) for _ in range(2)] == [0, 0]
    assert 10 <= budget.take(NOW) <= 10.1  # only the reserve is left: wait for the window
    assert budget.take(NOW + 10) == 0  # the window has reset: the next answer tells the new budget


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
