"""EventSeriesOperator over real HTTP against the emulator: windows, records, files, failures, lineage."""

from __future__ import annotations

import csv
import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pendulum
import pytest

from airflow_provider_events.emulator import EventsEmulator, Fault
from airflow_provider_events.exceptions import (
    EventsAnalyticsAuthError,
    EventsAnalyticsConfigError,
    EventsAnalyticsServerError,
)
from airflow_provider_events.operators import events as operator_module
from airflow_provider_events.operators.events import EventSeriesOperator

REPO = Path(__file__).resolve().parent.parent
UTC = timezone.utc
SERIES = "/events/data_series"
LIST = "/events/list"
FAST = {"retry_delay": 0.01, "retry_limit": 1, "timeout": 5}
DAY = {
    "data_interval_start": pendulum.datetime(2024, 1, 1),
    "data_interval_end": pendulum.datetime(2024, 1, 2),
}
NO_INTERVAL: dict[str, Any] = {"data_interval_start": None, "data_interval_end": None}
# What Airflow 3 gives a run of schedule="@daily" (CronTriggerTimetable): an empty interval.
EMPTY_INTERVAL = {
    "data_interval_start": DAY["data_interval_end"],
    "data_interval_end": DAY["data_interval_end"],
}


def operator(**kwargs: Any) -> EventSeriesOperator:
    kwargs.setdefault("task_id", "export")
    kwargs.setdefault("hook_params", FAST)
    return EventSeriesOperator(**kwargs)


def expected(emulator: EventsEmulator, events: list[str], length: int, unit: str, ending_at: Any, **kw):
    return [
        {"event": event, **point}
        for event in events
        for point in emulator.series(event, length, unit, ending_at=ending_at, **kw)
    ]


def read_back(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".csv":
        return [{**row, "count": int(row["count"])} for row in csv.DictReader(text.splitlines())]
    if path.suffix == ".json":
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines()]


# -- windows and records -----------------------------------------------------------------------------


def test_records_are_the_emulator_series_with_the_event_on_each_row(emulator, events_conn) -> None:
    ending_at = "2024-01-31T12:00:00Z"
    records = operator(event=["purchase", "signup"], length=5, ending_at=ending_at).execute(NO_INTERVAL)
    assert records == expected(emulator, ["purchase", "signup"], 5, "day", ending_at)
    assert [r["time"] for r in records[:5]] == [
        "2024-01-27",
        "2024-01-28",
        "2024-01-29",
        "2024-01-30",
        "2024-01-31",
    ]


def test_a_daily_run_with_hours_yields_24_rows_from_00_to_23_utc(emulator, events_conn) -> None:
    records = operator(event="purchase", unit="hour").execute(DAY)
    assert [r["time"] for r in records] == [f"2024-01-01T{hour:02d}:00:00+00:00" for hour in range(24)]
    assert records == expected(emulator, ["purchase"], 24, "hour", datetime(2024, 1, 1, 23, tzinfo=UTC))


def test_a_daily_run_with_days_yields_the_one_day(emulator, events_conn) -> None:
    context = {
        "data_interval_start": datetime(2024, 1, 1, tzinfo=UTC),
        "data_interval_end": datetime(2024, 1, 2, tzinfo=UTC),
    }
    records = operator(event="purchase").execute(context)
    assert records == [
        {
            "event": "purchase",
            "time": "2024-01-01",
            "count": emulator.count("purchase", datetime(2024, 1, 1), "day"),
        }
    ]


def test_length_without_ending_at_ends_with_the_last_bucket_of_the_interval(emulator, events_conn) -> None:
    by_interval = operator(event="purchase", unit="hour").execute(DAY)
    by_length = operator(event="purchase", unit="hour", length=24).execute(DAY)
    rerun = operator(event="purchase", unit="hour", length=24).execute(DAY)
    assert by_length == by_interval == rerun
    sent = {request.params["ending_at"] for request in emulator.requests if request.path == SERIES}
    assert sent == {"2024-01-01T23:00:00+00:00"}  # every run asks for the very same window
    longer = operator(event="purchase", unit="hour", length=48).execute(DAY)
    assert longer[-24:] == by_interval and longer[0]["time"] == "2023-12-31T00:00:00+00:00"
    assert emulator.request_count(LIST) == 4  # the names are listed once per task


def test_length_in_a_run_with_an_empty_interval_ends_before_the_run(emulator, events_conn) -> None:
    # schedule="@daily" in Airflow 3: the interval is the instant 2024-01-02T00:00, excluded.
    assert operator(event="purchase", unit="hour", length=24).execute(EMPTY_INTERVAL) == operator(
        event="purchase", unit="hour"
    ).execute(DAY)


def test_without_a_data_interval_length_ends_now(emulator, events_conn) -> None:
    before = datetime.now(UTC)
    records = operator(event="purchase", unit="hour", length=3).execute({})
    sent = datetime.fromisoformat(emulator.requests[-1].params["ending_at"])
    assert before - timedelta(seconds=1) <= sent <= datetime.now(UTC)
    assert len(records) == 3


def test_a_templated_ending_at_string_or_datetime_is_used_as_given(emulator, events_conn) -> None:
    for ending_at in ["2024-02-10T05:30:00+02:00", datetime(2024, 2, 10, 3, 30, tzinfo=UTC)]:
        records = operator(event="signup", unit="hour", length=4, ending_at=ending_at).execute(DAY)
        assert records == expected(emulator, ["signup"], 4, "hour", ending_at)
        assert records[-1]["time"].startswith("2024-02-10T0")


def test_a_list_is_deduplicated_keeping_its_order(emulator, events_conn) -> None:
    records = operator(event=["signup", "purchase", "signup"], length=2, ending_at="2024-01-31").execute({})
    assert [r["event"] for r in records] == ["signup", "signup", "purchase", "purchase"]
    assert emulator.request_count(SERIES) == 2


def test_app_and_segment_are_sent_and_shape_the_counts(emulator, events_conn) -> None:
    records = operator(
        event="purchase", length=3, ending_at="2024-01-31", app_id="app-1", segment_id="seg-9"
    ).execute({})
    end = "2024-01-31T00:00:00Z"
    assert records == expected(emulator, ["purchase"], 3, "day", end, app_id="app-1", segment_id="seg-9")
    assert records != expected(emulator, ["purchase"], 3, "day", end)
    sent = {(r.params["app_id"], r.params["segment_id"]) for r in emulator.requests if r.path == SERIES}
    assert sent == {("app-1", "seg-9")}


def test_all_events_covers_every_listed_name_across_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    with EventsEmulator(api_key="k", events=600) as emulator:
        monkeypatch.setenv("AIRFLOW_CONN_EVENTS_ANALYTICS_DEFAULT", emulator.connection_json())
        records = operator(event="*", length=1, ending_at="2024-01-31").execute(DAY)
        assert [r["event"] for r in records] == sorted(emulator.events)
        assert len(records) == 600
        assert records[123] == {
            "event": "event_0123",
            **emulator.series("event_0123", 1, ending_at="2024-01-31T00:00:00Z")[0],
        }
        assert emulator.request_count("/events/list") == 3  # pages 0, 1 and 2, once per task
        assert emulator.request_count(SERIES) == 600


def test_all_events_with_none_listed_exports_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with EventsEmulator(api_key="k", events=[]) as emulator:
        monkeypatch.setenv("AIRFLOW_CONN_EVENTS_ANALYTICS_DEFAULT", emulator.connection_json())
        assert operator(event="*").execute(DAY) == []
        operator(event="*", output_path=str(tmp_path / "none.csv")).execute(DAY)
        assert (tmp_path / "none.csv").read_text() == "event,time,count\n"
        assert emulator.request_count(SERIES) == 0


def test_a_large_xcom_is_warned_about(emulator, events_conn, monkeypatch, capsys) -> None:
    monkeypatch.setattr(operator_module, "XCOM_WARN_ROWS", 47)
    operator(event=["purchase", "signup"], unit="hour").execute(DAY)  # 48 rows
    logged = capsys.readouterr().out  # task logs go through structlog to stdout
    assert "Returning 48 records through XCom" in logged
    assert "pass output_path" in logged
    operator(event="purchase", unit="hour").execute(DAY)  # 24 rows
    assert "pass output_path" not in capsys.readouterr().out


# -- files ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".json", ".jsonl"])
def test_a_file_holds_exactly_the_rows_of_two_events(emulator, events_conn, tmp_path, suffix) -> None:
    target = tmp_path / "new" / "folder" / f"2024-01-01{suffix}"
    result = operator(event=["purchase", "signup"], unit="hour", output_path=str(target)).execute(DAY)
    assert result == str(target)
    rows = read_back(target)
    assert rows == expected(
        emulator, ["purchase", "signup"], 24, "hour", datetime(2024, 1, 1, 23, tzinfo=UTC)
    )
    assert len(rows) == 48
    assert os.listdir(target.parent) == [target.name]


def test_output_format_overrides_the_suffix(emulator, events_conn, tmp_path) -> None:
    target = tmp_path / "export.txt"
    operator(event="purchase", output_path=str(target), output_format="jsonl").execute(DAY)
    assert [json.loads(line) for line in target.read_text().splitlines()] == expected(
        emulator, ["purchase"], 1, "day", "2024-01-01T00:00:00Z"
    )


def test_an_object_storage_url_is_written_and_returned(emulator, events_conn, s3_server, s3_bucket) -> None:
    from tests.conftest import S3_CONN_ID
    from tests.s3_server import read

    target = f"s3://{S3_CONN_ID}@{s3_bucket}/op/2024-01-01.json"
    result = operator(event="purchase", output_path=target).execute(DAY)
    assert result == target
    assert json.loads(read(s3_server.client(), s3_bucket, "op/2024-01-01.json")) == expected(
        emulator, ["purchase"], 1, "day", "2024-01-01T00:00:00Z"
    )


def test_a_401_mid_export_leaves_no_file_and_no_temp_file(emulator, events_conn, tmp_path) -> None:
    (tmp_path / "other.csv").write_text("untouched")
    emulator.enqueue(Fault(status=200, path=SERIES), times=2)  # two pages pass, then the key is refused
    emulator.enqueue(Fault(status=401, path=SERIES))
    task = operator(
        event=["purchase", "signup"], unit="hour", length=250, output_path=str(tmp_path / "out.csv")
    )
    with pytest.raises(EventsAnalyticsAuthError):
        task.execute(DAY)
    assert sorted(os.listdir(tmp_path)) == ["other.csv"]
    assert (tmp_path / "other.csv").read_text() == "untouched"
    assert any(request.status == 401 for request in emulator.requests)


def test_server_errors_mid_export_keep_the_previous_file_whole(emulator, events_conn, tmp_path) -> None:
    target = tmp_path / "out.jsonl"
    target.write_text("previous run\n")
    emulator.enqueue(Fault(status=200, path=SERIES), times=3)
    emulator.enqueue(Fault(status=500, path=SERIES), times=50)
    task = operator(event=["purchase", "signup"], unit="hour", length=350, output_path=str(target))
    with pytest.raises(EventsAnalyticsServerError):
        task.execute(DAY)
    assert target.read_text() == "previous run\n"
    assert os.listdir(tmp_path) == ["out.jsonl"]
    assert sum(request.status == 200 for request in emulator.requests if request.path == SERIES) == 3


# -- validation before any request ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"unit": "week"}, "unit must be 'day' or 'hour', got 'week'"),
        ({"length": 0}, "length must be an integer >= 1"),
        ({"length": True}, "length must be an integer >= 1"),
        ({"output_format": "xlsx"}, "output_format must be one of csv, json, jsonl, parquet"),
        ({"hook_params": ["timeout"]}, "hook_params must be a dict"),
        ({"event": ""}, "event names must be non-empty strings"),
        ({"event": []}, "non-empty list of names"),
        ({"event": ["purchase", "*"]}, r"event='\*' means every custom event: pass it alone"),
        ({"length": 2, "ending_at": "yesterday"}, "ending_at must be an ISO 8601 date-time"),
        ({"app_id": ""}, "app_id must be a non-empty string or None"),
        ({"hook_params": {"timout": 3}}, "hook_params has unknown key.* timout; EventsAnalyticsHook accepts"),
        ({"hook_params": {"events_conn_id": "x"}}, "hook_params has unknown key.* events_conn_id"),
        ({"hook_params": {"max_concurrency": 0}}, "max_concurrency must be an integer >= 1"),
        ({"hook_params": {"timeout": "10"}}, "timeout must be a positive number of seconds"),
    ],
)
def test_arguments_templates_cannot_change_fail_at_construction(
    emulator, events_conn, kwargs, message
) -> None:
    # Construction is when the DAG file is parsed: the mistake shows as an import error of the DAG.
    with pytest.raises(EventsAnalyticsConfigError, match=message):
        operator(**{"event": "purchase", **kwargs})
    assert emulator.request_count() == 0


def test_templated_arguments_wait_for_run_time() -> None:
    task = operator(
        event=["{{ params.e }}", "purchase"], ending_at="{{ ds }}", app_id="{% if x %}a{% endif %}"
    )
    assert task.event == ["{{ params.e }}", "purchase"]


@pytest.mark.parametrize(
    ("kwargs", "rendered", "context", "message"),
    [
        ({"output_path": "/tmp/out.xlsx"}, {}, DAY, r"suffix '\.xlsx', which names no output format"),
        ({"output_path": " "}, {}, DAY, "output_path must be a non-empty path"),
        ({"ending_at": "2024-01-01T00:00:00Z"}, {}, DAY, "ending_at needs length: pass length"),
        ({}, {}, NO_INTERVAL, "this run has no data interval: pass length"),
        ({}, {}, {}, "this run has no data interval: pass length"),
        ({}, {}, EMPTY_INTERVAL, r"no day bucket starts inside .*: pass length, or schedule the DAG with"),
        ({"event": "{{ e }}"}, {"event": ""}, DAY, "event names must be non-empty strings"),
        ({"event": "{{ e }}"}, {"event": ["purchase", "*"]}, DAY, r"event='\*' means every custom event"),
        ({"length": 2, "ending_at": "{{ x }}"}, {"ending_at": "yesterday"}, DAY, "ending_at must be an ISO"),
        ({"app_id": "{{ x }}"}, {"app_id": " "}, DAY, "app_id must be a non-empty string or None"),
    ],
)
def test_bad_rendered_arguments_fail_before_any_request(
    emulator, events_conn, kwargs, rendered, context, message
) -> None:
    task = operator(**{"event": "*", **kwargs})  # "*" would list events first: checks come before that
    for name, value in rendered.items():  # as render_template_fields would set them
        setattr(task, name, value)
    with pytest.raises(EventsAnalyticsConfigError, match=message):
        task.execute(context)
    assert emulator.request_count() == 0


def test_an_unwritable_folder_fails_before_any_request_and_a_bad_window_creates_none(
    emulator, events_conn, tmp_path
) -> None:
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(EventsAnalyticsConfigError, match="cannot be written: creating a file in"):
        operator(event="purchase", output_path=str(tmp_path / "a-file" / "out.csv")).execute(DAY)
    with pytest.raises(EventsAnalyticsConfigError, match="ending_at needs length"):
        operator(
            event="purchase", ending_at="2024-01-01", output_path=str(tmp_path / "new" / "out.csv")
        ).execute(DAY)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a-file"]
    assert emulator.request_count() == 0


# -- templating, lineage, the example DAGs ----------------------------------------------------------


def test_template_fields_are_rendered(emulator, events_conn, tmp_path) -> None:
    task = operator(
        event="{{ params.event }}",
        length=2,
        ending_at="{{ data_interval_end.isoformat() }}",
        output_path=str(tmp_path) + "/{{ data_interval_start | ds }}.csv",
    )
    assert tuple(task.template_fields) == ("event", "ending_at", "app_id", "segment_id", "output_path")
    context = {**DAY, "params": {"event": "signup"}}
    task.render_template_fields(context)
    assert (task.event, task.output_path) == ("signup", str(tmp_path / "2024-01-01.csv"))
    task.execute(context)
    assert read_back(tmp_path / "2024-01-01.csv") == expected(
        emulator, ["signup"], 2, "day", "2024-01-02T00:00:00+00:00"
    )


def test_openlineage_output_is_the_written_file(emulator, events_conn, tmp_path) -> None:
    pytest.importorskip("airflow.providers.openlineage")
    from airflow.providers.common.compat.openlineage.facet import Dataset

    target = tmp_path / "out.csv"
    task = operator(event="purchase", output_path=str(target))
    task.execute(DAY)
    lineage = task.get_openlineage_facets_on_complete(task_instance=None)
    assert lineage is not None
    assert lineage.outputs == [Dataset(namespace="file", name=str(target))]
    remote = operator(event="purchase", output_path="s3://aws_default@bucket/exports/out.csv")
    assert remote.get_openlineage_facets_on_complete(None).outputs == [
        Dataset(namespace="s3://bucket", name="exports/out.csv")
    ]
    assert operator(event="purchase").get_openlineage_facets_on_complete(None).outputs == []


def test_the_example_dags_import_without_touching_the_connection(monkeypatch) -> None:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk import CronDataIntervalTimetable

    monkeypatch.delenv("AIRFLOW_CONN_EVENTS_ANALYTICS_DEFAULT", raising=False)
    bag = DagBag(dag_folder=str(REPO / "example_dags"))
    assert not [path for path in bag.import_errors if "surge" not in path]  # surge: test_example_dags
    assert {"example_events_daily_export", "example_events_all_events"} <= set(bag.dag_ids)
    for dag_id in ("example_events_daily_export", "example_events_all_events"):
        dag = bag.dags[dag_id]
        assert dag.catchup is False and dag.start_date == datetime(2024, 1, 1, tzinfo=UTC)
        assert isinstance(dag.timetable, CronDataIntervalTimetable)  # runs with a data interval


def test_dag_test_of_the_daily_export_writes_the_days_file(
    airflow_db, events_conn, emulator, tmp_path, monkeypatch
) -> None:
    from airflow import settings
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils.state import DagRunState

    assert settings.DAGS_FOLDER == str(REPO / "example_dags")  # dag.test() syncs the DAG from there
    monkeypatch.setenv("EVENTS_EXPORT_DIR", str(tmp_path))
    bag = DagBag(dag_folder=str(REPO / "example_dags" / "example_events_daily_export.py"))
    dag = bag.dags["example_events_daily_export"]

    run = dag.test(logical_date=datetime(2024, 1, 2, tzinfo=UTC))  # a manual run: interval Jan 1
    assert run.state == DagRunState.SUCCESS
    target = tmp_path / "hourly" / "2024-01-01.csv"
    assert read_back(target) == expected(
        emulator, ["purchase", "signup"], 24, "hour", datetime(2024, 1, 1, 23, tzinfo=UTC)
    )
    assert read_back(target)[0]["time"] == "2024-01-01T00:00:00+00:00"
    assert os.listdir(target.parent) == ["2024-01-01.csv"]
