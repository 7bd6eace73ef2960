"""e2e: a reschedule-mode sensor frees its slot between pokes until the day's signups reach a threshold."""

from __future__ import annotations

from datetime import datetime, timezone

from airflow.sdk import DAG, CronDataIntervalTimetable, Param

from airflow_provider_events.sensors.events import EventCountSensor

with DAG(
    dag_id="e2e_reschedule_sensor",
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    params={"threshold": Param(0, type="integer", minimum=0)},
    doc_md=__doc__,
    tags=["e2e"],
):
    EventCountSensor(
        task_id="wait_for_signups",
        event="signup",
        threshold="{{ params.threshold }}",
        unit="day",
        length=1,
        ending_at="{{ data_interval_start }}",
        mode="reschedule",
        poke_interval=2,
        timeout=300,
    )
