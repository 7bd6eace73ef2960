"""Apache Airflow provider for the Custom Events Analytics REST API."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

CONN_TYPE = "events_analytics"
DEFAULT_CONN_ID = "events_analytics_default"


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
                "python-modules": ["airflow_provider_events.hooks.events"],
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
