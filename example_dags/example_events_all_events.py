"""
Export the daily count of every custom event to one JSON Lines file a day.

``event="*"`` lists the instance's custom events once per run, then fetches all their series
concurrently under the hook's ``max_concurrency``. Each line of
``$EVENTS_EXPORT_DIR/all_events/<day>.jsonl`` (default folder ``/tmp/events_exports``) is
``{"event": ..., "time": ..., "count": ...}``, one line per event for the day of the run's data
interval.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

from airflow.sdk import DAG, CronDataIntervalTimetable

from airflow_provider_events.operators.events import EventSeriesOperator

EXPORT_DIR = os.environ.get("EVENTS_EXPORT_DIR", "/tmp/events_exports")

with DAG(
    dag_id="example_events_all_events",
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    doc_md=__doc__,
    tags=["example", "events"],
):
    EventSeriesOperator(
        task_id="export_all_events",
        event="*",
        unit="day",
        output_path=os.path.join(EXPORT_DIR, "all_events", "{{ data_interval_start | ds }}.jsonl"),
        hook_params={"max_concurrency": 8, "retry_limit": 8},
    )
