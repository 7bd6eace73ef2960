"""Local emulator of the Custom Events Analytics REST API, for demos, tests, benchmarks and offline DAG tests.

It serves ``GET /events/data_series`` and ``GET /events/list`` with deterministic counts, checks the
bearer key, enforces a rate limit, and can be scripted to fail (:class:`Fault`). It uses the standard
library only, so importing it is cheap.

In a pytest fixture::

    @pytest.fixture
    def emulator(monkeypatch):
        with EventsEmulator(events=600) as emu:
            monkeypatch.setenv("AIRFLOW_CONN_EVENTS_ANALYTICS_DEFAULT", emu.connection_json())
            yield emu

    def test_retries_a_503(emulator):
        emulator.enqueue(Fault(503), times=2)
        hook = EventsAnalyticsHook(retry_delay=0.01)
        points = hook.get_series("purchase", length=7, ending_at="2024-01-31T00:00:00Z")
        assert points == emulator.series("purchase", 7, ending_at="2024-01-31T00:00:00Z")
        assert emulator.request_count("/events/data_series") == 3

From a shell: ``python -m airflow_provider_events.emulator --port 8080 --api-key KEY``.
"""

from __future__ import annotations

from airflow_provider_events.emulator._emulator import DEFAULT_API_KEY, DEFAULT_EVENTS, EventsEmulator
from airflow_provider_events.emulator._messages import MANGLES, Fault, RecordedRequest
from airflow_provider_events.emulator._protocol import (
    MAX_LENGTH,
    PAGE_SIZE,
    UNITS,
    as_fixed,
    bucket_starts,
    floor_bucket,
    format_bucket,
    parse_ending_at,
    parse_offset,
    shift,
)

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_EVENTS",
    "MANGLES",
    "MAX_LENGTH",
    "PAGE_SIZE",
    "UNITS",
    "EventsEmulator",
    "Fault",
    "RecordedRequest",
    "as_fixed",
    "bucket_starts",
    "floor_bucket",
    "format_bucket",
    "parse_ending_at",
    "parse_offset",
    "shift",
]
