"""``make demo``: a real Airflow DAG run, on SQLite, against the bundled emulator.

It starts the emulator on a free loopback port, points a throwaway ``AIRFLOW_HOME`` (``.demo/``)
at it, and runs ``example_events_sensor_gated`` with ``airflow dags test``: a deferrable sensor
waits on the triggerer until the day's purchases reach a threshold (the emulator receives them a
few at a time while it waits), then the hourly counts of three events over three days are
exported to CSV. It ends with where the file is and a picture of what it holds.

With ``AIRFLOW_CONN_EVENTS_ANALYTICS_DEFAULT`` already set, it runs against that instance instead,
with a threshold of 1, and says so.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import threading
from collections import defaultdict
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

from airflow_provider_events.emulator import EventsEmulator

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / ".demo"
DAG_ID = "example_events_sensor_gated"
CONN_VAR = "AIRFLOW_CONN_EVENTS_ANALYTICS_DEFAULT"
BARS = "▁▂▃▄▅▆▇█"
PURCHASES_TO_WAIT_FOR = 150


def sparkline(values: list[int]) -> str:
    """One character per value, scaled between the smallest and the largest."""
    low, high = min(values), max(values)
    span = (high - low) or 1
    return "".join(BARS[(value - low) * (len(BARS) - 1) // span] for value in values)


def instance_of(conn: str) -> str:
    """The host a connection points at, for the banner; never the key."""
    try:
        host = json.loads(conn).get("host", "")
    except ValueError:
        host = urlsplit(conn).hostname or ""
    return host or "(no host)"


def airflow_env(home: Path, exports: Path, poke_interval: float, threshold: int) -> dict[str, str]:
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "example_dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "EVENTS_EXPORT_DIR": str(exports),
        "EVENTS_GATED_POKE_INTERVAL": str(poke_interval),
        "EVENTS_GATED_THRESHOLD": str(threshold),
        "EVENTS_GATED_TIMEOUT": "600",
        "EVENTS_GATED_DAYS": "3",
    }


def airflow(args: list[str], env: dict[str, str], log: Path) -> None:
    """Run an airflow command, its output to ``log``; on failure show the end of it and stop."""
    with log.open("a") as out:
        done = subprocess.run(
            [str(Path(sys.executable).parent / "airflow"), *args], env=env, stdout=out, stderr=out
        )
    if done.returncode != 0:
        print("".join(log.read_text().splitlines(keepends=True)[-40:]), file=sys.stderr)
        raise SystemExit(f"`airflow {' '.join(args)}` failed (exit {done.returncode}); full log: {log}")


def trickle(emulator: EventsEmulator, day: date, stop: threading.Event) -> None:
    """Once the sensor has looked, purchases keep arriving for the day: 30 a second, 150 in all."""
    noon = datetime.combine(day, time(12), tzinfo=timezone.utc)
    while emulator.request_count() == 0:
        if stop.wait(0.2):
            return
    for _ in range(PURCHASES_TO_WAIT_FOR // 30):
        if stop.wait(1.0):
            return
        emulator.record("purchase", 30, at=noon)


def summarize(path: Path) -> None:
    series: dict[str, list[int]] = defaultdict(list)
    with path.open(newline="") as exported:
        rows = list(csv.DictReader(exported))
    for row in rows:
        series[row["event"]].append(int(row["count"]))
    print(f"\nExported {len(rows)} rows to {path}")
    print(f"hours {rows[0]['time']} .. {rows[-1]['time']}\n")
    width = max(len(event) for event in series)
    for event, counts in series.items():
        print(f"  {event:<{width}}  total {sum(counts):>9,}  {sparkline(counts)}")


def run(env: dict[str, str], logical_date: date, log: Path) -> None:
    print("Migrating a fresh SQLite metadata database ...", flush=True)
    airflow(["db", "migrate"], env, log)
    print(
        f"Running `airflow dags test {DAG_ID} {logical_date}` — the sensor, then the export ...", flush=True
    )
    airflow(["dags", "test", DAG_ID, logical_date.isoformat()], env, log)


def main() -> int:
    shutil.rmtree(WORK, ignore_errors=True)
    home, exports = WORK / "airflow", WORK / "exports"
    home.mkdir(parents=True)
    log = WORK / "airflow.log"
    logical_date = datetime.now(timezone.utc).date()  # the run covers yesterday
    day = logical_date - timedelta(days=1)

    if CONN_VAR in os.environ:
        print(f"{CONN_VAR} is set: running against {instance_of(os.environ[CONN_VAR])}, not the emulator.")
        print(f"The sensor waits (up to 10 minutes) for one purchase on {day}.")
        run(airflow_env(home, exports, poke_interval=30, threshold=1), logical_date, log)
    else:
        stop = threading.Event()
        with EventsEmulator(api_key="demo-key") as emulator:
            print(f"Emulator listening on {emulator.url}")
            # The example's sensor sums the day's hours (unit="hour", length=None).
            last_hour = datetime.combine(day, time(23), tzinfo=timezone.utc)
            hours = emulator.series("purchase", 24, "hour", ending_at=last_hour)
            threshold = sum(point["count"] for point in hours) + PURCHASES_TO_WAIT_FOR
            print(f"Waiting for {threshold:,} purchases on {day}; {PURCHASES_TO_WAIT_FOR} more are coming.")
            env = airflow_env(home, exports, poke_interval=1, threshold=threshold)
            env[CONN_VAR] = emulator.connection_json()
            feeder = threading.Thread(target=trickle, args=(emulator, day, stop), daemon=True)
            feeder.start()
            try:
                run(env, logical_date, log)
            finally:
                stop.set()
                feeder.join()
            requests = emulator.request_count("/events/data_series")
            print(f"Done: the sensor fired and the export ran ({requests} requests); emulator stopped.")
    summarize(exports / "gated" / f"{day.isoformat()}.csv")
    print(f"\nAirflow's log of the run: {log}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
