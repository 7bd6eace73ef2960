"""
e2e (distributed): a month of hours for every event from a slow API, to one S3 object, with a retry.

Long enough (tens of requests at 400 ms each) for its worker to be killed midway; the retry,
on whichever worker is left, writes the whole object.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.sdk import DAG

from airflow_provider_events.operators.events import EventSeriesOperator

BUCKET_URL = "s3://aws_s3@e2e-exports"
EVENTS = ["add_to_cart", "app_open", "checkout_started", "purchase", "signup"]

with DAG(
    dag_id="e2e_dist_slow_export",
    schedule=None,
    start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    doc_md=__doc__,
    tags=["e2e"],
):
    EventSeriesOperator(
        task_id="export_a_month",
        event=EVENTS,
        unit="hour",
        length=24 * 30,
        ending_at="2024-06-30T23:00:00+00:00",
        events_conn_id="events_slow",
        hook_params={"max_concurrency": 2},
        output_path=BUCKET_URL + "/slow/june.csv",
        retries=1,
        retry_delay=timedelta(seconds=1),
    )
