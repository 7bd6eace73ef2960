"""The time zone a run's days are counted in: its DAG timetable's."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import tzinfo
from typing import Any


def timetable_zone(context: Mapping[str, Any]) -> tzinfo | None:
    """
    The time zone of the context's DAG timetable, or None when it has none.

    Cron timetables carry one (``CronDataIntervalTimetable("@daily", timezone="America/New_York")``,
    and ``schedule="@daily"`` takes the zone of ``start_date``); delta, event and asset timetables do
    not, and neither does a run without a DAG. The Task SDK's timetables name it ``timezone``
    (a zone name or a pendulum zone), the scheduler's ``_timezone``;
    ``MultipleCronTriggerTimetable`` holds cron timetables that share one, and
    ``AssetOrTimeSchedule`` the timetable of its time-based schedule.
    """
    timetable = getattr(context.get("dag"), "timetable", None)
    timetable = getattr(timetable, "timetable", None) or timetable  # AssetOrTimeSchedule's schedule
    nested = getattr(timetable, "timetables", None)
    if isinstance(nested, list | tuple) and nested:
        timetable = nested[0]
    zone = getattr(timetable, "timezone", None) or getattr(timetable, "_timezone", None)
    if isinstance(zone, str):
        import pendulum

        # The same parser Airflow applies to the name when it schedules the DAG.
        return pendulum.timezone(zone)
    return zone if isinstance(zone, tzinfo) else None
