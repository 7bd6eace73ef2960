"""The package root: a cheap import that names every component, and the shared argument rules."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path
from typing import get_args

import pytest

import airflow_provider_events
from airflow_provider_events._checks import HOOK_PARAMS, is_literal
from airflow_provider_events._output.staging import check_writable
from airflow_provider_events.exceptions import EventsAnalyticsConfigError

REPO = Path(__file__).resolve().parent.parent


def test_importing_the_package_loads_no_airflow_and_no_component() -> None:
    # The providers manager imports it to read get_provider_info(), in every Airflow process.
    code = (
        "import sys, airflow_provider_events\nprint(sorted(m for m in sys.modules if m.startswith('airf')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert result.stdout.strip() == "['airflow_provider_events']"


def test_every_exported_name_resolves_to_the_class_in_its_module() -> None:
    from airflow_provider_events.operators.events import EventSeriesOperator
    from airflow_provider_events.triggers.events import EventCountTrigger

    for name in airflow_provider_events.__all__:
        assert getattr(airflow_provider_events, name) is not None, name
    assert airflow_provider_events.EventSeriesOperator is EventSeriesOperator
    assert airflow_provider_events.EventCountTrigger is EventCountTrigger
    assert get_args(airflow_provider_events.Unit) == ("day", "hour")
    assert set(airflow_provider_events.__all__) <= set(dir(airflow_provider_events))
    with pytest.raises(AttributeError, match="no attribute 'EventsHook'"):
        airflow_provider_events.EventsHook  # noqa: B018


def test_the_docstring_says_where_each_component_lives() -> None:
    doc = airflow_provider_events.__doc__ or ""
    for module, name in [
        ("hooks.events", "EventsAnalyticsHook"),
        ("operators.events", "EventSeriesOperator"),
        ("sensors.events", "EventCountSensor"),
        ("triggers.events", "EventCountTrigger"),
        ("emulator", "EventsEmulator"),
    ]:
        assert f"{module}" in doc and name in doc


def test_hook_params_are_the_hooks_own_keyword_arguments() -> None:
    from airflow_provider_events.hooks.events import EventsAnalyticsAsyncHook, EventsAnalyticsHook

    for hook in (EventsAnalyticsHook, EventsAnalyticsAsyncHook):
        assert set(inspect.signature(hook).parameters) - {"events_conn_id"} == set(HOOK_PARAMS)


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("purchase", True),
        ("{{ params.e }}", False),
        ("{% if x %}a{% endif %}", False),
        (["a", "{{ b }}"], False),
    ],
)
def test_a_templated_value_waits_for_run_time(value: object, literal: bool) -> None:
    assert is_literal(value) is literal
    assert is_literal(object()) is False  # e.g. an XComArg: resolved at run time


def test_check_writable_probes_the_folder_and_leaves_placeholders_alone(tmp_path: Path) -> None:
    check_writable(str(tmp_path / "new" / "{event}" / "{day}.csv"))
    assert [path.name for path in tmp_path.rglob("*")] == ["new"]  # created, probed, emptied
    (tmp_path / "file").write_text("x")
    with pytest.raises(
        EventsAnalyticsConfigError, match=r"cannot be written: creating a file in .*file failed"
    ):
        check_writable(str(tmp_path / "file" / "out.csv"))
