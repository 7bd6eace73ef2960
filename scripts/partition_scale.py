"""
Exports split by ``{day}`` at scale, on local disk and on S3, and Berlin daily runs across a DST change.

Three measurements, each run in a child process (so that its open-file limit and memory are its
own) against the emulator on 127.0.0.1 and moto's S3 server on 127.0.0.1:

- ``partitions``: 1,200 days of hours (28,800 hours, two events) exported to ``.../{day}.csv``
  under ``ulimit -n 160``, on disk and on ``s3://``: the outcome, the files written, the most file
  descriptors open at once, and how far the resident memory grew above what it was just before the
  export (after a small warm-up export, so imports are not counted);
- ``s3``: the export that the S3 form must allow, ``s3://aws_s3@bucket/hours/{event}.csv``, with
  an ``aws`` connection from the environment: its error, or the objects written and the first rows
  of one;
- ``berlin``: two consecutive daily runs of a DAG on ``CronDataIntervalTimetable("@daily",
  timezone="Europe/Berlin")`` with its ``start_date`` in UTC, writing hours to ``{day}.csv``, for
  26 and 27 October 2024 (the clocks go back on the 27th): the files and rows per file after each run.

Any commit can be measured beside the working tree: ``--rev REV`` exports that commit's package
with ``git archive`` into a temporary folder and runs the same children on it. Needs the test extra
(moto, s3fs, the amazon provider)::

    .venv/bin/python scripts/partition_scale.py --rev 8cab212 --rev 1f2b5bb
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
# The suite's in-process moto server, as tls_matrix.py takes the suite's certificates.
sys.path.insert(0, str(REPO / "tests"))
from s3_server import S3Server  # noqa: E402

FILE_LIMIT = 160
DAYS = 1200
API_KEY = "scale-key-0c8e1f"


# -- the child: one measurement, on whatever package PYTHONPATH names ---------------------------------


class Peaks:
    """Samples this process's open descriptors and resident memory every 2 ms while it runs."""

    def __init__(self) -> None:
        self.fds = self.rss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    @staticmethod
    def now() -> tuple[int, int]:
        fds = len(os.listdir("/proc/self/fd"))
        with open("/proc/self/status") as status:
            rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
        return fds, rss * 1024

    def _sample(self) -> None:
        while not self._stop.is_set():
            fds, rss = self.now()
            self.fds, self.rss = max(self.fds, fds), max(self.rss, rss)
            time.sleep(0.002)

    def __enter__(self) -> Peaks:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        fds, rss = self.now()
        self.fds, self.rss = max(self.fds, fds), max(self.rss, rss)


def _error(err: BaseException) -> str:
    return f"{type(err).__name__}: {str(err).splitlines()[0][:160] if str(err) else ''}"


def child_partitions(target: str) -> dict[str, Any]:
    from airflow_provider_events.operators.events import EventSeriesOperator

    def export(path: str, length: int) -> Any:
        return EventSeriesOperator(
            task_id="scale",
            event=["purchase", "signup"],
            unit="hour",
            length=length,
            ending_at="2024-06-30T23:00:00+00:00",
            output_path=path,
            hook_params={"max_concurrency": 4},
        ).execute({})

    warmup = target.replace("{day}", "warmup-{day}") if "{day}" in target else f"{target}.warmup.csv"
    export(warmup, 48)  # imports, connections and caches
    before_fds, before_rss = Peaks.now()
    with Peaks() as peaks:
        try:
            written = export(target, DAYS * 24)
            outcome = f"ok, {len(written) if isinstance(written, list) else 1} file(s)"
        except BaseException as err:
            outcome = _error(err)
    return {
        "outcome": outcome,
        "fds_before": before_fds,
        "fds_peak": peaks.fds,
        "rss_growth_mib": round((peaks.rss - before_rss) / 2**20, 1),
    }


def child_s3(target: str) -> dict[str, Any]:
    import warnings

    from airflow_provider_events.operators.events import EventSeriesOperator

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            written = EventSeriesOperator(
                task_id="export",
                event=["purchase", "signup"],
                unit="hour",
                length=24,
                ending_at="2024-06-01T23:00:00+00:00",
                output_path=target,
            ).execute({})
            outcome = f"ok: {written}"
        except BaseException as err:
            outcome = _error(err)
    runtime = [str(w.message)[:120] for w in caught if issubclass(w.category, RuntimeWarning)]
    return {"outcome": outcome, "runtime_warnings": runtime}


def child_berlin(folder: str) -> dict[str, Any]:
    from datetime import datetime, timezone

    import pendulum
    from airflow.sdk import DAG, CronDataIntervalTimetable

    from airflow_provider_events.operators.events import EventSeriesOperator

    dag = DAG(
        "berlin_hours",
        schedule=CronDataIntervalTimetable("@daily", timezone="Europe/Berlin"),
        start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
    )
    runs = []
    for day in (26, 27):
        # What the timetable gives the run for that day: local midnight to local midnight.
        start, end = (pendulum.datetime(2024, 10, n, tz="Europe/Berlin") for n in (day, day + 1))
        context = {"dag": dag, "data_interval_start": start, "data_interval_end": end}
        EventSeriesOperator(
            task_id="hours", event="purchase", unit="hour", output_path=f"{folder}/{{day}}.csv"
        ).execute(context)
        files = {path.name: len(path.read_text().splitlines()) - 1 for path in sorted(Path(folder).iterdir())}
        runs.append({"run": f"2024-10-{day} (Berlin)", "rows per file": files})
    return {"runs": runs}


def child(kind: str, target: str) -> None:
    import airflow_provider_events

    result = {"package": str(Path(airflow_provider_events.__file__).parent.parent)}
    result.update({"partitions": child_partitions, "s3": child_s3, "berlin": child_berlin}[kind](target))
    print("RESULT " + json.dumps(result))


# -- the parent: servers, trees, children, table ------------------------------------------------------


def tree_of(rev: str, scratch: Path) -> Path:
    folder = scratch / f"tree-{rev}"
    folder.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", rev, "airflow_provider_events"], capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    return folder


def run_child(tree: Path, kind: str, target: str, env: dict[str, str]) -> dict[str, Any]:
    def limit_files() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (FILE_LIMIT, FILE_LIMIT))

    result = subprocess.run(
        [sys.executable, __file__, "--child", kind, target],
        env={**env, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        preexec_fn=limit_files if kind == "partitions" else None,
        timeout=900,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    if not lines:
        return {"outcome": f"child failed: {result.stderr.strip().splitlines()[-1:]}"}
    return json.loads(lines[-1][len("RESULT ") :])


def listing(s3: S3Server, bucket: str, prefix: str) -> list[str]:
    """The keys under ``prefix`` and their sizes."""
    items = s3.client().list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return [f"{item['Key']} ({item['Size']} B)" for item in items]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rev", action="append", default=[], help="also measure this commit's package")
    parser.add_argument("--only", choices=["partitions", "s3", "berlin"], action="append")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    from airflow_provider_events.emulator import EventsEmulator

    kinds = args.only or ["partitions", "s3", "berlin"]
    with (
        tempfile.TemporaryDirectory(prefix="partition-scale-") as scratch_name,
        EventsEmulator(API_KEY) as emu,
        EventsEmulator(API_KEY, response_offset="+00:00") as utc,
        S3Server() as s3,
    ):
        scratch = Path(scratch_name)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "AIRFLOW_HOME": str(scratch / "airflow"),
            "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AIRFLOW_CONN_EVENTS_ANALYTICS_DEFAULT": emu.connection_json(),
            "AIRFLOW_CONN_AWS_S3": s3.connection_json(),
        }
        trees = [("working tree", REPO)] + [(rev, tree_of(rev, scratch)) for rev in args.rev]
        for label, tree in trees:
            bucket = f"scale-{len(s3.client().list_buckets()['Buckets'])}"
            s3.client().create_bucket(Bucket=bucket)
            print(f"\n== {label} ({tree})")
            if "partitions" in kinds:
                for where, target in (
                    ("disk", str(scratch / bucket / "days" / "{day}.csv")),
                    ("s3", f"s3://aws_s3@{bucket}/days/{{day}}.csv"),
                    # The same records to one file: what the export costs without partitions.
                    ("disk, one file", str(scratch / bucket / "one" / "all.csv")),
                ):
                    result = run_child(tree, "partitions", target, env)
                    print(f"partitions {where:14} ulimit -n {FILE_LIMIT}: {json.dumps(result)}")
            if "s3" in kinds:
                result = run_child(tree, "s3", f"s3://aws_s3@{bucket}/hours/{{event}}.csv", env)
                print(f"s3 export: {json.dumps(result)}")
                objects = listing(s3, bucket, "hours/")
                print(f"  objects under hours/: {objects}")
                if objects:
                    body = s3.client().get_object(Bucket=bucket, Key=objects[0].split(" ")[0])["Body"]
                    print("  first rows:", body.read().decode().splitlines()[:4])
            if "berlin" in kinds:
                # The API's offset for hours is not documented: as sent in ending_at, and UTC.
                for api, conn in (
                    ("offset of ending_at", emu.connection_json()),
                    ("UTC", utc.connection_json()),
                ):
                    folder = scratch / f"berlin-{bucket}-{api[:3]}"
                    folder.mkdir()
                    berlin_env = {**env, "AIRFLOW_CONN_EVENTS_ANALYTICS_DEFAULT": conn}
                    for run in run_child(tree, "berlin", str(folder), berlin_env).get("runs", []):
                        print(
                            f"berlin hours to {{day}}.csv (API hours in {api}), after the run for "
                            f"{run['run']}: {run['rows per file']}"
                        )


if __name__ == "__main__":
    main()
