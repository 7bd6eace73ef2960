"""
Benchmarks: paged retrieval near the network limit, and the import cost of our modules for DAG parsing.

Run with ``make bench`` or ``.venv/bin/python -m benchmarks.run [--runs N] [--quick]``. It prints one
table and a PASS/FAIL line per target, and writes the same as JSON to ``.bench/results.json``.
Exit status 1 means a target failed.

Every API call goes to the emulator (``python -m airflow_provider_events.emulator``) started as a
subprocess on 127.0.0.1, so the server does not share the client's GIL, with 25 ms of latency per
request. Each timed scenario runs once to warm up, then ``--runs`` times; the table shows medians.

Scenarios and targets:

0. ``overhead``: 200 sequential keep-alive requests through one ``requests.Session`` to a second
   emulator with 0 latency. The per-request time is what the emulator and the client add on their
   own; target <= 5 ms (far below the 25 ms latency and the 40 ms of a delayed-ACK stall).
1. ``(a) hourly``: one event, 8,760 hourly points (88 pages) through ``EventsAnalyticsHook.get_series``.
   Baseline: what a user writes by hand with the HTTP provider, ``HttpHook.run`` once per page,
   stepping ``ending_at`` back 100 hours (``run`` opens a new session, so a new connection, per call).
   Limit: ``ceil(88 / max_concurrency) x 25 ms``, the time if the client cost nothing.
2. ``(b) 300 events``: ``EventSeriesOperator(event="*", length=365, unit="day")`` writing a CSV:
   2 list pages, then 300 x 4 = 1,200 series pages. Baseline: the same CSV by a sequential HttpHook
   loop. Limit: ``ceil(1200 / max_concurrency) x 25 ms + 2 x 25 ms`` (the list pages go one after the
   other). Peak memory: tracemalloc peak during one operator run, target < 100 MB.
3. ``429s``: (a)'s 8,760 hourly points (88 pages > 2 x 40, so at least 3 windows) against an
   emulator allowing 40 requests per 1-second window, 0 latency, one fresh emulator per run. The
   hook retries 429s, so they are counted server-side (``--verbose`` log); target 0.
5. ``memory`` (``memory.py``): ``EventSeriesOperator(event="*", length=365)`` for 300, 1,500 and 3,000
   events, to CSV and to Parquet, each in a fresh subprocess, 0 ms latency: peak RSS growth over the
   baseline taken right after the imports (Airflow, our modules, aiohttp, pyarrow for Parquet).
   Targets: <= 100 MB each, 3,000 events within 1.25x of 300; the 300-event CSV has the same bytes
   (sha256) as the sequential loop writes. The Parquet file's schema, as pyarrow reads it, is noted.
6. ``workers`` (``workers.py``): ``--workers`` processes (default 6) each export their own 50 events x
   365 days (200 requests) against one emulator allowing 100 requests a second to all of them, 25 ms
   latency, 429 with ``Retry-After`` past it. Targets: 429s <= 5% of answers, time from the common start
   to the last worker's end <= 1.5x the budget's floor (requests / 100 per second), every file exact.
4. ``import``: the extra time to import ``airflow_provider_events.operators.events`` and
   ``.sensors.events`` in a fresh interpreter that already imported ``airflow.sdk`` (with
   ``DAG``, ``BaseOperator``, ``BaseSensorOperator``): the median over fresh processes, target
   <= 50 ms, and none of aiohttp, fsspec, openlineage newly imported by our modules. The wall-time
   difference of whole fresh processes (floor ``import airflow.sdk, airflow.providers.http.hooks.http``
   vs floor + our modules) is shown too, but it is much noisier than the in-process delta.

Targets on timed scenarios: ratio to the sequential baseline <= 0.25, ratio to the limit <= 1.5.

Modules: ``servers`` (the emulator subprocesses and connections), ``workloads`` (what is timed, one
run each), ``import_cost`` (scenario 4's fresh interpreters), ``scenarios`` (timing, checks, rows and
targets), ``report`` (the table and JSON), and this one (the command line).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmarks.memory import run_memory
from benchmarks.report import Report, format_report, write_json
from benchmarks.scenarios import (
    LATENCY_MS,
    run_export,
    run_hourly,
    run_imports,
    run_overhead,
    run_rate_limited,
)
from benchmarks.servers import REPO
from benchmarks.workers import run_many_workers

BENCH_DIR = REPO / ".bench"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[1])
    parser.add_argument(
        "--runs", type=int, default=None, help="timed runs per scenario (default 5, --quick 2)"
    )
    parser.add_argument("--quick", action="store_true", help="fewer runs; (b)'s baseline on a scaled subset")
    parser.add_argument(
        "--export-baseline-runs",
        type=int,
        default=None,
        help="full runs of (b)'s ~35 s sequential baseline (default 2, --quick 0); 0 scales up a subset",
    )
    parser.add_argument("--workers", type=int, default=6, help="processes sharing one budget in scenario 6")
    parser.add_argument("--json", type=Path, default=BENCH_DIR / "results.json", help="where to write JSON")
    args = parser.parse_args(argv)
    if args.runs is None:
        args.runs = 2 if args.quick else 5
    if args.export_baseline_runs is None:
        args.export_baseline_runs = 0 if args.quick else 2
    if args.runs < 1 or args.export_baseline_runs < 0 or args.workers < 1:
        parser.error("--runs and --workers must be >= 1 and --export-baseline-runs >= 0")
    return args


def prepare_environment() -> None:
    """Airflow reads its configuration at import: a throwaway home, no examples, quiet logs."""
    os.environ.setdefault("AIRFLOW_HOME", str(BENCH_DIR / "airflow-home"))
    os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")


def run_all(report: Report, args: argparse.Namespace) -> None:
    steps: list[tuple[str, Callable[[], None]]] = [
        ("0 overhead", lambda: run_overhead(report)),
        ("(a) hourly", lambda: run_hourly(report, args.runs)),
        ("(b) export", lambda: run_export(report, args.runs, args.export_baseline_runs, subset=30)),
        ("3 rate budget", lambda: run_rate_limited(report, min(args.runs, 3))),
        ("4 imports", lambda: run_imports(report, max(3, args.runs + 2))),
        ("5 memory", lambda: run_memory(report)),
        ("6 workers", lambda: run_many_workers(report, args.workers)),
    ]
    for name, step in steps:
        start = time.perf_counter()
        print(f"running {name} ...", file=sys.stderr, flush=True)
        step()
        print(f"  done in {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _load() -> str:
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    prepare_environment()
    report = Report(
        details={"config": {**vars(args), "json": str(args.json), "python": sys.version.split()[0]}}
    )
    from airflow_provider_events.hooks.events import DEFAULT_MAX_CONCURRENCY

    report.details["config"]["max_concurrency"] = DEFAULT_MAX_CONCURRENCY
    report.notes.append(
        f"Medians after one warm-up run; emulator subprocess on 127.0.0.1 with {LATENCY_MS:.0f} ms latency; "
        f"max_concurrency {DEFAULT_MAX_CONCURRENCY}; ratio targets: x base <= 0.25, x limit <= 1.5."
    )
    load_before = _load()
    signal.signal(signal.SIGTERM, _interrupt)  # so `finally` stops the emulators on SIGTERM too
    try:
        run_all(report, args)
    except KeyboardInterrupt:
        print("interrupted: every emulator subprocess was stopped", file=sys.stderr)
        return 130
    report.notes.append(
        f"Machine: {os.cpu_count()} CPU(s), 1-minute load average {load_before} at start and {_load()} at "
        "the end; the emulator and other processes share these cores, so time ratios drift with the load."
    )
    print(format_report(report))
    write_json(report, args.json)
    print(f"\nwrote {args.json}")
    return 0 if all(target.passed for target in report.targets) else 1


if __name__ == "__main__":
    sys.exit(main())
