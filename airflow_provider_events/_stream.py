"""Fetch many series concurrently, hand them on in order, and hold only a bounded look-ahead.

Transport-free: the caller passes the coroutine that fetches one checked page.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, Callable, Coroutine, Iterator, Sequence
from typing import Any

from airflow_provider_events._paging import KeyedPoint
from airflow_provider_events._request import SeriesRequest
from airflow_provider_events._types import Series

FetchPage = Callable[[SeriesRequest], Coroutine[Any, Any, list[KeyedPoint]]]


def plan(requests: Sequence[SeriesRequest]) -> Iterator[tuple[str, SeriesRequest]]:
    """
    ``(event, request)`` in the order the series are handed on: each event, then its windows in order.

    Several windows (e.g. the segments of a day that spans a DST change, each in its own offset)
    thus come out event by event, so records stay ordered by event, then time. Every request must
    hold the same events. Lazy: nothing here grows with the number of events.
    """
    if any(request.events != requests[0].events for request in requests):
        raise ValueError("every window streamed together must hold the same events, in the same order")
    for event in requests[0].events if requests else ():
        for request in requests:
            yield event, request


async def ordered_series(
    requests: Sequence[SeriesRequest], fetch_page: FetchPage, look_ahead: int
) -> AsyncGenerator[tuple[str, Series], None]:
    """
    Yield ``(event, series)`` in the order of :func:`plan`, each once it and every one before it are in.

    Pages of later series are requested while earlier ones are still on the way, but only while
    fewer than ``look_ahead`` pages have been started and not handed on yet: memory is bounded by
    that, not by the number of events. One window of one event is always requested whole, since
    its pages are joined before it is handed on. The first error cancels every page in flight.
    """
    units = iter(plan(requests))
    pending: deque[tuple[str, SeriesRequest, list[asyncio.Task[list[KeyedPoint]]]]] = deque()
    started = 0
    try:
        while True:
            while not pending or started < look_ahead:
                unit = next(units, None)
                if unit is None:
                    break
                event, request = unit
                tasks = [asyncio.create_task(fetch_page(page)) for page in request.pages(event)]
                pending.append((event, request, tasks))
                started += len(tasks)
            if not pending:
                return
            event, request, tasks = pending[0]
            pages = await asyncio.gather(*tasks)
            pending.popleft()
            started -= len(tasks)
            yield event, request.join(event, pages)
    finally:
        leftovers = [task for _, _, tasks in pending for task in tasks]
        for task in leftovers:
            task.cancel()
        await asyncio.gather(*leftovers, return_exceptions=True)
