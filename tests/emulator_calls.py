"""Calls to the emulator over real HTTP, shared by the emulator's tests."""

from __future__ import annotations

from typing import Any

import requests

from airflow_provider_events.emulator import EventsEmulator
from tests.conftest import API_KEY

SERIES = "/events/data_series"
LIST = "/events/list"
CONTROL = "/_emulator/events"
BASE_PARAMS = {"event": "purchase", "length": "5", "ending_at": "2014-12-10T23:59:59-07:00"}


def fetch(
    http: requests.Session, emu: EventsEmulator, path: str = SERIES, **params: Any
) -> requests.Response:
    return http.get(emu.url + path, params=params, timeout=5)


def times_of(response: requests.Response) -> list[str]:
    return [point["time"] for point in response.json()["data"]]


def control(emu: EventsEmulator, body: Any, key: str = API_KEY, method: str = "POST") -> requests.Response:
    headers = {"Authorization": f"Bearer {key}"}
    return requests.request(method, emu.url + CONTROL, json=body, headers=headers, timeout=5)
