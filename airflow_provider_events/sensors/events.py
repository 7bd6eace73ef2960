"""Wait until a custom event's count over a window reaches a threshold."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue, conf

from airflow_provider_events import DEFAULT_CONN_ID
from airflow_provider_events._run_interval import InferredIntervalTemplates
from airflow_provider_events._series import SeriesQuery, window_args

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_events.hooks.events import EventsAnalyticsHook


def coerce_threshold(value: object) -> int:
    """The threshold as an int (templates render strings such as ``"500"``), or ``ValueError``."""
    text = value.strip() if isinstance(value, str) else None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if text is not None and text.isascii() and text.isdigit():
        return int(text)
    raise ValueError(f"threshold must be an integer >= 0, got {value!r}")


class EventCountSensor(InferredIntervalTemplates, BaseSensorOperator):
    """
    Wait until the count of a custom event, summed over a window, reaches ``threshold``.

    The window is ``length`` buckets of ``unit`` ending with the bucket that holds ``ending_at``.
    With ``ending_at=None`` the window ends *now* at every check, so it moves while the sensor
    waits. To count the run's own period instead, align it with the run, e.g. for a daily DAG
    ``unit="day", length=1, ending_at="{{ data_interval_start }}"``: the same window on every
    check, retry and rerun. (That needs a schedule with data intervals, such as
    ``CronDataIntervalTimetable``: in Airflow 3 ``schedule="@daily"`` gives runs an empty interval
    that starts at the run's own time.)

    The total is pushed as the task's XCom ``return_value``. Authentication (401, 403), request
    (400, 404) and malformed-response errors fail the task at once in every mode, even with
    ``soft_fail``: they never mean "not yet". 429, 5XX and network errors are retried by the hook.

    Works in ``poke`` and ``reschedule`` mode, and with ``deferrable=True`` it checks once and then
    waits in :class:`~airflow_provider_events.triggers.events.EventCountTrigger` on the triggerer,
    polling every ``poke_interval`` seconds. ``timeout`` and ``soft_fail`` apply in every mode;
    ``exponential_backoff`` in poke and reschedule mode.

    :param event: the custom event's name (templated)
    :param threshold: the total at which the sensor succeeds, an integer >= 0 (templated)
    :param length: number of ``unit`` buckets in the window
    :param unit: ``"hour"`` or ``"day"``
    :param ending_at: the window ends with the bucket holding this instant: ISO 8601 string or
        datetime, naive means UTC; ``None`` means now, at each check (templated)
    :param app_id: limit the counts to one app (templated)
    :param segment_id: limit the counts to one analytics-enabled segment (templated)
    :param deferrable: wait on the triggerer instead of a worker; defaults to
        ``[operators] default_deferrable``
    :param events_conn_id: the ``events_analytics`` connection to use
    :param hook_params: keyword arguments of the hook: ``timeout``, ``retry_limit``,
        ``retry_delay``, ``max_concurrency``, ``max_retry_wait``
    """

    template_fields: Sequence[str] = ("event", "ending_at", "app_id", "segment_id", "threshold")
    ui_color = "#f0e4ec"

    def __init__(
        self,
        *,
        event: str,
        threshold: int | str,
        length: int = 1,
        unit: str = "hour",
        ending_at: str | datetime | None = None,
        app_id: str | None = None,
        segment_id: str | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        events_conn_id: str = DEFAULT_CONN_ID,
        hook_params: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.event = event
        self.threshold = threshold
        self.length = length
        self.unit = unit
        self.ending_at = ending_at
        self.app_id = app_id
        self.segment_id = segment_id
        self.deferrable = deferrable
        self.events_conn_id = events_conn_id
        self.hook_params = hook_params or {}

    @cached_property
    def hook(self) -> EventsAnalyticsHook:
        """One hook, and so one pooled session, for every poke of this try."""
        from airflow_provider_events.hooks.events import EventsAnalyticsHook

        return EventsAnalyticsHook(self.events_conn_id, **self.hook_params)

    def _validate(self) -> int:
        """Check the rendered arguments before any request; return the threshold as an int."""
        threshold = coerce_threshold(self.threshold)
        SeriesQuery.build([self.event], **window_args(self))
        return threshold

    def poke(self, context: Context) -> PokeReturnValue:
        """Fetch the window once and compare its total with the threshold."""
        from airflow_provider_events.triggers.events import total_count

        threshold = self._validate()
        series = self.hook.get_series(self.event, **window_args(self))
        total = total_count(series)
        self.log.info(
            "Event %r: %d in the window of %d %s(s) ending with %s, threshold %d%s",
            self.event, total, self.length, self.unit, series[-1]["time"], threshold,
            " - done" if total >= threshold else " - not yet",
        )  # fmt: skip
        return PokeReturnValue(is_done=total >= threshold, xcom_value=total)

    def execute(self, context: Context) -> Any:
        """Validate, then wait in poke/reschedule mode, or check once and defer to the triggerer."""
        self.threshold = self._validate()
        if not self.deferrable:
            return super().execute(context)
        first = self.poke(context)
        if first.is_done:
            return first.xcom_value
        from airflow_provider_events.triggers.events import EventCountTrigger

        self.defer(
            trigger=EventCountTrigger(
                event=self.event,
                threshold=self.threshold,
                **window_args(self),
                events_conn_id=self.events_conn_id,
                hook_params=self.hook_params,
                poke_interval=self.poke_interval,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> int:
        """Return the total the trigger saw, or raise the error class it reported."""
        from airflow_provider_events.triggers.events import error_from_event

        if not event or event.get("status") != "success":
            raise error_from_event(event or {"message": "the trigger ended without an event"})
        total = int(event["total"])
        self.log.info("Event %r reached %d (threshold %s)", self.event, total, self.threshold)
        return total

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context) -> Any:
        """
        Resume after the trigger, as :class:`BaseSensorOperator` does, with one difference.

        ``soft_fail`` skips a deferral timeout (the base class handles it), but an API error the
        trigger reported still fails the task, as it does in poke mode; ``never_fail`` skips both.
        """
        event = (next_kwargs or {}).get("event")
        if isinstance(event, dict) and event.get("status") == "error" and not self.never_fail:
            return self.execute_complete(context, event)
        return super().resume_execution(next_method, next_kwargs, context)
