"""
e2e (distributed): hourly exports to S3 through an ``aws`` connection, mapped over the Celery workers.

Each mapped task exports one event's 24 hours of 2024-06-01 to ``hours/{event}.csv`` in the
bucket; ``write_with_object_storage`` writes the same form of path with ``ObjectStoragePath``
itself, which tells whether the connection and the store work from a worker at all.
"""

from __future__ import annotations

from datetime import datetime, timezone

from airflow.sdk import DAG, ObjectStoragePath, task

from airflow_provider_events.operators.events import EventSeriesOperator

BUCKET_URL = "s3://aws_s3@e2e-exports"
EVENTS = ["add_to_cart", "app_open", "checkout_started", "purchase", "signup"]

with DAG(
    dag_id="e2e_dist_s3_export",
    schedule=None,
    start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    doc_md=__doc__,
    tags=["e2e"],
):

    @task
    def write_with_object_storage() -> str:
        path = ObjectStoragePath(BUCKET_URL + "/probe/hours.csv")
        path.write_text("event,time,count\n")
        return str(path)

    write_with_object_storage()
    EventSeriesOperator.partial(
        task_id="export",
        unit="hour",
        length=24,
        ending_at="2024-06-01T23:00:00+00:00",
        output_path=BUCKET_URL + "/hours/{event}.csv",
    ).expand(event=[[event] for event in EVENTS])
