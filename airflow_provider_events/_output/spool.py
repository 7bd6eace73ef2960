"""A day's records from every event, gathered on local disk until the last event is in.

With ``{day}`` but no ``{event}`` in the output path, each day's file holds every event's points
of that day, event by event; series come event by event, so no day's file is complete before the
last series. Instead of keeping every day's file open (one open file and, on object storage, one
upload buffer a day), the points go to one anonymous temporary file as they arrive, and each
day's file is written whole at the end from its segments: one file open at a time, memory
bounded by one event's points of one day. The spool lives in the system's temporary folder and
disappears when closed, or with the process.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from typing import Any

# Where one event's points of one day lie in the spool: (event index, offset, length in bytes).
Segment = tuple[int, int, int]


class DaySpool:
    """Points appended per (event, day), read back day by day in the order they were added."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile(prefix="events-export-")  # noqa: SIM115  # closed by close()
        self._events: list[str] = []
        self._segments: dict[str, list[Segment]] = {}
        self._size = 0

    def add(self, event: str, day: str, points: Sequence[dict[str, Any]]) -> None:
        """Append ``event``'s points of ``day`` (a day's points of one event come in one call or more)."""
        if not self._events or self._events[-1] != event:
            self._events.append(event)
        data = "".join(f"{point['time']}\t{point['count']}\n" for point in points).encode("utf-8")
        self._file.write(data)
        self._segments.setdefault(day, []).append((len(self._events) - 1, self._size, len(data)))
        self._size += len(data)

    def days(self) -> list[str]:
        """Every day that has points, in calendar order (ISO dates sort as text)."""
        return sorted(self._segments)

    def read(self, day: str) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        """``(event, points)`` of ``day``, one segment at a time, in the order they were added."""
        self._file.flush()
        for index, offset, length in self._segments[day]:
            self._file.seek(offset)
            lines = self._file.read(length).decode("utf-8").splitlines()
            points = [{"time": time, "count": int(count)} for time, count in map(_fields, lines)]
            yield self._events[index], points
        self._file.seek(0, 2)

    def close(self) -> None:
        self._file.close()


def _fields(line: str) -> tuple[str, str]:
    time, count = line.split("\t")
    return time, count
