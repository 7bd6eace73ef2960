"""What a task does with its own retries, through dag.test(): mistakes fail at once, outages are retried.

Also: the map indexes of a mapped export share one listing of the event names per DAG run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_events.emulator import EventsEmulator, Fault
from tests.conftest import API_KEY

LIST = "/events/list"
SERIES = "/events/data_series"
EIGHT = [f"event_{index:04d}" for index in range(8)]

DAG_FILE = """
import json
import os
from datetime import timedelta

import pendulum
from airflow.sdk import DAG
from airflow_provider_events.operators.events import EventSeriesOperator

with DAG(
    "{dag_id}",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    default_args={{"retries": 2, "retry_delay": timedelta(0)}},
):
    events = json.loads(os.environ["RETRIES_EVENTS"])
    common = dict(
        task_id="export",
        length=3,
        ending_at="2024-05-01T00:00:00+00:00",
        events_conn_id="retries_conn",
        hook_params={{"retry_limit": 1, "retry_delay": 0.01}},
    )
    if os.environ.get("RETRIES_MAPPED"):
        EventSeriesOperator.partial(**common).expand(event=events)
    else:
        EventSeriesOperator(event=events, **common)
"""


def run_dag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dag_id: str, events: list[str], mapped: bool):
    """Run a one-task export DAG through dag.test(); its task instances, each with its try number."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db
    from airflow.utils.session import create_session

    (tmp_path / f"{dag_id}.py").write_text(DAG_FILE.format(dag_id=dag_id))
    monkeypatch.setenv("RETRIES_EVENTS", json.dumps(events))
    if mapped:
        monkeypatch.setenv("RETRIES_MAPPED", "1")
    bag = DagBag(dag_folder=str(tmp_path))
    with create_session() as session:
        DagBundlesManager().sync_bundles_to_db(session=session)
    sync_bag_to_db(bag, "dags-folder", None)
    run = bag.dags[dag_id].test()
    with create_session() as session:
        from airflow.models.taskinstance import TaskInstance

        tis = session.query(TaskInstance).filter_by(dag_id=dag_id, run_id=run.run_id).all()
        return run, [(ti.map_index, ti.state, ti.try_number) for ti in tis]


def connect(monkeypatch: pytest.MonkeyPatch, emulator: EventsEmulator, key: str = API_KEY) -> None:
    conn = {"conn_type": "events_analytics", "host": emulator.url, "password": key}
    monkeypatch.setenv("AIRFLOW_CONN_RETRIES_CONN", json.dumps(conn))


def test_a_wrong_key_fails_the_task_at_its_first_try(airflow_db, tmp_path, monkeypatch) -> None:
    with EventsEmulator(api_key=API_KEY) as emulator:
        connect(monkeypatch, emulator, key="sk-wrong-key-000000")
        run, tis = run_dag(tmp_path, monkeypatch, "retries_wrong_key", ["purchase"], mapped=False)
        assert run.state == "failed"
        assert tis == [(-1, "failed", 1)]  # retries=2, yet one try
        assert [r.path for r in emulator.requests] == [LIST]


def test_a_typo_fails_the_task_at_its_first_try(airflow_db, tmp_path, monkeypatch) -> None:
    with EventsEmulator(api_key=API_KEY) as emulator:
        connect(monkeypatch, emulator)
        run, tis = run_dag(tmp_path, monkeypatch, "retries_typo", ["Purchase"], mapped=False)
        assert run.state == "failed"
        assert tis == [(-1, "failed", 1)]
        assert [r.path for r in emulator.requests] == [LIST]


def test_an_outage_uses_the_tasks_retries(airflow_db, tmp_path, monkeypatch) -> None:
    with EventsEmulator(api_key=API_KEY) as emulator:
        connect(monkeypatch, emulator)
        emulator.enqueue(Fault(503), times=100)
        run, tis = run_dag(tmp_path, monkeypatch, "retries_outage", ["purchase"], mapped=False)
        assert run.state == "failed"
        assert tis == [(-1, "failed", 3)]  # the first try and both retries
        assert emulator.request_count() == 3 * 2  # each try: one listing, retried once by the hook


def test_a_mapped_export_of_eight_events_lists_the_names_once(airflow_db, tmp_path, monkeypatch) -> None:
    with EventsEmulator(api_key=API_KEY, events=EIGHT) as emulator:
        connect(monkeypatch, emulator)
        run, tis = run_dag(tmp_path, monkeypatch, "retries_mapped", EIGHT, mapped=True)
        assert run.state == "success"
        assert sorted(tis) == [(index, "success", 1) for index in range(8)]
        assert emulator.request_count(LIST) == 1
        assert emulator.request_count(SERIES) == 8


def test_a_mapped_typo_is_still_caught_with_the_shared_listing(airflow_db, tmp_path, monkeypatch) -> None:
    with EventsEmulator(api_key=API_KEY, events=EIGHT) as emulator:
        connect(monkeypatch, emulator)
        run, tis = run_dag(
            tmp_path, monkeypatch, "retries_mapped_typo", [*EIGHT[:3], "Event_0003"], mapped=True
        )
        assert run.state == "failed"
        assert sorted(tis) == [(0, "success", 1), (1, "success", 1), (2, "success", 1), (3, "failed", 1)]
        # One listing, and one more if the typo's map index ran after another had listed: it lists
        # afresh before failing, since its name may be newer than the shared listing.
        assert emulator.request_count(LIST) in (1, 2)
        assert emulator.request_count(SERIES) == 3
