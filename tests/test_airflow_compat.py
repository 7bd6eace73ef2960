"""Every private Airflow name the package uses (``_airflow_compat``), pinned against the installed Airflow.

Each name has two tests: one that fails as soon as an upgrade moves it (the suite is the first to
know), and one that shows the run then stops with an error that says so, instead of carrying on
with a default (days silently in UTC, extras silently sent as headers).
"""

from __future__ import annotations

import inspect
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pendulum
import pytest
import requests

from airflow_provider_events import _airflow_compat
from airflow_provider_events._airflow_compat import (
    HTTP_HOOK_SESSION_STEPS,
    check_http_hook,
    check_http_session,
    core_timetable,
    scheduler_timetable_zone,
    storage_filesystem,
)
from airflow_provider_events._run import timetable_zone
from airflow_provider_events.exceptions import EventsAnalyticsConfigError

BERLIN = pendulum.timezone("Europe/Berlin")
SUMMER = datetime(2024, 7, 1)

# -- coerce_to_core_timetable ------------------------------------------------------------------------


def test_the_scheduler_still_converts_a_dag_files_timetable() -> None:
    from airflow.sdk import CronDataIntervalTimetable
    from airflow.serialization import encoders

    assert callable(encoders.coerce_to_core_timetable)
    core = core_timetable(CronDataIntervalTimetable("@daily", timezone="UTC"))
    interval = core.infer_manual_data_interval(run_after=pendulum.datetime(2024, 3, 5, 7, 30))
    assert (interval.start, interval.end) == (pendulum.datetime(2024, 3, 4), pendulum.datetime(2024, 3, 5))


def test_without_the_converter_a_run_without_a_logical_date_fails_saying_why(monkeypatch) -> None:
    from airflow.sdk import CronDataIntervalTimetable
    from airflow.serialization import encoders

    monkeypatch.delattr(encoders, "coerce_to_core_timetable")
    with pytest.raises(
        EventsAnalyticsConfigError, match="coerce_to_core_timetable is gone in Apache Airflow"
    ):
        core_timetable(CronDataIntervalTimetable("@daily", timezone="UTC"))


# -- the scheduler's cron timetables: _timezone, _timetables -----------------------------------------


def _scheduler_timetables() -> dict[str, Any]:
    from airflow.timetables.assets import AssetOrTimeSchedule
    from airflow.timetables.interval import CronDataIntervalTimetable
    from airflow.timetables.trigger import CronTriggerTimetable, MultipleCronTriggerTimetable

    cron = CronTriggerTimetable("0 6 * * *", timezone=BERLIN)
    return {
        "cron-interval": CronDataIntervalTimetable("0 0 * * *", BERLIN),
        "cron-trigger": cron,
        "multiple-cron": MultipleCronTriggerTimetable("0 6 * * *", "0 18 * * *", timezone=BERLIN),
        "asset-or-time": AssetOrTimeSchedule(timetable=cron, assets=[]),
    }


@pytest.mark.parametrize("kind", ["cron-interval", "cron-trigger", "multiple-cron", "asset-or-time"])
def test_the_schedulers_cron_timetables_still_keep_their_zone_where_it_is_read(kind: str) -> None:
    timetable = _scheduler_timetables()[kind]
    assert scheduler_timetable_zone(timetable) is BERLIN
    zone = timetable_zone({"dag": type("Dag", (), {"timetable": timetable})()})
    assert zone is not None and zone.utcoffset(SUMMER) == timedelta(hours=2)


def test_the_private_attributes_read_are_still_there() -> None:
    timetables = _scheduler_timetables()
    assert vars(timetables["cron-interval"])["_timezone"] is BERLIN
    assert [vars(cron)["_timezone"] for cron in vars(timetables["multiple-cron"])["_timetables"]] == [
        BERLIN
    ] * 2


@pytest.mark.parametrize("kind", ["cron-interval", "multiple-cron"])
def test_a_scheduler_timetable_whose_zone_moved_is_an_error_not_utc(kind: str) -> None:
    timetable = _scheduler_timetables()[kind]
    inner = timetable._timetables[0] if kind == "multiple-cron" else timetable
    del inner._timezone  # what a rename upstream would look like
    with pytest.raises(EventsAnalyticsConfigError, match="no longer keeps its time zone in _timezone"):
        timetable_zone({"dag": type("Dag", (), {"timetable": timetable})()})


def test_the_schedulers_timetables_without_a_zone_give_none() -> None:
    from airflow.timetables.interval import DeltaDataIntervalTimetable

    assert scheduler_timetable_zone(DeltaDataIntervalTimetable(timedelta(days=1))) is None


def test_the_task_sdks_timetables_are_not_the_schedulers_and_need_no_airflow_core() -> None:
    from airflow.sdk import CronDataIntervalTimetable

    assert scheduler_timetable_zone(CronDataIntervalTimetable("@daily", timezone="Europe/Berlin")) is None


# -- the Task SDK's timetables: their zone is public ------------------------------------------------


def test_the_task_sdks_timetables_keep_their_zone_in_public_fields() -> None:
    from airflow.sdk import (
        AssetOrTimeSchedule,
        CronDataIntervalTimetable,
        CronTriggerTimetable,
        MultipleCronTriggerTimetable,
    )

    for cls in (CronDataIntervalTimetable, CronTriggerTimetable):
        assert "timezone" in attrs.fields_dict(cls)
    assert "timetables" in attrs.fields_dict(MultipleCronTriggerTimetable)
    assert "timetable" in attrs.fields_dict(AssetOrTimeSchedule)


def test_a_task_sdk_cron_timetable_without_a_readable_zone_is_an_error_not_utc() -> None:
    from airflow.sdk import CronDataIntervalTimetable

    timetable = CronDataIntervalTimetable("@daily", timezone="Europe/Berlin")
    object.__setattr__(timetable, "timezone", None)  # what a rename upstream would look like
    with pytest.raises(
        EventsAnalyticsConfigError, match="time zone of CronDataIntervalTimetable cannot be read"
    ):
        timetable_zone({"dag": type("Dag", (), {"timetable": timetable})()})


# -- HttpHook's session steps -----------------------------------------------------------------------


def test_http_hook_still_builds_its_session_through_the_overridden_steps() -> None:
    from airflow.providers.http.hooks.http import HttpHook

    source = inspect.getsource(HttpHook.get_conn)
    for step in HTTP_HOOK_SESSION_STEPS:
        assert callable(getattr(HttpHook, step))
        assert f"self.{step}(" in source
    check_http_hook()


def test_the_hook_overrides_every_step() -> None:
    from airflow_provider_events.hooks.events import EventsAnalyticsHook

    for step in HTTP_HOOK_SESSION_STEPS:
        assert getattr(EventsAnalyticsHook, step) is getattr(_airflow_compat.HttpSessionOverrides, step)


def test_a_get_conn_that_skips_a_step_is_refused_before_any_request(
    monkeypatch, emulator, events_conn: str
) -> None:
    from airflow.providers.http.hooks.http import HttpHook

    from airflow_provider_events.hooks.events import EventsAnalyticsHook

    def renamed_steps(self: Any, headers: Any = None, extra_options: Any = None) -> requests.Session:
        return requests.Session()  # configures the session some other way

    monkeypatch.setattr(HttpHook, "get_conn", renamed_steps)
    with pytest.raises(EventsAnalyticsConfigError, match=r"HttpHook\.get_conn no longer calls _set_base_url"):
        EventsAnalyticsHook(events_conn).list_events()
    assert emulator.requests == []


def test_a_session_with_a_header_from_the_extras_is_refused() -> None:
    auth = object()
    session = requests.Session()
    session.auth = auth
    check_http_session(session, auth, {name.lower() for name in session.headers})
    session.headers["x-debug"] = "1"  # what HttpHook does with an unknown extra
    with pytest.raises(EventsAnalyticsConfigError, match="a header from the connection's extras"):
        check_http_session(session, auth, {name.lower() for name in requests.utils.default_headers()})
    session.headers.pop("x-debug")
    session.auth = ("login", "password")
    with pytest.raises(EventsAnalyticsConfigError, match="other credentials"):
        check_http_session(session, auth, {name.lower() for name in session.headers})


# -- object storage: public API ---------------------------------------------------------------------


def test_a_scheme_airflow_registers_uses_its_filesystem() -> None:
    from airflow.sdk import ObjectStoragePath

    target = ObjectStoragePath("file:///tmp/out.csv")
    fs, key = storage_filesystem(target)
    assert fs is target.fs and key == "/tmp/out.csv"


def test_a_scheme_no_provider_registers_uses_fsspecs_own() -> None:
    from airflow.sdk import ObjectStoragePath
    from fsspec.implementations.memory import MemoryFileSystem

    fs, key = storage_filesystem(ObjectStoragePath("memory://bucket/out.csv"))
    assert isinstance(fs, MemoryFileSystem) and key == "/bucket/out.csv"


def test_a_connection_no_filesystem_can_use_is_an_error_not_ignored() -> None:
    from airflow.sdk import ObjectStoragePath

    with pytest.raises(EventsAnalyticsConfigError, match="names the connection 'my_conn'"):
        storage_filesystem(ObjectStoragePath("memory://my_conn@bucket/out.csv"))


def test_nothing_else_in_the_package_reaches_into_airflow_privately() -> None:
    # The names above are the whole list: a new one belongs in _airflow_compat, with its tests.
    package = Path(_airflow_compat.__file__).parent
    names = "|".join(
        (
            *HTTP_HOOK_SESSION_STEPS,
            "_base_url_initialized",
            "coerce_to_core_timetable",
            "_timezone",
            "_timetables",
            "__wrapped__",
            "_do_render_template_fields",
        )
    )
    private_uses = {
        f"{path.relative_to(package)}: {match.group(0)}"
        for path in package.rglob("*.py")
        if path.name != "_airflow_compat.py"
        for match in re.finditer(rf"\b({names})\b", path.read_text())
    }
    assert private_uses == set()
