"""Measure how each trust setting fares for both transports against the emulator served over HTTPS.

    .venv/bin/python scripts/tls_matrix.py

Creates a throwaway CA (and a second, untrusted one), serves the emulator over HTTPS with a
certificate from the first, then calls ``list_events()`` (requests) and ``get_series()`` (aiohttp)
under each setting and prints a Markdown table: "works", or the time to fail and the message.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

from tls_certs import make_ca  # noqa: E402

from airflow_provider_events.emulator import EventsEmulator  # noqa: E402

KEY = "sk-tls-matrix-5e1d0c"
CONN = "AIRFLOW_CONN_EVENTS_ANALYTICS_DEFAULT"
VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")


@contextmanager
def _setting(url: str, extra: dict[str, Any], environ: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in (*VARIABLES, CONN)}
    for name in VARIABLES:
        os.environ.pop(name, None)
    os.environ.update(environ)
    os.environ[CONN] = json.dumps(
        {"conn_type": "events_analytics", "host": url, "password": KEY, "extra": extra}
    )
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _measure(call: Callable[[Any], Any]) -> str:
    from airflow_provider_events.hooks.events import EventsAnalyticsHook

    hook = EventsAnalyticsHook(timeout=10)  # the default retry policy: 5 retries from 1 s
    started = time.perf_counter()
    try:
        call(hook)
    except Exception as err:
        elapsed = time.perf_counter() - started
        assert KEY not in str(err), "the key leaked into an error"
        return f"fails after {elapsed:.3f} s: `{type(err).__name__}: {err}`"
    return "works"


def _row(label: str, url: str, extra: dict[str, Any], environ: dict[str, str], notes: list[str]) -> str:
    logs = io.StringIO()
    with _setting(url, extra, environ), contextlib.redirect_stdout(logs):  # task logs go to stdout
        listed = _measure(lambda hook: hook.list_events())
        series = _measure(
            lambda hook: hook.get_series("purchase", length=3, ending_at="2024-01-31T00:00:00Z")
        )
    warned = [line for line in logs.getvalue().splitlines() if "NOT checked" in line]
    notes.extend(f"{label}, logged: {line}" for line in warned)
    return f"| {label} | {listed} | {series} |"


def main() -> int:
    notes: list[str] = []
    rows = ["| setting | `list_events()` (requests) | `get_series()` (aiohttp) |", "|---|---|---|"]
    with tempfile.TemporaryDirectory(prefix="tls-matrix-") as tmp:
        private, other = make_ca(Path(tmp), "private"), make_ca(Path(tmp), "other")
        ca = str(private.ca)
        tls = {"tls_cert": private.server_cert, "tls_key": private.server_key}
        untrusted = {"tls_cert": other.server_cert, "tls_key": other.server_key}
        with EventsEmulator(KEY, **tls) as emu:
            for name in VARIABLES:
                rows.append(_row(f"`{name}=ca.pem`", emu.url, {}, {name: ca}, notes))
            rows.append(_row("extra `verify: /path/ca.pem`", emu.url, {"verify": ca}, {}, notes))
            rows.append(_row("extra `verify: false`", emu.url, {"verify": False}, {}, notes))
            rows.append(_row("nothing set (default store)", emu.url, {}, {}, notes))
        with EventsEmulator(KEY, **untrusted) as emu:
            label = "`REQUESTS_CA_BUNDLE=ca.pem`, server certificate from another CA"
            rows.append(_row(label, emu.url, {}, {"REQUESTS_CA_BUNDLE": ca}, notes))
        with EventsEmulator(KEY) as emu:
            https = emu.url.replace("http://", "https://")
            rows.append(
                _row("`https://` to the plain-http emulator", https, {}, {"REQUESTS_CA_BUNDLE": ca}, notes)
            )
        with EventsEmulator(KEY, host="127.0.0.2", **tls) as emu:
            label = "`REQUESTS_CA_BUNDLE=ca.pem`, host 127.0.0.2 not in the certificate"
            rows.append(_row(label, emu.url, {}, {"REQUESTS_CA_BUNDLE": ca}, notes))
    print("\n".join(rows), *notes, sep="\n\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
