"""DAGs scheduled in a time zone export and count their local days, across DST, over real HTTP."""

from __future__ import annotations

import csv
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from airflow.sdk import DAG, CronDataIntervalTimetable, DeltaDataIntervalTimetable

from airflow_provider_events.emulator import EventsEmulator
from airflow_provider_events.operators.events import EventSeriesOperator
from airflow_provider_events.sensors.events import EventCountSensor

REPO = Path(__file__).resolve().parent.parent
SERIES = "/events/data_series"
UTC = timezone.utc
FAST = {"retry_delay": 0.01, "retry_limit": 1, "timeout": 5}
EVENTS = ("purchase", "signup")
# (zone, a day its clocks change, the offsets sent for the day before, that day and the day after,
# and the hours of those three days)
DST_DAYS = [
    ("America/New_York", date(2024, 3, 10), ["-05:00", "-04:00", "-04:00"], [24, 23, 24]),
    ("America/New_York", date(2024, 11, 3), ["-04:00", "-05:00", "-05:00"], [24, 25, 24]),
    ("Europe/Berlin", date(2024, 3, 31), ["+01:00", "+02:00", "+02:00"], [24, 23, 24]),
    ("Europe/Berlin", date(2024, 10, 27), ["+02:00", "+01:00", "+01:00"], [24, 25, 24]),
    ("Australia/Sydney", date(2024, 10, 6), ["+10:00", "+11:00", "+11:00"], [24, 23, 24]),
    ("Australia/Sydney", date(2024, 4, 7), ["+11:00", "+10:00", "+10:00"], [24, 25, 24]),
]


def midnight(day: date, zone: str) -> datetime:
    return datetime.combine(day, time(0), ZoneInfo(zone)).astimezone(UTC)


def context_for(zone: str | None, start: datetime, end: datetime) -> dict[str, Any]:
    schedule = DeltaDataIntervalTimetable(timedelta(days=1)) if zone is None else None
    schedule = schedule or CronDataIntervalTimetable("@daily", timezone=zone)
    dag = DAG("zoned", schedule=schedule, start_date=datetime(2024, 1, 1, tzinfo=UTC))
    return {"dag": dag, "data_interval_start": start, "data_interval_end": end}


def read_csv(path: Path) -> list[dict[str, Any]]:
    with path.open(newline="") as handle:
        return [{**row, "count": int(row["count"])} for row in csv.DictReader(handle)]


def sent(emulator: EventsEmulator, since: int = 0, unit: str = "day") -> list[tuple[str, str]]:
    return [
        (request.params["length"], request.params["ending_at"])
        for request in emulator.requests[since:]
        if request.path == SERIES and request.params["unit"] == unit
    ]


# -- daily runs through dag.test(), in New York, Berlin and Sydney -----------------------------------


def hour_sums(rows: list[dict[str, Any]]) -> dict[str, int]:
    sums: dict[str, int] = {}
    for row in rows:
        sums[row["event"]] = sums.get(row["event"], 0) + row["count"]
    return sums


@pytest.mark.parametrize(
    ("zone", "change", "offsets", "lengths"), DST_DAYS, ids=[f"{zone}-{day}" for zone, day, *_ in DST_DAYS]
)
def test_daily_runs_export_their_local_days_once_and_exact_across_the_change(
    airflow_db, emulator, events_conn, tmp_path, monkeypatch, zone, change, offsets, lengths
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("EVENTS_LOCAL_TIMEZONE", zone)
    monkeypatch.setenv("EVENTS_EXPORT_DIR", str(tmp_path))
    bag = DagBag(dag_folder=str(REPO / "example_dags" / "example_events_local_days.py"))
    dag = bag.dags["example_events_local_days"]
    days = [change - timedelta(days=1), change, change + timedelta(days=1)]

    exported = []
    for day, offset, length in zip(days, offsets, lengths, strict=True):
        seen = len(emulator.requests)
        run = dag.test(logical_date=midnight(day + timedelta(days=1), zone))
        assert run.state == "success"
        rows = read_csv(tmp_path / "local_days" / f"{day}.csv")
        assert [(row["event"], row["time"]) for row in rows] == [("purchase", str(day)), ("signup", str(day))]
        hours = read_csv(tmp_path / "local_hours" / f"{day}.csv")
        # Every local day's row is the sum of its own hours, exported by the hourly task: 23/24/25.
        assert {row["event"]: row["count"] for row in rows} == hour_sums(hours)
        starts = [datetime.fromisoformat(row["time"]) for row in hours if row["event"] == "purchase"]
        assert starts == [midnight(day, zone) + timedelta(hours=n) for n in range(length)]
        hourly_task = [
            (str(length), (midnight(day + timedelta(days=1), zone) - timedelta(hours=1)).isoformat())
        ]
        if length == 24:  # one day request per event, in the local offset
            ending_at = f"{day}T00:00:00{offset}"
            assert sent(emulator, seen) == [("1", ending_at)] * 2
            expected = [emulator.series(event, 1, "day", ending_at=ending_at)[0]["count"] for event in EVENTS]
        else:  # no day request can hold 23 or 25 hours: the day's hours, ending with its last one
            ending_at = f"{day}T23:00:00{offset}"
            assert sent(emulator, seen) == []
            assert sorted(sent(emulator, seen, unit="hour")) == sorted(
                [(str(length), ending_at)] * 2 + hourly_task * 2
            )
            expected = [
                sum(p["count"] for p in emulator.series(event, length, "hour", ending_at)) for event in EVENTS
            ]
        assert [row["count"] for row in rows] == expected
        exported.extend(row["time"] for row in rows if row["event"] == "purchase")
    assert exported == [str(day) for day in days]  # consecutive runs tile the calendar, no date twice


# -- the operator's windows, against the emulator ---------------------------------------------------


def day_points(
    emulator: EventsEmulator, event: str, length: str, unit: str, ending_at: str
) -> list[dict[str, Any]]:
    """What the operator exports for one request it sent: the API's days, or a local day's hours summed."""
    points = emulator.series(event, int(length), unit, ending_at)
    if unit == "day":
        return points
    return [{"time": ending_at[:10], "count": sum(point["count"] for point in points)}]


WEEK_ACROSS_FALL_BACK = [
    ("4", "day", "2024-11-02T00:00:00-04:00"),
    ("25", "hour", "2024-11-03T23:00:00-05:00"),  # 2024-11-03, 25 hours: no day request can hold it
    ("2", "day", "2024-11-05T00:00:00-05:00"),
]


def test_a_week_across_fall_back_is_its_days_and_the_change_days_hours_joined_in_order(
    emulator, events_conn, tmp_path
) -> None:
    import pyarrow.parquet as pq

    start, end = (
        midnight(date(2024, 10, 30), "America/New_York"),
        midnight(date(2024, 11, 6), "America/New_York"),
    )
    context = context_for("America/New_York", start, end)
    task = EventSeriesOperator(task_id="week", event=list(EVENTS), hook_params=FAST)
    records = task.execute(context)

    requests = [(length, ending_at) for length, unit, ending_at in WEEK_ACROSS_FALL_BACK]
    # One request per window and event; they go out concurrently, so their order is not fixed.
    assert sorted(sent(emulator) + sent(emulator, unit="hour")) == sorted(requests * 2)
    assert [r["time"] for r in records if r["event"] == "signup"] == [
        str(date(2024, 10, 30) + timedelta(days=n)) for n in range(7)
    ]
    assert records == [
        {"event": event, **point}
        for event in EVENTS
        for length, unit, ending_at in WEEK_ACROSS_FALL_BACK
        for point in day_points(emulator, event, length, unit, ending_at)
    ]
    # The summed day is written as any other day: Parquet's time is a date for every row.
    target = tmp_path / "week.parquet"
    EventSeriesOperator(task_id="pq", event=list(EVENTS), hook_params=FAST, output_path=str(target)).execute(
        context
    )
    table = pq.read_table(target)
    assert table.column("time").to_pylist() == [date.fromisoformat(r["time"]) for r in records]
    assert table.column("count").to_pylist() == [r["count"] for r in records]


def test_length_without_ending_at_ends_with_the_runs_local_day(emulator, events_conn) -> None:
    start, end = (
        midnight(date(2024, 11, 6), "America/New_York"),
        midnight(date(2024, 11, 7), "America/New_York"),
    )
    records = EventSeriesOperator(task_id="last7", event="purchase", length=7, hook_params=FAST).execute(
        context_for("America/New_York", start, end)
    )
    assert [r["time"] for r in records] == [str(date(2024, 10, 31) + timedelta(days=n)) for n in range(7)]
    # The three windows go out concurrently, so the order they arrive in is not fixed.
    assert sorted(sent(emulator)) == [("3", "2024-11-02T00:00:00-04:00"), ("3", "2024-11-06T00:00:00-05:00")]
    assert sent(emulator, unit="hour") == [("25", "2024-11-03T23:00:00-05:00")]
    day = emulator.series("purchase", 25, "hour", "2024-11-03T23:00:00-05:00")
    assert records[3] == {"event": "purchase", "time": "2024-11-03", "count": sum(p["count"] for p in day)}


def test_a_timetable_without_a_zone_counts_utc_days_as_before(emulator, events_conn) -> None:
    start = datetime(2024, 11, 3, tzinfo=UTC)
    records = EventSeriesOperator(task_id="utc", event="purchase", hook_params=FAST).execute(
        context_for(None, start, start + timedelta(days=1))
    )
    assert [r["time"] for r in records] == ["2024-11-03"]
    assert sent(emulator) == [("1", "2024-11-03T00:00:00+00:00")]


def test_hours_of_a_zoned_run_are_the_same_instants_as_before(emulator, events_conn) -> None:
    start, end = (
        midnight(date(2024, 11, 3), "America/New_York"),
        midnight(date(2024, 11, 4), "America/New_York"),
    )
    records = EventSeriesOperator(task_id="hours", event="purchase", unit="hour", hook_params=FAST).execute(
        context_for("America/New_York", start, end)
    )
    assert len(records) == 25
    assert sent(emulator, unit="hour") == [("25", "2024-11-04T04:00:00+00:00")]


# -- the sensor: length=None counts the run's local day ---------------------------------------------


def sensor(**kwargs: Any) -> EventCountSensor:
    kwargs = {"task_id": "wait", "event": "purchase", "threshold": 1, "length": None, **kwargs}
    return EventCountSensor(hook_params=FAST, deferrable=False, **kwargs)


@pytest.mark.parametrize("zone", ["America/New_York", "Australia/Sydney"])
def test_the_sensor_counts_every_hour_of_the_local_fall_back_day(emulator, events_conn, zone) -> None:
    change = date(2024, 11, 3) if zone == "America/New_York" else date(2024, 4, 7)
    start, end = midnight(change, zone), midnight(change + timedelta(days=1), zone)
    emulator.record("purchase", 7, at=end - timedelta(minutes=30))  # the local day's last half hour
    result = sensor(unit="hour").poke(context_for(zone, start, end))

    last_hour = (end - timedelta(hours=1)).isoformat()
    expected = emulator.series("purchase", 25, "hour", ending_at=last_hour)
    assert result.xcom_value == sum(point["count"] for point in expected)
    assert sent(emulator, unit="hour") == [("25", last_hour)]


def test_the_sensor_counts_the_local_day_in_its_own_offset(emulator, events_conn) -> None:
    start, end = midnight(date(2024, 7, 1), "Europe/Berlin"), midnight(date(2024, 7, 2), "Europe/Berlin")
    result = sensor(unit="day").poke(context_for("Europe/Berlin", start, end))
    assert sent(emulator) == [("1", "2024-07-01T00:00:00+02:00")]
    assert result.xcom_value == emulator.series("purchase", 1, "day", "2024-07-01T00:00:00+02:00")[0]["count"]


@pytest.mark.parametrize(
    ("zone", "change", "offsets", "lengths"), DST_DAYS, ids=[f"{zone}-{day}" for zone, day, *_ in DST_DAYS]
)
def test_the_sensor_counts_a_dst_day_with_unit_day_as_its_hours(
    emulator, events_conn, zone, change, offsets, lengths
) -> None:
    start, end = midnight(change, zone), midnight(change + timedelta(days=1), zone)
    emulator.record("purchase", 7, at=start + timedelta(minutes=30))  # the local day's first half hour
    result = sensor(unit="day").poke(context_for(zone, start, end))

    last_hour = f"{change}T23:00:00{offsets[1]}"
    assert sent(emulator) == [] and sent(emulator, unit="hour") == [(str(lengths[1]), last_hour)]
    hours = emulator.series("purchase", lengths[1], "hour", ending_at=last_hour)
    assert result.xcom_value == sum(point["count"] for point in hours)


def test_the_sensor_counts_days_across_a_change_as_their_hours(emulator, events_conn) -> None:
    # Four Berlin days around the spring-forward, refused before: 24 + 24 + 23 + 24 hours.
    start, end = midnight(date(2024, 3, 29), "Europe/Berlin"), midnight(date(2024, 4, 2), "Europe/Berlin")
    result = sensor(unit="day").poke(context_for("Europe/Berlin", start, end))

    assert sent(emulator, unit="hour") == [("95", "2024-04-01T23:00:00+02:00")]
    hours = emulator.series("purchase", 95, "hour", ending_at="2024-04-01T23:00:00+02:00")
    assert result.xcom_value == sum(point["count"] for point in hours)
    assert datetime.fromisoformat(hours[0]["time"]) == start


def test_the_deferred_trigger_gets_the_run_aligned_window(emulator, events_conn) -> None:
    from airflow.sdk.exceptions import TaskDeferred

    start, end = (
        midnight(date(2024, 3, 10), "America/New_York"),
        midnight(date(2024, 3, 11), "America/New_York"),
    )
    task = sensor(unit="day", threshold=10**9)
    task.deferrable = True
    with pytest.raises(TaskDeferred) as deferred:
        task.execute(context_for("America/New_York", start, end))
    trigger = deferred.value.trigger
    # A 23-hour day: the trigger polls its hours, the same total on every poll.
    assert (trigger.length, trigger.unit, trigger.ending_at) == (23, "hour", "2024-03-10T23:00:00-04:00")


@pytest.mark.parametrize(
    ("kwargs", "interval", "message"),
    [
        ({"ending_at": "2024-01-01T00:00:00Z"}, (date(2024, 1, 1), date(2024, 1, 2)), "no ending_at"),
        (
            {"unit": "day"},
            (date(2024, 1, 1), date(2024, 1, 1)),
            "no day bucket starts inside .*: pass length",
        ),
    ],
)
def test_the_sensor_refuses_a_window_it_cannot_count_before_any_request(
    emulator, events_conn, kwargs, interval, message
) -> None:
    context = context_for("Europe/Berlin", *(midnight(day, "Europe/Berlin") for day in interval))
    with pytest.raises(ValueError, match=message):
        sensor(**kwargs).execute(context)
    with pytest.raises(ValueError, match="needs a run with one"):
        sensor().execute({})
    assert emulator.request_count() == 0


SENSOR_DAG = """
import os
import pendulum
from airflow.sdk import DAG, CronDataIntervalTimetable
from airflow_provider_events.sensors.events import EventCountSensor

with DAG(
    "sensor_local_day",
    schedule=CronDataIntervalTimetable("@daily", timezone=os.environ["DST_SENSOR_ZONE"]),
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
):
    # The exact total as threshold: met at the first poke only if every hour of the day counts.
    EventCountSensor(
        task_id="wait",
        event="purchase",
        threshold=os.environ["DST_SENSOR_THRESHOLD"],
        unit="day",
        length=None,
        poke_interval=0.1,
        timeout=5,
        deferrable=False,
        hook_params={"retry_limit": 0},
    )
"""


@pytest.mark.parametrize(("zone", "change", "offsets", "lengths"), [DST_DAYS[1], DST_DAYS[2]])
def test_dag_test_of_the_sensor_on_a_dst_day_with_unit_day_pushes_the_days_hours_total(
    airflow_db, emulator, events_conn, tmp_path, monkeypatch, zone, change, offsets, lengths
) -> None:
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    last_hour = f"{change}T23:00:00{offsets[1]}"
    total = sum(point["count"] for point in emulator.series("purchase", lengths[1], "hour", last_hour))
    (tmp_path / "sensor_local_day.py").write_text(SENSOR_DAG)
    monkeypatch.setenv("DST_SENSOR_ZONE", zone)
    monkeypatch.setenv("DST_SENSOR_THRESHOLD", str(total))
    bag = DagBag(dag_folder=str(tmp_path))
    # dag.test() syncs only the configured DAG folder (the examples): register this one first.
    with create_session() as session:
        DagBundlesManager().sync_bundles_to_db(session=session)
    sync_bag_to_db(bag, "dags-folder", None)
    dag = bag.dags["sensor_local_day"]

    run = dag.test(logical_date=midnight(change + timedelta(days=1), zone))

    assert run.state == "success"
    with create_session() as session:
        rows = session.scalars(
            XComModel.get_many(run_id=run.run_id, dag_ids=dag.dag_id, task_ids="wait", key="return_value")
        )
        assert [XComModel.deserialize_value(row) for row in rows] == [total]
    assert sent(emulator) == [] and sent(emulator, unit="hour") == [(str(lengths[1]), last_hour)]


# -- {day} in file names: the local day, also for hours ---------------------------------------------


def test_consecutive_berlin_runs_write_their_hours_to_one_file_each_named_for_the_local_day(
    emulator, events_conn, tmp_path
) -> None:
    # start_date in UTC, as many DAGs have it: dag.timezone is UTC, the timetable's zone Berlin.
    zone = "Europe/Berlin"
    written = {}
    for day in (date(2024, 10, 26), date(2024, 10, 27)):  # the clocks go back on the 27th
        context = context_for(zone, midnight(day, zone), midnight(day + timedelta(days=1), zone))
        result = EventSeriesOperator(
            task_id="hours",
            event=list(EVENTS),
            unit="hour",
            output_path=str(tmp_path / "{day}.csv"),
            hook_params=FAST,
        ).execute(context)
        assert result == [str(tmp_path / f"{day}.csv")]
        written[str(day)] = read_csv(tmp_path / f"{day}.csv")

    assert sorted(path.name for path in tmp_path.iterdir()) == ["2024-10-26.csv", "2024-10-27.csv"]
    assert {day: len(rows) for day, rows in written.items()} == {"2024-10-26": 48, "2024-10-27": 50}
    for day, rows in written.items():  # still as written by its own run: no run wrote another's file
        assert read_csv(tmp_path / f"{day}.csv") == rows
        starts = {datetime.fromisoformat(row["time"]).astimezone(ZoneInfo(zone)).date() for row in rows}
        assert starts == {date.fromisoformat(day)}
