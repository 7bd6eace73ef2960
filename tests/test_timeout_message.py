"""A request that gets no answer in time says how long it waited, on every Python the package claims.

On Python 3.10 aiohttp's timeout is ``asyncio.TimeoutError``, which only 3.11 made the builtin
``TimeoutError``: ``make test-py310`` runs these where the difference exists.
"""

from __future__ import annotations

import asyncio

import pytest

from airflow_provider_events._protocol import SERIES_ENDPOINT, network_error
from airflow_provider_events.emulator import EventsEmulator, Fault
from airflow_provider_events.exceptions import EventsAnalyticsServerError
from airflow_provider_events.hooks.events import EventsAnalyticsAsyncHook, EventsAnalyticsHook

TIMEOUT = 0.2
HOOK = {"timeout": TIMEOUT, "retry_limit": 0}
END = "2024-01-31T00:00:00+00:00"


@pytest.mark.parametrize("error", [asyncio.TimeoutError(), TimeoutError()], ids=["asyncio", "builtin"])
def test_either_timeout_class_is_named_a_timeout(error: BaseException) -> None:
    message = str(network_error(SERIES_ENDPOINT, error, timeout=TIMEOUT))
    assert message.startswith(f"GET {SERIES_ENDPOINT} got no answer within {TIMEOUT:g} s (TimeoutError)")


@pytest.mark.parametrize("transport", ["sync", "async"])
def test_an_aiohttp_timeout_says_how_long_it_waited(
    transport: str, emulator: EventsEmulator, events_conn: str
) -> None:
    emulator.enqueue(Fault(delay=TIMEOUT * 10))  # answers long after the client gave up

    with pytest.raises(EventsAnalyticsServerError) as caught:
        if transport == "sync":
            EventsAnalyticsHook(events_conn, **HOOK).get_series("purchase", length=3, ending_at=END)
        else:

            async def fetch() -> None:
                async with EventsAnalyticsAsyncHook(events_conn, **HOOK) as hook:
                    await hook.get_series("purchase", length=3, ending_at=END)

            asyncio.run(fetch())

    assert f"got no answer within {TIMEOUT:g} s" in str(caught.value)
    assert "raise hook_params timeout" in str(caught.value)
    assert caught.value.status_code is None
    assert emulator.request_count() == 1
