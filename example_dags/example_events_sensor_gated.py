"""
Gate an export on activity: wait, on the triggerer, until the day's ``purchase`` events reach a
threshold, then export the checkout funnel's hourly counts over the last few days.

The schedule has real data intervals (``CronDataIntervalTimetable``), so the run for a day starts
once that day is over. The sensor counts exactly that day, hour by hour (``unit="hour",
length=None``: the hours of the run's data interval), frees its worker slot while it waits, and
pushes the total it saw as its XCom. Scheduled in another time zone, e.g.
``CronDataIntervalTimetable("@daily", timezone="America/New_York")``, the same sensor counts the
New York day, all 23, 24 or 25 hours of it. The export then writes the hourly counts of ``add_to_cart``,
``checkout_started`` and ``purchase`` for the days up to and including that day to
``$EVENTS_EXPORT_DIR/gated/<day>.csv``, one row per event and hour.

Steer it from the environment (read at parse time):

- ``EVENTS_GATED_THRESHOLD``: purchases to wait for (default 1000); a run's conf may override it,
  e.g. ``{"threshold": 5000}``
- ``EVENTS_GATED_POKE_INTERVAL``: seconds between two checks on the triggerer (default 300)
- ``EVENTS_GATED_TIMEOUT``: seconds to wait before the sensor fails (default 20 hours)
- ``EVENTS_GATED_DAYS``: how many days the export covers, ending with the run's day (default 3)
- ``EVENTS_EXPORT_DIR``: where the export goes (default ``/tmp/events_exports``)

The connection ``events_analytics_default`` holds the instance URL and REST API key; it is only
read when the tasks run.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

from airflow.sdk import DAG, CronDataIntervalTimetable, Param

from airflow_provider_events.operators.events import EventSeriesOperator
from airflow_provider_events.sensors.events import EventCountSensor

THRESHOLD = int(os.environ.get("EVENTS_GATED_THRESHOLD", "1000"))
POKE_INTERVAL = float(os.environ.get("EVENTS_GATED_POKE_INTERVAL", "300"))
TIMEOUT = float(os.environ.get("EVENTS_GATED_TIMEOUT", str(20 * 3600)))
DAYS = int(os.environ.get("EVENTS_GATED_DAYS", "3"))
EXPORT_DIR = os.environ.get("EVENTS_EXPORT_DIR", "/tmp/events_exports")
FUNNEL = ["add_to_cart", "checkout_started", "purchase"]

with DAG(
    dag_id="example_events_sensor_gated",
    description="Wait until the day's purchases reach a threshold, then export them",
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    params={"threshold": Param(THRESHOLD, type="integer", minimum=0, description="purchases to wait for")},
    doc_md=__doc__,
    tags=["example", "events"],
) as dag:
    wait_for_purchases = EventCountSensor(
        task_id="wait_for_purchases",
        event="purchase",
        threshold="{{ params.threshold }}",
        unit="hour",
        length=None,  # the run's data interval: its day, in the timetable's time zone
        deferrable=True,
        poke_interval=POKE_INTERVAL,
        timeout=timedelta(seconds=TIMEOUT),
    )

    # length with no ending_at: the hours that end with the last one of the run's data interval
    export_funnel = EventSeriesOperator(
        task_id="export_hourly_funnel",
        event=FUNNEL,
        unit="hour",
        length=24 * DAYS,
        output_path=os.path.join(EXPORT_DIR, "gated", "{{ data_interval_start | ds }}.csv"),
    )

    wait_for_purchases >> export_funnel
