"""e2e: an export on a connection whose key the API refuses fails at its first request."""

from __future__ import annotations

from datetime import datetime, timezone

from airflow.sdk import DAG, CronDataIntervalTimetable

from airflow_provider_events.operators.events import EventSeriesOperator

with DAG(
    dag_id="e2e_wrong_key",
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    doc_md=__doc__,
    tags=["e2e"],
):
    EventSeriesOperator(
        task_id="export_with_a_wrong_key",
        event="purchase",
        unit="hour",
        events_conn_id="events_wrong_key",
        hook_params={"retry_limit": 5, "retry_delay": 1.0},
    )
