"""The aiohttp transport: one session for its life, the pipeline's steps around each GET, series in order.

Both hooks fetch series through it: the async hook in the caller's event loop (the triggerer's),
the sync hook on a loop thread of its own (:mod:`._portal`). HttpAsyncHook's session is not used:
it would send connection extras as headers, and it retries neither 429 nor network errors.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable, Sequence
from typing import Any, TypeVar

from airflow_provider_events._client import RequestPipeline
from airflow_provider_events._connection import ApiTarget
from airflow_provider_events._paging import KeyedPoint
from airflow_provider_events._protocol import SERIES_ENDPOINT, check_series_page, in_context
from airflow_provider_events._request import SeriesRequest
from airflow_provider_events._retry import RetryPolicy
from airflow_provider_events._stream import ordered_series
from airflow_provider_events._tls import ssl_context, warn_if_unverified
from airflow_provider_events._types import Series
from airflow_provider_events.exceptions import EventsAnalyticsError

T = TypeVar("T")
# Pages requested ahead of the series being handed on, per page in flight: enough to keep every
# slot busy while the oldest series waits for its last page, small enough to bound memory.
LOOK_AHEAD = 4


class AioTransport:
    """
    GET requests to one instance over one aiohttp session, opened on first use and kept until :meth:`aclose`.

    :param target: where requests go and the key they carry
    :param pipeline: the steps around each request (budget, checks, retries), shared with the hook
    :param log: the hook's logger: retries and warnings are logged under the hook's name
    :param conn_id: the connection's id, as warnings name it
    """

    def __init__(self, target: ApiTarget, pipeline: RequestPipeline, log: Any, conn_id: str) -> None:
        self.conn_id = conn_id
        self.target = target
        self.pipeline = pipeline
        self.log = log
        self._session: Any = None
        self._proxy: str | None = None

    async def _open(self) -> Any:
        import aiohttp

        if self._session is None or self._session.closed:
            # Not trust_env: with it, a ~/.netrc entry for the host clashes with the Bearer header;
            # the proxy settings of the environment are read once here instead, as requests would.
            self._proxy = _environment_proxy(self.target.base_url)
            settings = self.pipeline.settings
            self._session = aiohttp.ClientSession(
                headers=self.target.headers(),
                timeout=aiohttp.ClientTimeout(total=settings.timeout),
                connector=aiohttp.TCPConnector(
                    limit=settings.max_concurrency, ssl=ssl_context(self.target.verify)
                ),
            )
        return self._session

    async def aclose(self) -> None:
        """Close the session and its connections; the next request opens a new one."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _get_once(self, endpoint: str, params: dict[str, str]) -> dict[str, Any]:
        import aiohttp

        session = await self._open()
        secrets = (self.target.api_key,)
        url = self.target.base_url + endpoint
        try:
            async with session.get(url, params=params, proxy=self._proxy) as response:
                body = await response.read()
        except (aiohttp.ClientError, asyncio.TimeoutError) as err:
            raise self.pipeline.failure(endpoint, err, secrets) from None
        return self.pipeline.answer(endpoint, response.status, response.headers, body, secrets)

    async def get(
        self,
        endpoint: str,
        params: dict[str, str],
        check: Callable[[dict[str, Any]], T],
        policy: RetryPolicy | None = None,
    ) -> T:
        """One GET, retried as the policy says, its answer passed through ``check``."""
        self.log.debug("GET %s %s", endpoint, params)
        from tenacity import AsyncRetrying

        waits = self.pipeline.request(endpoint, self.log, policy)
        async for attempt in AsyncRetrying(**waits.retrying(asynchronous=True)):
            with attempt:
                while (delay := waits.before_send()) > 0:
                    await self.pipeline.clock.asleep(delay)
                return check(await self._get_once(endpoint, params))
        raise AssertionError("unreachable: tenacity reraises")

    async def _page(self, page: SeriesRequest) -> list[KeyedPoint]:
        def check(payload: dict[str, Any]) -> list[KeyedPoint]:
            return check_series_page(payload, page.window.length, page.window.unit, SERIES_ENDPOINT)

        try:
            return await self.get(SERIES_ENDPOINT, page.params(), check)
        except EventsAnalyticsError as err:
            error = in_context(err, page.describe())
        # Out of the except block, so that the error does not chain to its own copy.
        raise error

    async def iter_series(
        self, requests: Sequence[SeriesRequest]
    ) -> AsyncGenerator[tuple[str, Series], None]:
        """
        Yield ``(event, series)`` for each event, then each request (window) holding it, in that order.

        Pages are fetched ``max_concurrency`` at once, and ahead of the series being handed on, but
        at most ``LOOK_AHEAD x max_concurrency`` pages ahead: memory is bounded by the pages in
        flight, not by the number of events.
        """
        warn_if_unverified(self.log, self.conn_id, self.target.verify)
        for request in requests:
            window = request.window
            self.log.info(
                "Fetching %d %s(s) ending at %s for %d event(s) in %d request(s)%s",
                window.length, window.unit, request.ending_at.isoformat(), len(request.events),
                len(request.events) * len(request.pages(request.events[0])),
                f", summed into the local day {window.day}" if window.day else "",
            )  # fmt: skip
        limit = asyncio.Semaphore(self.pipeline.settings.max_concurrency)

        async def fetch_page(page: SeriesRequest) -> list[KeyedPoint]:
            async with limit:
                return await self._page(page)

        look_ahead = LOOK_AHEAD * self.pipeline.settings.max_concurrency
        async with contextlib.aclosing(ordered_series(requests, fetch_page, look_ahead)) as stream:
            async for item in stream:
                yield item


def _environment_proxy(url: str) -> str | None:
    """The proxy ``HTTP_PROXY``/``HTTPS_PROXY``/``NO_PROXY`` choose for ``url``, as requests reads them."""
    from urllib.parse import urlsplit
    from urllib.request import getproxies, proxy_bypass

    parts = urlsplit(url)
    if parts.hostname and proxy_bypass(parts.hostname):
        return None
    return getproxies().get(parts.scheme)
