"""Connection handling: URL, scheme, transport security and the provider's registration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_events import get_provider_info
from airflow_provider_events._connection import resolve_target
from airflow_provider_events.exceptions import EventsAnalyticsConfigError


@pytest.mark.parametrize(
    ("host", "schema", "port", "expected"),
    [
        ("rest.iad-01.example.com", None, None, "https://rest.iad-01.example.com"),
        ("https://rest.iad-01.example.com/", None, None, "https://rest.iad-01.example.com"),
        ("rest.example.com", None, 8443, "https://rest.example.com:8443"),
        ("http://127.0.0.1:9000", None, None, "http://127.0.0.1:9000"),
        ("localhost:9000", "http", None, "http://localhost:9000"),
        ("https://proxy.example.com/analytics", None, None, "https://proxy.example.com/analytics"),
    ],
)
def test_instance_url_defaults_to_https(host, schema, port, expected) -> None:
    target = resolve_target("c", host=host, password="k", schema=schema, port=port)
    assert target.base_url == expected


def test_plain_http_to_a_remote_host_is_refused_unless_allowed() -> None:
    with pytest.raises(EventsAnalyticsConfigError, match="allow_insecure_http"):
        resolve_target("c", host="http://rest.example.com", password="k")
    allowed = resolve_target(
        "c", host="http://rest.example.com", password="k", extra={"allow_insecure_http": "true"}
    )
    assert allowed.base_url == "http://rest.example.com"


@pytest.mark.parametrize(
    ("host", "password", "word"),
    [(None, "k", "no host"), ("rest.example.com", None, "no REST API key"), ("ftp://x", "k", "invalid")],
)
def test_missing_or_bad_fields_say_what_to_fix(host, password, word) -> None:
    with pytest.raises(EventsAnalyticsConfigError, match=word):
        resolve_target("my_conn", host=host, password=password)


@pytest.mark.parametrize("conn_type", ["http", "postgres", "generic"])
def test_a_connection_of_another_type_is_refused(conn_type: str) -> None:
    with pytest.raises(EventsAnalyticsConfigError, match=f"is of type '{conn_type}', not 'events_analytics'"):
        resolve_target("c", host="https://rest.example.com", password="k", conn_type=conn_type)
    # Its own type, or none given (a JSON connection may leave it out), is fine.
    for accepted in ("events_analytics", None):
        assert resolve_target("c", host="rest.example.com", password="k", conn_type=accepted).base_url


def test_an_undefined_connection_says_how_to_define_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_events.hooks.events import EventsAnalyticsHook

    monkeypatch.delenv("AIRFLOW_CONN_NOWHERE", raising=False)
    with pytest.raises(EventsAnalyticsConfigError) as caught:
        EventsAnalyticsHook("nowhere").list_events()
    assert "Connection 'nowhere' is not defined" in str(caught.value)
    assert "AIRFLOW_CONN_NOWHERE" in str(caught.value)
    assert caught.value.__context__ is None


def test_an_undefined_connection_on_the_triggerer_says_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from airflow_provider_events.hooks.events import EventsAnalyticsAsyncHook

    monkeypatch.delenv("AIRFLOW_CONN_NOWHERE", raising=False)
    hook = EventsAnalyticsAsyncHook("nowhere")
    with pytest.raises(EventsAnalyticsConfigError) as caught:
        asyncio.run(hook.get_series("purchase", length=1, unit="hour"))
    assert "Connection 'nowhere' is not defined" in str(caught.value)
    assert "AIRFLOW_CONN_NOWHERE" in str(caught.value)
    assert caught.value.__context__ is None


def test_a_postgres_connection_fails_before_any_request(emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_events.hooks.events import EventsAnalyticsHook

    conn = {"conn_type": "postgres", "host": "127.0.0.1", "port": emulator.port, "password": "k"}
    monkeypatch.setenv("AIRFLOW_CONN_PG", json.dumps(conn))
    for call in (lambda hook: hook.list_events(), lambda hook: hook.get_series("purchase", length=1)):
        with pytest.raises(EventsAnalyticsConfigError, match="is of type 'postgres'"):
            call(EventsAnalyticsHook("pg"))
    assert emulator.request_count() == 0


def test_the_key_stays_out_of_the_targets_repr() -> None:
    target = resolve_target("c", host="rest.example.com", password="sk-secret-value")
    assert "sk-secret-value" not in repr(target)
    assert target.headers()["Authorization"] == "Bearer sk-secret-value"


def test_provider_info_is_valid_against_airflows_schema() -> None:
    import airflow
    import jsonschema

    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)


def test_provider_info_declares_the_connection_form() -> None:
    (conn,) = get_provider_info()["connection-types"]
    assert conn["connection-type"] == "events_analytics"
    assert conn["hook-class-name"] == "airflow_provider_events.hooks.events.EventsAnalyticsHook"
    behaviour = conn["ui-field-behaviour"]
    assert behaviour["relabeling"] == {"host": "Instance URL", "password": "REST API key"}
    assert {"login", "schema"} <= set(behaviour["hidden-fields"])


@pytest.mark.filterwarnings("ignore:ProvidersManager.hooks is deprecated")
def test_providers_manager_registers_the_hook_and_its_form() -> None:
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    hook = manager.hooks["events_analytics"]
    assert hook is not None
    assert hook.hook_class_name == "airflow_provider_events.hooks.events.EventsAnalyticsHook"
    assert hook.connection_id_attribute_name == "events_conn_id"
    assert manager.field_behaviours["events_analytics"]["relabeling"]["host"] == "Instance URL"
