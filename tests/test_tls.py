"""HTTPS with a private CA: one trust decision for both transports, and TLS failures that fail at once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import ssl
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import requests
from tls_certs import CertAuthority, make_ca

from airflow_provider_events import get_provider_info
from airflow_provider_events._protocol import network_error
from airflow_provider_events._retry import is_retryable
from airflow_provider_events._tls import CA_BUNDLE_VARIABLES, resolve_verify
from airflow_provider_events.emulator import EventsEmulator
from airflow_provider_events.exceptions import (
    EventsAnalyticsConfigError,
    EventsAnalyticsServerError,
    EventsAnalyticsTLSError,
)
from airflow_provider_events.hooks.events import EventsAnalyticsHook
from airflow_provider_events.triggers.events import EventCountTrigger

API_KEY = "sk-tls-test-3b8e2f"
CONN_VAR = "AIRFLOW_CONN_EVENTS_ANALYTICS_DEFAULT"
REPO = Path(__file__).resolve().parent.parent
ENDING_AT = "2024-01-31T00:00:00+00:00"
# Retries that would show in the log and in the time taken, were TLS failures retried.
HOOK = {"retry_limit": 3, "retry_delay": 0.2, "timeout": 5}


@pytest.fixture(scope="session")
def cas(tmp_path_factory: pytest.TempPathFactory) -> tuple[CertAuthority, CertAuthority]:
    """The private CA the tests trust, and another CA nobody trusts, each with a server certificate."""
    directory = tmp_path_factory.mktemp("tls")
    return make_ca(directory, "private"), make_ca(directory, "other")


@pytest.fixture
def private(cas: tuple[CertAuthority, CertAuthority]) -> CertAuthority:
    return cas[0]


@pytest.fixture
def other(cas: tuple[CertAuthority, CertAuthority]) -> CertAuthority:
    return cas[1]


@pytest.fixture(autouse=True)
def no_ca_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CA_BUNDLE_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def https_emulator(private: CertAuthority) -> Iterator[EventsEmulator]:
    with EventsEmulator(API_KEY, tls_cert=private.server_cert, tls_key=private.server_key) as emu:
        yield emu


def connect(monkeypatch: pytest.MonkeyPatch, url: str, **extra: Any) -> None:
    conn = {"conn_type": "events_analytics", "host": url, "password": API_KEY, "extra": extra}
    monkeypatch.setenv(CONN_VAR, json.dumps(conn))


def both_calls(hook: EventsAnalyticsHook, emulator: EventsEmulator) -> None:
    assert hook.list_events() == emulator.events
    assert hook.get_series("purchase", length=3, ending_at=ENDING_AT) == emulator.series(
        "purchase", 3, ending_at=ENDING_AT
    )


# -- which certificates are trusted ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "environ", "expected"),
    [
        ({}, {}, True),
        ({"verify": True}, {}, True),
        ({"verify": None}, {}, True),
        ({"verify": False}, {"REQUESTS_CA_BUNDLE": "{ca}"}, False),
        ({"verify": "false"}, {"REQUESTS_CA_BUNDLE": "{ca}"}, False),
        ({"verify": " 0 "}, {}, False),
        ({"verify": "{ca}"}, {"REQUESTS_CA_BUNDLE": "{other}"}, "{ca}"),
        ({"verify": "true"}, {"SSL_CERT_FILE": "{ca}"}, "{ca}"),
        ({}, {"REQUESTS_CA_BUNDLE": "{ca}", "CURL_CA_BUNDLE": "{other}", "SSL_CERT_FILE": "{other}"}, "{ca}"),
        ({}, {"CURL_CA_BUNDLE": "{ca}", "SSL_CERT_FILE": "{other}"}, "{ca}"),
        ({}, {"REQUESTS_CA_BUNDLE": "", "SSL_CERT_FILE": "{ca}"}, "{ca}"),
    ],
)
def test_the_extra_comes_first_then_the_environment_in_order(extra, environ, expected, private, other):
    paths = {"ca": str(private.ca), "other": str(other.ca)}

    def fill(value: Any) -> Any:
        return value.format(**paths) if isinstance(value, str) else value

    verify = resolve_verify(
        "c", {k: fill(v) for k, v in extra.items()}, {k: fill(v) for k, v in environ.items()}
    )
    assert verify == fill(expected)


@pytest.mark.parametrize(
    ("extra", "environ", "named"),
    [
        ({"verify": "/etc/no/such-ca.pem"}, {}, "extra 'verify'"),
        ({}, {"CURL_CA_BUNDLE": "/etc/no/such-ca.pem"}, "CURL_CA_BUNDLE"),
        ({"verify": "maybe"}, {}, "extra 'verify'"),
    ],
)
def test_a_ca_bundle_that_does_not_exist_is_a_config_error_naming_its_source(extra, environ, named):
    with pytest.raises(EventsAnalyticsConfigError, match=named) as caught:
        resolve_verify("my_conn", extra, environ)
    assert "CA bundle" in str(caught.value)


# -- both transports over HTTPS ----------------------------------------------------------------------


@pytest.mark.parametrize("setting", [*CA_BUNDLE_VARIABLES, "extra"])
def test_each_setting_serves_both_transports(https_emulator, private, monkeypatch, setting) -> None:
    if setting == "extra":
        connect(monkeypatch, https_emulator.url, verify=str(private.ca))
    else:
        connect(monkeypatch, https_emulator.url)
        monkeypatch.setenv(setting, str(private.ca))

    both_calls(EventsAnalyticsHook(**HOOK), https_emulator)
    assert https_emulator.url.startswith("https://")


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
@pytest.mark.parametrize("verify", ["private", False])
def test_the_extra_wins_over_a_variable_naming_another_ca(https_emulator, cas, monkeypatch, verify) -> None:
    # requests on its own lets REQUESTS_CA_BUNDLE override a session's verify, even verify=False.
    private, other = cas
    connect(monkeypatch, https_emulator.url, verify=str(private.ca) if verify else False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other.ca))
    monkeypatch.setenv("SSL_CERT_FILE", str(other.ca))

    both_calls(EventsAnalyticsHook(**HOOK), https_emulator)


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_verify_false_works_and_is_warned_about_at_every_use(https_emulator, monkeypatch, capsys) -> None:
    connect(monkeypatch, https_emulator.url, verify="false")
    hook = EventsAnalyticsHook(**HOOK)

    warnings = []
    for call in (hook.list_events, hook.list_events, lambda: hook.get_series("purchase", length=2)):
        call()
        warnings.append(capsys.readouterr().out.count("TLS certificates are NOT checked"))
    assert warnings == [1, 1, 1]


def test_test_connection_over_https(https_emulator, private, monkeypatch) -> None:
    connect(monkeypatch, https_emulator.url, verify=str(private.ca))
    assert EventsAnalyticsHook(**HOOK).test_connection()[0] is True


# -- failures that retrying cannot fix -----------------------------------------------------------------


def assert_fails_at_once(hook: EventsAnalyticsHook, capsys: pytest.CaptureFixture[str], *words: str) -> None:
    for call in (hook.list_events, lambda: hook.get_series("purchase", length=3, ending_at=ENDING_AT)):
        with pytest.raises(EventsAnalyticsTLSError) as caught:
            call()
        message = str(caught.value)
        for word in words:
            assert word in message
        assert API_KEY not in message
        assert caught.value.status_code is None
        assert not is_retryable(caught.value)
        # the transport's traceback adds nothing to the message: none, or hidden
        assert caught.value.__context__ is None or caught.value.__suppress_context__
    assert "retrying in" not in capsys.readouterr().out


def test_an_untrusted_certificate_fails_at_once_saying_how_to_trust_it(other, private, monkeypatch, capsys):
    with EventsEmulator(API_KEY, tls_cert=other.server_cert, tls_key=other.server_key) as emu:
        connect(monkeypatch, emu.url)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(private.ca))
        hook = EventsAnalyticsHook(**HOOK)

        assert_fails_at_once(
            hook, capsys, "not trusted", "unable to get local issuer", "'verify'", "SSL_CERT_FILE"
        )
        ok, message = hook.test_connection()
        assert emu.request_count() == 0
    assert not ok
    assert "REQUESTS_CA_BUNDLE" in message


def test_the_default_store_does_not_trust_a_private_ca(https_emulator, monkeypatch, capsys) -> None:
    connect(monkeypatch, https_emulator.url)
    assert_fails_at_once(EventsAnalyticsHook(**HOOK), capsys, "not trusted", "REQUESTS_CA_BUNDLE")


def test_a_host_the_certificate_does_not_name_is_reported_as_such(private, monkeypatch, capsys) -> None:
    with EventsEmulator(
        API_KEY, host="127.0.0.2", tls_cert=private.server_cert, tls_key=private.server_key
    ) as emu:
        connect(monkeypatch, emu.url, verify=str(private.ca))
        assert_fails_at_once(EventsAnalyticsHook(**HOOK), capsys, "not valid for its host name", "127.0.0.2")


def test_https_to_a_plain_http_server_hints_at_the_scheme(emulator, private, monkeypatch, capsys) -> None:
    connect(monkeypatch, emulator.url.replace("http://", "https://"), verify=str(private.ca))
    assert_fails_at_once(EventsAnalyticsHook(**HOOK), capsys, "did not answer in TLS", "start with http://")


def test_a_bundle_that_holds_no_certificates_fails_before_any_request(https_emulator, tmp_path, monkeypatch):
    garbage = tmp_path / "ca.pem"
    garbage.write_text("not a certificate\n")
    connect(monkeypatch, https_emulator.url, verify=str(garbage))
    hook = EventsAnalyticsHook(**HOOK)
    for call in (hook.list_events, lambda: hook.get_series("purchase", length=1)):
        with pytest.raises(EventsAnalyticsTLSError, match="could not be read"):
            call()
    assert https_emulator.request_count() == 0


def test_a_connection_cut_during_the_handshake_stays_a_retried_network_error() -> None:
    error = network_error("/events/list", ssl.SSLEOFError(8, "EOF occurred in violation of protocol"))
    assert type(error) is EventsAnalyticsServerError
    assert is_retryable(error)


# -- the operator and the trigger over HTTPS -----------------------------------------------------------


def test_dag_test_of_the_all_events_export_over_https(
    airflow_db, https_emulator, private, tmp_path, monkeypatch
):
    # This example lists the names over requests and fetches the series over aiohttp: both over HTTPS.
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils.state import DagRunState

    connect(monkeypatch, https_emulator.url)
    monkeypatch.setenv("SSL_CERT_FILE", str(private.ca))
    monkeypatch.setenv("EVENTS_EXPORT_DIR", str(tmp_path))
    bag = DagBag(dag_folder=str(REPO / "example_dags" / "example_events_all_events.py"))
    dag = bag.dags["example_events_all_events"]

    run = dag.test(logical_date=datetime(2024, 1, 2, tzinfo=timezone.utc))  # a manual run: interval Jan 1
    assert run.state == DagRunState.SUCCESS
    lines = (tmp_path / "all_events" / "2024-01-01.jsonl").read_text().splitlines()
    expected = [
        {"event": event, **point}
        for event in https_emulator.events
        for point in https_emulator.series(event, 1, "day", ending_at="2024-01-01T00:00:00+00:00")
    ]
    assert sorted((json.loads(line) for line in lines), key=str) == sorted(expected, key=str)
    assert len(lines) == len(https_emulator.events) > 1


def trigger(**overrides: Any) -> EventCountTrigger:
    kwargs: dict[str, Any] = {"event": "purchase", "threshold": 1, "length": 3, "ending_at": ENDING_AT}
    return EventCountTrigger(**kwargs, hook_params=HOOK, poke_interval=0.05, **overrides)


async def first_event(run: EventCountTrigger) -> dict[str, Any]:
    return (await asyncio.wait_for(anext(run.run()), 20)).payload


def test_the_trigger_fires_over_https(https_emulator, private, monkeypatch) -> None:
    connect(monkeypatch, https_emulator.url, verify=str(private.ca))
    total = sum(point["count"] for point in https_emulator.series("purchase", 3, "hour", ENDING_AT))

    assert asyncio.run(first_event(trigger())) == {"status": "success", "total": total}


def test_the_trigger_ends_with_one_tls_error_event_at_once(https_emulator, monkeypatch) -> None:
    connect(monkeypatch, https_emulator.url)

    event = asyncio.run(first_event(trigger()))
    assert event["status"] == "error"
    assert event["error_class"] == "EventsAnalyticsTLSError"
    assert "not trusted" in event["message"]


# -- the connection form and the emulator's command line ------------------------------------------------


def test_the_connection_form_shows_verify_with_its_description() -> None:
    from airflow.providers_manager import ProvidersManager

    (conn,) = get_provider_info()["connection-types"]
    assert conn["conn-fields"]["verify"]["label"] == "Verify TLS certificates"
    widget = ProvidersManager().connection_form_widgets["extra__events_analytics__verify"]
    assert widget.field_name == "verify"  # the key the UI writes into the extras
    for word in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "false"):
        assert word in widget.field["description"]


def test_the_cli_serves_https_with_the_given_certificate(private) -> None:
    command = [sys.executable, "-m", "airflow_provider_events.emulator", "--api-key", API_KEY]
    command += ["--tls-cert", str(private.server_cert), "--tls-key", str(private.server_key)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split()[-1]
        response = requests.get(
            f"{url}/events/list", headers={"Authorization": f"Bearer {API_KEY}"}, verify=str(private.ca)
        )
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    assert url.startswith("https://127.0.0.1:")
    assert response.json()["message"] == "success"
    assert process.returncode == 0
