"""
Restate the last 7 days of every custom event's daily counts, as Parquet, one file per day.

Counts can arrive late, so each daily run re-reads the 7 days up to and including its data
interval's day and replaces their files whole: ``$EVENTS_EXPORT_DIR/daily/day=<day>/events.parquet``
(default folder ``/tmp/events_exports``). A day is thus restated by 7 consecutive runs and then
left alone; a warehouse table over ``daily/day=*/`` (BigQuery, Snowflake, Redshift, Databricks,
DuckDB) sees each day once. The export streams, so its memory does not grow with the number of
events, and every file appears only once it is whole.

Parquet needs ``pip install 'airflow-provider-events[parquet]'`` on the workers; without it the
task fails before any request, naming the extra. Columns: ``event`` (string), ``time`` (date),
``count`` (int64).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

from airflow.sdk import DAG, CronDataIntervalTimetable

from airflow_provider_events.operators.events import EventSeriesOperator

EXPORT_DIR = os.environ.get("EVENTS_EXPORT_DIR", "/tmp/events_exports")

with DAG(
    dag_id="example_events_restate_parquet",
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    doc_md=__doc__,
    tags=["example", "events"],
):
    EventSeriesOperator(
        task_id="restate_last_7_days",
        event="*",
        length=7,  # the 7 days ending with the run's data interval
        unit="day",
        output_path=os.path.join(EXPORT_DIR, "daily", "day={day}", "events.parquet"),
    )
