"""Wait on the triggerer for a custom event's count to reach a threshold, or for each crossing of one."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseEventTrigger, BaseTrigger, TriggerEvent

from airflow_provider_events import DEFAULT_CONN_ID, exceptions
from airflow_provider_events._checks import check_crossing_args, format_ending_at, parse_ending_at
from airflow_provider_events._crossing import Side, crossing_step, error_backoff
from airflow_provider_events._types import Unit
from airflow_provider_events._waiting import log_check, total_count, window_args
from airflow_provider_events.exceptions import EventsAnalyticsConfigError, EventsAnalyticsError

if TYPE_CHECKING:
    from airflow_provider_events.hooks.events_async import EventsAnalyticsAsyncHook

_ERROR_CLASSES: dict[str, type[EventsAnalyticsError]] = {
    cls.__name__: cls
    for cls in vars(exceptions).values()
    if isinstance(cls, type) and issubclass(cls, EventsAnalyticsError)
}


def error_event(error: EventsAnalyticsError) -> dict[str, Any]:
    """The payload of the one event a trigger sends when the API fails it."""
    return {
        "status": "error",
        "error_class": type(error).__name__,
        "status_code": error.status_code,
        "message": str(error),
    }


def error_from_event(event: Mapping[str, Any]) -> EventsAnalyticsError:
    """Rebuild the exception an error event stands for, falling back to the base class."""
    cls = _ERROR_CLASSES.get(str(event.get("error_class")), EventsAnalyticsError)
    message = str(event.get("message") or "the trigger reported an error without a message")
    return cls(message, status_code=event.get("status_code"))


def _iso_or_none(ending_at: str | datetime | None) -> str | None:
    # An ISO string with an explicit offset serialises as itself and means the same on any triggerer.
    return None if ending_at is None else format_ending_at(parse_ending_at(ending_at))


class _SerializedArguments:
    """``serialize()`` from the attributes named in ``_ARGUMENTS``: the connection id, never its key."""

    _ARGUMENTS: tuple[str, ...] = ()

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """The class path and the arguments that rebuild this trigger."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {name: getattr(self, name) for name in self._ARGUMENTS},
        )


class EventCountTrigger(_SerializedArguments, BaseTrigger):
    """
    Poll a custom event's count until the sum over the window reaches ``threshold``.

    Fires ``{"status": "success", "total": int}`` once the threshold is met. An API error that
    the async hook does not retry (401, 403, 4XX, malformed answers), or that is still failing
    when its retries are spent, fires one ``{"status": "error", "error_class", "status_code",
    "message"}`` event instead: the trigger never loops on an error.

    :param event: the custom event's name
    :param threshold: the count at which the trigger fires
    :param length: number of ``unit`` buckets in the window
    :param unit: ``"hour"`` or ``"day"``
    :param ending_at: the window ends with the bucket holding this instant (ISO 8601 or datetime);
        ``None`` means now, at every poll
    :param app_id: limit the counts to one app
    :param segment_id: limit the counts to one segment
    :param events_conn_id: the ``events_analytics`` connection; only its id is serialised
    :param hook_params: keyword arguments of :class:`EventsAnalyticsAsyncHook` (timeout, retry_limit, ...)
    :param poke_interval: seconds between two polls
    """

    def __init__(
        self,
        event: str,
        threshold: int,
        length: int = 1,
        unit: Unit = "hour",
        ending_at: str | datetime | None = None,
        app_id: str | None = None,
        segment_id: str | None = None,
        events_conn_id: str = DEFAULT_CONN_ID,
        hook_params: dict[str, Any] | None = None,
        poke_interval: float = 60.0,
    ) -> None:
        super().__init__()
        self.event = event
        self.threshold = int(threshold)
        self.length = length
        self.unit = unit
        self.ending_at = _iso_or_none(ending_at)
        self.app_id = app_id
        self.segment_id = segment_id
        self.events_conn_id = events_conn_id
        self.hook_params = dict(hook_params or {})
        self.poke_interval = float(poke_interval)

    _ARGUMENTS = (
        "event", "threshold", "length", "unit", "ending_at", "app_id", "segment_id",
        "events_conn_id", "hook_params", "poke_interval",
    )  # fmt: skip

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll every ``poke_interval`` seconds until the threshold is met or the API fails."""
        # Imported here: DAG files build triggers at every parse, and the hook pulls in aiohttp.
        from airflow_provider_events.hooks.events import EventsAnalyticsAsyncHook

        hook = EventsAnalyticsAsyncHook(self.events_conn_id, **self.hook_params)
        try:
            while True:
                try:
                    series = await hook.get_series(self.event, **window_args(self))
                except EventsAnalyticsError as err:
                    self.log.error("Stopped waiting for %r: %s", self.event, err)
                    yield TriggerEvent(error_event(err))
                    return
                total = total_count(series)
                log_check(self.log, self, total, series[-1]["time"], self.threshold)
                if total >= self.threshold:
                    yield TriggerEvent({"status": "success", "total": total})
                    return
                await asyncio.sleep(self.poke_interval)
        finally:
            await hook.aclose()  # one session for every poll of this trigger


# --- event-driven scheduling -----------------------------------------------------------------------

_NEEDS = "EventCountCrossingTrigger needs Apache Airflow 3.3.0 or later"


class EventCountCrossingTrigger(_SerializedArguments, BaseEventTrigger):
    """
    Fire one asset event each time a custom event's count over the window crosses ``threshold``.

    For an :class:`~airflow.sdk.AssetWatcher`: it polls the window ending now every
    ``poke_interval`` seconds and fires when the total goes from below ``threshold`` to at or above
    it, then stays quiet until the total is below again. Which side of the threshold it last saw,
    and how many crossings it has fired, are kept in the watched asset's state store, so a crossing
    gives one event, and so one DAG run, across the trigger's re-creation and triggerer restarts.
    The first poll of a new watcher counts as a crossing if the total is already at or above
    ``threshold``.

    A crossing is never lost: the event is handed over first and the crossing recorded after, so a
    triggerer stopped in between leaves it unrecorded and the next owner fires it again. Just
    before firing, the stored side is read again, so a triggerer resuming after another recorded
    the crossing stays quiet. Two triggerers running the trigger at once during a takeover may
    still both fire for one crossing; both events then carry the same ``crossing_id``
    (``"<state_key>:<n>"``, the n-th crossing of this condition), which differs between crossings,
    so a downstream task can drop the second.

    The payload is ``{"event", "threshold", "total", "unit", "length", "last_bucket",
    "crossing_id"}`` (``last_bucket``: the window's last point's time as the API wrote it); tasks
    read it from ``triggering_asset_events[asset][-1].extra["payload"]``. An API error never ends the trigger:
    it is logged and the next poll waits longer (exponential, up to 15 minutes or ``poke_interval``).
    Needs Airflow 3.3.0 or later (building it on an older release raises, so the DAG fails to parse).

    :param event: the custom event's name
    :param threshold: the count (>= 1) whose crossing fires an event
    :param length: number of ``unit`` buckets in the window, which ends with the current bucket
    :param unit: ``"hour"`` or ``"day"``
    :param events_conn_id: the ``events_analytics`` connection; only its id is stored with the DAG
    :param hook_params: keyword arguments of the async hook (timeout, retry_limit, retry_delay, ...)
    :param poke_interval: seconds between two polls
    :param app_id: limit the counts to one app
    :param segment_id: limit the counts to one segment
    :param watcher_name: tells apart watchers on different assets whose other arguments are equal
        (Airflow runs one trigger for identical arguments, and keeps state per asset): pass the
        ``AssetWatcher``'s name
    """

    def __init__(
        self,
        event: str,
        threshold: int,
        length: int = 1,
        unit: str = "hour",
        events_conn_id: str = DEFAULT_CONN_ID,
        hook_params: dict[str, Any] | None = None,
        poke_interval: float = 300.0,
        app_id: str | None = None,
        segment_id: str | None = None,
        watcher_name: str | None = None,
    ) -> None:
        super().__init__()
        if not hasattr(self, "asset_state_store"):
            from airflow import __version__ as airflow_version

            raise EventsAnalyticsConfigError(
                f"{_NEEDS} (this is {airflow_version}): only from 3.3.0 on does Airflow keep a "
                "watcher's state across its re-creation, without which every poll above the "
                "threshold would start another DAG run. Upgrade Airflow, or wait with "
                "EventCountSensor inside a scheduled DAG."
            )
        check_crossing_args(
            {"event": event, "threshold": threshold, "length": length, "unit": unit,
             "poke_interval": poke_interval, "hook_params": hook_params or {}}
        )  # fmt: skip
        self.event = event
        self.threshold = threshold
        self.length = length
        self.unit = unit
        self.ending_at = None  # the window always ends now; window_args reads it
        self.app_id = app_id
        self.segment_id = segment_id
        self.events_conn_id = events_conn_id
        self.hook_params = dict(hook_params or {})
        self.poke_interval = float(poke_interval)
        self.watcher_name = watcher_name

    _ARGUMENTS = (
        "event", "threshold", "length", "unit", "events_conn_id", "hook_params", "poke_interval",
        "app_id", "segment_id", "watcher_name",
    )  # fmt: skip

    @property
    def state_key(self) -> str:
        """The asset state store key of this condition: another threshold or window starts afresh."""
        condition = [self.event, self.threshold, self.length, self.unit]
        condition += [self.app_id, self.segment_id, self.events_conn_id]
        digest = hashlib.sha256(json.dumps(condition).encode()).hexdigest()[:16]
        return f"event_count_crossing/{digest}"

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll for ever; yield one event per upward crossing; on any error, log, back off, go on."""
        from airflow_provider_events.hooks.events_async import EventsAnalyticsAsyncHook

        store = self._state_store()
        # Its arguments were checked when the trigger was built: building it cannot fail here.
        hook = EventsAnalyticsAsyncHook(self.events_conn_id, **self.hook_params)
        try:
            async with contextlib.aclosing(self._crossings(store, hook)) as crossings:
                async for event in crossings:
                    yield event
        finally:
            await hook.aclose()  # one session for every poll of this trigger

    async def _crossings(
        self, store: Any, hook: EventsAnalyticsAsyncHook
    ) -> AsyncGenerator[TriggerEvent, None]:
        side: Side | None = None  # None: not read from the store yet
        unsaved = False  # a crossing fired whose record failed: written before anything else
        failures = 0
        while True:
            try:
                if side is None:
                    side = await self._recall(store)
                elif unsaved:
                    side = await self._remember(store, side)
                    unsaved = False
                series = await hook.get_series(self.event, **window_args(self))
                total, last_bucket = total_count(series), series[-1]["time"]
                fire, above = crossing_step(side.above, total, self.threshold)
                if fire:
                    # Another triggerer may have run this trigger meanwhile (a takeover while this one
                    # stalled) and recorded the crossing: then it is not ours to fire again.
                    side = await self._recall(store)
                    fire, above = crossing_step(side.above, total, self.threshold)
                if not fire and above != side.above:
                    side = await self._remember(store, Side(above, side.crossings, total, last_bucket))
            except Exception as err:
                failures += 1
                delay = error_backoff(self.poke_interval, failures, err)
                self._log_failure(err, failures, delay)
                await asyncio.sleep(delay)
                continue
            failures = 0
            self.log.info(
                "Event %r: %d in the window of %d %s(s), threshold %d: %s",
                self.event, total, self.length, self.unit, self.threshold,
                "crossed, firing" if fire else ("above" if above else "below"),
            )  # fmt: skip
            if fire:
                side = Side(True, side.crossings + 1, total, last_bucket)
                # Handed over first, recorded once the triggerer asks for the next event, which it
                # does right after queueing this one. Not in a ``finally``: a trigger closed while
                # holding the event was cancelled before queueing it, and recording the crossing then
                # would lose it; left unrecorded, the next owner fires it again under the same id.
                yield TriggerEvent(self.payload(total, last_bucket, self.crossing_id(side.crossings)))
                try:
                    side = await self._remember(store, side)
                except Exception as err:
                    unsaved = True  # kept in memory, so this instance never fires it twice
                    self._log_failure(err, 1, self.poke_interval)
            await asyncio.sleep(self.poke_interval)

    def crossing_id(self, crossing: int) -> str:
        """The id of this condition's ``crossing``-th crossing: the same on every triggerer."""
        return f"{self.state_key}:{crossing}"

    def payload(self, total: int, last_bucket: str, crossing_id: str) -> dict[str, Any]:
        """What a crossing's asset event carries; tasks read it from ``triggering_asset_events``."""
        return {
            "event": self.event,
            "threshold": self.threshold,
            "total": total,
            "unit": self.unit,
            "length": self.length,
            "last_bucket": last_bucket,
            "crossing_id": crossing_id,
        }

    def _state_store(self) -> Any:
        store = getattr(self, "asset_state_store", None)
        if store is None:
            raise EventsAnalyticsConfigError(
                "EventCountCrossingTrigger runs only as an AssetWatcher's trigger, where Airflow gives "
                "it the asset's state store: use it in Asset(watchers=[AssetWatcher(name, trigger)]); "
                "to wait inside a task, use EventCountSensor"
            )
        return store

    async def _recall(self, store: Any) -> Side:
        """The side last recorded and the crossings fired so far; never seen counts as below, none."""
        try:
            stored = await store.aget(self.state_key)
        except ValueError as err:  # the store raises it when the trigger serves several assets
            raise self._shared_error(err) from None
        return Side.from_stored(stored)

    async def _remember(self, store: Any, side: Side) -> Side:
        """
        Record ``side``; what the store holds after. The crossing count never goes back: a
        triggerer that stalled before recording its crossing may find a later one recorded.
        """
        stored = await self._recall(store)
        if side.above and stored.crossings > side.crossings:
            return stored
        side = side._replace(crossings=max(side.crossings, stored.crossings))
        try:
            await store.aset(self.state_key, side.stored(self.threshold))
        except ValueError as err:
            raise self._shared_error(err) from None
        return side

    def _shared_error(self, err: ValueError) -> EventsAnalyticsConfigError:
        return EventsAnalyticsConfigError(
            f"EventCountCrossingTrigger for {self.event!r} cannot keep its state ({err}): several "
            "assets have watchers with identical arguments, which Airflow runs as one trigger. "
            "Pass each watcher's trigger its own watcher_name (the AssetWatcher's name)."
        )

    def _log_failure(self, err: Exception, failures: int, delay: float) -> None:
        # API errors are expected weather; anything else deserves its traceback.
        self.log.log(
            logging.WARNING if isinstance(err, EventsAnalyticsError) else logging.ERROR,
            "Polling %r failed (%d time(s) in a row); next poll in %.0f s: %s",
            self.event, failures, delay, err,
            exc_info=not isinstance(err, EventsAnalyticsError),
        )  # fmt: skip
