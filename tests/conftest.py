"""Shared fixtures: an isolated Airflow home on SQLite, and the emulator over real HTTP on 127.0.0.1."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

# Airflow reads its configuration at import: point it at a throwaway home before anything imports it.
_HOME = tempfile.mkdtemp(prefix="airflow-provider-events-tests-")
REPO = Path(__file__).resolve().parent.parent
os.environ.update(
    {
        "AIRFLOW_HOME": _HOME,
        "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "example_dags"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_HOME}/airflow.db",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        # S3 tests use moto on loopback; botocore must never look for credentials anywhere else.
        "AWS_EC2_METADATA_DISABLED": "true",
    }
)

import pytest  # noqa: E402
import requests  # noqa: E402

from airflow_provider_events.emulator import EventsEmulator  # noqa: E402

API_KEY = "sk-test-7f3a9c1e5b2d4f60"
CONN_ID = "events_analytics_default"
# Deprecations the suite tolerates: exact message -> why it cannot be acted on yet. Never a class.
TOLERATED_DEPRECATIONS: dict[str, str] = {}


def pytest_configure(config: pytest.Config) -> None:
    # An upgrade of Airflow or of a provider announces what it will remove through these warnings,
    # so they fail the suite. Declared here, not in pyproject.toml: resolving the classes there would
    # import airflow before the environment above is set, and the suite would use ~/airflow.
    for category in (
        "airflow.exceptions.AirflowProviderDeprecationWarning",
        "airflow.sdk.exceptions.RemovedInAirflow4Warning",
    ):
        config.addinivalue_line("filterwarnings", f"error::{category}")
    for message in TOLERATED_DEPRECATIONS:
        config.addinivalue_line("filterwarnings", f"ignore:{re.escape(message)}$:DeprecationWarning")


@pytest.fixture(scope="session")
def airflow_db() -> str:
    """A migrated, empty metadata database (SQLite in the temporary AIRFLOW_HOME)."""
    from airflow.utils import db

    db.resetdb()
    return _HOME


@pytest.fixture
def emulator() -> Iterator[EventsEmulator]:
    """A fresh emulator on a free loopback port, stopped after the test."""
    with EventsEmulator(api_key=API_KEY) as emu:
        yield emu


@pytest.fixture
def http() -> Iterator[requests.Session]:
    """A requests session that sends the emulator fixture's key, closed after the test."""
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {API_KEY}"
        yield session


@pytest.fixture
def events_conn(emulator: EventsEmulator, monkeypatch: pytest.MonkeyPatch) -> str:
    """The default connection, pointing at the emulator through the environment."""
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", emulator.connection_json())
    return CONN_ID


@pytest.fixture
def hook(events_conn: str):
    """A hook on the emulator with short retry waits, so retry tests stay fast."""
    from airflow_provider_events.hooks.events import EventsAnalyticsHook

    return EventsAnalyticsHook(events_conn, retry_delay=0.01, timeout=5)


S3_CONN_ID = "aws_s3"


@pytest.fixture(scope="session")
def s3_server() -> Iterator:
    """moto's S3 server on a free loopback port, one a session: filesystems are cached by connection."""
    pytest.importorskip("moto.server", reason="needs the test extra: pip install -e '.[test]'")
    from tests.s3_server import S3Server

    with S3Server() as server:
        yield server


@pytest.fixture
def s3_bucket(s3_server, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> str:
    """A new, empty bucket on the S3 server, with the ``aws_s3`` connection to it in the environment."""
    import re
    import uuid

    monkeypatch.setenv(f"AIRFLOW_CONN_{S3_CONN_ID.upper()}", s3_server.connection_json())
    name = re.sub(r"[^a-z0-9-]", "-", request.node.name.lower())[:40].strip("-")
    bucket = f"{name}-{uuid.uuid4().hex[:8]}"
    s3_server.client().create_bucket(Bucket=bucket)
    return bucket
