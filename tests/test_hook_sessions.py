"""The sync hook keeps one session for its life, and hands every series to the caller's thread."""

from __future__ import annotations

import asyncio
import threading

import pytest

from airflow_provider_events.emulator import EventsEmulator
from airflow_provider_events.hooks.events import EventsAnalyticsHook
from airflow_provider_events.sensors.events import EventCountSensor

END = "2024-01-01T23:00:00+00:00"


def test_calls_reuse_one_connection_until_the_hook_is_closed(hook, emulator: EventsEmulator) -> None:
    for _ in range(3):
        hook.get_series("purchase", length=2, unit="hour", ending_at=END)
    assert emulator.request_count() == 3
    assert emulator.connections_opened == 1

    hook.close()
    hook.get_series("purchase", length=2, unit="hour", ending_at=END)
    assert emulator.connections_opened == 2


def test_a_sensors_pokes_reuse_one_connection(emulator: EventsEmulator, events_conn: str) -> None:
    sensor = EventCountSensor(
        task_id="wait", event="purchase", threshold=10**9, ending_at=END, events_conn_id=events_conn
    )
    results = [sensor.poke({}) for _ in range(3)]  # type: ignore[arg-type]
    assert [result.is_done for result in results] == [False, False, False]
    assert emulator.request_count() == 3
    assert emulator.connections_opened == 1


def test_each_series_reaches_the_callers_thread_outside_any_event_loop(hook) -> None:
    # Object-storage clients (s3fs) run event loops of their own and lose their credentials when
    # called from a thread that runs one: the export writes where the series arrive.
    from airflow_provider_events._request import SeriesRequest

    seen: list[tuple[int, bool]] = []
    request = SeriesRequest.build(["purchase", "signup"], length=250, unit="hour", ending_at=END)
    for _event, _series in hook.iter_series([request]):
        try:
            asyncio.get_running_loop()
            in_loop = True
        except RuntimeError:
            in_loop = False
        seen.append((threading.get_ident(), in_loop))
    assert seen == [(threading.get_ident(), False)] * 2


def test_stopping_early_cancels_the_pages_still_on_their_way(emulator: EventsEmulator, events_conn) -> None:
    from airflow_provider_events._request import SeriesRequest

    hook = EventsAnalyticsHook(events_conn, max_concurrency=2)
    request = SeriesRequest.build([f"e{i}" for i in range(40)], length=1, ending_at=END)
    with hook:
        for _ in hook.iter_series([request]):
            break
        purchases = hook.get_series("purchase", length=1, ending_at=END)  # the hook works after a break
    assert purchases == emulator.series("purchase", 1, "day", END)
    # A page cancelled on its way may still reach the server, but no page past the look-ahead was
    # started: two in flight and 4 x 2 pages ahead; the other ~30 events were never asked for.
    asked = [request.params["event"] for request in emulator.requests]
    assert asked.count("purchase") == 1
    assert len(asked) - 1 <= 2 + 4 * 2


def test_a_closed_hook_leaves_no_thread_behind(hook) -> None:
    before = set(threading.enumerate())
    hook.get_series("purchase", length=1, ending_at=END)
    (loop_thread,) = [
        thread for thread in set(threading.enumerate()) - before if thread.name == "events-analytics-loop"
    ]
    hook.close()
    assert not loop_thread.is_alive()


@pytest.mark.parametrize("calls", [0, 1])
def test_close_is_safe_whether_or_not_the_hook_was_used(hook, calls: int) -> None:
    for _ in range(calls):
        hook.list_events()
    hook.close()
    hook.close()
