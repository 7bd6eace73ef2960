"""Run each benchmark scenario once at a tiny size, so the benchmark code cannot rot.

No timing is asserted here: only that every scenario runs and fetches what the emulator serves.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.import_cost import import_overhead
from benchmarks.report import Report, Row, format_report, ratio_targets, write_json
from benchmarks.run import parse_args
from benchmarks.servers import EmulatorProcess, emulator
from benchmarks.workloads import (
    expected_csv,
    expected_series,
    hook_series,
    http_loop_export,
    http_loop_series,
    keepalive_overhead,
    operator_export,
    rate_limited_run,
)

EVENTS = 3


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorProcess]:
    """An emulator subprocess with no latency, both benchmark connections pointing at it."""
    with emulator(latency_ms=0, events=EVENTS) as process:
        yield process


def test_keepalive_overhead_is_measured(server: EmulatorProcess) -> None:
    assert keepalive_overhead(server.url, count=3) > 0


def test_hook_and_http_loop_fetch_the_emulators_series(server: EmulatorProcess) -> None:
    expected = expected_series(250, event="event_0001")  # a name the emulator lists: it counts
    assert len(expected) == 250
    assert any(point["count"] for point in expected)
    assert hook_series(250, event="event_0001") == expected
    assert http_loop_series(250, event="event_0001") == expected


def test_operator_and_http_loop_write_the_same_csv(server: EmulatorProcess, tmp_path: Path) -> None:
    expected = expected_csv(EVENTS, 150)
    assert operator_export(tmp_path / "operator.csv", 150).read_text() == expected
    assert http_loop_export(tmp_path / "loop.csv", 150) == EVENTS
    assert (tmp_path / "loop.csv").read_text() == expected
    assert http_loop_export(tmp_path / "subset.csv", 150, max_events=1) == 1
    assert (tmp_path / "subset.csv").read_text() == expected_csv(1, 150)


def test_rate_limited_run_counts_statuses_server_side() -> None:
    result = rate_limited_run(300, rate_limit=40, rate_window=1)
    assert result["correct"]
    assert result["statuses"] == {200: 3}


def test_emulator_process_stops_on_error() -> None:
    process = EmulatorProcess()
    with pytest.raises(RuntimeError, match="boom"), process:
        raise RuntimeError("boom")
    assert process.process is None
    process.cleanup()


def test_import_overhead_reports_our_modules() -> None:
    result = import_overhead(repeats=1)
    assert result["delta_ms"] > 0
    assert {row["module"] for row in result["profile"]} >= {
        "airflow_provider_events.operators.events",
        "airflow_provider_events.sensors.events",
    }
    assert isinstance(result["heavy_added_by_ours"], list)


def test_report_is_printed_and_written_as_json(tmp_path: Path) -> None:
    report = Report()
    row = Row("(x) demo", median_s=0.2, runs=1, baseline_s=2.0, limit_s=0.1, note="a note")
    report.rows.append(row)
    ratio_targets(report, row)
    text = format_report(report)
    assert "PASS  (x) demo: ratio to sequential baseline" in text
    assert "FAIL  (x) demo: ratio to network limit" in text
    write_json(report, tmp_path / "results.json")
    payload = json.loads((tmp_path / "results.json").read_text())
    assert payload["rows"][0]["ratio_baseline"] == pytest.approx(0.1)
    assert [target["passed"] for target in payload["targets"]] == [True, False]


def test_options() -> None:
    quick = parse_args(["--quick"])
    assert (quick.runs, quick.export_baseline_runs) == (2, 0)
    default = parse_args([])
    assert (default.runs, default.export_baseline_runs) == (5, 2)
