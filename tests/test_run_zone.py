"""``timetable_zone``: the zone of the DAG timetable, on the Task SDK's and the scheduler's classes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pendulum
import pytest
from airflow.sdk import (
    DAG,
    Asset,
    AssetOrTimeSchedule,
    CronDataIntervalTimetable,
    CronTriggerTimetable,
    DeltaDataIntervalTimetable,
    MultipleCronTriggerTimetable,
)

from airflow_provider_events._run import timetable_zone

START = datetime(2024, 1, 1, tzinfo=timezone.utc)


def zone_name(schedule: object, **dag_kwargs: object) -> str | None:
    dag = DAG("zoned", schedule=schedule, start_date=dag_kwargs.pop("start_date", START), **dag_kwargs)
    zone = timetable_zone({"dag": dag})
    return None if zone is None else getattr(zone, "name", None) or getattr(zone, "key", None)


@pytest.mark.parametrize(
    "schedule",
    [
        CronDataIntervalTimetable("@daily", timezone="America/New_York"),
        CronDataIntervalTimetable("@daily", timezone=pendulum.timezone("America/New_York")),
        CronTriggerTimetable("0 6 * * *", timezone="America/New_York"),
        MultipleCronTriggerTimetable("0 6 * * *", "0 18 * * *", timezone="America/New_York"),
        AssetOrTimeSchedule(
            timetable=CronTriggerTimetable("0 6 * * *", timezone="America/New_York"), assets=[Asset("a")]
        ),
    ],
    ids=["cron-interval-name", "cron-interval-pendulum", "cron-trigger", "multiple-cron", "asset-or-time"],
)
def test_cron_timetables_give_their_zone(schedule: object) -> None:
    assert zone_name(schedule) == "America/New_York"


def test_a_cron_string_takes_the_zone_of_start_date() -> None:
    start = pendulum.datetime(2024, 1, 1, tz="Australia/Sydney")
    assert zone_name("@daily", start_date=start) == "Australia/Sydney"


def test_the_schedulers_timetables_are_read_too() -> None:
    from airflow.timetables.interval import CronDataIntervalTimetable as CoreCron

    core = CoreCron("0 0 * * *", pendulum.timezone("Europe/Berlin"))
    zone = timetable_zone({"dag": type("SchedulerDag", (), {"timetable": core})()})
    assert zone is not None and zone.utcoffset(datetime(2024, 7, 1)) == timedelta(hours=2)


@pytest.mark.parametrize(
    "schedule", [DeltaDataIntervalTimetable(timedelta(days=1)), None, "@once", [Asset("a")]]
)
def test_timetables_without_a_zone_give_none(schedule: object) -> None:
    assert zone_name(schedule) is None


def test_a_context_without_a_dag_gives_none() -> None:
    assert timetable_zone({}) is None
    assert timetable_zone({"dag": None}) is None
