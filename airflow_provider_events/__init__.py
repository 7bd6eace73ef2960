"""Apache Airflow provider for the Custom Events Analytics REST API.

What it offers, and the module each part lives in (import from there in DAG files)::

    hooks.events       EventsAnalyticsHook       get_series, get_series_many, iter_series, list_events
    hooks.events_async EventsAnalyticsAsyncHook  the same, awaited (for triggers)
    operators.events  EventSeriesOperator       export counts to XCom or a file
    sensors.events    EventCountSensor          wait until a count reaches a threshold
    triggers.events   EventCountTrigger         the sensor's wait, on the triggerer
                      EventCountCrossingTrigger an AssetWatcher's trigger: one run per crossing
    exceptions        EventsAnalyticsError and its subclasses; EventsAnalyticsConfigError for
                      bad arguments, unknown event names and misconfigured connections
    emulator          EventsEmulator, Fault     a local API for tests and demos

``Unit`` (``"day"`` or ``"hour"``), ``Point`` and ``EventRecord`` type what goes in and comes out.
Every name above is also importable from this package, loaded on first use: the providers
manager imports this package to read :func:`get_provider_info`, which must stay cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

CONN_TYPE = "events_analytics"
DEFAULT_CONN_ID = "events_analytics_default"

_LAZY = {
    "EventsAnalyticsHook": "hooks.events",
    "EventsAnalyticsAsyncHook": "hooks.events_async",
    "EventSeriesOperator": "operators.events",
    "EventCountSensor": "sensors.events",
    "EventCountTrigger": "triggers.events",
    "EventCountCrossingTrigger": "triggers.events",
    "EventsAnalyticsError": "exceptions",
    "EventsAnalyticsAuthError": "exceptions",
    "EventsAnalyticsConfigError": "exceptions",
    "EventsAnalyticsRateLimitError": "exceptions",
    "EventsAnalyticsRequestError": "exceptions",
    "EventsAnalyticsServerError": "exceptions",
    "EventsAnalyticsTLSError": "exceptions",
    "EventRecord": "_types",
    "Point": "_types",
    "Unit": "_types",
}

__all__ = [
    "CONN_TYPE",
    "DEFAULT_CONN_ID",
    "EventCountCrossingTrigger",
    "EventCountSensor",
    "EventCountTrigger",
    "EventRecord",
    "EventSeriesOperator",
    "EventsAnalyticsAsyncHook",
    "EventsAnalyticsAuthError",
    "EventsAnalyticsConfigError",
    "EventsAnalyticsError",
    "EventsAnalyticsHook",
    "EventsAnalyticsRateLimitError",
    "EventsAnalyticsRequestError",
    "EventsAnalyticsServerError",
    "EventsAnalyticsTLSError",
    "Point",
    "Unit",
    "__version__",
    "get_provider_info",
]

if TYPE_CHECKING:
    from airflow_provider_events._types import EventRecord, Point, Unit
    from airflow_provider_events.exceptions import (
        EventsAnalyticsAuthError,
        EventsAnalyticsConfigError,
        EventsAnalyticsError,
        EventsAnalyticsRateLimitError,
        EventsAnalyticsRequestError,
        EventsAnalyticsServerError,
        EventsAnalyticsTLSError,
    )
    from airflow_provider_events.hooks.events import EventsAnalyticsHook
    from airflow_provider_events.hooks.events_async import EventsAnalyticsAsyncHook
    from airflow_provider_events.operators.events import EventSeriesOperator
    from airflow_provider_events.sensors.events import EventCountSensor
    from airflow_provider_events.triggers.events import EventCountCrossingTrigger, EventCountTrigger


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


def get_provider_info() -> dict[str, Any]:
    """Describe the provider to Airflow's providers manager (entry point ``apache_airflow_provider``)."""
    return {
        "package-name": "airflow-provider-events",
        "name": "Custom Events Analytics",
        "description": "Hook, operator, sensor and trigger for the Custom Events Analytics REST API.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Custom Events Analytics",
                "external-doc-url": "https://pypi.org/project/airflow-provider-events/",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {
                "integration-name": "Custom Events Analytics",
                "python-modules": [
                    "airflow_provider_events.hooks.events",
                    "airflow_provider_events.hooks.events_async",
                ],
            }
        ],
        "operators": [
            {
                "integration-name": "Custom Events Analytics",
                "python-modules": ["airflow_provider_events.operators.events"],
            }
        ],
        "sensors": [
            {
                "integration-name": "Custom Events Analytics",
                "python-modules": ["airflow_provider_events.sensors.events"],
            }
        ],
        "triggers": [
            {
                "integration-name": "Custom Events Analytics",
                "python-modules": ["airflow_provider_events.triggers.events"],
            }
        ],
        "connection-types": [
            {
                "connection-type": CONN_TYPE,
                "hook-class-name": "airflow_provider_events.hooks.events.EventsAnalyticsHook",
                "hook-name": "Custom Events Analytics",
                "conn-fields": {
                    "allow_insecure_http": {
                        "label": "Allow plain HTTP",
                        "description": "Send the API key over http:// to a non-loopback host. "
                        "Leave off unless the instance sits behind a trusted network.",
                        "schema": {"type": ["boolean", "null"], "default": False},
                    },
                    "verify": {
                        "label": "Verify TLS certificates",
                        "description": "true (default): trust the CA bundle named by REQUESTS_CA_BUNDLE, "
                        "CURL_CA_BUNDLE or SSL_CERT_FILE, else certifi's bundle. A path: trust the CA "
                        "bundle (PEM) at that path on the workers and the triggerer, e.g. a private CA's. "
                        "false: no checks (warned about at every use).",
                        "schema": {"type": ["string", "null"], "default": "true"},
                    },
                },
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "login", "port"],
                    "relabeling": {"host": "Instance URL", "password": "REST API key"},
                    "placeholders": {
                        "host": "https://rest.iad-01.example.com",
                        "password": "REST API key from the dashboard's Developer Console",
                    },
                },
            }
        ],
    }
