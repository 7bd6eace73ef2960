"""The HTTP protocol of the API: what a status, a body or a failed exchange means, as data or an exception.

Pure functions from ``(status, headers, body)`` to a checked payload or the error class that fits;
both transports (``requests`` and aiohttp) call them, so a response means the same thing wherever
it arrives. What the rate-limit headers mean is :mod:`._budget`'s; what a failed TLS handshake
means, :mod:`._tls`'s.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from airflow_provider_events._budget import retry_after_seconds
from airflow_provider_events._paging import KeyedPoint, point_key
from airflow_provider_events._tls import tls_problem
from airflow_provider_events.exceptions import (
    EventsAnalyticsAuthError,
    EventsAnalyticsError,
    EventsAnalyticsRateLimitError,
    EventsAnalyticsRequestError,
    EventsAnalyticsServerError,
    EventsAnalyticsTLSError,
)

SERIES_ENDPOINT = "/events/data_series"
LIST_ENDPOINT = "/events/list"
EVENTS_PAGE_SIZE = 250
MAX_MESSAGE = 300


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret in ``text`` with ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


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
    words = redact(words, secrets)[:MAX_MESSAGE]
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
    problem = tls_problem(endpoint, error)
    if problem is not None:
        return EventsAnalyticsTLSError(redact(problem, secrets), endpoint=endpoint)
    if timeout is not None and _is_timeout(error):
        # A timeout's own text is empty (aiohttp) or a pool repr (requests): the wait is what helps.
        return EventsAnalyticsServerError(
            f"GET {endpoint} got no answer within {timeout:g} s ({type(error).__name__}): the instance "
            "is slow or unreachable; raise hook_params timeout if its answers take longer",
            status_code=None,
            endpoint=endpoint,
        )
    detail = redact(str(error), secrets)[:MAX_MESSAGE] or "no detail"
    return EventsAnalyticsServerError(
        f"GET {endpoint} got no answer: {type(error).__name__}: {detail}", status_code=None, endpoint=endpoint
    )


def _is_timeout(error: BaseException) -> bool:
    # aiohttp's is asyncio.TimeoutError (not yet the builtin TimeoutError on Python 3.10); requests'
    # Read- and ConnectTimeout derive from its Timeout.
    return isinstance(error, TimeoutError | asyncio.TimeoutError) or any(
        cls.__name__ == "Timeout" for cls in type(error).__mro__
    )


def in_context(error: EventsAnalyticsError, context: str) -> EventsAnalyticsError:
    """The same error with ``context`` (which event, which window) added to its message."""
    return type(error)(
        f"{error} [{context}]",
        status_code=error.status_code,
        endpoint=error.endpoint,
        retry_after=error.retry_after,
    )


def events_page_params(page: int) -> dict[str, str]:
    """Query parameters of one page of ``/events/list``."""
    return {"page": str(page)}


def is_last_events_page(names: Sequence[str]) -> bool:
    """The last page of ``/events/list`` is the first one with fewer than 250 names."""
    return len(names) < EVENTS_PAGE_SIZE
