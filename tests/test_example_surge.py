"""The event-driven example: its watcher as stored with the DAG, and its run as a task sees it."""

from __future__ import annotations

import csv
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from airflow import __version__ as AIRFLOW_VERSION
from packaging.version import Version

from airflow_provider_events.emulator import EventsEmulator

REPO = Path(__file__).resolve().parent.parent
SURGE = REPO / "example_dags" / "example_events_surge.py"
pytestmark = pytest.mark.skipif(
    Version(AIRFLOW_VERSION) < Version("3.3.0"),
    reason="the example needs Airflow 3.3 (see test_example_dags)",
)


def load(monkeypatch: pytest.MonkeyPatch, **env: str) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    bag = DagBag(dag_folder=str(SURGE))
    assert bag.import_errors == {}
    return bag.dags["example_events_surge"]


def watched_asset(dag: Any) -> Any:
    (asset,) = dag.timetable.asset_condition.objects
    return asset


def test_the_watcher_is_stored_with_the_connection_id_only_and_the_same_on_every_parse(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow.serialization.serialized_objects import DagSerialization
    from airflow.triggers.base import BaseEventTrigger

    monkeypatch.setenv(
        "AIRFLOW_CONN_EVENTS_ANALYTICS_DEFAULT", '{"conn_type": "events_analytics", "password": "sk-x"}'
    )
    hashes = set()
    for _ in range(2):
        dag = load(monkeypatch)
        (watcher,) = watched_asset(dag).watchers
        hashes.add(BaseEventTrigger.hash(*watcher.trigger.serialize()))
    serialized = str(DagSerialization.to_dict(dag))
    assert len(hashes) == 1
    assert "EventCountCrossingTrigger" in serialized
    assert "events_analytics_default" in serialized
    assert "sk-x" not in serialized


def test_the_connection_knob_steers_the_watcher_and_the_export(monkeypatch: pytest.MonkeyPatch) -> None:
    dag = load(monkeypatch, EVENTS_SURGE_CONN_ID="events_surge")
    (watcher,) = watched_asset(dag).watchers
    assert watcher.trigger.serialize()[1]["events_conn_id"] == "events_surge"
    assert dag.get_task("export_window_hourly").events_conn_id == "events_surge"


def test_a_crossing_run_reads_the_newest_payload(monkeypatch: pytest.MonkeyPatch) -> None:
    dag = load(monkeypatch)
    surge = watched_asset(dag)
    payloads = [
        {
            "event": "purchase",
            "threshold": 1000,
            "total": total,
            "unit": "hour",
            "length": 1,
            "last_bucket": hour,
        }
        for total, hour in ((1004, "2024-03-10T14:00:00+00:00"), (1010, "2024-03-10T15:00:00-05:00"))
    ]
    events = {surge: [SimpleNamespace(extra={"payload": payload}) for payload in payloads]}

    crossing = dag.get_task("read_crossing").python_callable(triggering_asset_events=events)

    assert crossing == payloads[1] | {"file": "20240310T1500.csv"}


def test_dag_test_of_a_manual_run_exports_the_window_ending_now(
    airflow_db: str,
    events_conn: str,
    emulator: EventsEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow.utils.state import DagRunState

    dag = load(monkeypatch, EVENTS_EXPORT_DIR=str(tmp_path), EVENTS_SURGE_HOURS="3")
    before = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    run = dag.test()

    assert run.state == DagRunState.SUCCESS
    (written,) = (tmp_path / "surge").iterdir()
    with written.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    last_hour = datetime.fromisoformat(rows[-1]["time"])
    assert before <= last_hour <= datetime.now(timezone.utc)  # the hour the run started in, or a later one
    expected = emulator.series("purchase", 3, "hour", last_hour)
    assert [(row["time"], int(row["count"])) for row in rows] == [(p["time"], p["count"]) for p in expected]
    assert written.name == rows[-1]["time"][:13].replace("-", "") + "00.csv"  # the window's last hour
