"""Scenario 5: peak memory of whole exports as they grow, each export in a fresh subprocess.

The subprocess (``python -m benchmarks.memory PATH``) imports everything an export needs (Airflow,
the operator, the hook, aiohttp, and pyarrow for Parquet), resets the kernel's high-water mark of
its resident memory (``/proc/self/clear_refs``), notes its resident memory as the baseline, runs
one ``EventSeriesOperator(event="*")`` export, and prints the peak (``VmHWM``) and the baseline as
JSON. Growth is peak minus baseline: what the export itself costs, whatever the imports weigh.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.report import Report, Row, Target, correctness_target
from benchmarks.servers import REPO, emulator
from benchmarks.workloads import expected_csv, operator_export

SIZES = (300, 1_500, 3_000)
FORMATS = ("csv", "parquet")
DAYS = 365
MAX_GROWTH_MB = 100.0
MAX_FLATNESS = 1.25


def _status_kb(field: str) -> int:
    match = re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.MULTILINE)
    if match is None:
        raise RuntimeError(f"/proc/self/status has no {field}: this scenario needs Linux")
    return int(match.group(1))


def probe(output: Path) -> dict[str, Any]:
    """In this process: baseline after the imports, one export, the peak; the output's digest."""
    import gc

    import aiohttp  # noqa: F401  # the transport of the hook
    import airflow.sdk  # noqa: F401

    import airflow_provider_events.hooks.events
    import airflow_provider_events.operators.events  # noqa: F401

    if output.suffix == ".parquet":
        import pyarrow.parquet  # noqa: F401
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")  # the high-water mark restarts from here
    baseline_kb = _status_kb("VmRSS")
    start = time.perf_counter()
    operator_export(output, DAYS)
    seconds = time.perf_counter() - start
    peak_kb = _status_kb("VmHWM")
    return {
        "baseline_mb": baseline_kb / 1024,
        "peak_mb": peak_kb / 1024,
        "growth_mb": (peak_kb - baseline_kb) / 1024,
        "seconds": seconds,
        "bytes": output.stat().st_size,
        "sha256": hashlib.sha256(output.read_bytes()).hexdigest(),
    }


def measure(output: Path) -> dict[str, Any]:
    """:func:`probe` in a fresh interpreter (the connection comes through the environment)."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.memory", str(output)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the memory probe failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def parquet_schema(path: Path) -> str:
    """The schema of a Parquet file as pyarrow reads it, and its row count."""
    import pyarrow.parquet as pq

    meta = pq.read_metadata(path)
    return f"{pq.read_schema(path).to_string(show_schema_metadata=False)} ({meta.num_rows} rows)"


def run_memory(report: Report, sizes: tuple[int, ...] = SIZES) -> None:
    """Scenario 5: peak RSS growth of each size and format; flatness; the CSV bytes of the smallest."""
    growth: dict[tuple[str, int], float] = {}
    with tempfile.TemporaryDirectory(prefix="events-bench-") as tmp:
        for size in sizes:
            with emulator(latency_ms=0, events=size):
                for output_format in FORMATS:
                    output = Path(tmp) / f"{size}.{output_format}"
                    result = measure(output)
                    growth[output_format, size] = result["growth_mb"]
                    row = Row(f"5 memory {size:,} ev x {DAYS} d {output_format}", result["seconds"], 1)
                    row.peak_mb = result["growth_mb"]
                    row.note = (
                        f"peak RSS growth {result['growth_mb']:.1f} MB over the post-import baseline "
                        f"{result['baseline_mb']:.1f} MB (peak {result['peak_mb']:.1f} MB); "
                        f"{result['bytes']:,} bytes, sha256 {result['sha256'][:16]}"
                    )
                    report.rows.append(row)
                    report.details[f"memory {output_format} {size}"] = result
                    report.targets.append(
                        Target(f"5 memory {output_format} {size:,}: peak RSS growth MB", row.peak_mb, 100)
                    )
                    if output_format == "csv" and size == sizes[0]:
                        expected = hashlib.sha256(expected_csv(size, DAYS).encode()).hexdigest()
                        correctness_target(report, f"5 memory CSV {size} (same bytes as before)",
                                           result["sha256"] == expected)  # fmt: skip
                    if output_format == "parquet" and size == sizes[0]:
                        report.notes.append(
                            f"Parquet schema of the {size}-event export: {parquet_schema(output)}"
                        )
    for output_format in FORMATS:
        ratio = growth[output_format, sizes[-1]] / max(growth[output_format, sizes[0]], 1.0)
        report.targets.append(
            Target(
                f"5 memory {output_format}: growth {sizes[-1]:,} / growth {sizes[0]:,}", ratio, MAX_FLATNESS
            )
        )


if __name__ == "__main__":
    print(json.dumps(probe(Path(sys.argv[1]))))
