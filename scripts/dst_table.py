"""
Daily runs of DAGs scheduled in New York, Berlin and Sydney, through the weeks their clocks change.

For each zone and each DST week (fall-back and spring-forward, 2024), seven daily runs go through
``dag.test()`` against the emulator: one task exports ``unit="day"``, one ``unit="hour"`` (both the
run's data interval), one the seven days ending with the run's (``unit="day", length=7``). The first
table shows, per run, the local day it stands for, the dates exported, the requests sent for the day,
whether the instants they count are exactly the local day's, the day row's count next to the sum of
the hour task's rows, and the local day's true length; the second, for the last run of each week,
the seven days and the requests sent for them; the third, the six days the clocks change on their
own. Everything runs in a throwaway ``AIRFLOW_HOME``; nothing is left behind.

    .venv/bin/python scripts/dst_table.py
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

WEEKS = {  # zone: {week: the day the clocks change}
    "America/New_York": {"spring-forward": date(2024, 3, 10), "fall-back": date(2024, 11, 3)},
    "Europe/Berlin": {"spring-forward": date(2024, 3, 31), "fall-back": date(2024, 10, 27)},
    "Australia/Sydney": {"spring-forward": date(2024, 10, 6), "fall-back": date(2024, 4, 7)},
}
DAG_FILE = """
import os, pendulum
from airflow.sdk import DAG, CronDataIntervalTimetable
from airflow_provider_events.operators.events import EventSeriesOperator

OUT = os.environ["DST_TABLE_OUT"]
for zone in {zones!r}:
    dag_id = "local_days_" + zone.split("/")[1].lower()
    with DAG(
        dag_id,
        schedule=CronDataIntervalTimetable("@daily", timezone=zone),
        start_date=pendulum.datetime(2024, 1, 1, tz=zone),
        catchup=False,
    ):
        for task_id, unit, length in [("day", "day", None), ("hour", "hour", None), ("week", "day", 7)]:
            EventSeriesOperator(
                task_id=task_id,
                event="purchase",
                unit=unit,
                length=length,
                # Tells the emulator's request log the week's requests apart. The day and hour tasks
                # count the same series (no app), so that a day row can be checked against its hours.
                app_id="week" if task_id == "week" else None,
                output_path=OUT + "/" + dag_id + "/{{{{ ts_nodash }}}}-" + task_id + ".json",
                hook_params={{"retry_limit": 0}},
            )
"""


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), zone).astimezone(timezone.utc)


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="dst-table-"))
    try:
        print_tables(home)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def print_tables(home: Path) -> None:
    (home / "dags").mkdir()
    (home / "dags" / "local_days.py").write_text(DAG_FILE.format(zones=list(WEEKS)))
    os.environ.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
            "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR",
            "DST_TABLE_OUT": str(home / "out"),
        }
    )
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils import db

    import airflow_provider_events
    from airflow_provider_events.emulator import EventsEmulator

    db.resetdb()
    bag = DagBag(dag_folder=str(home / "dags"))
    rows, last_runs = [], []
    with EventsEmulator(api_key="k") as emulator:
        os.environ["AIRFLOW_CONN_EVENTS_ANALYTICS_DEFAULT"] = emulator.connection_json()
        for name, weeks in WEEKS.items():
            zone, dag = ZoneInfo(name), bag.dags["local_days_" + name.split("/")[1].lower()]
            for week, change in weeks.items():
                for back in range(-3, 4):
                    row, week_row = run_one(
                        dag, zone, name, week, change + timedelta(days=back), emulator, home
                    )
                    rows.append(row)
                last_runs.append(week_row)
    print(f"code: {Path(airflow_provider_events.__file__).parent}", file=sys.stderr)
    print(
        "| zone | week | run (local day) | day task: dates exported | day task: requests (unit, length) "
        "| counted instants = the local day | day row: count | hour task: rows, sum | local day: hours |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row[:9]) + " |")
    print("\n| zone | week | last run | length=7: dates exported | requests (unit, length) |")
    print("|---|---|---|---|---|")
    for row in last_runs:
        print("| " + " | ".join(row) + " |")
    print(
        "\n| zone | DST day | hours | day row: count | sum of the day's hours | requests sent for the day "
        "| before: the API's 24-hour day |"
    )
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        if row[2].endswith("(DST)"):
            _, hour_sum = row[7].split(", ")
            print(f"| {row[0]} | {row[2][:10]} | {row[8]} | {row[6]} | {hour_sum} | {row[4]} | {row[9]} |")


def sender(params: dict[str, str]) -> str:
    """Which task sent a request: the week's carry an app; the hour task's hours are in UTC, as Airflow's
    interval is; the day task's days, and the hours of a day the clocks change, in the local offset."""
    if params.get("app_id") == "week":
        return "week"
    return "hour" if params["unit"] == "hour" and params["ending_at"].endswith("+00:00") else "day"


def counted(params: dict[str, str]) -> tuple[datetime, datetime]:
    """The instants one request counts: its days from midnight in the offset sent, or its hours."""
    moment, length = datetime.fromisoformat(params["ending_at"]), int(params["length"])
    if params["unit"] == "hour":
        return moment - timedelta(hours=length - 1), moment + timedelta(hours=1)
    end = datetime.combine(moment.date() + timedelta(days=1), time(0), moment.tzinfo)
    return end - timedelta(days=length), end


def run_one(dag, zone, name, week, day, emulator, home):  # type: ignore[no-untyped-def]
    seen = len(emulator.requests)
    run = dag.test(logical_date=local_midnight(day + timedelta(days=1), zone))
    stamp = run.logical_date.strftime("%Y%m%dT%H%M%S")
    out = home / "out" / dag.dag_id

    def records(task_id: str) -> list[dict]:
        path = out / f"{stamp}-{task_id}.json"
        return json.loads(path.read_text()) if path.exists() else []

    def exported(task_id: str) -> list[str]:
        return [point["time"] for point in records(task_id)]

    sent: dict[str, list[str]] = {"day": [], "hour": [], "week": []}
    spans: list[tuple[datetime, datetime]] = []
    for request in emulator.requests[seen:]:
        if request.path == "/events/data_series":
            params = request.params
            task = sender(params)
            sent[task].append(f"{params['ending_at']} ({params['unit']}, {params['length']})")
            if task == "day":
                spans.append(counted(params))
    local_day = (local_midnight(day, zone), local_midnight(day + timedelta(days=1), zone))
    true_hours = (local_day[1] - local_day[0]) / timedelta(hours=1)
    mark = " (DST)" if true_hours != 24 else ""
    hours = records("hour")
    before_ending_at = datetime.combine(day, time(0), timezone(local_day[1].astimezone(zone).utcoffset()))
    row = [
        name,
        week,
        f"{day}{mark}",
        ", ".join(exported("day")) or f"run {run.state}",
        ", ".join(sent["day"]),
        "yes" if spans == [local_day] else f"no: {spans}",
        ", ".join(str(point["count"]) for point in records("day")),
        f"{len(hours)}, {sum(point['count'] for point in hours)}",
        f"{true_hours:g}",
        # Before: the API's one day asked in the day's closing offset, the 24 hours before it ends.
        str(emulator.series("purchase", 1, "day", before_ending_at)[0]["count"]),
    ]
    week_row = [
        name,
        week,
        str(day),
        ", ".join(exported("week")) or f"run {run.state}",
        ", ".join(sent["week"]),
    ]
    return row, week_row


if __name__ == "__main__":
    main()
