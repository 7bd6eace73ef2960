"""e2e: one export per event through dynamic task mapping, each to a file named after the interval."""

from __future__ import annotations

import os
from datetime import datetime, timezone

from airflow.sdk import DAG, CronDataIntervalTimetable

from airflow_provider_events.operators.events import EventSeriesOperator

EVENTS = ["app_open", "purchase", "signup"]
EXPORT_DIR = os.environ.get("EVENTS_EXPORT_DIR", "/tmp/events_exports")
FILE_NAME = "{{ data_interval_start | ds }}-{{ ti.map_index }}.csv"

with DAG(
    dag_id="e2e_mapped_export",
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    doc_md=__doc__,
    tags=["e2e"],
):
    EventSeriesOperator.partial(
        task_id="export_each",
        unit="hour",
        output_path=os.path.join(EXPORT_DIR, "mapped", FILE_NAME),
    ).expand(event=EVENTS)
