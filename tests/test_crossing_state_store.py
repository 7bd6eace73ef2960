"""EventCountCrossingTrigger against Airflow's own asset state store, in a migrated metadata DB.

The triggerer gives a watcher's trigger ``AssetStateStoreAccessors`` for the assets it watches
(``airflow.jobs.triggerer_job_runner``); their reads and writes go to the triggerer's supervisor,
which answers them with the Execution API's asset-state-store routes over the metadata DB. Here the
same accessors, the same request handlers and the in-process Execution API the triggerer uses run
against the test's SQLite DB; only the socket between the trigger and its supervisor is a call.
The asserts are the trigger's public behaviour: one event per crossing, none while above, armed
again below, remembered by a new instance.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from airflow_provider_events.emulator import EventsEmulator
from airflow_provider_events.triggers.events import EventCountCrossingTrigger
from tests.conftest import API_KEY
from tests.trigger_runner import Runner

SERIES = "/events/data_series"
WINDOW = {"length": 2, "unit": "day"}
FAST_HOOK = {"retry_limit": 0, "retry_delay": 0.001, "timeout": 5}


def _has_asset_state_store() -> bool:
    import importlib.util

    return importlib.util.find_spec("airflow.api_fastapi.execution_api.routes.asset_state_store") is not None


pytestmark = pytest.mark.skipif(
    not _has_asset_state_store(), reason="the installed Airflow has no asset state store (before 3.3)"
)


class TriggererComms:
    """What the triggerer's supervisor does with a trigger's state-store messages, as a call."""

    def __init__(self) -> None:
        from airflow.api_fastapi.execution_api.app import InProcessExecutionAPI
        from airflow.sdk.api.client import Client
        from airflow.sdk.execution_time import comms, request_handlers

        # As TriggerRunnerSupervisor builds its client.
        self.client = Client(
            base_url=None, token="", dry_run=True, transport=InProcessExecutionAPI().transport
        )
        self.client.base_url = "http://in-process.invalid./"  # type: ignore[assignment]
        self.handlers = {
            comms.GetAssetStateStoreByName: request_handlers.handle_get_asset_state_store_by_name,
            comms.GetAssetStateStoreByUri: request_handlers.handle_get_asset_state_store_by_uri,
            comms.SetAssetStateStoreByName: request_handlers.handle_set_asset_state_store_by_name,
            comms.SetAssetStateStoreByUri: request_handlers.handle_set_asset_state_store_by_uri,
        }
        self.messages: list[str] = []

    def send(self, message: Any) -> Any:
        from airflow.sdk.execution_time.comms import OKResponse

        self.messages.append(type(message).__name__)
        response, _ = self.handlers[type(message)](self.client, message)
        return OKResponse(ok=True) if response is None else response

    async def asend(self, message: Any) -> Any:
        return await asyncio.to_thread(self.send, message)


@pytest.fixture(scope="module")
def triggerer(airflow_db: str) -> TriggererComms:
    # One for the module: the Execution API app takes seconds to build, on its first request.
    return TriggererComms()


@pytest.fixture
def comms(triggerer: TriggererComms, monkeypatch: pytest.MonkeyPatch) -> TriggererComms:
    """The trigger side's channel to its supervisor, answering from the metadata DB."""
    from airflow.sdk.execution_time import task_runner

    triggerer.messages.clear()
    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", triggerer, raising=False)
    return triggerer


@pytest.fixture
def watched_asset(airflow_db: str) -> Iterator[Any]:
    """A new asset, active in the DB as a parsed DAG's asset is (the state store keeps state per asset)."""
    from airflow.models.asset import AssetActive, AssetModel
    from airflow.sdk import Asset
    from airflow.utils.session import create_session

    name = f"purchase_surge_{uuid.uuid4().hex[:8]}"
    asset = Asset(name=name, uri=f"events://purchase/{name}")
    with create_session() as session:
        model = AssetModel(name=asset.name, uri=asset.uri)
        session.add(model)
        session.add(AssetActive.for_asset(model))
    yield asset


def watching(trigger: EventCountCrossingTrigger, *assets: Any) -> EventCountCrossingTrigger:
    """``trigger`` as the triggerer runs a watcher's: rebuilt from its kwargs, given the assets' store."""
    from airflow.sdk import Asset
    from airflow.sdk.execution_time.context import AssetStateStoreAccessors

    _, kwargs = trigger.serialize()
    rebuilt = EventCountCrossingTrigger(**kwargs)
    rebuilt.asset_state_store = AssetStateStoreAccessors(
        inlets=[Asset(name=asset.name, uri=asset.uri) for asset in assets]
    )
    return rebuilt


@pytest.fixture
def emulator() -> Iterator[EventsEmulator]:
    """No generated counts: the window holds exactly what a test records, whatever the clock does."""
    with EventsEmulator(api_key=API_KEY, background=False) as emu:
        yield emu


@pytest.fixture
def record(emulator: EventsEmulator) -> Callable[[int], None]:
    """Record (or take back) purchases at one moment an hour ago: inside every poll's window."""
    at = datetime.now(timezone.utc) - timedelta(hours=1)
    return lambda n: emulator.record("purchase", n, at=at)


def make_trigger(events_conn: str, threshold: int) -> EventCountCrossingTrigger:
    return EventCountCrossingTrigger(
        event="purchase",
        threshold=threshold,
        **WINDOW,
        events_conn_id=events_conn,
        hook_params=FAST_HOOK,
        poke_interval=0.02,
        watcher_name="purchase_surge",
    )


def stored(trigger: EventCountCrossingTrigger, asset: Any) -> Any:
    """What the store holds under the trigger's key, read back through a new accessor."""
    from airflow.sdk.execution_time.context import AssetStateStoreAccessors

    return AssetStateStoreAccessors(inlets=[asset]).get(trigger.state_key)


def test_a_crossing_fires_once_and_staying_above_fires_nothing_more(
    comms: TriggererComms,
    watched_asset: Any,
    emulator: EventsEmulator,
    events_conn: str,
    record: Callable[[int], None],
) -> None:
    trigger = watching(make_trigger(events_conn, 5), watched_asset)
    assert stored(trigger, watched_asset) is None

    async def run() -> list[dict[str, Any]]:
        async with Runner(trigger, emulator) as runner:
            await runner.polls(2)
            assert runner.payloads == []
            record(5)
            await runner.polls(6)
        return runner.payloads

    assert [payload["total"] for payload in asyncio.run(run())] == [5]
    assert stored(trigger, watched_asset) is not None  # in the metadata DB, for the next instance
    assert {"GetAssetStateStoreByName", "SetAssetStateStoreByName"} <= set(comms.messages)


def test_falling_below_re_arms_and_the_next_crossing_fires_again(
    comms: TriggererComms,
    watched_asset: Any,
    emulator: EventsEmulator,
    events_conn: str,
    record: Callable[[int], None],
) -> None:
    trigger = watching(make_trigger(events_conn, 5), watched_asset)

    async def run() -> list[dict[str, Any]]:
        async with Runner(trigger, emulator) as runner:
            record(5)
            await runner.polls(2)
            record(-3)  # old events leaving a moving window
            await runner.polls(2)
            assert len(runner.payloads) == 1
            record(10)
            await runner.polls(2)
        return runner.payloads

    assert [payload["total"] for payload in asyncio.run(run())] == [5, 12]


def test_a_new_instance_remembers_the_crossing_and_re_arms_below(
    comms: TriggererComms,
    watched_asset: Any,
    emulator: EventsEmulator,
    events_conn: str,
    record: Callable[[int], None],
) -> None:
    # What the triggerer does after an event and after a restart: a new instance from its kwargs,
    # with new accessors; only the metadata DB carries what the first one saw.
    declared = make_trigger(events_conn, 5)
    record(5)

    async def run(before: int = 0, after: int = 0) -> list[int]:
        async with Runner(watching(declared, watched_asset), emulator) as runner:
            if before:
                record(before)
            await runner.polls(3)
            if after:
                record(after)
                await runner.polls(3)
        return [payload["total"] for payload in runner.payloads]

    assert asyncio.run(run()) == [5]
    assert asyncio.run(run()) == []  # still above: nothing new
    assert asyncio.run(run(before=-3, after=3)) == [5]  # below, then a new crossing


def test_another_asset_keeps_its_own_state(
    comms: TriggererComms,
    watched_asset: Any,
    emulator: EventsEmulator,
    events_conn: str,
    record: Callable[[int], None],
) -> None:
    from airflow.models.asset import AssetActive, AssetModel
    from airflow.sdk import Asset
    from airflow.utils.session import create_session

    other = Asset(name=f"{watched_asset.name}_other", uri=f"{watched_asset.uri}/other")
    with create_session() as session:
        model = AssetModel(name=other.name, uri=other.uri)
        session.add(model)
        session.add(AssetActive.for_asset(model))
    declared = make_trigger(events_conn, 5)
    record(5)

    async def run(asset: Any) -> int:
        async with Runner(watching(declared, asset), emulator) as runner:
            await runner.polls(2)
        return len(runner.payloads)

    assert asyncio.run(run(watched_asset)) == 1
    assert asyncio.run(run(watched_asset)) == 0
    assert asyncio.run(run(other)) == 1  # a new watcher already above: its own first crossing


def test_a_trigger_given_two_assets_refuses_to_fire_and_says_why(
    comms: TriggererComms,
    watched_asset: Any,
    emulator: EventsEmulator,
    events_conn: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Airflow runs one trigger for watchers with identical arguments; the store then cannot tell
    # whose state to keep, and says so with the ValueError the trigger turns into advice.
    from airflow.sdk import Asset

    other = Asset(name=f"{watched_asset.name}_twin", uri=f"{watched_asset.uri}/twin")
    trigger = watching(make_trigger(events_conn, 1), watched_asset, other)

    async def run() -> list[dict[str, Any]]:
        async with Runner(trigger, emulator) as runner:
            while "Pass each watcher's trigger its own watcher_name" not in capsys.readouterr().out:
                assert runner.task is not None and not runner.task.done()
                await asyncio.sleep(0.005)
        return runner.payloads

    assert asyncio.run(run()) == []
    assert emulator.request_count(SERIES) == 0
