"""What a live deployment's logs show: the sync hook's own name, trigger polls like sensor pokes,
and errors without an unrelated chained traceback."""

from __future__ import annotations

import asyncio
import traceback

import pytest

from airflow_provider_events.emulator import EventsEmulator, Fault
from airflow_provider_events.exceptions import EventsAnalyticsAuthError
from airflow_provider_events.triggers.events import EventCountTrigger

ENDING_AT = "2024-03-10T15:30:00+00:00"
SYNC_LOGGER = "[airflow.task.hooks.airflow_provider_events.hooks.events.EventsAnalyticsHook]"


def test_a_sync_export_logs_fetching_under_the_sync_hooks_name(hook, capfd) -> None:
    hook.get_series("purchase", length=3, unit="hour", ending_at=ENDING_AT)

    lines = [line for line in capfd.readouterr().out.splitlines() if "Fetching" in line]
    assert len(lines) == 1
    assert SYNC_LOGGER in lines[0] and "AsyncHook" not in lines[0]


def test_a_sync_401_has_no_chained_runtime_error(hook, emulator: EventsEmulator) -> None:
    emulator.enqueue(Fault(401))
    with pytest.raises(EventsAnalyticsAuthError) as caught:
        hook.get_series("purchase", length=3, unit="hour", ending_at=ENDING_AT)

    text = "".join(traceback.format_exception(caught.value))
    assert "401" in text
    assert "RuntimeError" not in text and "During handling" not in text
    assert caught.value.__context__ is None and caught.value.__cause__ is None


def test_trigger_polls_say_the_windows_end_and_not_yet_like_the_sensor(
    emulator: EventsEmulator, events_conn: str, capfd
) -> None:
    total = sum(point["count"] for point in emulator.series("purchase", 3, "hour", ENDING_AT))
    trigger = EventCountTrigger(
        event="purchase",
        threshold=total + 1,
        length=3,
        unit="hour",
        ending_at=ENDING_AT,
        events_conn_id=events_conn,
        hook_params={"retry_limit": 0, "timeout": 5},
        poke_interval=0.05,
    )

    async def two_polls() -> None:
        poll = asyncio.ensure_future(anext(trigger.run()))
        while emulator.request_count("/events/data_series") < 2:
            await asyncio.sleep(0.01)
        poll.cancel()

    asyncio.run(two_polls())

    polls = [line for line in capfd.readouterr().out.splitlines() if "in the window of" in line]
    assert polls, "the trigger logged no poll"
    assert "ending with 2024-03-10T15:00:00+00:00" in polls[0]
    assert f"threshold {total + 1} - not yet" in polls[0]
