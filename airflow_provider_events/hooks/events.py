"""Hooks for the Custom Events Analytics REST API: exact, paged, concurrent and resilient retrieval."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncGenerator, Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, TypeVar

from airflow.providers.http.hooks.http import HttpAsyncHook, HttpHook
from requests.auth import AuthBase

from airflow_provider_events import CONN_TYPE, DEFAULT_CONN_ID
from airflow_provider_events._args import check_hook_settings
from airflow_provider_events._connection import ApiTarget, aload_target, load_target
from airflow_provider_events._ratelimit import RateBudget
from airflow_provider_events._responses import (
    check_events_page,
    check_response,
    check_series_page,
    in_context,
    network_error,
)
from airflow_provider_events._retry import RetryPolicy
from airflow_provider_events._series import (
    LIST_ENDPOINT,
    SERIES_ENDPOINT,
    PageRequest,
    SeriesQuery,
    events_page_params,
    is_last_events_page,
)
from airflow_provider_events._stream import ordered_series
from airflow_provider_events._tls import requests_verify, ssl_context, warn_if_unverified
from airflow_provider_events._types import Unit
from airflow_provider_events._window import KeyedPoint, split_window
from airflow_provider_events.exceptions import EventsAnalyticsError

T = TypeVar("T")
Series = list[dict[str, Any]]
DEFAULT_MAX_CONCURRENCY = 16
# Pages requested ahead of the series being handed on, per page in flight: enough to keep every
# slot busy while the oldest series waits for its last page, small enough to bound memory.
LOOK_AHEAD = 4


class _EventsSettings:
    """Constructor arguments and connection identity shared by the sync and the async hook."""

    conn_name_attr = "events_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = CONN_TYPE
    hook_name = "Custom Events Analytics"

    def _init_settings(
        self,
        timeout: float,
        retry_limit: int,
        retry_delay: float,
        max_concurrency: int,
        max_retry_wait: float,
    ) -> None:
        check_hook_settings(timeout=timeout, max_concurrency=max_concurrency)
        self._settings: dict[str, Any] = {
            "timeout": timeout,
            "retry_limit": retry_limit,
            "retry_delay": retry_delay,
            "max_concurrency": max_concurrency,
            "max_retry_wait": max_retry_wait,
        }
        self.timeout = float(timeout)
        self.max_concurrency = max_concurrency
        self.policy = RetryPolicy(retry_limit, retry_delay, max_retry_wait)
        self.budget = RateBudget(reserve=max_concurrency, max_wait=max_retry_wait)

    def _page_check(self, request: PageRequest, unit: str) -> Callable[[dict[str, Any]], list[KeyedPoint]]:
        return lambda payload: check_series_page(payload, request.page.length, unit, SERIES_ENDPOINT)


class EventsAnalyticsHook(_EventsSettings, HttpHook):
    """
    Read custom event counts from the Custom Events Analytics REST API.

    The connection's host is the instance URL (https when no scheme is given) and its password
    the REST API key, sent as ``Authorization: Bearer``. Windows longer than the API's 100 units
    are fetched as pages, concurrently, and joined into one exact series.
    429, 5XX and network failures are retried; 400, 401, 403 and 404 fail at once.

    :param events_conn_id: the ``events_analytics`` connection to use
    :param timeout: seconds allowed for each request
    :param retry_limit: retries after the first attempt, for 429, 5XX, malformed answers and
        network errors
    :param retry_delay: base of the exponential backoff between retries, in seconds
    :param max_concurrency: requests in flight at once
    :param max_retry_wait: cap on a single wait between retries, whatever a header asks for
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
        self._init_settings(timeout, retry_limit, retry_delay, max_concurrency, max_retry_wait)
        super().__init__(method="GET", http_conn_id=events_conn_id)
        self.events_conn_id = events_conn_id
        self._lock = threading.RLock()
        self._target: ApiTarget | None = None
        self._session: Any = None

    # -- connection: what HttpHook does, minus what is wrong for this API --------------------------

    @property
    def target(self) -> ApiTarget:
        """Base URL and key of the connection, checked once; the key is registered for masking."""
        with self._lock:  # a hook may be shared by threads: load the connection once
            if self._target is None:
                self._target = load_target(self.events_conn_id, self.get_connection)
            return self._target

    def _set_base_url(self, connection: Any) -> None:
        self.base_url = self.target.base_url
        self._base_url_initialized = True

    def _configure_session_from_auth(self, session: Any, connection: Any) -> Any:
        # Bearer from the password, with or without a login (HttpHook only authenticates with one);
        # as session.auth, so that a ~/.netrc entry for the host cannot replace it with Basic auth.
        session.auth = _BearerAuth(self.target)
        return session

    def _configure_session_from_extra(self, session: Any, connection: Any, extra_options: dict) -> Any:
        # Extras are this provider's options, never request headers (HttpHook sends them as headers).
        return session

    def get_conn(
        self, headers: dict[Any, Any] | None = None, extra_options: dict[str, Any] | None = None
    ) -> Any:
        """The HTTP provider's ``requests`` session, trusting the certificates aiohttp trusts too."""
        session = super().get_conn(headers, extra_options)
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

    # -- transport ---------------------------------------------------------------------------------

    def _get_once(self, endpoint: str, params: dict[str, str]) -> dict[str, Any]:
        import requests

        while (delay := self.budget.take()) > 0:
            time.sleep(delay)
        try:
            # verify per request: requests lets REQUESTS_CA_BUNDLE override the session's own setting.
            response = self.session.get(
                self.base_url + endpoint, params=params, timeout=self.timeout, verify=self.session.verify
            )
        except requests.RequestException as err:
            raise network_error(endpoint, err, (self.target.api_key,), timeout=self.timeout) from None
        self.budget.observe(response.headers, status=response.status_code)
        return check_response(
            response.status_code, response.headers, response.content, endpoint, secrets=(self.target.api_key,)
        )

    def _get_checked(
        self, endpoint: str, params: dict[str, str], check: Callable[[dict[str, Any]], T], policy: RetryPolicy
    ) -> T:
        from tenacity import Retrying

        warn_if_unverified(self.log, self.events_conn_id, self.target.verify)
        self.log.debug("GET %s %s", endpoint, params)
        for attempt in Retrying(**policy.tenacity_kwargs(self.log, f"GET {endpoint}")):
            with attempt:
                return check(self._get_once(endpoint, params))
        raise AssertionError("unreachable: tenacity reraises")

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
        query = SeriesQuery.build(
            events, length=length, unit=unit, ending_at=ending_at, app_id=app_id, segment_id=segment_id
        )
        # The pages go out over aiohttp: with requests in threads, the client's CPU under the GIL,
        # not the network, bounded the fetch at this concurrency (see benchmarks/).
        return _run_coroutine(self._async_twin().fetch(query))

    def stream_series(self, queries: Sequence[SeriesQuery], on_series: Callable[[str, Series], None]) -> None:
        """
        Fetch several windows of several events and call ``on_series(event, series)`` in order.

        The order is each event, then each query (window) holding it; a series is handed on as
        soon as it and every one before it are complete, with pages of later ones already on the
        way. Memory is bounded by the pages in flight, so an export of any size can be written
        as it arrives. An error stops the fetch and is raised; ``on_series`` may raise too.

        :param queries: windows built with ``SeriesQuery.build`` (checked before any request)
        :param on_series: called with each event's series, in order
        """
        _run_coroutine(self._async_twin().stream(queries, on_series))

    def _async_twin(self) -> EventsAnalyticsAsyncHook:
        """The async hook on this hook's connection, settings and rate budget."""
        twin = EventsAnalyticsAsyncHook(self.events_conn_id, **self._settings)
        twin.use_target(self.target)
        twin.budget = self.budget
        twin._log = self.log  # a sync export logs, and retries, under the sync hook's name
        return twin

    def list_events(self) -> list[str]:
        """Every custom event name, across all pages of ``/events/list`` (fetched once per call)."""
        names: list[str] = []
        page = 0
        while True:
            batch = self._get_checked(
                LIST_ENDPOINT,
                events_page_params(page),
                lambda payload: check_events_page(payload, LIST_ENDPOINT),
                self.policy,
            )
            names.extend(batch)
            if is_last_events_page(batch):
                return names
            page += 1

    def test_connection(self) -> tuple[bool, str]:
        """Call the API once with the connection's key and say in words whether it worked."""
        try:
            self._get_checked(
                LIST_ENDPOINT,
                events_page_params(0),
                lambda payload: check_events_page(payload, LIST_ENDPOINT),
                RetryPolicy(retry_limit=0),
            )
        except (EventsAnalyticsError, ValueError) as err:
            return False, str(err)
        return True, f"Connected to {self.target.base_url}: the REST API key was accepted"


class EventsAnalyticsAsyncHook(_EventsSettings, HttpAsyncHook):
    """
    The async twin of :class:`EventsAnalyticsHook`, for triggers on the triggerer.

    It shares the sync hook's window splitting, response checks and retry policy; only the
    transport (aiohttp) differs. Parameters are those of :class:`EventsAnalyticsHook`.

    :param events_conn_id: the ``events_analytics`` connection to use
    :param timeout: seconds allowed for each request
    :param retry_limit: retries after the first attempt
    :param retry_delay: base of the exponential backoff, in seconds
    :param max_concurrency: requests in flight at once
    :param max_retry_wait: cap on a single wait between retries
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
        self._init_settings(timeout, retry_limit, retry_delay, max_concurrency, max_retry_wait)
        # One attempt in HttpAsyncHook's own loop: the retries are ours (it never retries 429).
        super().__init__(method="GET", http_conn_id=events_conn_id, retry_limit=1, retry_delay=0)
        self.events_conn_id = events_conn_id
        self._target: ApiTarget | None = None
        self._proxy: str | None = None

    def use_target(self, target: ApiTarget) -> None:
        """Use a connection the caller has already resolved, instead of looking it up."""
        self._target = target
        self.base_url = target.base_url

    async def _open(self) -> Any:
        """An aiohttp session carrying the connection's headers: the Bearer key and a User-Agent."""
        import aiohttp

        if self._target is None:
            from airflow.providers.common.compat.connection import get_async_connection

            async def lookup(conn_id: str) -> Any:
                return await get_async_connection(conn_id=conn_id, hook=self)

            self.use_target(await aload_target(self.events_conn_id, lookup))
        assert self._target is not None
        # HttpAsyncHook's own session would send extras as headers, raise on every 4XX/5XX and
        # retry neither 429 nor network errors: the request itself is ours, the policy shared.
        # Not trust_env: with it, a ~/.netrc entry for the host clashes with the Bearer header; the
        # proxy settings of the environment are read once here instead, as requests would.
        self._proxy = _environment_proxy(self._target.base_url)
        warn_if_unverified(self.log, self.events_conn_id, self._target.verify)
        return aiohttp.ClientSession(
            headers=self._target.headers(),
            timeout=aiohttp.ClientTimeout(total=self.timeout),
            connector=aiohttp.TCPConnector(limit=self.max_concurrency, ssl=ssl_context(self._target.verify)),
        )

    async def _get_once(self, http: Any, endpoint: str, params: dict[str, str]) -> dict[str, Any]:
        import aiohttp

        while (delay := self.budget.take()) > 0:
            await asyncio.sleep(delay)
        secrets = (self._target.api_key,) if self._target else ()
        try:
            async with http.get(self.base_url + endpoint, params=params, proxy=self._proxy) as response:
                body = await response.read()
        except (aiohttp.ClientError, asyncio.TimeoutError) as err:
            raise network_error(endpoint, err, secrets, timeout=self.timeout) from None
        self.budget.observe(response.headers, status=response.status)
        return check_response(response.status, response.headers, body, endpoint, secrets=secrets)

    async def _get_checked(
        self, http: Any, endpoint: str, params: dict[str, str], check: Callable[[dict[str, Any]], T]
    ) -> T:
        from tenacity import AsyncRetrying

        self.log.debug("GET %s %s", endpoint, params)
        async for attempt in AsyncRetrying(**self.policy.tenacity_kwargs(self.log, f"GET {endpoint}")):
            with attempt:
                return check(await self._get_once(http, endpoint, params))
        raise AssertionError("unreachable: tenacity reraises")

    async def get_series_many(
        self,
        events: Sequence[str],
        *,
        length: int,
        unit: Unit = "day",
        ending_at: str | datetime | None = None,
        app_id: str | None = None,
        segment_id: str | None = None,
    ) -> dict[str, Series]:
        """As :meth:`EventsAnalyticsHook.get_series_many`, awaited."""
        query = SeriesQuery.build(
            events, length=length, unit=unit, ending_at=ending_at, app_id=app_id, segment_id=segment_id
        )
        return await self.fetch(query)

    async def fetch(self, query: SeriesQuery) -> dict[str, Series]:
        """Every page of a checked query, ``max_concurrency`` at once, joined into one series per event."""
        async with contextlib.aclosing(self.iter_series([query])) as stream:
            return {event: series async for event, series in stream}

    async def iter_series(self, queries: Sequence[SeriesQuery]) -> AsyncGenerator[tuple[str, Series], None]:
        """
        Yield ``(event, series)`` for each event, then each query (window) holding it, in that order.

        Pages are fetched ``max_concurrency`` at once, and ahead of the series being handed on, but
        at most ``LOOK_AHEAD x max_concurrency`` pages ahead: memory is bounded by the pages in
        flight, not by the number of events. Build the queries with ``SeriesQuery.build``.
        """
        for query in queries:
            self.log.info(
                "Fetching %d %s(s) ending at %s for %d event(s) in %d request(s)%s",
                query.length, query.unit, query.ending_at.isoformat(), len(query.events),
                len(query.events) * len(split_window(query.length, query.unit, query.ending_at)),
                f", summed into the local day {query.day}" if query.day else "",
            )  # fmt: skip
        limit = asyncio.Semaphore(self.max_concurrency)
        async with await self._open() as http:

            async def fetch_page(request: PageRequest, unit: str) -> list[KeyedPoint]:
                async with limit:
                    check = self._page_check(request, unit)
                    try:
                        return await self._get_checked(http, SERIES_ENDPOINT, request.params, check)
                    except EventsAnalyticsError as err:
                        error = in_context(err, request.describe())
                # Out of the except block, so that the error does not chain to its own copy.
                raise error

            look_ahead = LOOK_AHEAD * self.max_concurrency
            async with contextlib.aclosing(ordered_series(queries, fetch_page, look_ahead)) as stream:
                async for item in stream:
                    yield item

    async def stream(self, queries: Sequence[SeriesQuery], on_series: Callable[[str, Series], None]) -> None:
        """Call ``on_series(event, series)`` for each item of :meth:`iter_series`, in order."""
        async with contextlib.aclosing(self.iter_series(queries)) as stream:
            async for event, series in stream:
                on_series(event, series)

    async def get_series(self, event: str, **kwargs: Any) -> Series:
        """As :meth:`EventsAnalyticsHook.get_series`, awaited."""
        return (await self.get_series_many([event], **kwargs))[event]


def _environment_proxy(url: str) -> str | None:
    """The proxy ``HTTP_PROXY``/``HTTPS_PROXY``/``NO_PROXY`` choose for ``url``, as requests reads them."""
    from urllib.parse import urlsplit
    from urllib.request import getproxies, proxy_bypass

    parts = urlsplit(url)
    if parts.hostname and proxy_bypass(parts.hostname):
        return None
    return getproxies().get(parts.scheme)


def _run_coroutine(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine from sync code; in a thread of its own if this thread already runs a loop."""
    # Decided outside the except block: a coroutine run inside it would chain every error it
    # raises to an unrelated "no running event loop" RuntimeError.
    try:
        asyncio.get_running_loop()
        in_loop = True
    except RuntimeError:
        in_loop = False
    if not in_loop:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


class _BearerAuth(AuthBase):
    """``Authorization: Bearer`` and the User-Agent on every request; the key stays out of repr."""

    def __init__(self, target: ApiTarget) -> None:
        self._target = target

    def __call__(self, request: Any) -> Any:
        request.headers.update(self._target.headers())
        return request

    def __repr__(self) -> str:
        return "<_BearerAuth ***>"
