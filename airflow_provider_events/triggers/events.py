"""Wait on the triggerer until a custom event's count over a window reaches a threshold."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import datetime
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_events import DEFAULT_CONN_ID, exceptions
from airflow_provider_events._series import window_args
from airflow_provider_events._window import format_ending_at, parse_ending_at
from airflow_provider_events.exceptions import EventsAnalyticsError
from airflow_provider_events.hooks.events import EventsAnalyticsAsyncHook

_ERROR_CLASSES: dict[str, type[EventsAnalyticsError]] = {
    cls.__name__: cls
    for cls in vars(exceptions).values()
    if isinstance(cls, type) and issubclass(cls, EventsAnalyticsError)
}


def total_count(series: Iterable[Mapping[str, Any]]) -> int:
    """The sum of ``count`` over a series: what the sensor and the trigger compare with the threshold."""
    return sum(point["count"] for point in series)


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


class EventCountTrigger(BaseTrigger):
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
        unit: str = "hour",
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

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """The class path and the arguments that rebuild this trigger: the connection id, never its key."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "event": self.event,
                "threshold": self.threshold,
                "length": self.length,
                "unit": self.unit,
                "ending_at": self.ending_at,
                "app_id": self.app_id,
                "segment_id": self.segment_id,
                "events_conn_id": self.events_conn_id,
                "hook_params": self.hook_params,
                "poke_interval": self.poke_interval,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll every ``poke_interval`` seconds until the threshold is met or the API fails."""
        hook = EventsAnalyticsAsyncHook(self.events_conn_id, **self.hook_params)
        while True:
            try:
                series = await hook.get_series(self.event, **window_args(self))
            except EventsAnalyticsError as err:
                self.log.error("Stopped waiting for %r: %s", self.event, err)
                yield TriggerEvent(error_event(err))
                return
            total = total_count(series)
            self.log.info(
                "Event %r: %d in the window of %d %s(s) ending with %s, threshold %d%s",
                self.event, total, self.length, self.unit, series[-1]["time"], self.threshold,
                " - done" if total >= self.threshold else " - not yet",
            )  # fmt: skip
            if total >= self.threshold:
                yield TriggerEvent({"status": "success", "total": total})
                return
            await asyncio.sleep(self.poke_interval)
