"""An event loop on a thread of its own, through which sync code runs async code and iterates its results.

The sync hook fetches series over aiohttp (with ``requests`` in threads, the client's CPU under the
GIL, not the network, bounded the fetch; see benchmarks/). Its loop runs here, for the hook's life,
so one session serves every call (a sensor's pokes reuse it), and each series comes back to the
calling thread: whatever the caller does with it (writing to object storage, whose clients run
event loops of their own) happens outside the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine, Iterator
from typing import Any, TypeVar, cast

T = TypeVar("T")


class Portal:
    """A loop thread, started on first use; :meth:`close` runs the cleanups, then stops and joins it."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._cleanups: list[Callable[[], Awaitable[None]]] = []

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="events-analytics-loop", daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    def on_close(self, cleanup: Callable[[], Awaitable[None]]) -> None:
        """Await ``cleanup()`` on the loop whenever the portal closes (e.g. to close a session)."""
        self._cleanups.append(cleanup)

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the loop thread and return its result (or raise its error) here."""
        future = asyncio.run_coroutine_threadsafe(coroutine, self._running_loop())
        try:
            return future.result()
        except BaseException:
            future.cancel()  # the caller was interrupted (a task timeout, a kill): stop the work too
            raise

    def iterate(self, items: AsyncGenerator[T, None]) -> Iterator[T]:
        """Each item of an async generator running on the loop, handed to the calling thread in order."""
        try:
            while True:
                more, item = self.run(_next(items))
                if not more:
                    return
                yield cast(T, item)
        finally:
            self.run(_close(items))

    def close(self) -> None:
        """Run the cleanups, stop the loop and join its thread; a later :meth:`run` starts a new one."""
        with self._lock:
            loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if loop is None or thread is None:
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(_run_all(self._cleanups), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


async def _next(items: AsyncGenerator[T, None]) -> tuple[bool, T | None]:
    try:
        return True, await items.__anext__()
    except StopAsyncIteration:
        return False, None


async def _close(items: AsyncGenerator[Any, None]) -> None:
    # Already running when the caller was interrupted mid-item: its cancellation then cleans it up.
    with contextlib.suppress(RuntimeError):
        await items.aclose()


async def _run_all(cleanups: list[Callable[[], Awaitable[None]]]) -> None:
    for cleanup in cleanups:
        await cleanup()
