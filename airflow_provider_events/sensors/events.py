"""Wait until a custom event's count over a window reaches a threshold."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue, conf

from airflow_provider_events import DEFAULT_CONN_ID
from airflow_provider_events._checks import (
    check_hook_params,
    check_literal_window,
    check_window,
    coerce_threshold,
    is_literal,
)
from airflow_provider_events._run import InferredIntervalTemplates
from airflow_provider_events._types import Unit
from airflow_provider_events._waiting import log_check, total_count, window_args

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_events.hooks.events import EventsAnalyticsHook


class EventCountSensor(InferredIntervalTemplates, BaseSensorOperator):
    """
    Wait until the count of a custom event, summed over a window, reaches ``threshold``.

    The window is ``length`` buckets of ``unit`` ending with the bucket that holds ``ending_at``.
    With ``ending_at=None`` the window ends *now* at every check, so it moves while the sensor
    waits. To count the run's own period instead, pass ``length=None``: the window is then exactly
    the run's data interval, as :class:`~airflow_provider_events.operators.events.EventSeriesOperator`
    exports it, the same on every check, retry and rerun. Days are counted in the DAG timetable's
    time zone (UTC without one), so a daily DAG scheduled in ``America/New_York`` waits on the New
    York day that just ended:

    - ``unit="hour", length=None`` sums the hours of the local day, 23, 24 or 25 of them: exact in
      any zone, on every day of the year.
    - ``unit="day", length=None`` asks for the one local day in that day's UTC offset (the offset of
      its last instant). The API's days are 24 hours, so on the two days a year the clocks change
      (23 or 25 hours), and for an interval of several days across such a change (which one day
      request would shift by an hour), the sensor counts the interval's hours instead, in one
      request: the same events, so the total is exact on every day of the year.

    Aligning ``ending_at`` by hand (``ending_at="{{ data_interval_start }}"``) counts the UTC day
    that holds the local midnight, which is the run's day only for DAGs scheduled in UTC. A run
    needs a schedule with data intervals, such as ``CronDataIntervalTimetable``: in Airflow 3
    ``schedule="@daily"`` gives runs an empty interval that starts at the run's own time.

    The total is pushed as the task's XCom ``return_value``. Authentication (401, 403), request
    (400, 404) and malformed-response errors fail the task at once in every mode, even with
    ``soft_fail``: they never mean "not yet". A wrong key, a misconfigured connection or an
    unknown event name also skip the task's ``retries`` (no retry can fix them). 429, 5XX and
    network errors are retried by the hook, then by the task.

    Works in ``poke`` and ``reschedule`` mode, and with ``deferrable=True`` it checks once and then
    waits in :class:`~airflow_provider_events.triggers.events.EventCountTrigger` on the triggerer,
    polling every ``poke_interval`` seconds. ``timeout`` and ``soft_fail`` apply in every mode;
    ``exponential_backoff`` in poke and reschedule mode.

    :param event: the custom event's name (templated)
    :param threshold: the total at which the sensor succeeds, an integer >= 0 (templated)
    :param length: number of ``unit`` buckets in the window; None means exactly the run's data
        interval, in the DAG timetable's time zone (then leave ``ending_at`` unset)
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
    :param check_event_names: before the first check, list the API's event names once and fail
        with :class:`~airflow_provider_events.exceptions.EventsAnalyticsConfigError` if ``event``
        is not among them (naming the closest listed names), instead of waiting on a typo whose
        count never moves. Names are case-sensitive.

    ``unit`` defaults to ``"hour"`` here but ``"day"`` for the hook and the operator: a sensor
    usually waits on the most recent hour, an export usually covers whole days. Arguments that
    templates cannot change are checked when the DAG is parsed, as the operator does; the rendered
    ones before the first request. Every bad argument raises ``EventsAnalyticsConfigError``.
    """

    template_fields: Sequence[str] = ("event", "ending_at", "app_id", "segment_id", "threshold")
    ui_color = "#f0e4ec"

    def __init__(
        self,
        *,
        event: str,
        threshold: int | str,
        length: int | None = 1,
        unit: Unit = "hour",
        ending_at: str | datetime | None = None,
        app_id: str | None = None,
        segment_id: str | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        events_conn_id: str = DEFAULT_CONN_ID,
        hook_params: dict[str, Any] | None = None,
        check_event_names: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if is_literal(threshold):
            coerce_threshold(threshold)
        check_literal_window(
            [event],
            length=1 if length is None else length,
            unit=unit,
            ending_at=ending_at,
            app_id=app_id,
            segment_id=segment_id,
        )
        self.hook_params = check_hook_params(hook_params)
        self.check_event_names = check_event_names
        self.event = event
        self.threshold = threshold
        self.length = length
        self.unit = unit
        self.ending_at = ending_at
        self.app_id = app_id
        self.segment_id = segment_id
        self.deferrable = deferrable
        self.events_conn_id = events_conn_id

    @cached_property
    def hook(self) -> EventsAnalyticsHook:
        """One hook, and so one pooled session, for every poke of this try."""
        from airflow_provider_events.hooks.events import EventsAnalyticsHook

        return EventsAnalyticsHook(self.events_conn_id, **self.hook_params)

    def _align_with_run(self, context: Context) -> None:
        """With ``length=None``, fix the window to the run's data interval, before any request."""
        if self.length is not None:
            return
        from airflow_provider_events._run import total_window

        window = total_window(context, self.unit, self.ending_at)  # type: ignore[arg-type]
        self.length, self.ending_at, self.unit = window.length, window.ending_at, window.unit  # type: ignore[assignment]

    def _validate(self) -> int:
        """Check the rendered arguments before any request; return the threshold as an int."""
        threshold = coerce_threshold(self.threshold)
        check_window([self.event], **window_args(self))
        return threshold

    def poke(self, context: Context) -> PokeReturnValue:
        """Fetch the window once and compare its total with the threshold."""
        self._align_with_run(context)
        threshold = self._validate()
        series = self.hook.get_series(self.event, **window_args(self))
        total = total_count(series)
        log_check(self.log, self, total, series[-1]["time"], threshold)
        return PokeReturnValue(is_done=total >= threshold, xcom_value=total)

    def execute(self, context: Context) -> Any:
        """Validate, then wait in poke/reschedule mode, or check once and defer to the triggerer."""
        try:
            return self._wait(context)
        finally:
            if "hook" in self.__dict__:  # the pokes' session ends with the try (or the deferral)
                self.hook.close()

    def _wait(self, context: Context) -> Any:
        self._align_with_run(context)
        self.threshold = self._validate()
        if self.check_event_names and not self._rescheduled(context):
            from airflow_provider_events._listing import task_listing
            from airflow_provider_events._names import require_listed

            require_listed([self.event], task_listing(self.hook, context, [self.event]))
        if not self.deferrable:
            return self._poke_until_done(context)
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

    def _poke_until_done(self, context: Context) -> Any:
        """Poke or reschedule as the base class does; but an API error is never skipped by ``soft_fail``."""
        from airflow.sdk.exceptions import AirflowSkipException

        from airflow_provider_events.exceptions import EventsAnalyticsError

        try:
            return super().execute(context)
        except AirflowSkipException as skip:
            # The base class skips on soft_fail for any AirflowFailException, which the errors no
            # retry can fix are; a wrong key is no "not yet" to skip, so it fails the task here.
            cause = skip.__cause__
            if isinstance(cause, EventsAnalyticsError) and not self.never_fail:
                raise cause from None
            raise

    def _rescheduled(self, context: Context) -> bool:
        """Whether this is a later run of a sensor in reschedule mode, whose name was checked already."""
        # /events/list has a far lower rate limit than the series: list once per try, not per poke.
        return self.reschedule and context["ti"].get_first_reschedule_date(context) is not None

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
