"""e2e (distributed): a deferred sensor waits on a triggerer until 2024-01-01's signups reach a threshold."""

from __future__ import annotations

from datetime import datetime, timezone

from airflow.sdk import DAG, Param

from airflow_provider_events.sensors.events import EventCountSensor

with DAG(
    dag_id="e2e_dist_deferred_sensor",
    schedule=None,
    start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    params={"threshold": Param(0, type="integer", minimum=0)},
    doc_md=__doc__,
    tags=["e2e"],
):
    EventCountSensor(
        task_id="wait_for_signups",
        event="signup",
        threshold="{{ params.threshold }}",
        unit="day",
        length=1,
        ending_at="2024-01-01T00:00:00+00:00",
        deferrable=True,
        poke_interval=2,
        timeout=300,
    )
