"""Run each benchmark scenario once at a tiny size, so the benchmark code cannot rot.

No timing is asserted here: only that every scenario runs and fetches what the emulator serves.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks import run as bench

EVENTS = 3


@pytest.fixture(scope="module")
def server() -> Iterator[bench.EmulatorProcess]:
    """An emulator subprocess with no latency, both benchmark connections pointing at it."""
    with bench.emulator(latency_ms=0, events=EVENTS) as process:
        yield process


def test_keepalive_overhead_is_measured(server: bench.EmulatorProcess) -> None:
    assert bench.keepalive_overhead(server.url, count=3) > 0


def test_hook_and_http_loop_fetch_the_emulators_series(server: bench.EmulatorProcess) -> None:
    expected = bench.expected_series(250)
    assert len(expected) == 250
    assert bench.hook_series(250) == expected
    assert bench.http_loop_series(250) == expected


def test_operator_and_http_loop_write_the_same_csv(server: bench.EmulatorProcess, tmp_path: Path) -> None:
    expected = bench.expected_csv(EVENTS, 150)
    assert bench.operator_export(tmp_path / "operator.csv", 150).read_text() == expected
    assert bench.http_loop_export(tmp_path / "loop.csv", 150) == EVENTS
    assert (tmp_path / "loop.csv").read_text() == expected
    assert bench.http_loop_export(tmp_path / "subset.csv", 150, max_events=1) == 1
    assert (tmp_path / "subset.csv").read_text() == bench.expected_csv(1, 150)


def test_rate_limited_run_counts_statuses_server_side() -> None:
    result = bench.rate_limited_run(300, rate_limit=40, rate_window=1)
    assert result["correct"]
    assert result["statuses"] == {200: 3}


def test_emulator_process_stops_on_error() -> None:
    process = bench.EmulatorProcess()
    with pytest.raises(RuntimeError, match="boom"), process:
        raise RuntimeError("boom")
    assert process.process is None
    process.cleanup()


def test_import_overhead_reports_our_modules() -> None:
    result = bench.import_overhead(repeats=1)
    assert result["delta_ms"] > 0
    assert {row["module"] for row in result["profile"]} >= {
        "airflow_provider_events.operators.events",
        "airflow_provider_events.sensors.events",
    }
    assert isinstance(result["heavy_added_by_ours"], list)


def test_report_is_printed_and_written_as_json(tmp_path: Path) -> None:
    report = bench.Report()
    row = bench.Row("(x) demo", median_s=0.2, runs=1, baseline_s=2.0, limit_s=0.1, note="a note")
    report.rows.append(row)
    bench._ratio_targets(report, row)
    text = bench.format_report(report)
    assert "PASS  (x) demo: ratio to sequential baseline" in text
    assert "FAIL  (x) demo: ratio to network limit" in text
    bench.write_json(report, tmp_path / "results.json")
    payload = json.loads((tmp_path / "results.json").read_text())
    assert payload["rows"][0]["ratio_baseline"] == pytest.approx(0.1)
    assert [target["passed"] for target in payload["targets"]] == [True, False]


def test_options() -> None:
    quick = bench.parse_args(["--quick"])
    assert (quick.runs, quick.export_baseline_runs) == (2, 0)
    default = bench.parse_args([])
    assert (default.runs, default.export_baseline_runs) == (5, 2)
