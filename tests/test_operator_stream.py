"""EventSeriesOperator's streaming exports over real HTTP: Parquet, partitions, destination checks, order."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pendulum
import pyarrow.parquet as pq
import pytest

from airflow_provider_events._aio import LOOK_AHEAD
from airflow_provider_events._request import SeriesRequest
from airflow_provider_events._stream import ordered_series, plan
from airflow_provider_events.emulator import EventsEmulator
from airflow_provider_events.exceptions import EventsAnalyticsConfigError
from airflow_provider_events.hooks.events import EventsAnalyticsHook
from airflow_provider_events.operators.events import EventSeriesOperator

REPO = Path(__file__).resolve().parent.parent
DAY = {
    "data_interval_start": pendulum.datetime(2024, 1, 1),
    "data_interval_end": pendulum.datetime(2024, 1, 2),
}
FAST = {"retry_delay": 0.01, "retry_limit": 1, "timeout": 5}


def operator(**kwargs: Any) -> EventSeriesOperator:
    kwargs.setdefault("task_id", "export")
    kwargs.setdefault("hook_params", FAST)
    return EventSeriesOperator(**kwargs)


def test_parquet_holds_the_emulators_series_with_typed_columns(emulator, events_conn, tmp_path) -> None:
    target = tmp_path / "out.parquet"
    result = operator(event=["purchase", "signup"], unit="hour", output_path=str(target)).execute(DAY)

    assert result == str(target)
    table = pq.read_table(target)
    assert str(table.schema.field("time").type) == "timestamp[us, tz=UTC]"
    expected = emulator.series("signup", 24, "hour", ending_at="2024-01-01T23:00:00+00:00")
    rows = table.to_pylist()
    assert len(rows) == 48 and rows[24]["event"] == "signup"
    assert [row["count"] for row in rows[24:]] == [point["count"] for point in expected]
    assert rows[24]["time"] == datetime(2024, 1, 1, tzinfo=timezone.utc)


def test_a_daily_restatement_writes_one_file_per_day_and_returns_them(
    emulator, events_conn, tmp_path
) -> None:
    task = operator(
        event=["purchase", "signup"], length=3, output_path=str(tmp_path / "day={day}" / "events.csv")
    )
    result = task.execute(DAY)

    # The last 3 days up to the run's day: a daily DAG restating late-arriving data.
    days = ["2023-12-30", "2023-12-31", "2024-01-01"]
    assert result == [str(tmp_path / f"day={day}" / "events.csv") for day in days]
    assert (tmp_path / "day=2024-01-01" / "events.csv").read_text().splitlines()[1:] == [
        f"{event},2024-01-01,{emulator.count(event, date(2024, 1, 1), unit='day')}"
        for event in ("purchase", "signup")
    ]


def test_an_unwritable_destination_fails_before_any_request(emulator, events_conn, tmp_path) -> None:
    (tmp_path / "blocker").write_text("a file where a folder should be")
    task = operator(event="*", output_path=str(tmp_path / "blocker" / "out.csv"))
    with pytest.raises(EventsAnalyticsConfigError, match="cannot be written"):
        task.execute(DAY)
    assert emulator.requests == []  # not even the listing


def test_parquet_without_pyarrow_fails_before_any_request(emulator, events_conn, tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pyarrow" else real(name)
    )
    with pytest.raises(EventsAnalyticsConfigError, match=r"airflow-provider-events\[parquet\]"):
        operator(event="purchase", output_path=str(tmp_path / "out.parquet")).execute(DAY)
    assert emulator.requests == []


def test_the_hook_streams_several_windows_event_by_event(emulator, hook) -> None:
    # Two windows, as a day spanning a DST change may need (each in its own offset).
    first = SeriesRequest.build(["a", "b"], length=2, unit="hour", ending_at="2024-03-10T01:00:00-05:00")
    second = SeriesRequest.build(["a", "b"], length=3, unit="hour", ending_at="2024-03-10T05:00:00-04:00")
    seen: list[tuple[str, list[dict]]] = []

    seen.extend(hook.iter_series([first, second]))

    assert [(event, len(points)) for event, points in seen] == [("a", 2), ("a", 3), ("b", 2), ("b", 3)]
    assert seen[1][1] == emulator.series("a", 3, "hour", ending_at="2024-03-10T05:00:00-04:00")


def test_a_held_series_stops_the_fetch_at_the_look_ahead_and_an_error_ends_it(emulator, events_conn) -> None:
    # One page per event, so pages and series are one to one. The look-ahead alone decides how many
    # pages are started while the consumer holds the first series: every started page is let run to
    # its answer before counting, so the concurrency bound only delays them, it cannot stop any.
    look_ahead = LOOK_AHEAD * 2
    query = SeriesRequest.build([f"e{i}" for i in range(look_ahead * 5)], length=1, ending_at="2024-01-01")

    async def every_started_page_answered() -> None:
        here = asyncio.current_task()
        await asyncio.gather(*(task for task in asyncio.all_tasks() if task is not here))

    hook = EventsAnalyticsHook(events_conn, max_concurrency=2, **FAST)
    with hook, pytest.raises(OSError, match="disk full"):
        for _event, _points in hook.iter_series([query]):
            hook._portal.run(every_started_page_answered())
            assert emulator.request_count() == look_ahead
            raise OSError("disk full")
    assert emulator.request_count() == look_ahead  # the rest was never asked for


def test_look_ahead_bounds_the_pages_started_but_not_handed_on() -> None:
    query = SeriesRequest.build([f"e{i}" for i in range(30)], length=250, ending_at="2024-01-01")
    started: list[SeriesRequest] = []
    most_ahead = 0

    async def fetch_page(request: SeriesRequest) -> list:
        started.append(request)
        await asyncio.sleep(0)
        return [(None, None)]

    async def consume() -> list[str]:
        nonlocal most_ahead
        events = []
        async for event, _ in ordered_series([query], fetch_page, look_ahead=6):
            events.append(event)
            most_ahead = max(most_ahead, len(started) - 3 * len(events))
        return events

    query_join = SeriesRequest.join
    try:
        SeriesRequest.join = lambda self, event, pages: pages  # type: ignore[method-assign]  # pages are fake
        events = asyncio.run(consume())
    finally:
        SeriesRequest.join = query_join  # type: ignore[method-assign]
    assert events == list(query.events)
    assert len(started) == 90
    assert most_ahead <= 6  # 3 pages an event: never more than two events ahead
    assert [event for event, _ in plan([query, query])][:2] == ["e0", "e0"]


def test_all_events_streams_every_listed_name_to_a_file(tmp_path, monkeypatch) -> None:
    with EventsEmulator(api_key="k", events=300) as emulator:
        monkeypatch.setenv("AIRFLOW_CONN_EVENTS_ANALYTICS_DEFAULT", emulator.connection_json())
        target = tmp_path / "all.jsonl"
        operator(event="*", length=2, ending_at="2024-01-31", output_path=str(target)).execute(DAY)
        lines = target.read_text().splitlines()
        assert len(lines) == 600
        assert lines[0].startswith('{"event":"event_0000","time":"2024-01-30"')
        assert lines[-1].startswith('{"event":"event_0299","time":"2024-01-31"')


def test_dag_test_of_the_parquet_restatement_writes_one_file_per_day(
    airflow_db, events_conn, emulator, tmp_path, monkeypatch
) -> None:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils.state import DagRunState

    monkeypatch.setenv("EVENTS_EXPORT_DIR", str(tmp_path))
    (tmp_path / "daily" / "day=2024-01-09").mkdir(parents=True)
    (tmp_path / "daily" / "day=2024-01-09" / "events.parquet").write_text("restated by the run")
    bag = DagBag(dag_folder=str(REPO / "example_dags" / "example_events_restate_parquet.py"))
    dag = bag.dags["example_events_restate_parquet"]

    run = dag.test(logical_date=datetime(2024, 1, 11, tzinfo=timezone.utc))  # interval: Jan 10
    assert run.state == DagRunState.SUCCESS
    days = sorted(path.name for path in (tmp_path / "daily").iterdir())
    assert days == [f"day=2024-01-{day:02d}" for day in range(4, 11)]
    table = pq.read_table(tmp_path / "daily" / "day=2024-01-09" / "events.parquet")
    assert set(table.column("event").to_pylist()) == set(emulator.events)
    assert table.column("time").to_pylist() == [date(2024, 1, 9)] * len(emulator.events)
    first = emulator.events[0]
    assert table.column("count").to_pylist()[0] == emulator.count(first, date(2024, 1, 9), unit="day")
