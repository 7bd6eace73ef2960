"""Rate-limit awareness: the hook slows down before the budget is spent, so it meets no 429."""

from __future__ import annotations

import heapq
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from airflow_provider_events._budget import PACE_BELOW, AdaptiveRate, RateBudget
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
        apps = [f"client-{n}" for n in range(3)]  # tells each client's requests apart on the server

        def fetch(app: str) -> list[dict]:
            hook = EventsAnalyticsHook("shared_budget", max_concurrency=4)
            return hook.get_series("purchase", length=1500, unit="hour", ending_at=end, app_id=app)

        with ThreadPoolExecutor(3) as pool:
            series = list(pool.map(fetch, apps))

        for app, points in zip(apps, series, strict=True):
            assert points == emulator.series("purchase", 1500, "hour", end, app_id=app)
            answered = [r.status for r in emulator.requests if r.params["app_id"] == app and r.status == 200]
            assert len(answered) == 15  # each of its pages answered once: none lost, none fetched twice


def test_clients_sharing_a_budget_each_pace_once_they_see_it_nearly_spent() -> None:
    # The same race as above, with a fake clock and the clients taking turns in a fixed order, so
    # that what each one sees, and so what it must do, is the same on every run.
    clients = [SharedWindowClient(pages=15) for _ in range(3)]
    server = SharedWindow(limit=30, window=1.0)

    run_clients(clients, server, latency=0.05)

    for client in clients:
        assert client.answered == 15
        seen_low = [remaining for remaining in client.remaining_seen if remaining <= PACE_BELOW * 4]
        assert seen_low  # 45 requests on a window of 30: every client sees it nearly spent
        assert client.budget.pacing
    assert server.throttled == 0


class SharedWindow:
    """The API's rate limit: ``limit`` requests per aligned ``window`` seconds, shared by every client."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self.index, self.used, self.throttled = -1, 0, 0

    def answer(self, now: float) -> tuple[int, dict[str, str]]:
        index = int(now // self.window)
        if index != self.index:
            self.index, self.used = index, 0
        self.used += 1
        status = 200 if self.used <= self.limit else 429
        self.throttled += status == 429
        remaining = max(0, self.limit - self.used)
        reset = (index + 1) * self.window
        return status, {"X-RateLimit-Remaining": str(remaining), "X-RateLimit-Reset": str(reset)}


class SharedWindowClient:
    """One hook's budget and its pages: at most ``reserve`` in flight, a 429 sends the page again."""

    def __init__(self, pages: int, reserve: int = 4) -> None:
        self.budget = RateBudget(reserve=reserve)
        self.reserve, self.waiting, self.in_flight, self.answered = reserve, pages, 0, 0
        self.remaining_seen: list[int] = []


def run_clients(clients: list[SharedWindowClient], server: SharedWindow, latency: float) -> None:
    """Play the clients against the server on a fake clock until every page is answered."""
    events: list[tuple[float, int, str, int, Any]] = [(NOW, n, "try", n, None) for n in range(len(clients))]
    order = len(clients)
    while events:
        now, _, kind, n, answer = heapq.heappop(events)
        client = clients[n]
        if kind == "answer":
            status, headers = answer
            client.in_flight -= 1
            client.budget.observe(headers, now, status=status)
            client.remaining_seen.append(int(headers["X-RateLimit-Remaining"]))
            if status == 200:
                client.answered += 1
            else:
                client.waiting += 1
        while client.waiting and client.in_flight < client.reserve:
            wait = client.budget.take(now)
            if wait > 0:
                order += 1
                heapq.heappush(events, (now + wait, order, "try", n, None))
                break
            client.waiting -= 1
            client.in_flight += 1
            order += 1
            heapq.heappush(events, (now + latency, order, "answer", n, server.answer(now + latency / 2)))


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
