"""What the scenarios time: one run each, returning what it fetched, and the output to expect.

Airflow and the provider are imported inside the functions, so that ``run.py`` sets up Airflow's
environment before Airflow reads its configuration.
"""

from __future__ import annotations

import csv
import io
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from benchmarks.servers import API_KEY, HTTP_CONN_ID, emulator

FIXED_END = datetime(2024, 6, 30, 23, 0, tzinfo=timezone.utc)
PAGE = 100
LIST_PAGE = 250
SERIES_ENDPOINT = "/events/data_series"
LIST_ENDPOINT = "/events/list"
RATE_LIMIT, RATE_WINDOW = 40, 1
_STEP = {"day": timedelta(days=1), "hour": timedelta(hours=1)}


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
    """The series the emulator serves for a name it lists, computed locally (the counts are deterministic)."""
    from airflow_provider_events.emulator import EventsEmulator

    return EventsEmulator(API_KEY, events=[event]).series(event, length, unit, ending_at=FIXED_END)


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
