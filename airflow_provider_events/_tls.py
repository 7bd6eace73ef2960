"""Which certificates both transports trust (what a failed handshake means is ``_responses.tls_failure``).

``requests`` reads ``REQUESTS_CA_BUNDLE`` and ``CURL_CA_BUNDLE`` and trusts certifi's bundle by
default; aiohttp reads ``SSL_CERT_FILE`` and trusts the system store. Left alone, a private CA set up
for one works for half of the hook. Here one decision is made for both: the connection extra
``verify``, else the first of :data:`CA_BUNDLE_VARIABLES` that is set, else certifi's bundle.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from typing import Any

from airflow_provider_events.exceptions import EventsAnalyticsConfigError, EventsAnalyticsTLSError

CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")
_TRUE = {"true", "1", "yes", "on", ""}
_FALSE = {"false", "0", "no", "off"}

Verify = bool | str
"""``False``: no certificate checks; ``True``: the default store (certifi); a str: a CA bundle's path."""


def resolve_verify(conn_id: str, extra: Mapping[str, Any] | None, environ: Mapping[str, str]) -> Verify:
    """
    The trust setting of a connection: its extra ``verify``, else the environment, else ``True``.

    Raises :class:`EventsAnalyticsConfigError` for a value that is neither a boolean nor an existing
    path, naming where the value came from.
    """
    value = (extra or {}).get("verify", True)
    if value is None or isinstance(value, bool):
        verify: Verify = value is not False
    elif str(value).strip().lower() in _TRUE | _FALSE:
        verify = str(value).strip().lower() in _TRUE
    else:
        return _existing_path(
            str(value), f"Connection {conn_id!r} has the extra 'verify' {value!r}", "true, false or "
        )
    if verify is False:
        return False
    for name in CA_BUNDLE_VARIABLES:
        if environ.get(name):
            return _existing_path(environ[name], f"The environment variable {name} is {environ[name]!r}", "")
    return True


def _existing_path(value: str, source: str, choices: str) -> str:
    path = os.path.expanduser(value.strip())
    if not os.path.exists(path):
        raise EventsAnalyticsConfigError(
            f"{source}, but no such CA bundle exists on this machine. Set it to {choices}the path of the "
            "CA bundle (a PEM file or a directory) that signed the instance's certificate."
        )
    return path


def requests_verify(verify: Verify) -> Verify:
    """The ``verify`` argument for requests: never ``True``, with which requests reads the environment."""
    if verify is True:
        import certifi

        return str(certifi.where())
    return verify


def ssl_context(verify: Verify) -> Any:
    """The ``ssl`` argument for aiohttp: ``False`` or an ``SSLContext`` trusting what ``verify`` names."""
    if verify is False:
        return False
    path = str(requests_verify(verify))
    stat = os.stat(path)
    return _context(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _context(path: str, mtime_ns: int, size: int) -> Any:
    # Keyed on mtime and size too: a renewed bundle is read again, an unchanged one only once.
    import ssl

    try:
        if os.path.isdir(path):
            return ssl.create_default_context(capath=path)
        return ssl.create_default_context(cafile=path)
    except (ssl.SSLError, OSError) as err:
        raise EventsAnalyticsTLSError(
            f"The CA bundle {path!r} could not be read ({err}): it must hold PEM certificates"
        ) from None


def warn_if_unverified(log: Any, conn_id: str, verify: Verify) -> None:
    """Say, at every use, that a connection does not check certificates."""
    if verify is False:
        log.warning(
            "TLS certificates are NOT checked for connection %r (its extra 'verify' is false): anyone on "
            "the network path can read the REST API key and alter the counts. Set 'verify' to the path "
            "of the instance's CA bundle instead.",
            conn_id,
        )
