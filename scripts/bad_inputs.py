"""What each likely mistake of a DAG author does: when it fails, how long that takes, what it says.

Runs every bad input through :class:`EventSeriesOperator` and, where it applies,
:class:`EventCountSensor`, against the bundled emulator over real HTTP on 127.0.0.1, and prints
one Markdown table per component. "parse" means the constructor raised, as it does while the DAG
file is parsed; "before any request" means ``execute`` raised before the emulator saw a request.

    .venv/bin/python scripts/bad_inputs.py

``tests/test_bad_inputs.py`` runs the same cases with shorter waits and asserts the stages.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_provider_events.emulator import EventsEmulator, Fault

SERIES = "/events/data_series"
END = "2024-05-01T12:00:00+00:00"
KEY = "sk-bad-inputs-3f9a1c"
# Short waits so the whole table runs in about a minute; the stages do not depend on them.
HOOK = {"timeout": 2.0, "retry_limit": 2, "retry_delay": 0.2}


@dataclass(frozen=True)
class Case:
    """One bad input: constructor arguments over the defaults, and what to set up first."""

    name: str
    operator: dict[str, Any] | None = None  # None: does not apply to the operator
    sensor: dict[str, Any] | None = None  # None: does not apply to the sensor
    fault: Fault | None = None  # queued (many times) before the run
    kill_after: int | None = None  # stop the emulator once it has received this many series requests
    missing: tuple[str, ...] = ()  # modules to act as if not installed (an extra left out)


@dataclass
class Outcome:
    stage: str
    seconds: float
    error: BaseException | None = None
    left: list[str] = field(default_factory=list)  # files in the output folder after the failure

    @property
    def first_line(self) -> str:
        return str(self.error).splitlines()[0] if self.error else "(no error)"

    @property
    def chained(self) -> str:
        context = self.error.__context__ if self.error else None
        if context is None:
            return "none"
        hidden = self.error.__suppress_context__  # type: ignore[union-attr]
        return f"{type(context).__name__}{' (suppressed)' if hidden else ''}"


def cases() -> list[Case]:
    both = lambda **kwargs: {"operator": kwargs, "sensor": kwargs}  # noqa: E731
    return [
        Case("wrong key", **both(events_conn_id="wrong_key")),
        Case("unknown conn id", **both(events_conn_id="no_such_conn")),
        Case("conn of another type (postgres)", **both(events_conn_id="pg")),
        Case("conn of another type (http)", **both(events_conn_id="plain_http_type")),
        Case("plain http to a non-loopback host", **both(events_conn_id="remote_http")),
        Case("length 0", **both(length=0)),
        Case("unit week", **both(unit="week")),
        Case('ending_at "yesterday"', **both(ending_at="yesterday")),
        Case('event ""', **both(event="")),
        Case('event ["a", "*"]', **both(event=["a", "*"])),
        Case("unknown event Purchase", **both(event="Purchase")),
        Case(".parquet without the extra", operator={"output_path": "TMP/out.parquet"}, missing=("pyarrow",)),
        Case("unwritable folder", operator={"output_path": "/sys/events-export/out.csv"}),
        Case('hook_params {"bogus": 1}', **both(hook_params={"bogus": 1})),
        Case('threshold "abc"', sensor={"threshold": "abc"}),
        Case("TLS against a plain server", **both(events_conn_id="tls_to_plain")),
        Case("read timeout", **both(), fault=Fault(delay=HOOK["timeout"] + 0.5, path=SERIES)),
        # Series answers held back, so that pages are in flight when the server goes.
        Case("server killed mid-export", **both(), fault=Fault(delay=1.0, path=SERIES), kill_after=1),
    ]


def connections(emulator: EventsEmulator) -> dict[str, dict[str, Any]]:
    port = emulator.port
    return {
        "events_analytics_default": {"conn_type": "events_analytics", "host": emulator.url, "password": KEY},
        "wrong_key": {"conn_type": "events_analytics", "host": emulator.url, "password": "sk-wrong-0000"},
        "pg": {"conn_type": "postgres", "host": "127.0.0.1", "port": port, "password": KEY},
        "plain_http_type": {"conn_type": "http", "host": emulator.url, "password": KEY},
        "remote_http": {"conn_type": "events_analytics", "host": "http://rest.example.com", "password": KEY},
        "tls_to_plain": {
            "conn_type": "events_analytics",
            "host": f"https://127.0.0.1:{port}",
            "password": KEY,
        },
    }


def build(kind: str, overrides: dict[str, Any], hook: dict[str, Any], tmp: Path) -> Any:
    """Construct the operator or the sensor, as parsing a DAG file does."""
    common = {"task_id": "t", "event": "purchase", "ending_at": END, "hook_params": hook}
    if kind == "operator":
        from airflow_provider_events.operators.events import EventSeriesOperator

        defaults = {**common, "event": "*", "length": 400, "unit": "day", "output_path": str(tmp / "out.csv")}
        # TMP stands for the run's own temporary folder, where the default output goes.
        path = str(overrides.get("output_path", defaults["output_path"])).replace("TMP", str(tmp))
        return EventSeriesOperator(**{**defaults, **overrides, "output_path": path})
    from airflow_provider_events.sensors.events import EventCountSensor

    defaults = {**common, "threshold": 10**9, "length": 3, "unit": "hour", "poke_interval": 0.05}
    return EventCountSensor(**{**defaults, "timeout": 600, "deferrable": False, **overrides})


def run(case: Case, kind: str, hook: dict[str, Any] | None = None) -> Outcome:
    """Run one case against a fresh emulator and say when and how it failed."""
    hook = HOOK if hook is None else hook
    overrides = case.operator if kind == "operator" else case.sensor
    assert overrides is not None, f"{case.name} does not apply to the {kind}"
    with (
        tempfile.TemporaryDirectory() as folder,
        serving(latency=0.005) as (emulator, connected),
        not_installed(case.missing),
    ):
        tmp = Path(folder)
        if case.fault is not None:
            emulator.enqueue(case.fault, times=100)
        if case.kill_after is not None:
            kill_after(emulator, case.kill_after)
        started = time.perf_counter()
        try:
            task = build(kind, overrides, hook, tmp)
        except Exception as err:
            return Outcome("parse", time.perf_counter() - started, err)
        try:
            task.execute({})
        except Exception as err:
            seconds = time.perf_counter() - started
            return Outcome(
                stage(emulator.request_count(), connected[0]), seconds, err, sorted(os.listdir(tmp))
            )
        return Outcome("no error", time.perf_counter() - started)


@contextmanager
def not_installed(modules: tuple[str, ...]) -> Iterator[None]:
    """Make ``importlib.util.find_spec`` say ``modules`` are not installed, as without their extra."""
    import importlib.util

    real = importlib.util.find_spec
    importlib.util.find_spec = lambda name, *args: None if name in modules else real(name, *args)  # type: ignore[assignment]
    try:
        yield
    finally:
        importlib.util.find_spec = real


def stage(requests: int, connections: int) -> str:
    if requests:
        return f"after {requests} request(s)"
    if connections:  # e.g. TLS hellos, which a plain server cannot read as requests
        return f"after {connections} connection(s), no HTTP request"
    return "before any request"


@contextmanager
def serving(latency: float) -> Iterator[tuple[EventsEmulator, list[int]]]:
    """The emulator, the cases' connections in the environment, and a count of TCP connections."""
    with EventsEmulator(api_key=KEY, latency=latency) as emulator:
        connected = [0]

        def count(request: Any, address: Any) -> bool:
            # A TLS hello to a plain server is no HTTP request: count connections as attempts.
            connected[0] += 1
            return True

        emulator._server.verify_request = count  # type: ignore[union-attr,method-assign]
        saved = dict(os.environ)
        for conn_id, conn in connections(emulator).items():
            os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(conn)
        try:
            yield emulator, connected
        finally:
            os.environ.clear()
            os.environ.update(saved)


def kill_after(emulator: EventsEmulator, series_requests: int) -> threading.Thread:
    def watch() -> None:
        deadline = time.monotonic() + 60
        while emulator.request_count(SERIES) < series_requests and time.monotonic() < deadline:
            time.sleep(0.002)
        emulator.stop()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def table(kind: str, rows: list[tuple[Case, Outcome]]) -> str:
    lines = [
        f"| bad input ({kind}) | fails | time | error | chained | files left | first line of the message |",
        "|---|---|---|---|---|---|---|",
    ]
    for case, outcome in rows:
        cells = [
            case.name,
            outcome.stage,
            f"{outcome.seconds:.2f} s",
            type(outcome.error).__name__ if outcome.error else "-",
            outcome.chained,
            ", ".join(outcome.left) or "none",
            outcome.first_line.replace("|", "\\|"),
        ]
        lines.append(f"| {' | '.join(cells)} |")
    return "\n".join(lines)


def main() -> None:
    import airflow_provider_events.hooks.events  # noqa: F401  (imported here, not in the first case's time)

    for kind in ("operator", "sensor"):
        applicable = [case for case in cases() if getattr(case, kind) is not None]
        rows = [(case, run(case, kind)) for case in applicable]
        print(table(kind, rows), end="\n\n", flush=True)
    print(f"hook_params {HOOK}; operator: event='*' (5 events), 400 days to CSV; sensor: 3 hours, poke mode")


def _isolate_airflow() -> None:
    home = tempfile.mkdtemp(prefix="bad-inputs-airflow-")
    os.environ.update(
        {
            "AIRFLOW_HOME": home,
            "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR",
        }
    )


if __name__ == "__main__":
    _isolate_airflow()
    main()
