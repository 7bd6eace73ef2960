"""What a task's run covers: its data interval (also in runs without a logical date), the zone its
days are counted in, and the windows the operator exports and the sensor totals.

A run triggered without a logical date (``airflow dags trigger DAG`` without ``-l``, or REST
``"logical_date": null``) has no ``data_interval_start``/``data_interval_end`` in its context. It
then covers what a scheduled run would have: the DAG timetable's most recent complete interval
before the run, as the timetable itself infers it for manual runs. Days are the local days of the
DAG timetable's zone (UTC without one); the arithmetic is :mod:`._calendar`'s.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from datetime import datetime, tzinfo
from typing import Any

from airflow_provider_events._airflow_compat import core_timetable, scheduler_timetable_zone
from airflow_provider_events._calendar import days_as_hours, interval_windows, trailing_windows
from airflow_provider_events._checks import parse_ending_at
from airflow_provider_events._paging import Window
from airflow_provider_events.exceptions import EventsAnalyticsConfigError

_WITH_INTERVALS = "CronDataIntervalTimetable('@daily', timezone='UTC')"


INTERVAL_KEYS = ("data_interval_start", "data_interval_end")


def run_interval(context: Mapping[str, Any]) -> tuple[datetime | None, datetime | None]:
    """
    ``(data_interval_start, data_interval_end)`` for the task's run.

    The context's own interval when it has one; else the timetable's most recent complete
    interval before the run's ``run_after``; ``(None, None)`` when the context names no DAG or
    run to infer it from (a bare ``execute({})`` call).
    """
    start, end = (context.get(key) for key in INTERVAL_KEYS)
    if start is not None and end is not None:
        return start, end
    dag, dag_run = context.get("dag"), context.get("dag_run")
    run_after = getattr(dag_run, "run_after", None)
    if dag is None or run_after is None:
        return start, end
    interval = core_timetable(dag.timetable).infer_manual_data_interval(run_after=_as_pendulum(run_after))
    return interval.start, interval.end


def fill_run_interval(context: MutableMapping[str, Any]) -> None:
    """Put the run's interval into a context that lacks one, so that templates can use it."""
    start, end = run_interval(context)
    if start is not None and end is not None:
        context["data_interval_start"], context["data_interval_end"] = start, end


class InferredIntervalTemplates:
    """
    Operator mixin: in a run without a logical date, templates render with the inferred interval.

    ``{{ data_interval_start | ds }}`` then names the day the task exports, as in a scheduled run.
    """

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        fill_run_interval(context)
        super().render_template_fields(context, jinja_env)  # type: ignore[misc]

    def render_template(
        self, content: Any, context: Any, jinja_env: Any = None, seen_oids: set[int] | None = None
    ) -> Any:
        # A mapped task (.partial().expand()) renders its unmapped copy field by field through
        # here, never through render_template_fields.
        fill_run_interval(context)
        return super().render_template(content, context, jinja_env, seen_oids)  # type: ignore[misc]


def _as_pendulum(moment: datetime) -> Any:
    from airflow.sdk import timezone

    return timezone.coerce_datetime(moment)


def timetable_zone(context: Mapping[str, Any]) -> tzinfo | None:
    """
    The time zone of the context's DAG timetable, or None when it has none.

    Cron timetables carry one (``CronDataIntervalTimetable("@daily", timezone="America/New_York")``,
    and ``schedule="@daily"`` takes the zone of ``start_date``); ``MultipleCronTriggerTimetable``
    holds cron timetables that share one, and ``AssetOrTimeSchedule`` the timetable of its
    time-based schedule. Delta, event and asset timetables have none, and neither has a run
    without a DAG; a timetable of another class has the zone of its ``timezone`` attribute, if any.
    A cron timetable whose zone cannot be read (an Airflow release that moved it) is an error:
    its days are never silently counted in UTC.
    """
    timetable = getattr(context.get("dag"), "timetable", None)
    if timetable is None:
        return None
    # A DAG file may pass the scheduler's classes as its schedule; they keep the zone private.
    scheduler_zone = scheduler_timetable_zone(timetable)
    if scheduler_zone is not None:
        return scheduler_zone
    from airflow.sdk import (
        AssetOrTimeSchedule,
        CronDataIntervalTimetable,
        CronTriggerTimetable,
        MultipleCronTriggerTimetable,
    )

    if isinstance(timetable, AssetOrTimeSchedule):
        timetable = timetable.timetable
    if isinstance(timetable, MultipleCronTriggerTimetable):
        timetable = timetable.timetables[0]  # they share one zone
    zone = getattr(timetable, "timezone", None)
    if isinstance(zone, str):
        import pendulum

        # The same parser Airflow applies to the name when it schedules the DAG.
        return pendulum.timezone(zone)
    if isinstance(zone, tzinfo):
        return zone
    if isinstance(timetable, CronDataIntervalTimetable | CronTriggerTimetable):
        from airflow import __version__ as airflow_version

        raise EventsAnalyticsConfigError(
            f"the time zone of {type(timetable).__qualname__} cannot be read in Apache Airflow "
            f"{airflow_version} (its timezone is {zone!r}), so its local days cannot be told: this "
            "release of airflow-provider-events does not support it yet"
        )
    return None


def export_windows(
    context: MutableMapping[str, Any], length: int | None, unit: str, ending_at: str | datetime | None
) -> list[Window]:
    """
    The windows an export covers, oldest first; ``ending_at`` None means now.

    ``length=None`` is exactly the run's data interval; with ``length``, the same last bucket as
    such a run (or the one holding ``ending_at``, or now without an interval). Days are the local
    days of the DAG timetable's zone, one window per stretch of constant UTC offset, and the hours of
    each day the clocks change; any other window is one.
    """
    start, end = run_interval(context)
    zone = timetable_zone(context)
    if length is None:
        if ending_at is not None:
            raise EventsAnalyticsConfigError(
                "ending_at needs length: pass length (the number of buckets ending at ending_at), "
                "or leave both unset to export exactly the run's data interval"
            )
        if start is None or end is None:
            raise EventsAnalyticsConfigError(
                "this run has no data interval: pass length (and optionally ending_at)"
            )
        try:
            return interval_windows(start, end, unit, zone)
        except ValueError as err:
            raise EventsAnalyticsConfigError(
                f"{err}, so the run's data interval holds no {unit}: pass length, or schedule the "
                f"DAG with data intervals, e.g. {_WITH_INTERVALS}"
            ) from None
    if ending_at is not None:
        return [Window(length, parse_ending_at(ending_at), unit)]
    if start is None or end is None:
        return [Window(length, None, unit)]
    # The same last bucket as a length=None run over the same interval, in the same offset.
    return trailing_windows(length, unit, start, end, zone)


def total_window(context: MutableMapping[str, Any], unit: str, ending_at: str | datetime | None) -> Window:
    """
    The run's data interval as the one window whose total counts it exactly (the sensor's ``length=None``).

    Hours are the interval's hours. Days are the one local day (or days) in their UTC offset; where no
    one day request counts them exactly (a day the clocks change, or days across a change), their
    hours in one request instead: the same events, so the total is exact on every day of the year.
    """
    start, end = run_interval(context)
    if ending_at is not None or start is None or end is None:
        raise EventsAnalyticsConfigError(
            "length=None counts the run's data interval: it needs a run with one (a schedule such as "
            "CronDataIntervalTimetable) and no ending_at; otherwise pass length"
        )
    zone = timetable_zone(context)
    try:
        windows = interval_windows(start, end, unit, zone)
        if len(windows) == 1 and windows[0].day is None:
            return windows[0]
        return Window(*days_as_hours(start, end, zone), "hour")
    except ValueError as err:
        raise EventsAnalyticsConfigError(
            f"{err}: pass length, or schedule the DAG with data intervals, e.g. {_WITH_INTERVALS}"
        ) from None
