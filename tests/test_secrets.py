"""The REST API key never appears in logs, errors, reprs, XCom, rendered templates or CLI output.

Airflow's secret masker does not run under ``airflow dags test``, so these tests prove the key is
never written in the first place: where Airflow could mask it, masking is switched off.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import traceback
from pathlib import Path

import pytest

from airflow_provider_events.emulator import EventsEmulator, Fault
from airflow_provider_events.exceptions import EventsAnalyticsError
from airflow_provider_events.hooks.events import EventsAnalyticsAsyncHook, EventsAnalyticsHook
from airflow_provider_events.operators.events import EventSeriesOperator
from tests.conftest import API_KEY

REPO = Path(__file__).resolve().parent.parent
WRONG_KEY = "sk-wrong-0a1b2c3d4e5f"
FAST = {"retry_delay": 0.01, "retry_limit": 1, "timeout": 2}


def _unmask(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the masker a no-op, so a leak shows instead of being starred out."""
    from airflow.sdk._shared.secrets_masker import secrets_masker

    monkeypatch.setattr(secrets_masker.SecretsMasker, "redact", lambda self, item, *a, **k: item)


def _error_text(error: BaseException) -> str:
    return "".join(traceback.format_exception(error)) + repr(error) + str(error.args)


def test_exports_at_debug_level_leave_the_key_nowhere(
    emulator: EventsEmulator, events_conn, tmp_path, caplog, capfd, monkeypatch
) -> None:
    _unmask(monkeypatch)
    caplog.set_level(logging.DEBUG)
    logging.getLogger().setLevel(logging.DEBUG)
    context = {"data_interval_start": None, "data_interval_end": None}
    seen: list[str] = []

    ok = EventSeriesOperator(
        task_id="ok", event=["purchase", "signup"], length=150, unit="hour", hook_params=FAST
    )
    records = ok.execute(context)
    written = EventSeriesOperator(
        task_id="file", event="purchase", length=3, output_path=str(tmp_path / "out.json"), hook_params=FAST
    ).execute(context)
    seen += [json.dumps(records), repr(ok), repr(ok.__dict__), Path(written).read_text()]

    emulator.enqueue(Fault(500), Fault(503), times=3)
    with pytest.raises(EventsAnalyticsError) as server_failure:
        EventSeriesOperator(task_id="fail", event="purchase", length=3, hook_params=FAST).execute(context)
    bad = {"conn_type": "events_analytics", "host": emulator.url, "password": WRONG_KEY}
    monkeypatch.setenv("AIRFLOW_CONN_BAD_KEY", json.dumps(bad))
    with pytest.raises(EventsAnalyticsError) as auth_failure:
        EventSeriesOperator(
            task_id="bad", event="purchase", length=3, events_conn_id="bad_key", hook_params=FAST
        ).execute(context)
    seen += [_error_text(server_failure.value), _error_text(auth_failure.value)]

    captured = capfd.readouterr()
    seen += [captured.out, captured.err, caplog.text]
    assert "Fetching" in caplog.text + captured.out  # the logs were really captured
    assert len(emulator.requests) >= 6
    for text in seen:
        assert API_KEY not in text
        assert WRONG_KEY not in text


def test_hooks_and_the_trigger_show_no_key(emulator: EventsEmulator, events_conn, caplog, capfd) -> None:
    from airflow_provider_events.triggers.events import EventCountTrigger

    caplog.set_level(logging.DEBUG)
    hook = EventsAnalyticsHook(events_conn, **FAST)
    hook.get_series("purchase", length=2)
    async_hook = EventsAnalyticsAsyncHook(events_conn, **FAST)

    async def once() -> None:
        async with async_hook:
            await async_hook.get_series("purchase", length=2)

    asyncio.run(once())
    trigger = EventCountTrigger(event="purchase", threshold=0, events_conn_id=events_conn, poke_interval=0.1)

    texts = [
        repr(hook),
        repr(vars(hook)),
        repr(async_hook),
        repr(vars(async_hook)),
        repr(trigger.serialize()),
    ]
    texts += [caplog.text, *capfd.readouterr()]
    assert any("Authorization" in str(request.headers) for request in emulator.requests)
    for text in texts:
        assert API_KEY not in text


def test_rendered_template_fields_hold_no_key(events_conn) -> None:
    operator = EventSeriesOperator(
        task_id="render",
        event="{{ params.event }}",
        length=1,
        output_path="/tmp/{{ params.event }}.csv",
        params={"event": "purchase"},
    )
    operator.render_template_fields({"params": {"event": "purchase"}})

    rendered = {field: getattr(operator, field) for field in operator.template_fields}
    assert rendered["event"] == "purchase" and rendered["output_path"] == "/tmp/purchase.csv"
    assert API_KEY not in json.dumps(rendered, default=str)


# The masker stays on here: at DEBUG, Airflow's own supervisor logs every MaskSecret message it
# sends, key included, and only the masker hides that (Airflow's doing, for every connection).
# That our code writes the key nowhere is shown with the masker off in the tests above.
_CLI = """
import sys
from airflow.utils import db

db.resetdb()
from airflow.__main__ import main
sys.argv = ["airflow", "tasks", "test", "example_events_daily_export", "export_hourly_counts", "2024-01-02"]
main()
"""


def test_airflow_tasks_test_output_holds_no_key(emulator, events_conn, tmp_path) -> None:
    # `airflow tasks test` in a home and database of its own, reset first (about a second)
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "EVENTS_EXPORT_DIR": str(tmp_path),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "DEBUG",
        "AIRFLOW__CORE__HIDE_SENSITIVE_VAR_CONN_FIELDS": "False",
    }
    result = subprocess.run(
        [sys.executable, "-c", _CLI], env=env, capture_output=True, text=True, timeout=120, cwd=REPO
    )

    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert (tmp_path / "hourly" / "2024-01-01.csv").exists()
    assert emulator.request_count("/events/data_series") == 2
    assert "export_hourly_counts" in output
    assert API_KEY not in output
