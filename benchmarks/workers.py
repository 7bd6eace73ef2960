"""Scenario 6: many workers, one API budget.

Several worker processes (default 6, as mapped tasks on a Celery or Kubernetes deployment) each
export their own events with ``EventSeriesOperator`` against one emulator that allows 100
requests a second to all of them together and answers 429 with ``Retry-After`` past that. The
workers start together (each waits for a go file once imported) and cannot see each other: only
the API's headers and 429s tell them about the others.

Reported: the share of answers that were 429 (counted by the emulator), the total time from go
to the last worker's end against the budget's floor (requests / allowed rate), and whether every
worker's file holds exactly the emulator's series.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.report import Report, Row, Target, correctness_target
from benchmarks.servers import REPO, emulator
from benchmarks.workloads import PAGE, expected_csv, operator_export

WORKERS = 6
EVENTS_PER_WORKER = 50
DAYS = 365
RATE_LIMIT = 100  # requests per 1-second window, all workers together
LATENCY_MS = 25.0
MAX_429_SHARE = 0.05
MAX_FLOOR_RATIO = 1.5


def worker(first: int, count: int, output: Path, go: Path) -> dict[str, Any]:
    """In a worker process: import, say ready, wait for go, export events ``first .. first+count``."""
    import airflow_provider_events.operators.events  # noqa: F401  # imported before the start line

    output.with_suffix(".ready").touch()
    while not go.exists():
        time.sleep(0.005)
    start = time.time()
    events = [f"event_{index:04d}" for index in range(first, first + count)]
    operator_export(output, DAYS, events=events)
    return {"start": start, "end": time.time()}


def _spawn(index: int, events: int, folder: Path, go: Path) -> subprocess.Popen[str]:
    output = folder / f"worker{index}.csv"
    argv = [
        sys.executable,
        "-m",
        "benchmarks.workers",
        str(index * events),
        str(events),
        str(output),
        str(go),
    ]
    return subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run_workers(folder: Path, workers: int, events: int) -> dict[str, Any]:
    """Start the workers, wait until all are ready, say go, and collect their results."""
    go = folder / "go"
    processes = [_spawn(index, events, folder, go) for index in range(workers)]
    try:
        deadline = time.monotonic() + 120
        while not all((folder / f"worker{index}.ready").exists() for index in range(workers)):
            if any(process.poll() is not None for process in processes) or time.monotonic() > deadline:
                raise RuntimeError("a worker exited or never got ready")
            time.sleep(0.02)
        go_at = time.time()
        go.touch()
        results = []
        for process in processes:
            stdout, stderr = process.communicate(timeout=600)
            if process.returncode != 0:
                raise RuntimeError(f"a worker failed: {stderr[-2000:]}")
            results.append(json.loads(stdout.strip().splitlines()[-1]))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    return {"go": go_at, "results": results}


def run_many_workers(report: Report, workers: int = WORKERS, events: int = EVENTS_PER_WORKER) -> None:
    """Scenario 6: the workers against one budget; 429 share, time against the floor, exactness."""
    requests_n = workers * events * math.ceil(DAYS / PAGE)
    with (
        tempfile.TemporaryDirectory(prefix="events-bench-") as tmp,
        emulator(latency_ms=LATENCY_MS, events=workers * events, rate_limit=RATE_LIMIT, rate_window=1,
                 verbose=True) as server,
    ):  # fmt: skip
        outcome = run_workers(Path(tmp), workers, events)
        seconds = max(result["end"] for result in outcome["results"]) - outcome["go"]
        time.sleep(0.2)  # let the emulator log the last answer
        statuses = server.statuses()
        exact = all(
            (Path(tmp) / f"worker{index}.csv").read_text() == expected_csv(events, DAYS, first=index * events)
            for index in range(workers)
        )
    answers = sum(statuses.values())
    share = statuses.get(429, 0) / max(answers, 1)
    # Every answer that got through (series pages, and each task's listing of the names) used the
    # budget: the floor is the time the budget needs to let them all through.
    floor = statuses.get(200, 0) / RATE_LIMIT
    row = Row(f"6 {workers} workers, {RATE_LIMIT} req/s", seconds, 1, limit_s=floor)
    row.count_429 = statuses.get(429, 0)
    row.note = (
        f"{workers} processes x {events} events x {DAYS} d = {requests_n} series requests (and each "
        f"task's listing) sharing one budget of {RATE_LIMIT}/s ({LATENCY_MS:.0f} ms latency); limit = "
        f"the budget's floor, 200 answers / {RATE_LIMIT} per s = {floor:.2f} s; answers "
        f"{dict(statuses)}: 429 share {share:.1%}"
    )
    report.rows.append(row)
    report.details["workers"] = {"statuses": dict(statuses), "seconds": seconds, "floor": floor, **outcome}
    report.targets.append(Target("6 workers: share of answers that were 429", share, MAX_429_SHARE))
    report.targets.append(
        Target("6 workers: total time / the budget's floor", seconds / floor, MAX_FLOOR_RATIO)
    )
    correctness_target(report, "6 workers: every worker's series", exact)


if __name__ == "__main__":
    first_event, event_count = int(sys.argv[1]), int(sys.argv[2])
    print(json.dumps(worker(first_event, event_count, Path(sys.argv[3]), Path(sys.argv[4]))))
