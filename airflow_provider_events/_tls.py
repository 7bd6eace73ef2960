"""TLS: which certificates both transports trust, and what a failed handshake means.

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

from airflow_provider_events._checks import is_flag, parse_flag
from airflow_provider_events.exceptions import EventsAnalyticsConfigError, EventsAnalyticsTLSError

CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")
# What OpenSSL says when the bytes after the ClientHello are not TLS, e.g. a plain-http answer.
_NOT_TLS = {"WRONG_VERSION_NUMBER", "HTTP_REQUEST", "PACKET_LENGTH_TOO_LONG", "RECORD_LAYER_FAILURE"}
_MISMATCH_CODES = {62, 64}  # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH
_HOW_TO_TRUST = (
    "If the instance uses a private or corporate CA, trust it in one of two ways: set the connection "
    "extra 'verify' to the path of the CA bundle (PEM), or set REQUESTS_CA_BUNDLE (or SSL_CERT_FILE) "
    "to that path in the environment of the workers and the triggerer."
)

Verify = bool | str
"""``False``: no certificate checks; ``True``: the default store (certifi); a str: a CA bundle's path."""


def resolve_verify(conn_id: str, extra: Mapping[str, Any] | None, environ: Mapping[str, str]) -> Verify:
    """
    The trust setting of a connection: its extra ``verify``, else the environment, else ``True``.

    Raises :class:`EventsAnalyticsConfigError` for a value that is neither a boolean nor an existing
    path, naming where the value came from.
    """
    value = (extra or {}).get("verify", True)
    if not is_flag(value):
        return _existing_path(
            str(value), f"Connection {conn_id!r} has the extra 'verify' {value!r}", "true, false or "
        )
    if not parse_flag(value, default=True):
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


def tls_problem(endpoint: str, error: BaseException) -> str | None:
    """
    What a failed TLS handshake under ``error`` (requests' or aiohttp's) means, or ``None``.

    A connection cut during the handshake (EOF, reset) is left to the network errors, which are
    retried: a restarting server or load balancer does that. Everything else TLS says would
    fail the same way on every retry.
    """
    import ssl

    cause = _ssl_cause(error)
    if cause is None or isinstance(cause, (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLSyscallError)):
        return None
    where, reason = f"GET {endpoint} failed", getattr(cause, "reason", None)
    if isinstance(cause, ssl.SSLCertVerificationError):
        problem = str(getattr(cause, "verify_message", None) or reason or cause).rstrip(".")
        if getattr(cause, "verify_code", None) in _MISMATCH_CODES:
            message = (
                f"{where}: the instance's TLS certificate is not valid for its host name ({problem}). "
                "Put in the connection's host a name that the certificate lists."
            )
        else:
            message = f"{where}: the instance's TLS certificate is not trusted ({problem}). {_HOW_TO_TRUST}"
    elif reason in _NOT_TLS:
        message = (
            f"{where}: the instance did not answer in TLS ({reason}). If it serves plain http, "
            "make the connection's host start with http:// (in a connection URI, whose host has no scheme, "
            "set the schema to http: events-analytics://:KEY@host:port/http)."
        )
    else:
        message = f"{where} in the TLS handshake ({reason or cause}): check the instance URL and 'verify'."
    return message


def _ssl_cause(error: BaseException) -> Any:
    """The innermost ``ssl.SSLError`` inside the wrappers of requests, urllib3 or aiohttp."""
    import ssl

    # The innermost: aiohttp's wrappers are SSLError subclasses too, without OpenSSL's details.
    found = None
    seen: set[int] = set()
    pending = [error]
    while pending:
        current = pending.pop(0)
        seen.add(id(current))
        if isinstance(current, ssl.SSLError):
            found = current
        linked = (current.__cause__, current.__context__, getattr(current, "reason", None), *current.args)
        pending.extend(e for e in linked if isinstance(e, BaseException) and id(e) not in seen)
    return found
