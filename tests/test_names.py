"""Event names are checked against /events/list before any series request: typos fail, never export zeros."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowRescheduleException, TaskDeferred

from airflow_provider_events._names import closest_names, require_listed, unknown_names
from airflow_provider_events.emulator import DEFAULT_EVENTS, EventsEmulator
from airflow_provider_events.exceptions import EventsAnalyticsConfigError
from airflow_provider_events.operators.events import EventSeriesOperator
from airflow_provider_events.sensors.events import EventCountSensor

SERIES = "/events/data_series"
LIST = "/events/list"
FAST = {"retry_delay": 0.01, "retry_limit": 1, "timeout": 5}
END = "2024-01-31T00:00:00Z"


def paths(emulator: EventsEmulator) -> list[str]:
    return [request.path for request in emulator.requests]


# -- the pure check ----------------------------------------------------------------------------------


@pytest.mark.parametrize("typo", ["Purchase", " purchase ", "purchse", "PURCHASE", "purchase\n"])
def test_the_closest_listed_name_of_a_slip_comes_first(typo: str) -> None:
    assert closest_names(typo, DEFAULT_EVENTS)[0] == "purchase"


def test_unknown_names_keep_the_order_asked_and_skip_listed_ones() -> None:
    found = unknown_names(["signup", "Purchase", "sign_up", "Purchase"], DEFAULT_EVENTS)
    assert list(found) == ["Purchase", "sign_up"]
    assert found["sign_up"][0] == "signup"
    assert unknown_names(["xyzzy"], DEFAULT_EVENTS) == {"xyzzy": []}


def test_the_error_names_every_unknown_name_and_what_is_close() -> None:
    with pytest.raises(EventsAnalyticsConfigError) as caught:
        require_listed(["purchase", "Purchase", "xyzzy"], DEFAULT_EVENTS)
    message = str(caught.value)
    assert message.startswith("Unknown event name(s) 'Purchase' (closest listed: 'purchase'")
    assert "'xyzzy' (nothing close)" in message
    assert "/events/list holds 5 names" in message and "check_event_names=False" in message
    assert "\n" not in message


def test_an_empty_listing_and_many_unknown_names_are_said_briefly() -> None:
    with pytest.raises(EventsAnalyticsConfigError, match="holds no names at all"):
        require_listed(["purchase"], [])
    with pytest.raises(
        EventsAnalyticsConfigError,
        match=r"'name_09' \(nothing close\) and 4 more: /events/list holds 1 name,",
    ):
        require_listed([f"name_{index:02d}" for index in range(14)], ["purchase"])
    require_listed(["purchase"], ["purchase"])  # nothing to say


# -- the operator ------------------------------------------------------------------------------------


def export(**kwargs: Any) -> EventSeriesOperator:
    return EventSeriesOperator(
        **{"task_id": "export", "length": 2, "ending_at": END, "hook_params": FAST, **kwargs}
    )


@pytest.mark.parametrize("event", ["Purchase", " purchase ", "purchse", ["signup", "Purchase"]])
def test_an_unknown_name_fails_the_export_after_the_one_listing(
    emulator: EventsEmulator, events_conn: str, tmp_path: Path, event: Any
) -> None:
    task = export(event=event, output_path=str(tmp_path / "out.csv"))
    with pytest.raises(EventsAnalyticsConfigError, match="closest listed: 'purchase'"):
        task.execute({})
    assert paths(emulator) == [LIST]
    assert list(tmp_path.iterdir()) == []


def test_without_the_check_a_typo_exports_whatever_the_api_answers(
    emulator: EventsEmulator, events_conn: str
) -> None:
    records = export(event="Purchase", check_event_names=False).execute({})
    assert [record["count"] for record in records] == [0, 0]  # the emulator's answer to a name it lacks
    assert paths(emulator) == [SERIES]


def test_listed_names_are_fetched_after_one_listing(emulator: EventsEmulator, events_conn: str) -> None:
    records = export(event=["signup", "purchase"]).execute({})
    assert [record["event"] for record in records] == ["signup", "signup", "purchase", "purchase"]
    assert paths(emulator) == [LIST, SERIES, SERIES]


def test_every_event_is_listed_once_and_not_checked_again(emulator: EventsEmulator, events_conn: str) -> None:
    records = export(event="*").execute({})
    assert len(records) == 2 * len(DEFAULT_EVENTS)
    assert emulator.request_count(LIST) == 1


def test_a_name_on_a_later_page_of_the_listing_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    with EventsEmulator(api_key="k", events=600) as emulator:
        monkeypatch.setenv("AIRFLOW_CONN_EVENTS_ANALYTICS_DEFAULT", emulator.connection_json())
        records = export(event="event_0599").execute({})
        assert records == [
            {"event": "event_0599", **point} for point in emulator.series("event_0599", 2, ending_at=END)
        ]
        assert paths(emulator) == [LIST, LIST, LIST, SERIES]


# -- the sensor --------------------------------------------------------------------------------------


def wait(**kwargs: Any) -> EventCountSensor:
    defaults = {
        "task_id": "wait",
        "event": "purchase",
        "threshold": 10**9,
        "ending_at": END,
        "hook_params": FAST,
        "poke_interval": 0.01,
        "timeout": 10,
        "deferrable": False,
    }
    return EventCountSensor(**{**defaults, **kwargs})


@pytest.mark.parametrize("mode", ["poke", "reschedule", "deferrable"])
def test_a_sensor_on_a_typo_fails_at_once_instead_of_waiting(
    emulator: EventsEmulator, events_conn: str, mode: str
) -> None:
    sensor = wait(
        event="Purchase", soft_fail=True, **({"deferrable": True} if mode == "deferrable" else {"mode": mode})
    )
    with pytest.raises(EventsAnalyticsConfigError, match="'Purchase' \\(closest listed: 'purchase'"):
        sensor.execute({"ti": _FirstTry()})
    assert paths(emulator) == [LIST]


def test_the_deferrable_sensor_checks_the_name_once_on_the_worker(
    emulator: EventsEmulator, events_conn: str
) -> None:
    with pytest.raises(TaskDeferred) as deferred:
        wait(deferrable=True).execute({})
    assert paths(emulator) == [LIST, SERIES]
    assert "check_event_names" not in deferred.value.trigger.serialize()[1]  # the triggerer only polls


def test_a_rescheduled_sensor_lists_the_names_on_its_first_run_only(
    emulator: EventsEmulator, events_conn: str
) -> None:
    with pytest.raises(AirflowRescheduleException):
        wait(mode="reschedule").execute({"ti": _FirstTry()})
    with pytest.raises(AirflowRescheduleException):
        wait(mode="reschedule").execute({"ti": _LaterTry()})
    assert paths(emulator) == [LIST, SERIES, SERIES]


def test_without_the_check_the_sensor_only_polls(emulator: EventsEmulator, events_conn: str) -> None:
    assert wait(event="Purchase", threshold=0, check_event_names=False).execute({}) == 0
    assert paths(emulator) == [SERIES]


class _FirstTry:
    def get_first_reschedule_date(self, context: Any) -> None:
        return None


class _LaterTry:
    def get_first_reschedule_date(self, context: Any) -> datetime:
        return datetime.now(timezone.utc)
