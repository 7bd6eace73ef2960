"""EventCountSensor against the emulator over real HTTP, in poke, reschedule and deferrable mode."""

from __future__ import annotations

import asyncio
import csv
import importlib.util
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import PokeReturnValue
from airflow.sdk.exceptions import (
    AirflowRescheduleException,
    AirflowSensorTimeout,
    AirflowSkipException,
    TaskDeferred,
)

from airflow_provider_events._checks import coerce_threshold
from airflow_provider_events.emulator import EventsEmulator, Fault
from airflow_provider_events.exceptions import (
    EventsAnalyticsAuthError,
    EventsAnalyticsConfigError,
    EventsAnalyticsError,
    EventsAnalyticsRequestError,
    EventsAnalyticsServerError,
)
from airflow_provider_events.sensors.events import EventCountSensor
from airflow_provider_events.triggers.events import EventCountTrigger
from tests.conftest import API_KEY

SERIES = "/events/data_series"
LIST = "/events/list"
ENDING_AT = "2024-03-10T15:30:00+00:00"
INSIDE_WINDOW = datetime(2024, 3, 10, 14, 45, tzinfo=timezone.utc)
FAST_HOOK = {"retry_limit": 2, "retry_delay": 0.001, "timeout": 5}
EXAMPLE_DAGS = Path(__file__).resolve().parent.parent / "example_dags"
EXAMPLE_DAG = EXAMPLE_DAGS / "example_events_sensor_gated.py"


def window_total(emulator: EventsEmulator) -> int:
    return sum(point["count"] for point in emulator.series("purchase", 3, "hour", ENDING_AT))


def make_sensor(threshold: int | str, **overrides: Any) -> EventCountSensor:
    kwargs: dict[str, Any] = {
        "task_id": "wait",
        "event": "purchase",
        "threshold": threshold,
        "length": 3,
        "unit": "hour",
        "ending_at": ENDING_AT,
        "hook_params": FAST_HOOK,
        "poke_interval": 0.05,
        "timeout": 10,
        "deferrable": False,
    }
    return EventCountSensor(**(kwargs | overrides))


def record_later(emulator: EventsEmulator, n: int, at: datetime, after_requests: int) -> threading.Thread:
    """Record ``n`` events once the emulator has answered ``after_requests`` series requests."""

    def run() -> None:
        deadline = time.monotonic() + 60  # then record anyway: the test's request count will tell
        while emulator.request_count(SERIES) < after_requests and time.monotonic() < deadline:
            time.sleep(0.01)
        emulator.record("purchase", n, at=at)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


class _RescheduleTI:
    """The one task-instance call reschedule mode makes: when did the first try start."""

    def get_first_reschedule_date(self, context: Any) -> None:
        return None


# -- poke ------------------------------------------------------------------------------------------


def test_below_the_threshold_is_not_done(emulator: EventsEmulator, events_conn: str) -> None:
    total = window_total(emulator)
    result = make_sensor(total + 1).poke({})
    assert isinstance(result, PokeReturnValue)
    assert not result.is_done
    assert result.xcom_value == total


def test_at_the_threshold_is_done(emulator: EventsEmulator, events_conn: str) -> None:
    total = window_total(emulator)
    result = make_sensor(total).poke({})
    assert result.is_done
    assert result.xcom_value == total
    assert emulator.request_count(SERIES) == 1


def test_execute_returns_the_total_for_a_templated_string_threshold(
    emulator: EventsEmulator, events_conn: str
) -> None:
    total = window_total(emulator)
    assert make_sensor(str(total)).execute({}) == total


def test_poke_mode_waits_until_recorded_events_cross_the_threshold(
    emulator: EventsEmulator, events_conn: str
) -> None:
    total = window_total(emulator)
    record_later(emulator, 6, INSIDE_WINDOW, after_requests=3)
    assert make_sensor(total + 6).execute({}) == total + 6
    # The emulator logs a request as it arrives, so the third one may already see the new events.
    assert emulator.request_count(SERIES) >= 3


def test_a_moving_window_counts_what_is_recorded_now(monkeypatch: pytest.MonkeyPatch) -> None:
    # No generated counts: the window holds exactly what the test records. Two hours, so that the
    # events recorded between the pokes are inside the second poke's window even if the hour turns.
    with EventsEmulator(api_key=API_KEY, background=False) as emulator:
        monkeypatch.setenv("AIRFLOW_CONN_EVENTS_ANALYTICS_DEFAULT", emulator.connection_json())
        sensor = make_sensor(0, ending_at=None, length=2)
        totals = []
        for recorded in (0, 1000):
            if recorded:
                emulator.record("purchase", recorded)
            before = datetime.now(timezone.utc).replace(microsecond=0)
            totals.append(sensor.poke({}).xcom_value)
            (*_, last) = (request for request in emulator.requests if request.path == SERIES)
            sent = datetime.fromisoformat(last.params["ending_at"])
            assert before <= sent <= datetime.now(timezone.utc)  # each poke's window ends then
    assert totals == [0, 1000]


def test_poke_mode_times_out(emulator: EventsEmulator, events_conn: str) -> None:
    sensor = make_sensor(10**9, timeout=0.3)
    with pytest.raises(AirflowSensorTimeout):
        sensor.execute({})
    assert emulator.request_count(SERIES) >= 1


def test_poke_mode_soft_fail_skips_on_timeout(emulator: EventsEmulator, events_conn: str) -> None:
    with pytest.raises(AirflowSkipException):
        make_sensor(10**9, timeout=0.2, soft_fail=True).execute({})


def test_reschedule_mode_frees_the_slot_until_done(emulator: EventsEmulator, events_conn: str) -> None:
    total = window_total(emulator)
    context: Any = {"ti": _RescheduleTI()}
    with pytest.raises(AirflowRescheduleException):
        make_sensor(total + 1, mode="reschedule").execute(context)
    assert make_sensor(total, mode="reschedule").execute(context) == total


# -- errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("soft_fail", [False, True])
def test_a_bad_key_fails_at_the_first_request(
    emulator: EventsEmulator, events_conn: str, monkeypatch: pytest.MonkeyPatch, soft_fail: bool
) -> None:
    bad = emulator.connection_json().replace(emulator.api_key, "sk-wrong-key-000000")
    monkeypatch.setenv("AIRFLOW_CONN_EVENTS_ANALYTICS_DEFAULT", bad)
    with pytest.raises(EventsAnalyticsAuthError) as caught:
        make_sensor(1, soft_fail=soft_fail).execute({})
    assert caught.value.status_code == 401
    assert [request.path for request in emulator.requests] == [LIST]  # the name check's one listing


@pytest.mark.parametrize("soft_fail", [False, True])
def test_a_bad_key_at_a_poke_fails_even_with_soft_fail(
    emulator: EventsEmulator, events_conn: str, monkeypatch: pytest.MonkeyPatch, soft_fail: bool
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    bad = emulator.connection_json().replace(emulator.api_key, "sk-wrong-key-000000")
    monkeypatch.setenv("AIRFLOW_CONN_EVENTS_ANALYTICS_DEFAULT", bad)
    with pytest.raises(EventsAnalyticsAuthError) as caught:
        make_sensor(1, soft_fail=soft_fail, check_event_names=False).execute({})
    assert isinstance(caught.value, AirflowFailException)  # the task fails without its retries
    assert [request.path for request in emulator.requests] == [SERIES]


@pytest.mark.parametrize("status", [400, 404])
def test_a_request_error_fails_at_once(emulator: EventsEmulator, events_conn: str, status: int) -> None:
    emulator.enqueue(Fault(status, path=SERIES), times=10)
    with pytest.raises(
        EventsAnalyticsRequestError, match=r"\[event 'purchase', 3 hour\(s\) ending at 2024-03-10T15:30"
    ):
        make_sensor(1).execute({})
    assert emulator.request_count(SERIES) == 1


def test_a_malformed_answer_fails_instead_of_counting_low(emulator: EventsEmulator, events_conn: str) -> None:
    emulator.enqueue(Fault(200, mangle="short", path=SERIES), times=10)
    with pytest.raises(EventsAnalyticsError, match="points"):
        make_sensor(0).execute({})
    assert emulator.request_count(SERIES) == FAST_HOOK["retry_limit"] + 1


def test_transient_503s_are_retried_by_the_hook(emulator: EventsEmulator, events_conn: str) -> None:
    total = window_total(emulator)
    emulator.enqueue(Fault(503, path=SERIES), times=2)
    assert make_sensor(total).execute({}) == total
    assert emulator.request_count(SERIES) == 3
    assert emulator.request_count(LIST) == 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"threshold": "-1"}, "threshold must be an integer >= 0, got '-1'"),
        ({"threshold": "abc"}, "threshold must be an integer >= 0, got 'abc'"),
        ({"threshold": True}, "threshold must be an integer >= 0, got True"),
        ({"unit": "week"}, "unit must be 'day' or 'hour', got 'week'"),
        ({"length": 0}, "length must be an integer >= 1, got 0"),
        ({"event": ""}, "event must be a non-empty string"),
        ({"ending_at": "soon"}, "ending_at must be an ISO 8601 date-time"),
        ({"app_id": ""}, "app_id must be a non-empty string or None"),
        ({"hook_params": {"bogus": 1}}, "hook_params has unknown key.* bogus; EventsAnalyticsHook accepts"),
        ({"hook_params": {"retry_limit": -1}}, "retry_limit must be an integer >= 0"),
    ],
)
def test_arguments_templates_cannot_change_fail_at_construction(
    emulator: EventsEmulator, events_conn: str, overrides: dict[str, Any], message: str
) -> None:
    # As for the operator: construction is when the DAG file is parsed.
    with pytest.raises(EventsAnalyticsConfigError, match=message):
        make_sensor(overrides.pop("threshold", 1), **overrides)
    assert emulator.request_count() == 0


@pytest.mark.parametrize(
    ("rendered", "message"),
    [
        ({"threshold": "many"}, "threshold must be an integer >= 0, got 'many'"),
        ({"event": " "}, "event must be a non-empty string"),
        ({"ending_at": "soon"}, "ending_at must be an ISO 8601 date-time"),
        ({"segment_id": ""}, "segment_id must be a non-empty string or None"),
    ],
)
def test_bad_rendered_arguments_fail_before_any_request(
    emulator: EventsEmulator, events_conn: str, rendered: dict[str, Any], message: str
) -> None:
    sensor = make_sensor("{{ params.t }}", event="{{ params.e }}", ending_at="{{ ds }}", segment_id="{{ s }}")
    for name, value in {"threshold": "1", "event": "purchase", "ending_at": ENDING_AT, **rendered}.items():
        setattr(sensor, name, value)  # as render_template_fields would
    with pytest.raises(EventsAnalyticsConfigError, match=message):
        sensor.execute({})
    assert emulator.request_count() == 0


def test_coerce_threshold() -> None:
    assert coerce_threshold(" 42 ") == 42
    assert coerce_threshold(0) == 0
    with pytest.raises(ValueError, match="threshold"):
        coerce_threshold(1.5)


# -- deferrable ------------------------------------------------------------------------------------


def test_deferrable_returns_at_once_when_already_done(emulator: EventsEmulator, events_conn: str) -> None:
    total = window_total(emulator)
    assert make_sensor(total, deferrable=True).execute({}) == total
    assert emulator.request_count(SERIES) == 1


def test_deferrable_defers_then_the_trigger_fires_and_execute_complete_returns_the_total(
    emulator: EventsEmulator, events_conn: str
) -> None:
    total = window_total(emulator)
    sensor = make_sensor(str(total + 3), deferrable=True, timeout=600)
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({})
    assert deferred.value.method_name == "execute_complete"
    assert deferred.value.timeout == timedelta(seconds=600)
    trigger = deferred.value.trigger
    assert isinstance(trigger, EventCountTrigger)
    # The triggerer rebuilds the trigger from its serialised form.
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_events.triggers.events.EventCountTrigger"
    assert kwargs["threshold"] == total + 3
    assert emulator.api_key not in repr(kwargs)
    rebuilt = EventCountTrigger(**kwargs)

    record_later(emulator, 3, INSIDE_WINDOW, after_requests=3)

    async def first_event() -> dict[str, Any]:
        async for event in rebuilt.run():
            return event.payload
        raise AssertionError("the trigger ended without an event")

    event = asyncio.run(asyncio.wait_for(first_event(), 10))
    assert event == {"status": "success", "total": total + 3}
    assert sensor.execute_complete({}, event) == total + 3


@pytest.mark.parametrize(
    ("error_class", "status_code", "expected"),
    [
        ("EventsAnalyticsAuthError", 401, EventsAnalyticsAuthError),
        ("EventsAnalyticsRequestError", 400, EventsAnalyticsRequestError),
        ("EventsAnalyticsServerError", 503, EventsAnalyticsServerError),
    ],
)
def test_execute_complete_raises_the_reported_error(
    error_class: str, status_code: int, expected: type[Exception]
) -> None:
    event = {"status": "error", "error_class": error_class, "status_code": status_code, "message": "boom"}
    with pytest.raises(expected, match="boom"):
        make_sensor(1, deferrable=True).execute_complete({}, event)


def test_a_reported_api_error_fails_even_with_soft_fail() -> None:
    event = {
        "status": "error",
        "error_class": "EventsAnalyticsAuthError",
        "status_code": 401,
        "message": "no",
    }
    sensor = make_sensor(1, deferrable=True, soft_fail=True)
    with pytest.raises(EventsAnalyticsAuthError):
        sensor.resume_execution("execute_complete", {"event": event}, {})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("soft_fail", "expected"), [(False, AirflowSensorTimeout), (True, AirflowSkipException)]
)
def test_a_deferral_timeout_fails_or_skips_like_poke_mode(soft_fail: bool, expected: type[Exception]) -> None:
    from airflow.sdk.bases.operator import TRIGGER_FAIL_REPR, TriggerFailureReason

    sensor = make_sensor(1, deferrable=True, soft_fail=soft_fail)
    with pytest.raises(expected):
        sensor.resume_execution(
            TRIGGER_FAIL_REPR,
            {"error": TriggerFailureReason.TRIGGER_TIMEOUT},
            {},  # type: ignore[arg-type]
        )


# -- the example DAG, end to end -------------------------------------------------------------------


def _load_example_dag() -> Any:
    spec = importlib.util.spec_from_file_location("example_events_sensor_gated_under_test", EXAMPLE_DAG)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dag


def test_example_dag_waits_on_the_triggerer_then_runs_downstream(
    airflow_db: str,
    emulator: EventsEmulator,
    events_conn: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    monkeypatch.setenv("EVENTS_GATED_POKE_INTERVAL", "0.1")
    monkeypatch.setenv("EVENTS_EXPORT_DIR", str(tmp_path))
    dag = _load_example_dag()
    day_hours = emulator.series("purchase", 24, "hour", ending_at="2024-01-01T23:00:00+00:00")
    threshold = sum(point["count"] for point in day_hours) + 5
    # Crossed only after the sensor's own check and the first polls of the trigger.
    record_later(emulator, 5, datetime(2024, 1, 1, 12, tzinfo=timezone.utc), after_requests=3)

    run = dag.test(logical_date=datetime(2024, 1, 2, tzinfo=timezone.utc), run_conf={"threshold": threshold})

    assert run.state == "success"
    with create_session() as session:
        tis = session.scalars(select(TaskInstance).filter_by(dag_id=dag.dag_id, run_id=run.run_id)).all()
        states = {ti.task_id: ti.state for ti in tis}
        rows = session.scalars(
            XComModel.get_many(
                run_id=run.run_id, dag_ids=dag.dag_id, task_ids="wait_for_purchases", key="return_value"
            )
        )
        sensor_total = [XComModel.deserialize_value(row) for row in rows]
    assert states == {"wait_for_purchases": "success", "export_hourly_funnel": "success"}
    # Nothing was recorded before the sensor's own check and two polls of the trigger, so the
    # sensor can only have reached the threshold on the triggerer; the export made one more request.
    assert sensor_total == [threshold]
    assert emulator.request_count(SERIES) >= 4
    # The export ran after the gate and holds the funnel's hourly points for the 3 days up to the
    # run's day, the recorded purchases included.
    with (tmp_path / "gated" / "2024-01-01.csv").open(newline="") as exported:
        records = [(row["event"], row["time"], int(row["count"])) for row in csv.DictReader(exported)]
    assert records == [
        (event, point["time"], point["count"])
        for event in ("add_to_cart", "checkout_started", "purchase")
        for point in emulator.series(event, 72, "hour", ending_at="2024-01-01T23:00:00+00:00")
    ]
    assert records[71][1] == "2024-01-01T23:00:00+00:00" and records[0][1] == "2023-12-30T00:00:00+00:00"
