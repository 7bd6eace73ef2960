"""Every example DAG imports cleanly through a DagBag, as the DAG processor would load it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from airflow import __version__ as AIRFLOW_VERSION
from packaging.version import Version

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "example_dags"
# Event-driven scheduling keeps its state where only Airflow 3.3+ offers it: before, it refuses to parse.
NEEDS_33 = set() if Version(AIRFLOW_VERSION) >= Version("3.3.0") else {"example_events_surge"}


def test_every_example_dag_imports_without_errors() -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(EXAMPLES))

    assert {Path(path).stem for path in bag.import_errors} == NEEDS_33
    for error in bag.import_errors.values():
        assert "EventCountCrossingTrigger needs Apache Airflow 3.3.0 or later" in error
    files = sorted(path.stem for path in EXAMPLES.glob("*.py"))
    assert sorted(bag.dag_ids) == sorted(set(files) - NEEDS_33)
    assert len(files) >= 3
    for dag in bag.dags.values():
        assert dag.tags and dag.doc_md, dag.dag_id


_PARSE = """
import runpy, sys, pathlib
from datetime import datetime, timezone
from airflow.sdk import DAG, Asset

with DAG("floor", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)):
    pass
# Airflow's own cost of any Asset: it loads every installed provider's URI handlers (the amazon
# provider's import requests and boto3), in every DAG file that declares one, ours or not.
Asset("events://floor/asset")
floor = set(sys.modules)
for path in sorted(pathlib.Path(sys.argv[1]).glob("*.py")):
    if path.stem not in sys.argv[2:]:
        runpy.run_path(str(path))
watched = ("aiohttp", "fsspec", "requests", "airflow_provider_events.hooks", "airflow.providers.openlineage")
print("ADDED", sorted(m for m in set(sys.modules) - floor if m.startswith(watched)))
"""


def test_parsing_the_examples_loads_no_http_client_storage_or_hook() -> None:
    # DAG files are parsed again and again: beyond what a bare DAG costs, ours add none of these.
    env = {"PATH": "/usr/bin:/bin", "AIRFLOW__CORE__UNIT_TEST_MODE": "True"}
    result = subprocess.run(
        [sys.executable, "-c", _PARSE, str(EXAMPLES), *NEEDS_33],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
    )

    assert result.returncode == 0, result.stderr[-2000:]
    assert "ADDED []" in result.stdout, result.stdout[-2000:]
