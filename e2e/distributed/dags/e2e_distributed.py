"""
e2e (distributed): exports to S3 through the ``aws_s3`` connection, and a deferred sensor.

- ``e2e_dist_s3_export``: one event's 24 hours of 2024-06-01 per mapped task, spread over the
  Celery workers, to ``hours/{event}.csv``; ``write_with_object_storage`` writes the same form of
  path with ``ObjectStoragePath`` itself, which tells whether the connection and the store work
  from a worker at all.
- ``e2e_dist_slow_export``: a month of hours for every event from the slow emulator (tens of
  requests at 400 ms) to one object, long enough for its worker to be killed midway; the retry,
  on whichever worker is left, writes the whole object.
- ``e2e_dist_deferred_sensor``: waits on a triggerer until 2024-01-01's signups reach the
  run's ``threshold``.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import ObjectStoragePath, task

from airflow_provider_events.operators.events import EventSeriesOperator
from e2e.dag_parts import THRESHOLD_PARAM, e2e_dag, wait_for_signups

BUCKET_URL = "s3://aws_s3@e2e-exports"
EVENTS = ["add_to_cart", "app_open", "checkout_started", "purchase", "signup"]

with e2e_dag("e2e_dist_s3_export", __doc__, schedule=None):

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

with e2e_dag("e2e_dist_slow_export", __doc__, schedule=None):
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

with e2e_dag("e2e_dist_deferred_sensor", __doc__, schedule=None, params=THRESHOLD_PARAM):
    wait_for_signups("2024-01-01T00:00:00+00:00", deferrable=True)
