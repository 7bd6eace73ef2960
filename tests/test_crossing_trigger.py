"""EventCountCrossingTrigger's run() against the emulator over real HTTP: one event per upward crossing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
from airflow import __version__ as AIRFLOW_VERSION
from packaging.version import Version

from airflow_provider_events._crossing import MAX_ERROR_BACKOFF, crossing_step, error_backoff
from airflow_provider_events.emulator import EventsEmulator, Fault
from airflow_provider_events.exceptions import EventsAnalyticsConfigError, EventsAnalyticsRateLimitError
from airflow_provider_events.triggers.events import EventCountCrossingTrigger
from tests.trigger_runner import Runner

SERIES = "/events/data_series"
HAS_STATE_STORE = Version(AIRFLOW_VERSION) >= Version("3.3.0")
needs_33 = pytest.mark.skipif(not HAS_STATE_STORE, reason="the trigger refuses to exist before Airflow 3.3")
# Two days ending now: events recorded during a test stay inside it whatever the clock does meanwhile.
WINDOW = {"length": 2, "unit": "day"}
FAST_HOOK = {"retry_limit": 0, "retry_delay": 0.001, "timeout": 5}


class MemoryStore:
    """Stands in for the asset state store Airflow 3.3 gives a watcher: one asset's keys, across instances."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.failures: list[BaseException] = []  # raised by the next calls, first in first out
        self.set_failures: list[BaseException] = []  # raised by the next writes only
        self._stalls: dict[str, asyncio.Event] = {}

    def stall(self, method: str) -> asyncio.Event:
        """Make the next ``aget`` or ``aset`` hang until cancelled; the event is set once it hangs."""
        reached = self._stalls[method] = asyncio.Event()
        return reached

    async def _enter(self, method: str) -> None:
        if reached := self._stalls.pop(method, None):
            reached.set()
            await asyncio.Event().wait()  # a triggerer stopped here: only a cancel ends it
        if method == "aset" and self.set_failures:
            raise self.set_failures.pop(0)
        if self.failures:
            raise self.failures.pop(0)

    async def aget(self, key: str, default: Any = None) -> Any:
        await self._enter("aget")
        return self.values.get(key, default)

    async def aset(self, key: str, value: Any) -> None:
        await self._enter("aset")
        json.dumps(value)  # the real store keeps JSON only
        self.values[key] = value


def window_total(emulator: EventsEmulator) -> int:
    return sum(point["count"] for point in emulator.series("purchase", WINDOW["length"], WINDOW["unit"]))


def make_trigger(events_conn: str, threshold: int, store: MemoryStore | None, **overrides: Any):
    kwargs: dict[str, Any] = {
        "event": "purchase",
        "threshold": threshold,
        **WINDOW,
        "events_conn_id": events_conn,
        "hook_params": FAST_HOOK,
        "poke_interval": 0.02,
        "watcher_name": "purchase_surge",
    }
    trigger = EventCountCrossingTrigger(**(kwargs | overrides))
    trigger.asset_state_store = store
    return trigger


def scenario(coroutine_function: Callable[[], Any]) -> Any:
    return asyncio.run(coroutine_function())


@needs_33
def test_below_the_threshold_nothing_fires(emulator: EventsEmulator, events_conn: str) -> None:
    trigger = make_trigger(events_conn, window_total(emulator) + 5, MemoryStore())

    async def run() -> list[dict[str, Any]]:
        async with Runner(trigger, emulator) as runner:
            await runner.polls(4)
        return runner.payloads

    assert scenario(run) == []


@needs_33
def test_a_crossing_fires_once_and_staying_above_fires_nothing_more(
    emulator: EventsEmulator, events_conn: str
) -> None:
    total = window_total(emulator)
    store = MemoryStore()
    trigger = make_trigger(events_conn, total + 5, store)

    async def run() -> list[dict[str, Any]]:
        async with Runner(trigger, emulator) as runner:
            await runner.polls(2)
            assert runner.payloads == []
            emulator.record("purchase", 5)
            await runner.polls(6)
        return runner.payloads

    payloads = scenario(run)
    assert len(payloads) == 1
    last_point = emulator.series("purchase", WINDOW["length"], WINDOW["unit"])[-1]
    assert payloads[0] == {
        "event": "purchase",
        "threshold": total + 5,
        "total": total + 5,
        "unit": "day",
        "length": 2,
        "last_bucket": last_point["time"],
        "crossing_id": f"{trigger.state_key}:1",
    }
    assert emulator.api_key not in json.dumps(payloads)
    assert store.values[trigger.state_key]["above"] is True
    assert store.values[trigger.state_key]["crossings"] == 1


@needs_33
def test_falling_below_re_arms_and_the_next_crossing_fires_again(
    emulator: EventsEmulator, events_conn: str
) -> None:
    total = window_total(emulator)
    trigger = make_trigger(events_conn, total + 5, MemoryStore())

    async def run() -> list[dict[str, Any]]:
        async with Runner(trigger, emulator) as runner:
            emulator.record("purchase", 5)
            await runner.polls(2)
            # Negative counts stand for old events leaving a moving window.
            emulator.record("purchase", -3)
            await runner.polls(2)
            assert len(runner.payloads) == 1
            emulator.record("purchase", 10)
            await runner.polls(2)
        return runner.payloads

    payloads = scenario(run)
    assert [payload["total"] for payload in payloads] == [total + 5, total + 12]
    # Each crossing has its own id: a downstream task dropping repeated ids drops no real crossing.
    assert [payload["crossing_id"] for payload in payloads] == [
        f"{trigger.state_key}:1",
        f"{trigger.state_key}:2",
    ]


@needs_33
def test_a_re_created_trigger_remembers_the_crossing(emulator: EventsEmulator, events_conn: str) -> None:
    # What the triggerer does after an event and after a restart: a new instance from serialize().
    total = window_total(emulator)
    store = MemoryStore()
    first = make_trigger(events_conn, total + 5, store)
    emulator.record("purchase", 5)

    async def run(trigger: EventCountCrossingTrigger) -> list[dict[str, Any]]:
        async with Runner(trigger, emulator) as runner:
            await runner.polls(3)
        return runner.payloads

    assert len(asyncio.run(run(first))) == 1
    _, kwargs = first.serialize()
    again = EventCountCrossingTrigger(**kwargs)
    again.asset_state_store = store
    assert asyncio.run(run(again)) == []


@needs_33
def test_a_new_watcher_already_above_fires_once(emulator: EventsEmulator, events_conn: str) -> None:
    trigger = make_trigger(events_conn, window_total(emulator), MemoryStore())

    async def run() -> list[dict[str, Any]]:
        async with Runner(trigger, emulator) as runner:
            await runner.polls(3)
        return runner.payloads

    assert len(scenario(run)) == 1


@needs_33
def test_api_errors_never_end_the_trigger_and_a_crossing_after_them_fires(
    emulator: EventsEmulator, events_conn: str
) -> None:
    total = window_total(emulator)
    trigger = make_trigger(events_conn, total + 5, MemoryStore())
    emulator.enqueue(Fault(401), Fault(403), Fault(400), Fault(503), Fault(200, mangle="short"))

    async def run() -> list[dict[str, Any]]:
        async with Runner(trigger, emulator) as runner:
            await runner.polls(5)  # each fault is one failed poll: the hook does not retry here
            assert runner.payloads == []
            emulator.record("purchase", 5)
            await runner.polls(2)
        return runner.payloads

    assert [payload["total"] for payload in scenario(run)] == [total + 5]
    statuses = [request.status for request in emulator.requests]
    assert statuses[:6] == [401, 403, 400, 503, 200, 200]


@needs_33
def test_a_missing_connection_is_logged_and_retried_not_fatal(
    emulator: EventsEmulator, events_conn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    trigger = make_trigger("events_analytics_nowhere", 1, MemoryStore(), poke_interval=0.01)

    async def run() -> None:
        async with Runner(trigger, emulator) as runner:
            await asyncio.sleep(0.2)
            assert runner.task is not None and not runner.task.done()

    scenario(run)
    logged = capsys.readouterr().out  # the triggerer's logs go through structlog to stdout
    assert "Connection 'events_analytics_nowhere' is not defined" in logged
    assert "next poll in" in logged


@needs_33
def test_errors_back_off_exponentially(
    emulator: EventsEmulator, events_conn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[float] = []
    real_sleep = asyncio.sleep

    async def recording_sleep(delay: float, *args: Any) -> Any:
        if delay >= 1:  # the trigger's own waits; this test's loop and asyncio's sleep(0) pass through
            waits.append(delay)
        return await real_sleep(0)

    monkeypatch.setattr("airflow_provider_events.triggers.events.asyncio.sleep", recording_sleep)
    trigger = make_trigger(events_conn, window_total(emulator) + 5, MemoryStore(), poke_interval=10)
    emulator.enqueue(Fault(503), times=4)

    async def run() -> None:
        async with Runner(trigger, emulator) as runner:
            await runner.polls(5)

    scenario(run)
    failed, healthy = waits[:4], waits[4]
    assert all(
        low <= wait <= high
        for wait, (low, high) in zip(failed, [(10, 20), (20, 30), (40, 50), (80, 90)], strict=True)
    )
    assert healthy == 10.0  # a good poll resets the backoff


def test_error_backoff_is_capped_and_honours_retry_after() -> None:
    assert error_backoff(60, 30) == MAX_ERROR_BACKOFF
    assert error_backoff(3600, 5) == 3600  # never faster than the normal polling
    slow_down = EventsAnalyticsRateLimitError("429", status_code=429, retry_after=120)
    assert error_backoff(10, 1, slow_down) == 120


@needs_33
@pytest.mark.parametrize("failing", ["failures", "set_failures"], ids=["the read", "the record"])
def test_a_failed_state_call_delays_or_retries_the_record_and_never_doubles_the_event(
    emulator: EventsEmulator, events_conn: str, failing: str
) -> None:
    # A failed read before firing delays the event; a failed record after it is retried, and
    # meanwhile this instance remembers the crossing.
    store = MemoryStore()
    trigger = make_trigger(events_conn, window_total(emulator) + 5, store)

    async def run() -> list[dict[str, Any]]:
        async with Runner(trigger, emulator) as runner:
            await runner.polls(1)
            getattr(store, failing).append(RuntimeError("execution API unreachable"))
            emulator.record("purchase", 5)
            await runner.polls(4)
        return runner.payloads

    assert len(scenario(run)) == 1
    stored = store.values[trigger.state_key]
    assert (stored["above"], stored["crossings"], stored["threshold"]) == (True, 1, trigger.threshold)


def two_instances(
    events_conn: str, threshold: int, store: MemoryStore
) -> tuple[EventCountCrossingTrigger, EventCountCrossingTrigger]:
    """What two triggerers build from one watcher's serialised trigger during a takeover."""
    first = make_trigger(events_conn, threshold, store)
    _, kwargs = first.serialize()
    second = EventCountCrossingTrigger(**kwargs)
    second.asset_state_store = store
    return first, second


def crossed_pair(
    emulator: EventsEmulator, events_conn: str
) -> tuple[MemoryStore, EventCountCrossingTrigger, EventCountCrossingTrigger]:
    """Two instances of one watcher's trigger on one store, the total already at their threshold."""
    store = MemoryStore()
    first, second = two_instances(events_conn, window_total(emulator) + 5, store)
    emulator.record("purchase", 5)
    return store, first, second


@needs_33
def test_two_triggerers_firing_for_one_crossing_give_it_one_id(
    emulator: EventsEmulator, events_conn: str
) -> None:
    # apache/airflow#41231: a stalled triggerer and its successor may run one trigger at once. Both
    # poll above before either has recorded the crossing: both fire, with the same crossing_id.
    store, first, second = crossed_pair(emulator, events_conn)

    async def run() -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
        one, two = first.run(), second.run()
        fired_one, fired_two = (await anext(one)).payload, (await anext(two)).payload
        # The triggerers take their events and ask for the next: each records the crossing, polls on.
        resumed = [asyncio.ensure_future(anext(generator)) for generator in (one, two)]
        await asyncio.sleep(0.2)
        for task in resumed:
            task.cancel()
        await asyncio.gather(*resumed, return_exceptions=True)
        async with Runner(first, emulator) as later:  # once a crossing is recorded, nobody fires it
            await later.polls(3)
        return fired_one, fired_two, later.payloads

    fired_one, fired_two, later = scenario(run)
    assert fired_one["crossing_id"] == fired_two["crossing_id"] == f"{first.state_key}:1"
    assert later == []
    assert store.values[first.state_key]["crossings"] == 1


@needs_33
def test_a_triggerer_stalled_at_its_event_never_takes_the_crossing_count_back(
    emulator: EventsEmulator, events_conn: str
) -> None:
    # Stalled after handing crossing 1 over; meanwhile the other fires it too, and then crossing 2.
    # Recording crossing 1 late must not give the next crossing, seen by a new instance, id 2 again.
    store, stalled, successor = crossed_pair(emulator, events_conn)
    _, later = two_instances(events_conn, stalled.threshold, store)

    async def crossing_again(runner: Runner) -> None:
        emulator.record("purchase", -5)
        await runner.polls(2)
        emulator.record("purchase", 5)
        await runner.polls(2)

    async def run() -> tuple[str, list[dict[str, Any]], list[dict[str, Any]]]:
        generator = stalled.run()
        late = (await anext(generator)).payload["crossing_id"]
        async with Runner(successor, emulator) as other:
            await other.polls(2)
            await crossing_again(other)
        resumed = asyncio.ensure_future(anext(generator))  # it records crossing 1 now
        await asyncio.sleep(0.2)
        resumed.cancel()
        await asyncio.gather(resumed, return_exceptions=True)
        async with Runner(later, emulator) as new_instance:
            await new_instance.polls(1)
            await crossing_again(new_instance)
        return late, other.payloads, new_instance.payloads

    late, other, new_instance = scenario(run)
    key = stalled.state_key
    assert late == f"{key}:1"
    assert [payload["crossing_id"] for payload in other] == [f"{key}:1", f"{key}:2"]
    assert [payload["crossing_id"] for payload in new_instance] == [f"{key}:3"]
    assert store.values[key]["crossings"] == 3


@needs_33
def test_a_triggerer_resuming_after_another_recorded_the_crossing_does_not_fire(
    emulator: EventsEmulator, events_conn: str
) -> None:
    store = MemoryStore()
    stalled, successor = two_instances(events_conn, window_total(emulator) + 5, store)

    async def run() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        async with Runner(stalled, emulator) as late:
            await late.polls(1)  # it has seen the total below, and keeps that in memory
            emulator.record("purchase", 5)
            async with Runner(successor, emulator) as first:
                while not first.payloads:
                    await asyncio.sleep(0.005)
            await late.polls(3)
        return first.payloads, late.payloads

    first, late = scenario(run)
    # Both polled above; without reading the store again, the one that saw "below" last would fire.
    # (The two race for the first poll above: when the stalled one wins, it is the one that fires.)
    assert len(first) + len(late) == 1, (first, late)
    assert store.values[stalled.state_key]["crossings"] == 1


def stopped_then_taken_over(
    emulator: EventsEmulator, events_conn: str, stalls: str
) -> tuple[str, list[dict[str, Any]], list[dict[str, Any]]]:
    """
    A triggerer stopped in the store call ``stalls`` of a crossing, then cancelled, as one whose
    trigger moved elsewhere is; the next owner runs on. The state key and what each one fired.
    """
    store = MemoryStore()
    stopped, successor = two_instances(events_conn, window_total(emulator) + 5, store)

    async def run() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        async with Runner(stopped, emulator) as runner:
            await runner.polls(1)
            reached = store.stall(stalls)
            emulator.record("purchase", 5)
            await asyncio.wait_for(reached.wait(), 20)
        async with Runner(successor, emulator) as next_owner:
            await next_owner.polls(3)
        return runner.payloads, next_owner.payloads

    return stopped.state_key, *scenario(run)


@needs_33
def test_no_crossing_is_lost_when_the_triggerer_stops_between_poll_and_handover(
    emulator: EventsEmulator, events_conn: str
) -> None:
    # Stopped in the read just before firing: nothing was recorded, so the next owner fires.
    state_key, before, after = stopped_then_taken_over(emulator, events_conn, "aget")
    assert before == []
    assert [payload["crossing_id"] for payload in after] == [f"{state_key}:1"]


@needs_33
def test_an_event_closed_before_it_was_taken_is_fired_again_with_the_same_id(
    emulator: EventsEmulator, events_conn: str
) -> None:
    # Airflow's triggerer queues an event and asks for the next one at once: a trigger closed while
    # still holding its event was cancelled before queueing it, so the crossing must stay unrecorded.
    _, closed, successor = crossed_pair(emulator, events_conn)

    async def run() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        generator = closed.run()
        dropped = (await anext(generator)).payload
        await generator.aclose()
        async with Runner(successor, emulator) as next_owner:
            await next_owner.polls(3)
        return dropped, next_owner.payloads

    dropped, after = scenario(run)
    assert [payload["crossing_id"] for payload in after] == [dropped["crossing_id"]]


@needs_33
def test_cancelled_while_recording_a_handed_over_event_a_repeat_carries_its_id(
    emulator: EventsEmulator, events_conn: str
) -> None:
    # The old order's loss, turned the other way: the event is out, its record never completes, and
    # the next owner's repeat is marked as the same crossing instead of the crossing being lost.
    state_key, before, after = stopped_then_taken_over(emulator, events_conn, "aset")
    assert len(before) == len(after) == 1
    assert before[0]["crossing_id"] == after[0]["crossing_id"] == f"{state_key}:1"


@needs_33
def test_a_state_kept_before_crossings_were_counted_keeps_its_side(
    emulator: EventsEmulator, events_conn: str
) -> None:
    store = MemoryStore()
    trigger = make_trigger(events_conn, window_total(emulator) + 5, store)
    store.values[trigger.state_key] = {"above": True, "total": 1, "last_bucket": "x", "threshold": 1}

    async def run() -> list[dict[str, Any]]:
        async with Runner(trigger, emulator) as runner:
            emulator.record("purchase", 5)
            await runner.polls(2)  # above, as stored: no crossing
            emulator.record("purchase", -5)
            await runner.polls(2)
            emulator.record("purchase", 5)
            await runner.polls(2)
        return runner.payloads

    assert [payload["crossing_id"] for payload in scenario(run)] == [f"{trigger.state_key}:1"]


@needs_33
def test_a_trigger_shared_by_two_assets_refuses_to_fire_and_says_why(
    emulator: EventsEmulator, events_conn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    store = MemoryStore()
    store.failures = [ValueError("Task has 2 concrete inlets and outlets")] * 50
    trigger = make_trigger(events_conn, 1, store, poke_interval=0.001)

    async def run() -> None:
        async with Runner(trigger, emulator) as runner:
            await asyncio.sleep(0.3)
            assert runner.payloads == []

    scenario(run)
    assert "Pass each watcher's trigger its own watcher_name" in capsys.readouterr().out
    assert emulator.request_count(SERIES) == 0


@needs_33
def test_outside_an_asset_watcher_it_says_where_it_belongs(events_conn: str) -> None:
    trigger = make_trigger(events_conn, 10, None)

    async def run() -> None:
        await anext(trigger.run())

    with pytest.raises(EventsAnalyticsConfigError, match="AssetWatcher"):
        scenario(run)


@needs_33
def test_kwargs_are_stable_hold_no_key_and_rebuild_the_trigger(
    emulator: EventsEmulator, events_conn: str
) -> None:
    one, two = (make_trigger(events_conn, 1000, None) for _ in range(2))
    classpath, kwargs = one.serialize()
    assert (classpath, kwargs) == two.serialize()
    assert classpath == "airflow_provider_events.triggers.events.EventCountCrossingTrigger"
    assert kwargs["events_conn_id"] == events_conn
    assert kwargs["watcher_name"] == "purchase_surge"
    assert emulator.api_key not in repr(kwargs)
    assert EventCountCrossingTrigger(**kwargs).serialize() == (classpath, kwargs)
    assert EventCountCrossingTrigger(**(kwargs | {"threshold": 2000})).state_key != one.state_key


@needs_33
@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"threshold": 0}, "threshold"),
        ({"threshold": "1000"}, "threshold"),
        ({"unit": "week"}, "unit"),
        ({"length": 0}, "length"),
        ({"event": ""}, "event"),
        ({"poke_interval": 0}, "poke_interval"),
        ({"hook_params": {"api_key": "x"}}, "hook_params"),
    ],
)
def test_bad_arguments_are_refused_when_the_dag_is_parsed(override: dict[str, Any], named: str) -> None:
    kwargs: dict[str, Any] = {"event": "purchase", "threshold": 10, **WINDOW}
    with pytest.raises(EventsAnalyticsConfigError, match=named):
        EventCountCrossingTrigger(**(kwargs | override))


@pytest.mark.skipif(HAS_STATE_STORE, reason="Airflow 3.3 keeps a watcher's state")
def test_before_airflow_3_3_building_it_fails_and_names_the_release_needed() -> None:
    with pytest.raises(EventsAnalyticsConfigError, match=r"needs Apache Airflow 3\.3\.0 or later"):
        EventCountCrossingTrigger(event="purchase", threshold=1000)


@pytest.mark.parametrize(
    ("was_above", "total", "fire", "above"),
    [
        (False, 999, False, False),
        (False, 1000, True, True),
        (True, 5000, False, True),
        (True, 999, False, False),
    ],
)
def test_crossing_step_fires_only_on_the_way_up(was_above: bool, total: int, fire: bool, above: bool) -> None:
    assert crossing_step(was_above, total, 1000) == (fire, above)
