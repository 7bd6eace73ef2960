"""Runs a crossing trigger as the triggerer would, so a test can act between its polls."""

from __future__ import annotations

import asyncio
from typing import Any

from airflow_provider_events.emulator import EventsEmulator
from airflow_provider_events.triggers.events import EventCountCrossingTrigger

SERIES = "/events/data_series"


class Runner:
    """Runs a trigger as the triggerer would, and lets a test act between its polls."""

    def __init__(self, trigger: EventCountCrossingTrigger, emulator: EventsEmulator) -> None:
        self.trigger, self.emulator = trigger, emulator
        self.payloads: list[dict[str, Any]] = []
        self.task: asyncio.Task | None = None

    async def __aenter__(self) -> Runner:
        async def consume() -> None:
            async for event in self.trigger.run():
                self.payloads.append(event.payload)

        self.task = asyncio.ensure_future(consume())
        return self

    async def polls(self, count: int) -> None:
        """Return once ``count`` more polls are complete (the one after them has reached the server)."""
        # No deadline of its own: a trigger that stops polling is caught by pytest's timeout.
        target = self.emulator.request_count(SERIES) + count + 1
        while self.emulator.request_count(SERIES) < target:
            assert self.task is not None and not self.task.done(), "the trigger ended"
            await asyncio.sleep(0.005)

    async def __aexit__(self, *exc_info: object) -> None:
        assert self.task is not None
        still_running = not self.task.done()
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        if exc_info[0] is None:
            assert still_running, "the trigger ended, a watcher's trigger never should"
