"""e2e: one export per event through dynamic task mapping, each returning its records through XCom."""

from __future__ import annotations

from datetime import datetime, timezone

from airflow.sdk import DAG, CronDataIntervalTimetable

from airflow_provider_events.operators.events import EventSeriesOperator

EVENTS = ["app_open", "purchase", "signup"]

with DAG(
    dag_id="e2e_mapped_export",
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    doc_md=__doc__,
    tags=["e2e"],
):
    EventSeriesOperator.partial(task_id="export_each", unit="hour").expand(event=EVENTS)
