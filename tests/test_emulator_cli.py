"""Tests of ``python -m airflow_provider_events.emulator``: flags, the port file, SIGTERM, --help."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from airflow_provider_events.emulator import EventsEmulator
from tests.conftest import API_KEY, REPO
from tests.emulator_calls import BASE_PARAMS, CONTROL, LIST, SERIES


def start(tmp_path: Path, *flags: str, env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    """The emulator as a process with these flags and environment, and its URL once it listens."""
    port_file = tmp_path / "port"
    command = [sys.executable, "-m", "airflow_provider_events.emulator", "--port-file", str(port_file)]
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **env}
    process = subprocess.Popen([*command, *flags], env=full_env, stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 10
        while not port_file.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        return process, f"http://127.0.0.1:{int(port_file.read_text())}"
    except BaseException:
        stop(process)
        raise


def stop(process: subprocess.Popen[str]) -> str:
    """Send SIGTERM, wait for the exit, and return what the process printed."""
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=10)
    return out


def test_cli_no_background_serves_only_recorded_counts(tmp_path):
    process, url = start(tmp_path, "--api-key", API_KEY, "--no-background", env={})
    try:
        headers = {"Authorization": f"Bearer {API_KEY}"}
        series = requests.get(url + SERIES, params=BASE_PARAMS, headers=headers, timeout=5).json()["data"]
    finally:
        stop(process)
    assert [point["count"] for point in series] == [0] * 5
    assert process.returncode == 0


def test_cli_serves_until_sigterm_and_exits_0(tmp_path):
    process, url = start(tmp_path, "--events", "3", env={"EVENTS_EMULATOR_API_KEY": API_KEY})
    try:
        headers = {"Authorization": f"Bearer {API_KEY}"}
        names = requests.get(url + LIST, headers=headers, timeout=5).json()["events"]
        params = {**BASE_PARAMS, "event": "event_0001"}
        series = requests.get(url + SERIES, params=params, headers=headers, timeout=5).json()["data"]
        body = {"event": "event_0001", "count": 5, "at": "2014-12-10T12:00:00-07:00"}
        recorded = requests.post(url + CONTROL, json=body, headers=headers, timeout=5)
        after = requests.get(url + SERIES, params=params, headers=headers, timeout=5).json()["data"]
    finally:
        out = stop(process)

    assert process.returncode == 0
    assert out.strip() == f"Events emulator listening on {url}"
    assert names == ["event_0000", "event_0001", "event_0002"]
    assert series == EventsEmulator(events=3).series(
        "event_0001", 5, "day", BASE_PARAMS["ending_at"]
    )  # stable across processes
    assert any(point["count"] for point in series)
    assert recorded.status_code == 200
    assert after[-1]["count"] == series[-1]["count"] + 5 and after[:-1] == series[:-1]


def test_cli_help_names_the_key_variable_but_never_its_value():
    env = {**os.environ, "PYTHONPATH": str(REPO), "EVENTS_EMULATOR_API_KEY": "sk-live-do-not-print"}
    command = [sys.executable, "-m", "airflow_provider_events.emulator", "--help"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    assert "$EVENTS_EMULATOR_API_KEY" in result.stdout and "/_emulator/events" in result.stdout
    assert "sk-live-do-not-print" not in result.stdout + result.stderr
