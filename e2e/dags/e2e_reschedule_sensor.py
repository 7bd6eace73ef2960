"""e2e: a reschedule-mode sensor frees its slot between pokes until the day's signups reach a threshold."""

from __future__ import annotations

from airflow.sdk import CronDataIntervalTimetable

from e2e.dag_parts import THRESHOLD_PARAM, e2e_dag, wait_for_signups

with e2e_dag(
    "e2e_reschedule_sensor",
    __doc__,
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    params=THRESHOLD_PARAM,
):
    wait_for_signups("{{ data_interval_start }}", mode="reschedule")
