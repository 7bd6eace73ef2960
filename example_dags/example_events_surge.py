"""
Start a pipeline when purchases surge: no sensor task, no schedule, the event itself starts the run.

An ``AssetWatcher`` on the asset ``events://purchase/surge`` runs ``EventCountCrossingTrigger``
on the triggerer: every few minutes it counts ``purchase`` events over the last hour(s), and each
time the total crosses the threshold from below it records one asset event, which starts one run
of this DAG. While the total stays above, nothing more happens; once it falls below, the next
crossing starts the next run. An API outage delays the check (it backs off and keeps trying), it
never stops the watcher.

The run reads the crossing from ``triggering_asset_events`` (``event``, ``threshold``, ``total``,
``unit``, ``length``, ``last_bucket``, ``crossing_id``) and writes the window's hourly counts to
``$EVENTS_EXPORT_DIR/surge/<last hour>.csv``. A manual run has no crossing: it exports the window
ending now.

Watchers run only while the DAG is unpaused. Needs Airflow 3.3.0 or later, which keeps the
watcher's memory of the last crossing across triggerer restarts; on older releases this file
fails to parse with an error saying so.

Steer it from the environment (read at parse time; each change makes a new watcher):

- ``EVENTS_SURGE_THRESHOLD``: purchases in the window that count as a surge (default 1000)
- ``EVENTS_SURGE_HOURS``: length of the window in hours, ending with the current hour (default 1)
- ``EVENTS_SURGE_POKE_INTERVAL``: seconds between two checks on the triggerer (default 300)
- ``EVENTS_SURGE_CONN_ID``: the ``events_analytics`` connection watched and exported from
  (default ``events_analytics_default``)
- ``EVENTS_EXPORT_DIR``: where the export goes (default ``/tmp/events_exports``)
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timezone
from typing import Any

from airflow.sdk import DAG, Asset, AssetWatcher, task

from airflow_provider_events import DEFAULT_CONN_ID
from airflow_provider_events.operators.events import EventSeriesOperator
from airflow_provider_events.triggers.events import EventCountCrossingTrigger

EVENT = "purchase"
THRESHOLD = int(os.environ.get("EVENTS_SURGE_THRESHOLD", "1000"))
HOURS = int(os.environ.get("EVENTS_SURGE_HOURS", "1"))
POKE_INTERVAL = float(os.environ.get("EVENTS_SURGE_POKE_INTERVAL", "300"))
EXPORT_DIR = os.environ.get("EVENTS_EXPORT_DIR", "/tmp/events_exports")
CONN_ID = os.environ.get("EVENTS_SURGE_CONN_ID", DEFAULT_CONN_ID)

purchase_surge = Asset(
    name="purchase_surge",
    uri=f"events://{EVENT}/surge",
    watchers=[
        AssetWatcher(
            name="purchase_surge",
            trigger=EventCountCrossingTrigger(
                event=EVENT,
                threshold=THRESHOLD,
                length=HOURS,
                unit="hour",
                poke_interval=POKE_INTERVAL,
                events_conn_id=CONN_ID,
                watcher_name="purchase_surge",
            ),
        )
    ],
)


@task(multiple_outputs=False)  # one XCom: the crossing as a whole
def read_crossing(triggering_asset_events: Any = None) -> dict[str, Any]:
    """The newest crossing that started this run, and where its window's export goes."""
    events = triggering_asset_events.get(purchase_surge, []) if triggering_asset_events else []
    if events:
        crossing = dict(events[-1].extra["payload"])
        print(f"Started by {len(events)} crossing(s); the newest: {crossing}")
    else:  # a manual run: the window ending with the current hour
        hour = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
        crossing = {"event": EVENT, "last_bucket": hour.isoformat()}
        print("No crossing started this run (a manual run): exporting the window ending now")
    # The window's last hour names the file: a second crossing in the same hour rewrites it whole.
    crossing["file"] = re.sub(r"[^0-9T]", "", crossing["last_bucket"])[:13] + ".csv"
    return crossing


with DAG(
    dag_id="example_events_surge",
    description="Export the hour's purchases each time they cross a threshold",
    schedule=[purchase_surge],
    start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    doc_md=__doc__,
    tags=["example", "events"],
):
    crossing = read_crossing()
    export = EventSeriesOperator(
        task_id="export_window_hourly",
        event=EVENT,
        unit="hour",
        length=HOURS,
        events_conn_id=CONN_ID,
        ending_at="{{ ti.xcom_pull(task_ids='read_crossing')['last_bucket'] }}",
        output_path=os.path.join(EXPORT_DIR, "surge", "{{ ti.xcom_pull(task_ids='read_crossing')['file'] }}"),
    )
    crossing >> export
