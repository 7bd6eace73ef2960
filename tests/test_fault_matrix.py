"""The fault matrix: every way the API or the network can fail, for the sync hook and the async path.

Each row names a fault, the error it ends in once retries are spent, and whether it is retried. It
runs through three entry points: the sync hook's series (``sync``), the async hook the trigger
uses (``async``), and the sync hook's ``list_events``, which goes over the HTTP provider's
``requests`` session (``list``; the rows about series points do not apply to it).
Every case asserts the exception class, the number of requests the emulator saw, and what the
hook slept (on a fake clock): never more than ``retry_limit x max_retry_wait`` in all, even when a
header asks for an hour's wait. A 429 that says the window is spent for longer than that fails at
once, saying when the window resets.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from airflow_provider_events.emulator import DEFAULT_EVENTS, EventsEmulator, Fault
from airflow_provider_events.exceptions import (
    EventsAnalyticsAuthError,
    EventsAnalyticsConfigError,
    EventsAnalyticsError,
    EventsAnalyticsRateLimitError,
    EventsAnalyticsRequestError,
    EventsAnalyticsServerError,
)
from airflow_provider_events.hooks.events import EventsAnalyticsAsyncHook, EventsAnalyticsHook
from tests.fake_clock import FakeClock

END = "2024-05-01T12:00:00+00:00"
RETRY_LIMIT = 2
MAX_WAIT = 1.0  # slept on a fake clock: no test waits for it
TIMEOUT = 0.3
HOUR_AHEAD = str(int(time.time()) + 3600)
HOUR_AHEAD_MS = str((int(time.time()) + 3600) * 1000)
SPENT = {"X-RateLimit-Limit": "1000", "X-RateLimit-Remaining": "0"}


@dataclass(frozen=True)
class Row:
    name: str
    fault: Fault
    error: type[EventsAnalyticsError]
    retried: bool
    headers: dict[str, str] = field(default_factory=dict)


ROWS = [
    Row("400 bad syntax", Fault(400, body={"message": "Bad Syntax"}), EventsAnalyticsRequestError, False),
    Row("401 unknown key", Fault(401), EventsAnalyticsAuthError, False),
    Row("403 forbidden", Fault(403), EventsAnalyticsAuthError, False),
    Row("404 unknown endpoint", Fault(404, body="Not Found"), EventsAnalyticsRequestError, False),
    Row(
        "429 spent for an hour",
        Fault(429, headers={**SPENT, "X-RateLimit-Reset": HOUR_AHEAD, "Retry-After": "3600"}),
        EventsAnalyticsRateLimitError,
        False,  # beyond retry_limit x max_retry_wait: fails at once, naming the reset
    ),
    Row(
        "429 spent for an hour, reset in milliseconds",
        Fault(429, headers={**SPENT, "X-RateLimit-Reset": HOUR_AHEAD_MS}),
        EventsAnalyticsRateLimitError,
        False,
    ),
    Row(
        "429 spent for an hour, lower case",
        Fault(429, headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": HOUR_AHEAD}),
        EventsAnalyticsRateLimitError,
        False,
    ),
    Row(
        "429 Retry-After an hour",
        Fault(429, headers={"Retry-After": "3600"}),
        EventsAnalyticsRateLimitError,
        False,
    ),
    Row(
        "429 spent for a second",  # a reset in seconds from now, as some APIs send it
        Fault(429, headers={**SPENT, "X-RateLimit-Reset": "1", "Retry-After": "1"}),
        EventsAnalyticsRateLimitError,
        True,
    ),
    Row("429 without headers", Fault(429), EventsAnalyticsRateLimitError, True),
    Row("500", Fault(500), EventsAnalyticsServerError, True),
    Row("502", Fault(502, body="<html>Bad Gateway</html>"), EventsAnalyticsServerError, True),
    Row("503", Fault(503), EventsAnalyticsServerError, True),
    Row("504", Fault(504), EventsAnalyticsServerError, True),
    Row("202 queued", Fault(202, body={"message": "queued"}), EventsAnalyticsError, True),
    Row("200 other message", Fault(200, body={"message": "partial", "data": []}), EventsAnalyticsError, True),
    Row("non-JSON body", Fault(mangle="not_json"), EventsAnalyticsError, True),
    Row("body without data", Fault(mangle="no_data"), EventsAnalyticsError, True),
    Row("point without count", Fault(mangle="no_count"), EventsAnalyticsError, True),
    Row("short page", Fault(mangle="short"), EventsAnalyticsError, True),
    Row("long page", Fault(mangle="long"), EventsAnalyticsError, True),
    Row("read timeout", Fault(delay=TIMEOUT * 3), EventsAnalyticsServerError, True),
    Row("closed mid-response", Fault(mangle="disconnect"), EventsAnalyticsServerError, True),
]
HOOK_ARGS: dict[str, Any] = {
    "retry_limit": RETRY_LIMIT,
    "retry_delay": 0.01,
    "max_retry_wait": MAX_WAIT,
    "timeout": TIMEOUT,
}
BEYOND_THE_BOUND = {row.name for row in ROWS if row.name.startswith("429") and not row.retried}


SERIES_ONLY = {"point without count", "short page", "long page"}


def fetch(transport: str, conn_id: str, length: int = 3, clock: FakeClock | None = None) -> list[Any]:
    clock = clock or FakeClock()
    if transport in ("list", "sync"):
        hook = EventsAnalyticsHook(conn_id, **HOOK_ARGS)
        hook.pipeline.clock = clock
        if transport == "list":
            return hook.list_events()
        return hook.get_series("purchase", length=length, ending_at=END)

    async def once() -> list[Any]:
        async with EventsAnalyticsAsyncHook(conn_id, **HOOK_ARGS) as hook:
            hook.pipeline.clock = clock
            return await hook.get_series("purchase", length=length, ending_at=END)

    return asyncio.run(once())


TRANSPORTS = pytest.mark.parametrize("transport", ["sync", "async", "list"])


def expected(transport: str, emulator: EventsEmulator) -> list[Any]:
    if transport == "list":
        return list(DEFAULT_EVENTS)
    return emulator.series("purchase", 3, "day", END)


CASES = pytest.mark.parametrize(
    ("row", "transport"),
    [
        pytest.param(row, transport, id=f"{row.name}-{transport}")
        for row in ROWS
        for transport in ("sync", "async", "list")
        if not (transport == "list" and row.name in SERIES_ONLY)  # /events/list has no points
    ],
)


@CASES
def test_a_persistent_fault_ends_in_its_error(row: Row, transport: str, emulator, events_conn) -> None:
    emulator.enqueue(row.fault, times=RETRY_LIMIT + 1)
    clock = FakeClock()

    with pytest.raises(row.error) as caught:
        fetch(transport, events_conn, clock=clock)

    assert type(caught.value) is row.error
    assert emulator.request_count() == (RETRY_LIMIT + 1 if row.retried else 1)
    assert clock.total <= RETRY_LIMIT * MAX_WAIT and all(0 < wait <= MAX_WAIT for wait in clock.slept)
    if row.name in BEYOND_THE_BOUND:  # not a second waited for a window that resets in an hour
        assert clock.slept == []
        # when the window resets, in UTC and how far away (the hour began when this module was imported)
        assert re.search(r"until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(in \d+ (min|h)", str(caught.value))
        assert caught.value.retry_after > RETRY_LIMIT * MAX_WAIT
        assert "retry_limit 2 x max_retry_wait 1 s" in str(caught.value)
    assert ("/events/list" if transport == "list" else "/events/data_series") in str(caught.value)
    if transport != "list":  # a series page's error names its event and window, whatever the fault
        assert f"[event 'purchase', 3 day(s) ending at {END}]" in str(caught.value)
    if row.name == "read timeout":
        assert f"got no answer within {TIMEOUT:g} s" in str(caught.value)
    assert caught.value.__context__ is None or caught.value.__suppress_context__


@CASES
def test_a_passing_fault_heals_if_it_is_retryable(row: Row, transport: str, emulator, events_conn) -> None:
    emulator.enqueue(row.fault)

    clock = FakeClock()
    if not row.retried:
        with pytest.raises(row.error):
            fetch(transport, events_conn, clock=clock)
        assert emulator.request_count() == 1
        assert clock.slept == []
        return
    assert fetch(transport, events_conn, clock=clock) == expected(transport, emulator)
    assert emulator.request_count() == 2
    assert clock.total <= MAX_WAIT


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@TRANSPORTS
def test_connection_refused_is_a_server_error_without_status(transport: str, monkeypatch) -> None:
    conn = {"conn_type": "events_analytics", "host": f"http://127.0.0.1:{_closed_port()}", "password": "k"}
    monkeypatch.setenv("AIRFLOW_CONN_REFUSED", json.dumps(conn))

    clock = FakeClock()
    with pytest.raises(EventsAnalyticsServerError, match="no answer") as caught:
        fetch(transport, "refused", clock=clock)

    assert caught.value.status_code is None
    assert len(clock.slept) == RETRY_LIMIT and clock.total <= RETRY_LIMIT * MAX_WAIT


@pytest.mark.parametrize("transport", ["sync", "async"])
def test_one_bad_page_among_many_fails_the_whole_series(transport: str, emulator, events_conn) -> None:
    emulator.enqueue(Fault(401, path="/events/data_series"))

    with pytest.raises(EventsAnalyticsAuthError):
        fetch(transport, events_conn, length=450)

    assert emulator.request_count() <= 5


def test_every_wait_is_capped_whatever_the_header_says() -> None:
    from airflow_provider_events._retry import RetryPolicy

    policy = RetryPolicy(retry_limit=5, retry_delay=10, max_wait=3)
    hour = EventsAnalyticsRateLimitError("429", status_code=429, retry_after=3600)
    assert policy.wait(hour, 1) == 3
    assert policy.wait(EventsAnalyticsServerError("503", status_code=503), 9) == 3


def test_the_emulator_cannot_be_reached_over_http_from_a_remote_looking_url(monkeypatch) -> None:
    conn = {"conn_type": "events_analytics", "host": "http://rest.example.com", "password": "sk-abc"}
    monkeypatch.setenv("AIRFLOW_CONN_PLAIN", json.dumps(conn))

    with pytest.raises(EventsAnalyticsConfigError, match="allow_insecure_http") as caught:
        EventsAnalyticsHook("plain").get_series("purchase", length=1)
    assert "sk-abc" not in str(caught.value)


def test_unused_emulator_is_untouched_by_bad_arguments(emulator: EventsEmulator, events_conn) -> None:
    with pytest.raises(EventsAnalyticsConfigError, match="length must be an integer >= 1, got 0"):
        asyncio.run(EventsAnalyticsAsyncHook(events_conn).get_series("purchase", length=0))
    assert emulator.request_count() == 0
