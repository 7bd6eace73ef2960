"""A crossing, as the watcher's trigger sees it: which side of the threshold a poll is on, what is kept
of it between polls, instances and triggerers (the side, how many crossings fired), and how long to
back off while the API keeps failing. Pure: the trigger does the polling and the storing.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from airflow_provider_events._retry import RetryPolicy

#: Longest pause between two polls while the API keeps failing, unless ``poke_interval`` is longer.
MAX_ERROR_BACKOFF = 900.0


def crossing_step(was_above: bool, total: int, threshold: int) -> tuple[bool, bool]:
    """``(fire, above)`` for one poll: fire only on the way up, from below ``threshold`` to at or above it."""
    above = total >= threshold
    return above and not was_above, above


def error_backoff(poke_interval: float, failures: int, error: BaseException | None = None) -> float:
    """Seconds to wait after ``failures`` failed polls in a row: the retry policy's backoff, slower."""
    policy = RetryPolicy(
        retry_limit=0, retry_delay=poke_interval, max_wait=max(poke_interval, MAX_ERROR_BACKOFF)
    )
    return max(poke_interval, policy.wait(error, failures))


class Side(NamedTuple):
    """What the asset state store keeps of a crossing condition between polls, instances and triggerers."""

    above: bool
    crossings: int  # upward crossings fired so far: the next one's id ends with crossings + 1
    total: int | None = None
    last_bucket: str | None = None

    @classmethod
    def from_stored(cls, stored: object) -> Side:
        if not isinstance(stored, dict):
            return cls(False, 0)
        crossings = stored.get("crossings")
        # Kept before crossings were counted: no count yet, and the side as it was.
        count = crossings if isinstance(crossings, int) and not isinstance(crossings, bool) else 0
        return cls(bool(stored.get("above")), count, stored.get("total"), stored.get("last_bucket"))

    def stored(self, threshold: int) -> dict[str, Any]:
        return {**self._asdict(), "threshold": threshold}
