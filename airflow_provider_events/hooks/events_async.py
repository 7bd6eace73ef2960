"""The async hook, for triggers on the triggerer: the sync hook's fetch, awaited in the caller's loop."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from airflow_provider_events import DEFAULT_CONN_ID
from airflow_provider_events._client import (
    DEFAULT_MAX_CONCURRENCY,
    EventsHookIdentity,
    HookSettings,
    RequestPipeline,
)
from airflow_provider_events._request import SeriesRequest
from airflow_provider_events._types import Series, Unit

if TYPE_CHECKING:
    from airflow_provider_events._aio import AioTransport


class EventsAnalyticsAsyncHook(EventsHookIdentity, BaseHook):
    """
    The async twin of :class:`~airflow_provider_events.hooks.events.EventsAnalyticsHook`, for triggers.

    It shares the sync hook's window splitting, response checks, rate budget rules and retry
    policy; only the transport differs (aiohttp, in the caller's event loop). One session serves
    the hook until :meth:`aclose` (or the end of ``async with hook:``). It is a plain ``BaseHook``:
    ``HttpAsyncHook`` would send connection extras as headers, and retries neither 429 nor network
    errors.

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
        settings = HookSettings(timeout, retry_limit, retry_delay, max_concurrency, max_retry_wait)
        super().__init__()
        self.events_conn_id = events_conn_id
        self.pipeline = RequestPipeline(settings)
        self._aio: AioTransport | None = None

    async def _transport(self) -> AioTransport:
        if self._aio is None:
            from airflow.providers.common.compat.connection import get_async_connection

            from airflow_provider_events._aio import AioTransport
            from airflow_provider_events._connection import aload_target

            async def lookup(conn_id: str) -> Any:
                return await get_async_connection(conn_id=conn_id, hook=self)

            target = await aload_target(self.events_conn_id, lookup)
            self._aio = AioTransport(target, self.pipeline, self.log, self.events_conn_id)
        return self._aio

    async def aclose(self) -> None:
        """Close the session; the next fetch opens a new one."""
        if self._aio is not None:
            await self._aio.aclose()

    async def __aenter__(self) -> EventsAnalyticsAsyncHook:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def get_series(self, event: str, **kwargs: Any) -> Series:
        """As :meth:`EventsAnalyticsHook.get_series`, awaited."""
        return (await self.get_series_many([event], **kwargs))[event]

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
        request = SeriesRequest.build(
            events, length=length, unit=unit, ending_at=ending_at, app_id=app_id, segment_id=segment_id
        )
        return {event: series async for event, series in self.iter_series([request])}

    async def iter_series(
        self, requests: Sequence[SeriesRequest]
    ) -> AsyncGenerator[tuple[str, Series], None]:
        """As :meth:`EventsAnalyticsHook.iter_series`, in the caller's loop."""
        import contextlib

        transport = await self._transport()
        async with contextlib.aclosing(transport.iter_series(requests)) as stream:
            async for item in stream:
                yield item
