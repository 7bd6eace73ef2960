"""Waits, budgets and task retries at the edges, measured against the bundled emulator on 127.0.0.1.

Prints one Markdown table: how long a request waits for a spent rate-limit window (sync and async
hook), for a reset sent in milliseconds, for a window spent for good; how 30 series pages fare
after a listing whose window is nearly spent; how many listings a mapped export of 8 events makes;
and how many tries a task with ``retries=2`` makes on a wrong key, a typo and a 503 outage.

    .venv/bin/python scripts/measure_waits.py            # from a clone, about two minutes at most

Each hook case runs in a child process, stopped after ``--cap`` seconds (a wait that never ends
shows as "> cap"). The task cases run through ``dag.test()`` on a throwaway SQLite metadata
database, with ``retry_delay=0``; the minutes to failure are then given for the examples' 5-minute
``retry_delay``, from the number of tries.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

KEY = "sk-measure-waits-5d2e8b"
END = "2024-05-01T00:00:00+00:00"
LIST = "/events/list"
SERIES = "/events/data_series"
HOOK = {"retry_limit": 5, "max_retry_wait": 1.0, "retry_delay": 0.05}
EXAMPLE_RETRY_DELAY_MIN = 5
EIGHT = [f"event_{index:04d}" for index in range(8)]


def _short(text: str, limit: int = 420) -> str:
    text = " ".join(text.split()).replace("|", "/")
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- hook cases, one per child process ---------------------------------------------------------------


def _spent_headers(reset: str) -> dict[str, str]:
    return {"X-RateLimit-Limit": "1000", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}


def hook_case(name: str) -> dict[str, Any]:
    """Run one case against a fresh emulator; what happened and how long it took."""
    from airflow_provider_events.emulator import EventsEmulator, Fault
    from airflow_provider_events.hooks.events import EventsAnalyticsAsyncHook, EventsAnalyticsHook

    reset = int(time.time()) + 59 * 60
    emulator = EventsEmulator(api_key=KEY, rate_limit=0 if name == "spent-for-good" else 250_000)
    with emulator:
        os.environ["AIRFLOW_CONN_MEASURE"] = emulator.connection_json()
        length = 3
        if name.startswith("spent-59min"):
            emulator.enqueue(Fault(429, headers=_spent_headers(str(reset))))
        elif name.startswith("spent-ms"):
            emulator.enqueue(Fault(429, headers=_spent_headers(str(reset * 1000))))
        elif name == "30-pages":
            # the listing's window nearly spent: 1 request left until 59 minutes from now
            headers = {**_spent_headers(str(reset)), "X-RateLimit-Remaining": "1"}
            emulator.enqueue(Fault(200, headers=headers, path=LIST))
            length = 3000
        started = time.monotonic()
        try:
            if name.endswith("async"):

                async def fetch() -> Any:
                    async with EventsAnalyticsAsyncHook("measure", **HOOK) as hook:
                        return await hook.get_series("purchase", length=length, ending_at=END)

                asyncio.run(fetch())
            else:
                hook = EventsAnalyticsHook("measure", **HOOK)
                if name == "30-pages":
                    hook.list_events()
                hook.get_series("purchase", length=length, ending_at=END)
            outcome = "series returned"
        except Exception as err:  # the outcome is what is measured
            outcome = f"{type(err).__name__}: {err}"
        seconds = time.monotonic() - started
        statuses = [r.status for r in emulator.requests]
    return {
        "seconds": seconds,
        "outcome": outcome,
        "requests": len(statuses),
        "429s": statuses.count(429),
        "series_requests": sum(1 for r in emulator.requests if r.path == SERIES),
    }


def run_child(name: str, cap: float) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", name]
    started = time.monotonic()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=cap, cwd=REPO)
    except subprocess.TimeoutExpired:
        outcome = f"still waiting after {cap:.0f} s (stopped)"
        return {"seconds": time.monotonic() - started, "outcome": outcome}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return {"seconds": time.monotonic() - started, "outcome": f"crashed: {_short(done.stderr[-400:])}"}
    return json.loads(lines[-1])


# -- task cases, through dag.test() -----------------------------------------------------------------

DAG_FILE = """
import json
import os
from datetime import timedelta

import pendulum
from airflow.sdk import DAG
from airflow_provider_events.operators.events import EventSeriesOperator

with DAG(
    os.environ["MEASURE_DAG_ID"],
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(0)},
):
    events = json.loads(os.environ["MEASURE_EVENTS"])
    common = dict(
        task_id="export",
        length=3,
        ending_at="2024-05-01T00:00:00+00:00",
        events_conn_id="measure",
        hook_params={"retry_limit": 1, "retry_delay": 0.05},
    )
    if os.environ.get("MEASURE_MAPPED"):
        EventSeriesOperator.partial(**common).expand(event=events)
    else:
        EventSeriesOperator(event=events, **common)
"""


def task_cases() -> dict[str, dict[str, Any]]:
    """Every dag.test() case in this process, on one throwaway metadata database."""
    home = tempfile.mkdtemp(prefix="measure-waits-")
    dags = Path(home, "dags")
    dags.mkdir()
    (dags / "measure.py").write_text(DAG_FILE)
    os.environ.update(
        {
            "AIRFLOW_HOME": home,
            "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR",
        }
    )
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils import db
    from airflow.utils.session import create_session

    from airflow_provider_events.emulator import EventsEmulator, Fault

    db.resetdb()
    results = {}
    cases = {
        "wrong key": (["purchase"], False, "sk-wrong-key-000000", None),
        "typo": (["Purchase"], False, KEY, None),
        "503 outage": (["purchase"], False, KEY, Fault(503)),
        "mapped 8": (EIGHT, True, KEY, None),
    }
    for index, (name, (events, mapped, key, fault)) in enumerate(cases.items()):
        dag_id = f"measure_{index}"
        os.environ.update({"MEASURE_DAG_ID": dag_id, "MEASURE_EVENTS": json.dumps(events)})
        os.environ.pop("MEASURE_MAPPED", None)
        if mapped:
            os.environ["MEASURE_MAPPED"] = "1"
        with EventsEmulator(api_key=KEY, events=[*EIGHT, "purchase"]) as emulator:
            conn = {"conn_type": "events_analytics", "host": emulator.url, "password": key}
            os.environ["AIRFLOW_CONN_MEASURE"] = json.dumps(conn)
            if fault is not None:
                emulator.enqueue(fault, times=1000)
            bag = DagBag(dag_folder=str(dags))
            with create_session() as session:
                DagBundlesManager().sync_bundles_to_db(session=session)
            sync_bag_to_db(bag, "dags-folder", None)
            started = time.monotonic()
            run = bag.dags[dag_id].test()
            seconds = time.monotonic() - started
            with create_session() as session:
                tis = session.query(TaskInstance).filter_by(dag_id=dag_id, run_id=run.run_id).all()
                tries = max(ti.try_number for ti in tis)
            results[name] = {
                "state": str(run.state),
                "tries": tries,
                "seconds": seconds,
                "listings": emulator.request_count(LIST),
                "requests": emulator.request_count(),
            }
    return results


# -- the table --------------------------------------------------------------------------------------


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--cap", type=float, default=30.0, help="stop a hook case after this many seconds")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--tasks-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "tasks":
        print(json.dumps(task_cases()))
        return
    if args.child:
        print(json.dumps(hook_case(args.child)))
        return

    rows = []
    hook_rows = [
        ("one 429, window spent for 59 min (sync)", "spent-59min-sync"),
        ("one 429, window spent for 59 min (async)", "spent-59min-async"),
        ("the same, reset in milliseconds (sync)", "spent-ms-sync"),
        ("the same, reset in milliseconds (async)", "spent-ms-async"),
        ("window spent for good (limit 0)", "spent-for-good"),
        ("30 series pages after a listing with 1 left", "30-pages"),
    ]
    if not args.tasks_only:
        for label, name in hook_rows:
            result = run_child(name, args.cap)
            seconds = result["seconds"]
            shown = f"> {args.cap:.0f} s" if "still waiting" in result["outcome"] else f"{seconds:.2f} s"
            counted = "requests" in result
            extra = f"; {result['requests']} request(s), {result['429s']} 429(s)" if counted else ""
            rows.append((label, shown, _short(result["outcome"]) + extra))
    command = [sys.executable, __file__, "--child", "tasks"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=REPO)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        rows.append(("task cases", "-", f"crashed: {_short(done.stderr[-600:])}"))
    else:
        tasks = json.loads(lines[-1])
        for name in ("wrong key", "typo", "503 outage"):
            case = tasks[name]
            minutes = (case["tries"] - 1) * EXAMPLE_RETRY_DELAY_MIN
            rows.append(
                (
                    f"{name}, retries=2",
                    f"{case['tries']} tr{'y' if case['tries'] == 1 else 'ies'}",
                    f"run {case['state']}; {minutes} min to failure with the examples' "
                    f"{EXAMPLE_RETRY_DELAY_MIN}-min retry_delay ({case['seconds']:.1f} s here with "
                    f"retry_delay 0, most of it dag.test's start-up); {case['requests']} request(s)",
                )
            )
        mapped = tasks["mapped 8"]
        rows.append(
            (
                "mapped export of 8 events (dag.test)",
                f"{mapped['listings']} listing(s)",
                f"run {mapped['state']}; {mapped['requests']} request(s) in all",
            )
        )
    print("| case | measured | outcome |")
    print("|---|---|---|")
    for label, measured, outcome in rows:
        print(f"| {label} | {measured} | {outcome} |")


if __name__ == "__main__":
    main()
