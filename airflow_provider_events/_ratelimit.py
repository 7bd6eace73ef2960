"""Rate-limit awareness: slow down before the API's budget is spent, instead of meeting 429s."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping

from airflow_provider_events._responses import header_value


def _header_float(headers: Mapping[str, str], name: str) -> float | None:
    value = header_value(headers, name)
    try:
        return None if value is None else float(value)
    except ValueError:
        return None


class RateBudget:
    """
    What is left of the API's rate-limit window, as told by ``X-RateLimit-Remaining``/``-Reset``.

    Requests still in flight are not yet counted in the last answer, so the budget holds back
    ``reserve`` requests (the most that can be in flight) and, once only those are left, makes
    callers wait for the window to reset. Safe to share between threads.

    :param reserve: requests to keep in hand; at least the number in flight at once
    :param max_wait: cap on one wait, whatever the reset header says
    """

    def __init__(self, reserve: int, max_wait: float = 60.0) -> None:
        self.reserve = reserve
        self.max_wait = max_wait
        self._remaining: float | None = None
        self._reset_at: float | None = None
        self._lock = threading.Lock()

    def observe(self, headers: Mapping[str, str], now: float | None = None) -> None:
        """Take in the rate-limit headers of a response (of any status)."""
        remaining = _header_float(headers, "x-ratelimit-remaining")
        reset_at = _header_float(headers, "x-ratelimit-reset")
        if remaining is None or reset_at is None:
            return
        now = time.time() if now is None else now
        with self._lock:
            if reset_at <= now:
                return
            if self._reset_at is None or reset_at > self._reset_at or self._remaining is None:
                self._remaining, self._reset_at = remaining, reset_at
            else:
                self._remaining = min(self._remaining, remaining)

    def take(self, now: float | None = None) -> float:
        """
        Count one request if the budget allows it and return 0, else return how long to wait first.

        A window whose reset time has passed is forgotten: the next answer tells the new budget.
        """
        now = time.time() if now is None else now
        with self._lock:
            if self._reset_at is not None and now >= self._reset_at:
                self._remaining = self._reset_at = None
            if self._remaining is None or self._reset_at is None:
                return 0.0
            if self._remaining > self.reserve:
                self._remaining -= 1
                return 0.0
            # a small margin past the reset, since the header has whole seconds
            return min(self.max_wait, self._reset_at - now + 0.05)
