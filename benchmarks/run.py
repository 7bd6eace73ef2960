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
4. ``import``: the extra time to import ``airflow_provider_events.operators.events`` and
   ``.sensors.events`` in a fresh interpreter that already imported ``airflow.sdk`` (with
   ``DAG``, ``BaseOperator``, ``BaseSensorOperator``): the median over fresh processes, target
   <= 50 ms, and none of aiohttp, fsspec, openlineage newly imported by our modules. The wall-time
   difference of whole fresh processes (floor ``import airflow.sdk, airflow.providers.http.hooks.http``
   vs floor + our modules) is shown too, but it is much noisier than the in-process delta.

Targets on timed scenarios: ratio to the sequential baseline <= 0.25, ratio to the limit <= 1.5.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import math
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

REPO = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO / ".bench"
API_KEY = "bench-key-5f1c9a7e"
LATENCY_MS = 25.0
FIXED_END = datetime(2024, 6, 30, 23, 0, tzinfo=timezone.utc)
HOURLY_POINTS = 8_760
DAILY_POINTS = 365
EVENT_COUNT = 300
PAGE = 100
LIST_PAGE = 250
SERIES_ENDPOINT = "/events/data_series"
LIST_ENDPOINT = "/events/list"
EVENTS_CONN_ID = "events_analytics_default"
HTTP_CONN_ID = "events_bench_http"
RATE_LIMIT, RATE_WINDOW = 40, 1
HEAVY_MODULES = ("aiohttp", "fsspec", "openlineage", "airflow.providers.openlineage")
_STEP = {"day": timedelta(days=1), "hour": timedelta(hours=1)}
_STATUS_RE = re.compile(r'"GET [^"]*" (\d{3})$')
_IMPORT_RE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|(\s+)(\S+)")


# --- the emulator in a subprocess ----------------------------------------------------------------


class EmulatorProcess:
    """``python -m airflow_provider_events.emulator`` on a free loopback port; a context manager."""

    def __init__(
        self,
        *,
        latency_ms: float = 0.0,
        events: int | None = None,
        rate_limit: int | None = None,
        rate_window: int | None = None,
        verbose: bool = False,
    ) -> None:
        self._workdir = tempfile.TemporaryDirectory(prefix="events-bench-")
        self.port_file = Path(self._workdir.name) / "port"
        self.log_file = Path(self._workdir.name) / "stderr.log"
        self.argv = [sys.executable, "-m", "airflow_provider_events.emulator", "--port", "0"]
        self.argv += [
            "--port-file",
            str(self.port_file),
            "--api-key",
            API_KEY,
            "--latency-ms",
            str(latency_ms),
        ]
        for flag, value in (
            ("--events", events),
            ("--rate-limit", rate_limit),
            ("--rate-window", rate_window),
        ):
            if value is not None:
                self.argv += [flag, str(value)]
        if verbose:
            self.argv.append("--verbose")
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def __enter__(self) -> EmulatorProcess:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self, timeout: float = 30.0) -> None:
        with self.log_file.open("wb") as log:
            self.process = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL, stderr=log, cwd=REPO)
        deadline = time.monotonic() + timeout
        while not self.port_file.exists():
            if self.process.poll() is not None:
                raise RuntimeError(f"the emulator exited early: {self.log_file.read_text(errors='replace')}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the emulator did not start within {timeout:.0f} s")
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{int(self.port_file.read_text())}"

    def stop(self) -> None:
        """Terminate (then kill) the subprocess; safe to call twice and on every exit path."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def statuses(self) -> Counter[int]:
        """Statuses answered so far, from the ``--verbose`` log (one line per request)."""
        text = self.log_file.read_text(errors="replace")
        return Counter(
            int(match.group(1)) for line in text.splitlines() if (match := _STATUS_RE.search(line))
        )

    def cpu_seconds(self) -> float | None:
        """User + system CPU seconds of the emulator so far (Linux ``/proc``; None elsewhere)."""
        if self.process is None:
            return None
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def cleanup(self) -> None:
        self.stop()
        self._workdir.cleanup()


@contextlib.contextmanager
def emulator(**options: Any) -> Iterator[EmulatorProcess]:
    """Start an :class:`EmulatorProcess`, point both benchmark connections at it, stop it whatever happens."""
    process = EmulatorProcess(**options)
    try:
        with process, connections(process.url):
            yield process
    finally:
        process.cleanup()


@contextlib.contextmanager
def connections(url: str) -> Iterator[None]:
    """The ``events_analytics`` default connection and a plain ``http`` one, both to ``url``, via the env."""
    values = {
        f"AIRFLOW_CONN_{EVENTS_CONN_ID.upper()}": json.dumps(
            {"conn_type": "events_analytics", "host": url, "password": API_KEY}
        ),
        f"AIRFLOW_CONN_{HTTP_CONN_ID.upper()}": json.dumps({"conn_type": "http", "host": url}),
    }
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# --- scenario functions: one run each, returning what they fetched --------------------------------


def keepalive_overhead(url: str, count: int = 200) -> float:
    """Seconds per request of ``count`` sequential keep-alive requests (one full page each)."""
    import requests

    params = {"event": "purchase", "length": str(PAGE), "unit": "hour", "ending_at": FIXED_END.isoformat()}
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {API_KEY}"
        session.get(url + SERIES_ENDPOINT, params=params).raise_for_status()  # open the connection
        start = time.perf_counter()
        for _ in range(count):
            session.get(url + SERIES_ENDPOINT, params=params).raise_for_status()
        return (time.perf_counter() - start) / count


def hook_series(length: int, unit: str = "hour", event: str = "purchase") -> list[dict[str, Any]]:
    """What a DAG author writes with this provider: one call, every page fetched concurrently."""
    from airflow_provider_events.hooks.events import EventsAnalyticsHook

    return EventsAnalyticsHook().get_series(event, length=length, unit=unit, ending_at=FIXED_END)


def http_loop_series(length: int, unit: str = "hour", event: str = "purchase") -> list[dict[str, Any]]:
    """What a DAG author writes by hand with the HTTP provider: ``HttpHook.run`` once per page, in turn."""
    from airflow.providers.http.hooks.http import HttpHook

    hook = HttpHook(method="GET", http_conn_id=HTTP_CONN_ID)
    headers = {"Authorization": f"Bearer {API_KEY}"}
    pages: list[list[dict[str, Any]]] = []
    ending_at, remaining = FIXED_END, length
    while remaining > 0:
        size = min(PAGE, remaining)
        params = {"event": event, "length": str(size), "unit": unit, "ending_at": ending_at.isoformat()}
        pages.append(hook.run(SERIES_ENDPOINT, data=params, headers=headers).json()["data"])
        ending_at -= _STEP[unit] * PAGE
        remaining -= size
    return [point for page in reversed(pages) for point in page]


def http_loop_list_events() -> list[str]:
    """Every event name, page after page of ``/events/list``, with ``HttpHook.run``."""
    from airflow.providers.http.hooks.http import HttpHook

    hook = HttpHook(method="GET", http_conn_id=HTTP_CONN_ID)
    names: list[str] = []
    page = 0
    while True:
        batch = hook.run(
            LIST_ENDPOINT, data={"page": str(page)}, headers={"Authorization": f"Bearer {API_KEY}"}
        )
        names += batch.json()["events"]
        if len(batch.json()["events"]) < LIST_PAGE:
            return names
        page += 1


def operator_export(output: Path, length: int, unit: str = "day") -> Path:
    """``EventSeriesOperator(event="*")`` writing every event's series to a CSV file."""
    from airflow_provider_events.operators.events import EventSeriesOperator

    operator = EventSeriesOperator(
        task_id="bench", event="*", length=length, unit=unit, ending_at=FIXED_END, output_path=str(output)
    )
    return Path(operator.execute(context={}))  # type: ignore[arg-type]  # length given: no interval needed


def http_loop_export(output: Path, length: int, unit: str = "day", max_events: int | None = None) -> int:
    """The same CSV by a sequential HttpHook loop; ``max_events`` exports only the first ones (a subset)."""
    events = http_loop_list_events()[:max_events]
    with output.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("event", "time", "count"))
        for event in events:
            writer.writerows((event, p["time"], p["count"]) for p in http_loop_series(length, unit, event))
    return len(events)


def expected_series(length: int, unit: str = "hour", event: str = "purchase") -> list[dict[str, Any]]:
    """The series the emulator serves, computed locally (the counts are deterministic)."""
    from airflow_provider_events.emulator import EventsEmulator

    return EventsEmulator(API_KEY).series(event, length, unit, ending_at=FIXED_END)


def expected_csv(event_count: int, length: int, unit: str = "day") -> str:
    """The CSV the operator should write for the emulator's ``--events event_count`` names."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("event", "time", "count"))
    for index in range(event_count):
        event = f"event_{index:04d}"
        writer.writerows((event, p["time"], p["count"]) for p in expected_series(length, unit, event))
    return buffer.getvalue()


def rate_limited_run(
    length: int, rate_limit: int = RATE_LIMIT, rate_window: int = RATE_WINDOW
) -> dict[str, Any]:
    """(a) at ``length`` hourly points against a fresh rate-limited emulator: time, 429s, correctness."""
    with emulator(rate_limit=rate_limit, rate_window=rate_window, verbose=True) as server:
        start = time.perf_counter()
        series = hook_series(length)
        seconds = time.perf_counter() - start
        time.sleep(0.2)  # let the server write the log line of the last answer
        statuses = server.statuses()
    return {"seconds": seconds, "statuses": dict(statuses), "correct": series == expected_series(length)}


# --- import cost ----------------------------------------------------------------------------------

FLOOR_IMPORT = "import airflow.sdk, airflow.providers.http.hooks.http"
OUR_MODULES = "airflow_provider_events.operators.events, airflow_provider_events.sensors.events"
_IMPORT_PROBE = f"""
import json, sys, time
import airflow.sdk
from airflow.sdk import DAG, BaseOperator, BaseSensorOperator
before = set(sys.modules)
start = time.perf_counter()
import {OUR_MODULES}
ms = (time.perf_counter() - start) * 1000
print(json.dumps({{"ms": ms, "added": sorted(set(sys.modules) - before), "floor": sorted(before)}}))
"""


def _python(code: str, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *options, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )


def _wall_ms(code: str) -> float:
    start = time.perf_counter()
    _python(code)
    return (time.perf_counter() - start) * 1000


def _heavy(modules: Sequence[str]) -> list[str]:
    """Which of :data:`HEAVY_MODULES` (or their submodules) appear in ``modules``."""
    return sorted(
        {heavy for m in modules for heavy in HEAVY_MODULES if m == heavy or m.startswith(heavy + ".")}
    )


def import_profile(top: int = 6) -> list[dict[str, Any]]:
    """Our modules by cumulative import time (``-X importtime``) in a process that imported the floor."""
    stderr = _python(f"{FLOOR_IMPORT}, {OUR_MODULES}", "-X", "importtime").stderr
    rows: list[dict[str, Any]] = [
        {"module": m.group(4), "self_ms": int(m.group(1)) / 1000, "cumulative_ms": int(m.group(2)) / 1000}
        for m in map(_IMPORT_RE.match, stderr.splitlines())
        if m and m.group(4).startswith("airflow_provider_events")
    ]
    return sorted(rows, key=lambda row: float(row["cumulative_ms"]), reverse=True)[:top]


def import_overhead(repeats: int) -> dict[str, Any]:
    """In-process delta (median of fresh processes), whole-process wall difference, and what we import."""
    probes = [json.loads(_python(_IMPORT_PROBE).stdout.strip().splitlines()[-1]) for _ in range(repeats)]
    floor_ms: list[float] = []
    ours_ms: list[float] = []
    for _ in range(repeats):  # interleaved, so drifting machine load hits both alike
        floor_ms.append(_wall_ms(FLOOR_IMPORT))
        ours_ms.append(_wall_ms(f"{FLOOR_IMPORT}, {OUR_MODULES}"))
    return {
        "delta_ms": statistics.median(probe["ms"] for probe in probes),
        "wall_floor_ms": statistics.median(floor_ms),
        "wall_ours_ms": statistics.median(ours_ms),
        "wall_diff_ms": statistics.median(ours_ms) - statistics.median(floor_ms),
        "heavy_added_by_ours": _heavy(probes[0]["added"]),
        "heavy_in_floor": _heavy(probes[0]["floor"]),
        "third_party_added_by_ours": sorted(
            {m.split(".")[0] for m in probes[0]["added"]} - {"airflow_provider_events"}
        ),
        "profile": import_profile(),
    }


# --- measuring and reporting ----------------------------------------------------------------------


@dataclass
class Row:
    """One line of the table; None means not applicable."""

    scenario: str
    median_s: float | None = None
    runs: int = 0
    baseline_s: float | None = None
    limit_s: float | None = None
    peak_mb: float | None = None
    count_429: int | None = None
    import_ms: float | None = None
    note: str = ""

    @property
    def ratio_baseline(self) -> float | None:
        return self.median_s / self.baseline_s if self.median_s and self.baseline_s else None

    @property
    def ratio_limit(self) -> float | None:
        return self.median_s / self.limit_s if self.median_s and self.limit_s else None


@dataclass
class Target:
    name: str
    value: float
    threshold: float
    below: bool = True  # passes when value <= threshold (else >=)

    @property
    def passed(self) -> bool:
        return self.value <= self.threshold if self.below else self.value >= self.threshold


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Timing:
    """Wall and CPU seconds of each timed run (emulator CPU only where ``/proc`` is readable)."""

    wall: list[float] = field(default_factory=list)
    client_cpu: list[float] = field(default_factory=list)
    server_cpu: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.wall)

    def cpu_note(self, requests: int) -> str:
        """Median CPU per request of the client (every thread) and of the emulator subprocess."""
        text = f"client CPU {statistics.median(self.client_cpu) / requests * 1000:.2f} ms/request"
        if self.server_cpu:
            text += f", emulator CPU {statistics.median(self.server_cpu) / requests * 1000:.2f} ms/request"
        return text


def timed(
    function: Callable[[], T], runs: int, warmup: bool = True, server: EmulatorProcess | None = None
) -> tuple[Timing, T]:
    """Wall and CPU time of ``runs`` calls (after one untimed warm-up call), and the last result."""
    result = function() if warmup else None
    timing = Timing()
    for _ in range(runs):
        server_before = server.cpu_seconds() if server else None
        cpu, start = time.process_time(), time.perf_counter()
        result = function()
        timing.wall.append(time.perf_counter() - start)
        timing.client_cpu.append(time.process_time() - cpu)
        server_after = server.cpu_seconds() if server else None
        if server_before is not None and server_after is not None:
            timing.server_cpu.append(server_after - server_before)
    return timing, result  # type: ignore[return-value]


def cpu_budget_note() -> str:
    """At the limit, a client whose GIL runs one thread at a time has this much CPU per request."""
    from airflow_provider_events.hooks.events import DEFAULT_MAX_CONCURRENCY as IN_FLIGHT

    return (
        f"CPU budget at the limit {LATENCY_MS:.0f} ms / {IN_FLIGHT} = {LATENCY_MS / IN_FLIGHT:.2f} ms/request"
    )


def network_limit(requests: int, sequential: int = 0) -> float:
    """Seconds if the client cost nothing: waves of ``max_concurrency`` requests, plus sequential ones."""
    from airflow_provider_events.hooks.events import DEFAULT_MAX_CONCURRENCY

    return (math.ceil(requests / DEFAULT_MAX_CONCURRENCY) + sequential) * LATENCY_MS / 1000


def _ratio_targets(report: Report, row: Row) -> None:
    if row.ratio_baseline is not None:
        report.targets.append(
            Target(f"{row.scenario}: ratio to sequential baseline", row.ratio_baseline, 0.25)
        )
    if row.ratio_limit is not None:
        report.targets.append(Target(f"{row.scenario}: ratio to network limit", row.ratio_limit, 1.5))


def _correct(report: Report, name: str, ok: bool) -> None:
    report.targets.append(Target(f"{name}: output equals the emulator's", float(ok), 1.0, below=False))


# --- scenarios: measure, check, and add rows and targets to the report ---------------------------


def run_overhead(report: Report, count: int = 200, repeats: int = 3) -> None:
    """Scenario 0: what the emulator and a keep-alive client add per request, with no latency."""
    with emulator(latency_ms=0) as server:
        per_request = statistics.median(keepalive_overhead(server.url, count) for _ in range(repeats))
    note = f"{per_request * 1000:.2f} ms per request: {count} sequential keep-alive requests, 0 ms latency"
    report.rows.append(Row("0 overhead", per_request * count, repeats, note=note))
    report.targets.append(
        Target("0 overhead: ms per keep-alive request (emulator adds ~nothing)", per_request * 1000, 5)
    )


def run_hourly(report: Report, runs: int) -> None:
    """Scenario (a): one event, 8,760 hourly points, the hook against the hand-written HttpHook loop."""
    pages = math.ceil(HOURLY_POINTS / PAGE)
    with emulator(latency_ms=LATENCY_MS) as server:
        timing, series = timed(lambda: hook_series(HOURLY_POINTS), runs, server=server)
        baseline, baseline_series = timed(lambda: http_loop_series(HOURLY_POINTS), runs)
    expected = expected_series(HOURLY_POINTS)
    row = Row("(a) 1 event x 8,760 h", timing.median, runs, baseline.median, network_limit(pages))
    row.note = (
        f"{pages} pages; baseline: HttpHook.run per page (a new session each), median of {runs}; "
        f"hook: {timing.cpu_note(pages)}; {cpu_budget_note()}"
    )
    report.rows.append(row)
    _ratio_targets(report, row)
    _correct(report, "(a) hook", series == expected)
    _correct(report, "(a) baseline", baseline_series == expected)


def _memory_of_export(output: Path) -> tuple[float, float]:
    """(tracemalloc peak, ru_maxrss growth) in MB of one operator run; the first run in this process."""
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    operator_export(output, DAILY_POINTS)  # also the warm-up run
    rss_growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        operator_export(output, DAILY_POINTS)
        peak = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
    return peak, rss_growth


def _export_baseline(output: Path, runs: int, subset: int) -> tuple[float, str, bool]:
    """Median seconds of the sequential export (full, or a subset scaled up), a note, and its correctness."""
    requests_full = EVENT_COUNT * math.ceil(DAILY_POINTS / PAGE) + 2
    if runs > 0:
        timing, _ = timed(lambda: http_loop_export(output, DAILY_POINTS), runs, warmup=False)
        note = f"baseline measured in full, {runs} run(s), no warm-up"
        expected = expected_csv(EVENT_COUNT, DAILY_POINTS)
        return timing.median, note, output.read_text() == expected
    timing, _ = timed(lambda: http_loop_export(output, DAILY_POINTS, max_events=subset), 1, warmup=False)
    requests_subset = subset * math.ceil(DAILY_POINTS / PAGE) + 2
    scale = requests_full / requests_subset
    note = f"baseline SCALED: {subset} events ({requests_subset} requests) x {scale:.2f}"
    return timing.median * scale, note, output.read_text() == expected_csv(subset, DAILY_POINTS)


def run_export(report: Report, runs: int, baseline_runs: int, subset: int) -> None:
    """Scenario (b): 300 events x 365 days to CSV, the operator against the sequential HttpHook loop."""
    requests_n = EVENT_COUNT * math.ceil(DAILY_POINTS / PAGE)
    with (
        tempfile.TemporaryDirectory(prefix="events-bench-") as tmp,
        emulator(latency_ms=LATENCY_MS, events=EVENT_COUNT) as server,
    ):
        output = Path(tmp) / "out.csv"
        peak_mb, rss_mb = _memory_of_export(output)
        timing, _ = timed(lambda: operator_export(output, DAILY_POINTS), runs, warmup=False, server=server)
        correct = output.read_text() == expected_csv(EVENT_COUNT, DAILY_POINTS)
        baseline, note, baseline_correct = _export_baseline(Path(tmp) / "baseline.csv", baseline_runs, subset)
    row = Row("(b) 300 events x 365 d", timing.median, runs, baseline, network_limit(requests_n, 2), peak_mb)
    row.note = (
        f"2 list + {requests_n} series requests; limit includes 2 x 25 ms for the list pages; {note}; "
        f"ru_maxrss growth {rss_mb:.1f} MB; operator: {timing.cpu_note(requests_n + 2)}; {cpu_budget_note()}"
    )
    report.rows.append(row)
    _ratio_targets(report, row)
    report.targets.append(Target("(b) tracemalloc peak MB during the operator run", peak_mb, 100))
    _correct(report, "(b) operator CSV", correct)
    _correct(report, "(b) baseline CSV", baseline_correct)


def run_rate_limited(report: Report, runs: int) -> None:
    """Scenario 3: (a) against 40 requests per 1-second window, one fresh emulator per run; count 429s."""
    pages = math.ceil(HOURLY_POINTS / PAGE)
    results = [rate_limited_run(HOURLY_POINTS) for _ in range(runs)]
    count_429 = sum(result["statuses"].get(429, 0) for result in results)
    windows = math.ceil(pages / RATE_LIMIT)
    row = Row(
        f"3 budget {RATE_LIMIT}/{RATE_WINDOW}s, 8,760 h", statistics.median(r["seconds"] for r in results)
    )
    row.runs, row.count_429 = runs, count_429
    row.note = (
        f"{pages} pages need >= {windows} windows (> {windows - 2} s: windows align to epoch seconds); "
        f"0 ms latency; 429s over {runs} run(s), counted server-side; "
        f"statuses {[r['statuses'] for r in results]}"
    )
    report.rows.append(row)
    report.targets.append(Target("3 budget: 429 responses", count_429, 0))
    _correct(report, "3 budget series", all(result["correct"] for result in results))


def run_imports(report: Report, repeats: int) -> None:
    """Scenario 4: what importing our operator and sensor modules adds to DAG parsing."""
    result = import_overhead(repeats)
    top = ", ".join(f"{row['module']} {row['cumulative_ms']:.1f}" for row in result["profile"][:4])
    row = Row("4 import operator+sensor", runs=repeats, import_ms=result["delta_ms"])
    row.note = (
        f"in-process delta after airflow.sdk, median of {repeats} fresh processes; whole-process wall "
        f"diff {result['wall_diff_ms']:+.0f} ms (floor {result['wall_floor_ms']:.0f} ms, noisy); "
        f"-X importtime cumulative ms: {top}; heavy modules in the floor already: "
        f"{', '.join(result['heavy_in_floor']) or 'none'}; added by ours: "
        f"{', '.join(result['heavy_added_by_ours']) or 'none'}"
    )
    report.rows.append(row)
    report.details["imports"] = result
    report.targets.append(Target("4 import: ms added by our operator+sensor modules", result["delta_ms"], 50))
    heavy = len(result["heavy_added_by_ours"])
    report.targets.append(Target("4 import: aiohttp/fsspec/openlineage imported by our modules", heavy, 0))


# --- output -------------------------------------------------------------------------------------

_COLUMNS = (
    ("scenario", 28, "{}"),
    ("runs", 4, "{}"),
    ("median s", 9, "{:.3f}"),
    ("baseline s", 10, "{:.3f}"),
    ("x base", 7, "{:.3f}"),
    ("limit s", 8, "{:.3f}"),
    ("x limit", 7, "{:.2f}"),
    ("peak MB", 7, "{:.1f}"),
    ("429s", 4, "{}"),
    ("import ms", 9, "{:.1f}"),
)


def _cells(row: Row) -> list[Any]:
    return [
        row.scenario, row.runs, row.median_s, row.baseline_s, row.ratio_baseline, row.limit_s,
        row.ratio_limit, row.peak_mb, row.count_429, row.import_ms,
    ]  # fmt: skip


def format_report(report: Report) -> str:
    """The table, the notes of each row, and one PASS/FAIL line per target."""
    lines = [" | ".join(name.ljust(width) for name, width, _ in _COLUMNS)]
    lines.append("-+-".join("-" * width for _, width, _ in _COLUMNS))
    for row in report.rows:
        cells = [
            ("-" if v is None else spec.format(v))
            for v, (_, _, spec) in zip(_cells(row), _COLUMNS, strict=True)
        ]
        lines.append(
            " | ".join(cell.ljust(width) for cell, (_, width, _) in zip(cells, _COLUMNS, strict=True))
        )
    lines.append("")
    lines += [f"[{row.scenario}] {row.note}" for row in report.rows if row.note]
    lines += ["", *report.notes, ""] if report.notes else [""]
    for target in report.targets:
        sign = "<=" if target.below else ">="
        verdict = "PASS" if target.passed else "FAIL"
        lines.append(f"{verdict}  {target.name}: {target.value:.3g} (target {sign} {target.threshold:g})")
    return "\n".join(lines)


def write_json(report: Report, path: Path) -> None:
    rows = [
        {**asdict(row), "ratio_baseline": row.ratio_baseline, "ratio_limit": row.ratio_limit}
        for row in report.rows
    ]
    targets = [{**asdict(target), "passed": target.passed} for target in report.targets]
    payload = {"rows": rows, "targets": targets, "notes": report.notes, "details": report.details}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")


# --- entry point ----------------------------------------------------------------------------------


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
    parser.add_argument("--json", type=Path, default=BENCH_DIR / "results.json", help="where to write JSON")
    args = parser.parse_args(argv)
    if args.runs is None:
        args.runs = 2 if args.quick else 5
    if args.export_baseline_runs is None:
        args.export_baseline_runs = 0 if args.quick else 2
    if args.runs < 1 or args.export_baseline_runs < 0:
        parser.error("--runs must be >= 1 and --export-baseline-runs >= 0")
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
