"""Checking API responses: pure functions from (status, headers, body) to data or an exception.

Both transports (``requests`` in the hook, ``aiohttp`` in the trigger) call these, so a response
means the same thing wherever it arrives.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any

from airflow_provider_events._window import KeyedPoint, point_key
from airflow_provider_events.exceptions import (
    EventsAnalyticsAuthError,
    EventsAnalyticsError,
    EventsAnalyticsRateLimitError,
    EventsAnalyticsRequestError,
    EventsAnalyticsServerError,
    EventsAnalyticsTLSError,
)

_MAX_MESSAGE = 300
# What OpenSSL says when the bytes after the ClientHello are not TLS, e.g. a plain-http answer.
_NOT_TLS = {"WRONG_VERSION_NUMBER", "HTTP_REQUEST", "PACKET_LENGTH_TOO_LONG", "RECORD_LAYER_FAILURE"}
_MISMATCH_CODES = {62, 64}  # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH
_HOW_TO_TRUST = (
    "If the instance uses a private or corporate CA, trust it in one of two ways: set the connection "
    "extra 'verify' to the path of the CA bundle (PEM), or set REQUESTS_CA_BUNDLE (or SSL_CERT_FILE) "
    "to that path in the environment of the workers and the triggerer."
)


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret in ``text`` with ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """A header by its lower-case name, whatever case it arrived in (the API's case varies)."""
    for key, value in headers.items():
        if str(key).lower() == name:
            return value
    return None


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """
    Seconds to wait before the next request, from ``Retry-After`` or else ``X-RateLimit-Reset``.

    ``None`` when neither header is usable; never negative.
    """
    now = time.time() if now is None else now
    retry_after = header_value(headers, "retry-after")
    if retry_after is not None:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(retry_after).timestamp() - now)
            except (TypeError, ValueError):
                pass
    reset = header_value(headers, "x-ratelimit-reset")
    if reset is not None:
        try:
            return max(0.0, float(reset) - now)
        except ValueError:
            return None
    return None


def _api_message(body: bytes) -> tuple[Any, str]:
    """The decoded JSON body (or ``None``) and the API's own words for the log and the error."""
    try:
        payload = json.loads(body)
    except ValueError:
        snippet = body[:120].decode("utf-8", "replace").strip()
        return None, f"non-JSON body {snippet!r}" if snippet else "empty body"
    if not isinstance(payload, dict):
        return payload, "body is not a JSON object"
    parts = [str(payload.get("message", "")).strip()]
    errors = payload.get("errors")
    if isinstance(errors, list) and errors:
        parts.append("; ".join(str(error) for error in errors[:5]))
    return payload, " - ".join(part for part in parts if part) or "no message"


def check_response(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    endpoint: str,
    *,
    secrets: Iterable[str] = (),
    now: float | None = None,
) -> dict[str, Any]:
    """
    Return the JSON object of a successful response, or raise the error class that fits it.

    Success is HTTP 200 with ``"message": "success"``. 401/403 raise the auth error, 429 the rate
    limit error (carrying how long the server asked to wait), 5XX the server error, other 4XX the
    request error; anything else (another message, a non-JSON body) the base error.
    """
    payload, words = _api_message(body)
    words = redact(words, secrets)[:_MAX_MESSAGE]
    message = f"GET {endpoint} answered HTTP {status}: {words}"
    kwargs: dict[str, Any] = {"status_code": status, "endpoint": endpoint}
    if status in (401, 403):
        raise EventsAnalyticsAuthError(
            message + " (check the REST API key in the connection's password)", **kwargs
        )
    if status == 429:
        raise EventsAnalyticsRateLimitError(message, retry_after=retry_after_seconds(headers, now), **kwargs)
    if status >= 500:
        raise EventsAnalyticsServerError(message, **kwargs)
    if 400 <= status < 500:
        raise EventsAnalyticsRequestError(message, **kwargs)
    if status != 200 or not isinstance(payload, dict) or payload.get("message") != "success":
        raise EventsAnalyticsError(message, **kwargs)
    return payload


def check_series_page(payload: dict[str, Any], expected: int, unit: str, endpoint: str) -> list[KeyedPoint]:
    """
    Return a page's points as ``(point_key, {"time": str, "count": int})``, or raise ``EventsAnalyticsError``.

    A page must hold exactly the ``expected`` points, each with a time string that parses for
    ``unit`` and an integer count: a short or malformed page is an error, never a hole. Each time is
    parsed once, here; the join reuses the key.
    """
    data = payload.get("data")
    if not isinstance(data, list):
        raise EventsAnalyticsError(f"GET {endpoint} answered without a 'data' list", endpoint=endpoint)
    if len(data) != expected:
        raise EventsAnalyticsError(
            f"GET {endpoint} returned {len(data)} points, expected {expected}", endpoint=endpoint
        )
    points = []
    for point in data:
        count = point.get("count") if isinstance(point, dict) else None
        if type(count) is not int:  # not isinstance: a JSON true is no count
            raise EventsAnalyticsError(
                f"GET {endpoint} returned a point without an integer count: {point!r:.120}", endpoint=endpoint
            )
        try:
            key = point_key(point.get("time"), unit)
        except ValueError as err:
            message = f"GET {endpoint} returned a bad time: {err}"
            raise EventsAnalyticsError(message, endpoint=endpoint) from None
        # the API's own dict when it holds just these two keys: no copy per point
        points.append((key, point if len(point) == 2 else {"time": point["time"], "count": count}))
    return points


def check_events_page(payload: dict[str, Any], endpoint: str) -> list[str]:
    """Return the names of one ``/events/list`` page, or raise ``EventsAnalyticsError``."""
    events = payload.get("events")
    if not isinstance(events, list) or not all(isinstance(name, str) for name in events):
        raise EventsAnalyticsError(f"GET {endpoint} answered without an 'events' list", endpoint=endpoint)
    return events


def network_error(
    endpoint: str, error: BaseException, secrets: Iterable[str] = (), *, timeout: float | None = None
) -> EventsAnalyticsError:
    """The error for a request that got no (complete) answer: refused, timed out, cut off, TLS refused."""
    tls = tls_failure(endpoint, error, secrets)
    if tls is not None:
        return tls
    if timeout is not None and _is_timeout(error):
        # A timeout's own text is empty (aiohttp) or a pool repr (requests): the wait is what helps.
        return EventsAnalyticsServerError(
            f"GET {endpoint} got no answer within {timeout:g} s ({type(error).__name__}): the instance "
            "is slow or unreachable; raise hook_params timeout if its answers take longer",
            status_code=None,
            endpoint=endpoint,
        )
    detail = redact(str(error), secrets)[:_MAX_MESSAGE] or "no detail"
    return EventsAnalyticsServerError(
        f"GET {endpoint} got no answer: {type(error).__name__}: {detail}", status_code=None, endpoint=endpoint
    )


def tls_failure(
    endpoint: str, error: BaseException, secrets: Iterable[str] = ()
) -> EventsAnalyticsTLSError | None:
    """
    The error for a failed TLS handshake under ``error`` (requests' or aiohttp's), or ``None``.

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
            "put http:// in the connection's host."
        )
    else:
        message = f"{where} in the TLS handshake ({reason or cause}): check the instance URL and 'verify'."
    return EventsAnalyticsTLSError(redact(message, secrets), endpoint=endpoint)


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


def _is_timeout(error: BaseException) -> bool:
    # asyncio's and aiohttp's are TimeoutError; requests' Read- and ConnectTimeout derive from its Timeout.
    return isinstance(error, TimeoutError) or any(cls.__name__ == "Timeout" for cls in type(error).__mro__)


def in_context(error: EventsAnalyticsError, context: str) -> EventsAnalyticsError:
    """The same error with ``context`` (which event, which window) added to its message."""
    return type(error)(
        f"{error} [{context}]",
        status_code=error.status_code,
        endpoint=error.endpoint,
        retry_after=error.retry_after,
    )
