"""The scenarios: time the workloads against emulators, check them, and add rows and targets to the report."""

from __future__ import annotations

import math
import resource
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from benchmarks.import_cost import import_overhead
from benchmarks.report import Report, Row, Target, correctness_target, ratio_targets
from benchmarks.servers import EmulatorProcess, emulator
from benchmarks.workloads import (
    PAGE,
    RATE_LIMIT,
    RATE_WINDOW,
    expected_csv,
    expected_series,
    hook_series,
    http_loop_export,
    http_loop_series,
    keepalive_overhead,
    operator_export,
    rate_limited_run,
)

T = TypeVar("T")

LATENCY_MS = 25.0
HOURLY_POINTS = 8_760
DAILY_POINTS = 365
EVENT_COUNT = 300


# --- measuring ------------------------------------------------------------------------------------


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
    ratio_targets(report, row)
    correctness_target(report, "(a) hook", series == expected)
    correctness_target(report, "(a) baseline", baseline_series == expected)


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
    ratio_targets(report, row)
    report.targets.append(Target("(b) tracemalloc peak MB during the operator run", peak_mb, 100))
    correctness_target(report, "(b) operator CSV", correct)
    correctness_target(report, "(b) baseline CSV", baseline_correct)


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
    correctness_target(report, "3 budget series", all(result["correct"] for result in results))


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
