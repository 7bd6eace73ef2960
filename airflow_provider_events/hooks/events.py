"""The hook for the Custom Events Analytics REST API: exact, paged, concurrent and resilient retrieval."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from airflow.providers.http.hooks.http import HttpHook
from requests.auth import AuthBase

from airflow_provider_events import DEFAULT_CONN_ID
from airflow_provider_events._airflow_compat import HttpSessionOverrides, check_http_hook, check_http_session
from airflow_provider_events._client import (
    DEFAULT_MAX_CONCURRENCY,
    EventsHookIdentity,
    HookSettings,
    RequestPipeline,
)
from airflow_provider_events._connection import ApiTarget, load_target
from airflow_provider_events._portal import Portal
from airflow_provider_events._protocol import (
    LIST_ENDPOINT,
    check_events_page,
    events_page_params,
    is_last_events_page,
)
from airflow_provider_events._request import SeriesRequest
from airflow_provider_events._retry import RetryPolicy
from airflow_provider_events._tls import requests_verify, ssl_context, warn_if_unverified
from airflow_provider_events._types import Series, Unit
from airflow_provider_events.exceptions import EventsAnalyticsError

# The async hook is this hook's twin for triggers; importable from here, as it always was.
from airflow_provider_events.hooks.events_async import EventsAnalyticsAsyncHook

if TYPE_CHECKING:
    from airflow_provider_events._aio import AioTransport

__all__ = ["DEFAULT_MAX_CONCURRENCY", "EventsAnalyticsAsyncHook", "EventsAnalyticsHook"]

T = TypeVar("T")


class EventsAnalyticsHook(EventsHookIdentity, HttpSessionOverrides, HttpHook):
    """
    Read custom event counts from the Custom Events Analytics REST API.

    The connection's host is the instance URL (https when no scheme is given) and its password
    the REST API key, sent as ``Authorization: Bearer``. Windows longer than the API's 100 units
    are fetched as pages, concurrently, and joined into one exact series.
    429, 5XX and network failures are retried; 400, 401, 403 and 404 fail at once. Each endpoint
    has its own rate budget, shared by the sync and async paths.

    Series go out over aiohttp, on an event loop of the hook's own thread, with one session for
    the hook's life (a sensor's pokes reuse it); ``/events/list`` and the connection test over
    the HTTP provider's ``requests`` session. :meth:`close` (or ``with hook:``) ends both;
    otherwise they end with the hook.

    :param events_conn_id: the ``events_analytics`` connection to use
    :param timeout: seconds allowed for each request
    :param retry_limit: retries after the first attempt, for 429, 5XX, malformed answers and
        network errors
    :param retry_delay: base of the exponential backoff between retries, in seconds
    :param max_concurrency: requests in flight at once
    :param max_retry_wait: cap on a single wait between retries, whatever a header asks for;
        ``retry_limit x max_retry_wait`` caps all the waiting of one request for the rate budget
        and 429s, beyond which it raises ``EventsAnalyticsRateLimitError`` naming the reset
    """

    def __init__(
        self,
        events_conn_id: str = DEFAULT_CONN_ID,
        *,
        timeout: float = 30.0,
        retry_limit: int = 5,
        retry_delay: float = 1.0,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        max_retry_wait: float = 60.0,
    ) -> None:
        settings = HookSettings(timeout, retry_limit, retry_delay, max_concurrency, max_retry_wait)
        super().__init__(method="GET", http_conn_id=events_conn_id)
        self.events_conn_id = events_conn_id
        self.timeout = settings.timeout
        self.max_concurrency = settings.max_concurrency
        self.pipeline = RequestPipeline(settings)
        self._lock = threading.RLock()
        self._target: ApiTarget | None = None
        self._auth: AuthBase | None = None
        self._session: Any = None
        self._aio: AioTransport | None = None
        self._portal = Portal()
        weakref.finalize(self, self._portal.close)

    # -- connection: what HttpHook does, minus what is wrong for this API (see HttpSessionOverrides) -

    @property
    def target(self) -> ApiTarget:
        """Base URL and key of the connection, checked once; the key is registered for masking."""
        with self._lock:  # a hook may be shared by threads: load the connection once
            if self._target is None:
                self._target = load_target(self.events_conn_id, self.get_connection)
            return self._target

    def _session_auth(self) -> AuthBase:
        """Bearer from the password, with or without a login (HttpHook only authenticates with one)."""
        with self._lock:
            if self._auth is None:
                self._auth = _BearerAuth(self.target)
            return self._auth

    def get_conn(
        self, headers: dict[Any, Any] | None = None, extra_options: dict[str, Any] | None = None
    ) -> Any:
        """The HTTP provider's ``requests`` session, trusting the certificates aiohttp trusts too."""
        from requests.utils import default_headers

        check_http_hook()
        session = super().get_conn(headers, extra_options)
        expected = {*default_headers(), *(headers or {}), *self.default_headers}
        check_http_session(session, self._session_auth(), {str(name).lower() for name in expected})
        ssl_context(self.target.verify)  # an unreadable CA bundle fails here as it would for aiohttp
        session.verify = requests_verify(self.target.verify)
        return session

    @property
    def session(self) -> Any:
        """The HTTP provider's ``requests`` session: ``/events/list`` and the connection test use it."""
        with self._lock:
            if self._session is None:
                # The connection first: HttpHook's get_conn would say less about a missing or wrong one.
                _ = self.target
                self._session = self.get_conn()
            return self._session

    def close(self) -> None:
        """Close both sessions and stop the hook's loop thread; the next call opens them again."""
        self._portal.close()
        with self._lock:
            session, self._session = self._session, None
        if session is not None:
            session.close()

    def __enter__(self) -> EventsAnalyticsHook:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- transports --------------------------------------------------------------------------------

    def _get(
        self, endpoint: str, params: dict[str, str], check: Callable[[dict[str, Any]], T], policy: RetryPolicy
    ) -> T:
        """One GET over ``requests``, through the same pipeline as the aiohttp transport's."""
        import requests
        from tenacity import Retrying

        warn_if_unverified(self.log, self.events_conn_id, self.target.verify)
        secrets = (self.target.api_key,)
        self.log.debug("GET %s %s", endpoint, params)
        waits = self.pipeline.request(endpoint, self.log, policy)
        for attempt in Retrying(**waits.retrying()):
            with attempt:
                while (delay := waits.before_send()) > 0:
                    self.pipeline.clock.sleep(delay)
                try:
                    # verify per request: requests lets REQUESTS_CA_BUNDLE override the session's own.
                    response = self.session.get(
                        self.base_url + endpoint,
                        params=params,
                        timeout=self.timeout,
                        verify=self.session.verify,
                    )
                except requests.RequestException as err:
                    raise self.pipeline.failure(endpoint, err, secrets) from None
                status, headers, body = response.status_code, response.headers, response.content
                return check(self.pipeline.answer(endpoint, status, headers, body, secrets))
        raise AssertionError("unreachable: tenacity reraises")

    def _transport(self) -> AioTransport:
        """The aiohttp transport, on this hook's connection, pipeline and loop thread."""
        from airflow_provider_events._aio import AioTransport

        with self._lock:
            if self._aio is None:
                self._aio = AioTransport(self.target, self.pipeline, self.log, self.events_conn_id)
                self._portal.on_close(self._aio.aclose)
            return self._aio

    # -- API ---------------------------------------------------------------------------------------

    def get_series(
        self,
        event: str,
        *,
        length: int,
        unit: Unit = "day",
        ending_at: str | datetime | None = None,
        app_id: str | None = None,
        segment_id: str | None = None,
    ) -> Series:
        """
        Return ``length`` points ``{"time": str, "count": int}``, oldest first, for one event.

        :param event: the custom event's name
        :param length: number of buckets; any size, fetched in pages of at most 100
        :param unit: ``"day"`` or ``"hour"``
        :param ending_at: the last bucket is the one holding this instant (ISO 8601 string or
            datetime, naive means UTC); ``None`` means now, fixed once for every page
        :param app_id: limit the counts to one app
        :param segment_id: limit the counts to one analytics-enabled segment
        """
        series = self.get_series_many(
            [event], length=length, unit=unit, ending_at=ending_at, app_id=app_id, segment_id=segment_id
        )
        return series[event]

    def get_series_many(
        self,
        events: Sequence[str],
        *,
        length: int,
        unit: Unit = "day",
        ending_at: str | datetime | None = None,
        app_id: str | None = None,
        segment_id: str | None = None,
    ) -> dict[str, Series]:
        """The same window for several events, every page of every event sharing one concurrency bound."""
        request = SeriesRequest.build(
            events, length=length, unit=unit, ending_at=ending_at, app_id=app_id, segment_id=segment_id
        )
        return dict(self.iter_series([request]))

    def iter_series(self, requests: Sequence[SeriesRequest]) -> Iterator[tuple[str, Series]]:
        """
        Yield ``(event, series)`` for several windows of several events, in order, in this thread.

        The order is each event, then each request (window) holding it; a series is handed on as
        soon as it and every one before it are complete, with pages of later ones already on the
        way. Memory is bounded by the pages in flight, so an export of any size can be written as
        it arrives; it is written here, in the caller's thread, never inside the fetch's loop.
        Stopping early (an error, ``break``) cancels every page still on its way.

        :param requests: windows built with ``SeriesRequest.build`` (checked before any request)
        """
        transport = self._transport()
        yield from self._portal.iterate(transport.iter_series(requests))

    def list_events(self) -> list[str]:
        """Every custom event name, across all pages of ``/events/list`` (fetched once per call)."""
        names: list[str] = []
        page = 0
        while True:
            batch = self._get(LIST_ENDPOINT, events_page_params(page), _events_page, self.pipeline.policy)
            names.extend(batch)
            if is_last_events_page(batch):
                return names
            page += 1

    def test_connection(self) -> tuple[bool, str]:
        """Call the API once with the connection's key and say in words whether it worked."""
        try:
            self._get(LIST_ENDPOINT, events_page_params(0), _events_page, RetryPolicy(retry_limit=0))
        except (EventsAnalyticsError, ValueError) as err:
            return False, str(err)
        return True, f"Connected to {self.target.base_url}: the REST API key was accepted"


def _events_page(payload: dict[str, Any]) -> list[str]:
    return check_events_page(payload, LIST_ENDPOINT)


class _BearerAuth(AuthBase):
    """``Authorization: Bearer`` and the User-Agent on every request; the key stays out of repr."""

    def __init__(self, target: ApiTarget) -> None:
        self._target = target

    def __call__(self, request: Any) -> Any:
        request.headers.update(self._target.headers())
        return request

    def __repr__(self) -> str:
        return "<_BearerAuth ***>"
