"""A clock for the hooks' request pipeline that sleeps no real time and records every sleep."""

from __future__ import annotations

import asyncio
import threading
import time

from airflow_provider_events._client import Clock


class FakeClock(Clock):
    """
    Starts at the real epoch second (the emulator's rate-limit headers count in it) and moves only
    when the pipeline sleeps: a test asserts what was slept, never how long it took.
    """

    def __init__(self) -> None:
        self.at = time.time()
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self.at

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self.at += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)
        await asyncio.sleep(0)  # still yield, as a real sleep would

    @property
    def total(self) -> float:
        with self._lock:
            return sum(self.slept)
