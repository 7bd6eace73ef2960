"""Waiting on a count: what the sensor and the triggers ask for, compare and say at each check."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def window_args(waiter: Any) -> dict[str, Any]:
    """The series arguments of a sensor or a trigger past the event: its window, app and segment."""
    return {
        "length": waiter.length,
        "unit": waiter.unit,
        "ending_at": waiter.ending_at,
        "app_id": waiter.app_id,
        "segment_id": waiter.segment_id,
    }


def total_count(series: Iterable[Mapping[str, Any]]) -> int:
    """The sum of ``count`` over a series: what the sensor and the triggers compare with the threshold."""
    return sum(point["count"] for point in series)


def log_check(log: Any, waiter: Any, total: int, last_bucket: str, threshold: int) -> None:
    """One line per check, the same from a worker's poke and the triggerer's poll."""
    log.info(
        "Event %r: %d in the window of %d %s(s) ending with %s, threshold %d%s",
        waiter.event, total, waiter.length, waiter.unit, last_bucket, threshold,
        " - done" if total >= threshold else " - not yet",
    )  # fmt: skip
