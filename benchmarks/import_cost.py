"""Scenario 4's measurement: what importing our operator and sensor modules adds, in fresh interpreters."""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

from benchmarks.servers import REPO

HEAVY_MODULES = ("aiohttp", "fsspec", "openlineage", "airflow.providers.openlineage")
_IMPORT_RE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|(\s+)(\S+)")
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
