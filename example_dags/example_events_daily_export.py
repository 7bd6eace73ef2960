"""
Export each day's hourly counts of two custom events to a CSV file, one file per day.

Each run exports exactly its data interval (24 hourly points, 00:00 to 23:00 UTC) to
``$EVENTS_EXPORT_DIR/hourly/<day>.csv`` (default folder ``/tmp/events_exports``). The file is
named after the interval's first day, ``{{ data_interval_start | ds }}``, which is ``{{ ds }}``
for scheduled runs and backfills and still the exported day for manual runs (whose ``ds`` is the
trigger date). The file is replaced whole, so reruns and backfills (``airflow backfill create``)
rewrite the same rows. The connection ``events_analytics_default`` holds the instance URL and
REST API key.

The schedule is ``CronDataIntervalTimetable("@daily")``: in Airflow 3, ``schedule="@daily"``
gives each run an empty data interval, which would leave nothing to export.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

from airflow.sdk import DAG, CronDataIntervalTimetable

from airflow_provider_events.operators.events import EventSeriesOperator

EXPORT_DIR = os.environ.get("EVENTS_EXPORT_DIR", "/tmp/events_exports")

with DAG(
    dag_id="example_events_daily_export",
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    doc_md=__doc__,
    tags=["example", "events"],
):
    EventSeriesOperator(
        task_id="export_hourly_counts",
        event=["purchase", "signup"],
        unit="hour",
        output_path=os.path.join(EXPORT_DIR, "hourly", "{{ data_interval_start | ds }}.csv"),
    )
