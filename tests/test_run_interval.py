"""Runs without a logical date export the timetable's last complete interval, and templates render."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pendulum
import pytest

from airflow_provider_events._run import fill_run_interval, run_interval

REPO = Path(__file__).resolve().parent.parent
UTC = timezone.utc


def _dag(schedule: object) -> object:
    from airflow.sdk import DAG

    return DAG("interval_probe", schedule=schedule, start_date=datetime(2024, 1, 1, tzinfo=UTC))


def test_the_contexts_own_interval_wins() -> None:
    start, end = pendulum.datetime(2024, 1, 1), pendulum.datetime(2024, 1, 2)
    context = {"data_interval_start": start, "data_interval_end": end, "dag": None}
    assert run_interval(context) == (start, end)


def test_a_run_without_one_gets_the_last_complete_cron_interval_before_it() -> None:
    from airflow.sdk import CronDataIntervalTimetable

    dag = _dag(CronDataIntervalTimetable("@daily", timezone="UTC"))
    run = SimpleNamespace(run_after=datetime(2024, 3, 5, 7, 30, tzinfo=UTC))
    context = {"dag": dag, "dag_run": run}

    fill_run_interval(context)

    assert context["data_interval_start"] == datetime(2024, 3, 4, tzinfo=UTC)
    assert context["data_interval_end"] == datetime(2024, 3, 5, tzinfo=UTC)


def test_a_delta_timetable_infers_the_interval_ending_at_the_run() -> None:
    dag = _dag(timedelta(hours=6))
    run = SimpleNamespace(run_after=datetime(2024, 3, 5, 7, 30, tzinfo=UTC))
    start, end = run_interval({"dag": dag, "dag_run": run})
    assert end - start == timedelta(hours=6)  # type: ignore[operator]
    assert end == datetime(2024, 3, 5, 7, 30, tzinfo=UTC)


def test_without_a_dag_or_run_nothing_is_invented() -> None:
    context: dict[str, object] = {"data_interval_start": None, "data_interval_end": None}
    fill_run_interval(context)
    assert run_interval(context) == (None, None)
    assert context == {"data_interval_start": None, "data_interval_end": None}


def _load(name: str) -> object:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "example_dags" / f"{name}.py"))
    assert bag.import_errors == {}
    return bag.dags[name]


def _day_before(run: Any) -> str:
    # A daily timetable's last complete interval before the run: the (UTC) day before it.
    return (run.run_after - timedelta(days=1)).date().isoformat()


@pytest.mark.parametrize(
    ("name", "folder", "suffix", "conf"),
    [
        ("example_events_daily_export", "hourly", "csv", None),
        ("example_events_all_events", "all_events", "jsonl", None),
        ("example_events_sensor_gated", "gated", "csv", {"threshold": 0}),
    ],
)
def test_every_example_runs_without_a_logical_date(
    airflow_db, events_conn, emulator, tmp_path, monkeypatch, name, folder, suffix, conf
) -> None:
    monkeypatch.setenv("EVENTS_EXPORT_DIR", str(tmp_path))
    dag = _load(name)

    run = dag.test(logical_date=None, run_conf=conf)  # type: ignore[attr-defined]
    day = _day_before(run)

    assert run.logical_date is None
    assert run.state == "success", run.state
    written = sorted(path.name for path in (tmp_path / folder).iterdir())
    assert written == [f"{day}.{suffix}"]
    if suffix == "csv":
        with (tmp_path / folder / written[0]).open(newline="") as handle:
            times = [row["time"] for row in csv.DictReader(handle)]
        assert times[-1] == f"{day}T23:00:00+00:00"  # the interval's last hour, as a scheduled run


MAPPED_DAG = """
import os
from datetime import datetime, timezone

from airflow.sdk import DAG, CronDataIntervalTimetable

from airflow_provider_events.operators.events import EventSeriesOperator

with DAG(
    "mapped_without_logical_date",
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
    catchup=False,
):
    EventSeriesOperator.partial(
        task_id="export",
        unit="hour",
        output_path=os.environ["MAPPED_EXPORT_DIR"] + "/{{ data_interval_start | ds }}/{event}.csv",
        hook_params={"retry_delay": 0.01, "retry_limit": 1},
    ).expand(event=["purchase", "signup"])
"""


def test_a_mapped_export_renders_its_templates_with_the_inferred_interval(
    airflow_db, events_conn, emulator, tmp_path, monkeypatch
) -> None:
    # A mapped task renders its unmapped copy field by field (render_template), never through
    # render_template_fields: without the inferred interval, data_interval_start is undefined here.
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db
    from airflow.utils.session import create_session

    (tmp_path / "dags").mkdir()
    (tmp_path / "dags" / "mapped.py").write_text(MAPPED_DAG)
    monkeypatch.setenv("MAPPED_EXPORT_DIR", str(tmp_path / "out"))
    bag = DagBag(dag_folder=str(tmp_path / "dags"))
    assert bag.import_errors == {}
    # dag.test() syncs only the configured DAG folder (the examples): register this one first.
    with create_session() as session:
        DagBundlesManager().sync_bundles_to_db(session=session)
    sync_bag_to_db(bag, "dags-folder", None)

    run = bag.dags["mapped_without_logical_date"].test(logical_date=None)
    day = _day_before(run)

    assert run.logical_date is None
    assert run.state == "success", run.state
    written = sorted(path.relative_to(tmp_path / "out").as_posix() for path in (tmp_path / "out").rglob("*"))
    assert written == [day, f"{day}/purchase.csv", f"{day}/signup.csv"]
