"""What the suites' own DAG files share: their DAG's settings, and the signup sensor both suites run."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from airflow.sdk import DAG, Param

from airflow_provider_events.sensors.events import EventCountSensor


def e2e_dag(dag_id: str, doc: str, **kwargs: Any) -> DAG:
    """A DAG of the suites: from 2024-01-01 UTC, no catch-up, tagged ``e2e``; ``kwargs`` add the rest."""
    return DAG(
        dag_id=dag_id,
        start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
        catchup=False,
        doc_md=doc,
        tags=["e2e"],
        **kwargs,
    )


#: The run's ``threshold`` param, which the signup sensor compares with.
THRESHOLD_PARAM = {"threshold": Param(0, type="integer", minimum=0)}


def wait_for_signups(ending_at: str, **mode: Any) -> EventCountSensor:
    """
    Wait, poking every 2 s for up to 5 minutes, until a day's signups reach ``params.threshold``.

    :param ending_at: the day (templated)
    :param mode: how it waits: ``mode="reschedule"``, or ``deferrable=True``
    """
    return EventCountSensor(
        task_id="wait_for_signups",
        event="signup",
        threshold="{{ params.threshold }}",
        unit="day",
        length=1,
        ending_at=ending_at,
        poke_interval=2,
        timeout=300,
        **mode,
    )
