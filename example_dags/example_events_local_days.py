"""
Export a business's own days: a DAG scheduled in New York exports New York days.

The timetable's time zone decides what a day is. Each run starts when its local day is over and
exports that day, complete, twice:

- ``$EVENTS_EXPORT_DIR/local_days/<day>.csv``: one row per event with the day's total
  (``unit="day"``), the date as the API wrote it;
- ``$EVENTS_EXPORT_DIR/local_hours/<day>.csv``: its hours (``unit="hour"``), 23 on the day the
  clocks go forward, 25 on the day they go back, 24 otherwise.

``<day>`` is the operator's ``{day}`` placeholder: each bucket's calendar day in the timetable's
zone, for hours too, so a day's 23, 24 or 25 hours land in one file named for that local day,
and no two runs write the same file. Jinja's ``{{ ds }}`` (or ``data_interval_start | ds``) would
be the UTC date, the day before for zones east of UTC; ``in_timezone(dag.timezone)`` is right only
while ``start_date`` is in the timetable's zone (``dag.timezone`` is the start date's).

The API counts a day in the UTC offset of the ``ending_at`` it is sent, one offset per request, so
each local day is asked in its own offset. A day on which the clocks change is not 24 hours long
and the API cannot express it as one day: the operator asks for its 23 or 25 hours and sums them
into the day's one row, which is then the sum of the hourly file's rows, as on every other day. A
window of several days across such a change is fetched as one request per stretch of constant
offset (and the change day's hours), joined in order.

Steer it from the environment (read at parse time): ``EVENTS_LOCAL_TIMEZONE`` (default
``America/New_York``) and ``EVENTS_EXPORT_DIR`` (default ``/tmp/events_exports``). The connection
``events_analytics_default`` holds the instance URL and REST API key.
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import DAG, CronDataIntervalTimetable

from airflow_provider_events.operators.events import EventSeriesOperator

TIMEZONE = os.environ.get("EVENTS_LOCAL_TIMEZONE", "America/New_York")
EXPORT_DIR = os.environ.get("EVENTS_EXPORT_DIR", "/tmp/events_exports")

with DAG(
    dag_id="example_events_local_days",
    schedule=CronDataIntervalTimetable("@daily", timezone=TIMEZONE),
    start_date=pendulum.datetime(2024, 1, 1, tz=TIMEZONE),
    catchup=False,
    doc_md=__doc__,
    tags=["example", "events"],
):
    for unit in ("day", "hour"):
        EventSeriesOperator(
            task_id=f"export_local_{unit}s",
            event=["purchase", "signup"],
            unit=unit,
            output_path=os.path.join(EXPORT_DIR, f"local_{unit}s", "{day}.csv"),
        )
