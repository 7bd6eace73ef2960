"""The API's rate budget: what its headers say is left; slow down before it is spent, share it when it is.

Two signals, both from what the API sends back. ``X-RateLimit-Remaining``/``-Reset`` say what is
left of the current window: :class:`RateBudget` stops before it is spent and, once a window has
run out before its end (others spend it too), spreads what is left over the time left. 429s say
the budget is overspent anyway: :class:`AdaptiveRate`, a client-side token bucket in the manner
of the AWS SDKs' adaptive retry mode, cuts its rate then and grows it back along a CUBIC curve.
Clients that cannot see each other (tasks on other workers) thus share one budget.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

# While pacing, the first request of a new window goes alone; the others poll for its answer, and
# go anyway if it has not come back in time (a timeout, or an answer without headers).
PACE_BELOW = 4
PROBE_POLL = 0.01
PROBE_TIMEOUT = 2.0


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """A header by its lower-case name, whatever case it arrived in (the API's case varies)."""
    for key, value in headers.items():
        if str(key).lower() == name:
            return value
    return None


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """
    Seconds to wait before the next request, from ``Retry-After`` or else ``X-RateLimit-Reset``.

    ``None`` when neither header is usable; never negative.
    """
    now = time.time() if now is None else now
    retry_after = header_value(headers, "retry-after")
    if retry_after is not None:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(retry_after).timestamp() - now)
            except (TypeError, ValueError):
                pass
    reset = header_value(headers, "x-ratelimit-reset")
    if reset is not None:
        try:
            return max(0.0, float(reset) - now)
        except ValueError:
            return None
    return None


def _header_float(headers: Mapping[str, str], name: str) -> float | None:
    value = header_value(headers, name)
    try:
        return None if value is None else float(value)
    except ValueError:
        return None


@dataclass
class AdaptiveRate:
    """
    A token bucket whose rate follows the API's 429s, CUBIC-style; not thread-safe on its own.

    Until the first 429 it lets every request through. A 429 cuts the rate to ``beta`` times the
    rate being sent at, then the rate grows back along ``scale * (t - K)**3 + peak``: quickly at
    first, flat near the rate that was throttled (``peak``, reached after ``K`` seconds), faster
    again past it to find capacity that other clients released. Answers to requests that were
    already in flight at a cut cannot cut again: one cut per round trip, as in TCP.

    :param beta: the share of the sending rate kept at a cut
    :param scale: how fast the rate grows back, in requests per second per second cubed
    :param min_rate: the rate never falls below this, in requests per second
    :param burst: seconds of tokens the bucket holds, so a paused client does not burst
    """

    beta: float = 0.7
    scale: float = 0.4
    min_rate: float = 0.5
    burst: float = 0.25
    rate: float | None = None  # None: never throttled, no limit
    peak: float = 0.0
    cut_at: float = 0.0
    tokens: float = 0.0
    stamp: float = 0.0
    sent: int = 0
    answered: int = 0
    deaf_until: int = 0
    measured: float = 0.0
    window_start: float = 0.0
    window_sent: int = 0

    def delay(self, now: float) -> float:
        """Seconds until a token is free (0: send now); nothing is taken."""
        if self.rate is None:
            return 0.0
        self.tokens = min(max(1.0, self.rate * self.burst), self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return 0.0 if self.tokens >= 1 - 1e-9 else (1 - self.tokens) / self.rate

    def take(self, now: float) -> None:
        """Count one request sent now, and take its token."""
        if self.rate is not None:
            self.tokens -= 1
        self.sent += 1
        if not self.window_start:
            self.window_start = now
        elif now - self.window_start >= 0.5:
            # The sending rate, smoothed over half-second windows.
            current = self.window_sent / (now - self.window_start)
            self.measured = current if not self.measured else 0.8 * current + 0.2 * self.measured
            self.window_start, self.window_sent = now, 0
        self.window_sent += 1

    def answer(self, throttled: bool, now: float) -> None:
        """Take in one answer: a 429 (``throttled``) cuts the rate, any other grows it back."""
        self.answered += 1
        if throttled:
            if self.answered > self.deaf_until:
                self._cut(now)
        elif self.rate is not None:
            grown = self.scale * (now - self.cut_at - self._k()) ** 3 + self.peak
            ceiling = 2 * max(self.measured, self.min_rate)  # never far past what is really sent
            self.rate = max(self.min_rate, min(grown, max(ceiling, self.rate)))

    def _cut(self, now: float) -> None:
        sending = self.measured or self.window_sent / max(now - self.window_start, 0.05)
        self.peak = sending if self.rate is None else min(self.rate, sending)
        self.rate = max(self.min_rate, self.peak * self.beta)
        self.cut_at, self.stamp = now, now
        self.tokens = min(self.tokens, 1.0)
        self.deaf_until = self.sent  # the answers of the requests already on their way

    def _k(self) -> float:
        """Seconds from a cut until the rate is back at the peak."""
        return math.pow(self.peak * (1 - self.beta) / self.scale, 1 / 3)


class RateBudget:
    """
    What is left of the API's rate-limit window, as told by ``X-RateLimit-Remaining``/``-Reset``,
    and this client's share of it when others spend it too.

    Requests still in flight are not yet counted in the last answer, so the budget holds back
    ``reserve`` requests (the most that can be in flight) and, once only those are left, makes
    callers wait for the window to reset. Once a window is nearly spent (``PACE_BELOW`` times the
    reserve left), which a lone client with a budget to spare never sees, requests are also
    spaced so that what is left lasts until the reset, and the first request of each new window
    goes alone to find out what it holds: every client sharing the budget then follows the same
    rule from the same headers, instead of racing for each new window. 429s cut the rate
    further (:class:`AdaptiveRate`). Safe to share between threads, and between a hook's sync
    and async paths.

    :param reserve: requests to keep in hand; at least the number in flight at once
    :param max_wait: cap on one wait, whatever the reset header says
    """

    def __init__(self, reserve: int, max_wait: float = 60.0) -> None:
        self.reserve = reserve
        self.max_wait = max_wait
        self.adaptive = AdaptiveRate()
        self.pacing = False
        self._remaining: float | None = None
        self._reset_at: float | None = None
        self._next_send = 0.0
        self._answered = False
        self._sent = 0
        self._first_sent_at = 0.0
        self._lock = threading.Lock()

    def observe(
        self, headers: Mapping[str, str], now: float | None = None, status: int | None = None
    ) -> None:
        """Take in the rate-limit headers and the status of a response (of any status)."""
        now = time.time() if now is None else now
        with self._lock:
            self._answered = True
            self.adaptive.answer(status == 429, now)
        remaining = _header_float(headers, "x-ratelimit-remaining")
        reset_at = _header_float(headers, "x-ratelimit-reset")
        if remaining is None or reset_at is None:
            return
        with self._lock:
            if reset_at <= now:
                return
            if self._reset_at is None or reset_at > self._reset_at or self._remaining is None:
                if self._reset_at is None:
                    self._next_send = now  # the probe of a new window is back: pace from here
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
            wait = (
                self._first_wait(now)
                or self._window_wait(now)
                or self._pace_wait(now)
                or self.adaptive.delay(now)
            )
            if wait > 0:
                return min(self.max_wait, wait)
            self._sent += 1
            self._first_sent_at = self._first_sent_at or now
            if self.pacing:
                self._next_send = now + self._spacing(now)
            if self._remaining is not None:
                self._remaining -= 1
            self.adaptive.take(now)
            return 0.0

    def _first_wait(self, now: float) -> float:
        # Before the first answer nothing is known of the budget, which others may have spent
        # already: half the slots go first, the rest once an answer (or the timeout) is in.
        if self._answered or self._sent < max(1, self.reserve // 2):
            return 0.0
        return PROBE_POLL if now < self._first_sent_at + PROBE_TIMEOUT else 0.0

    def _window_wait(self, now: float) -> float:
        if self._reset_at is not None and now >= self._reset_at:
            self._remaining = self._reset_at = None
        if self._remaining is None or self._reset_at is None or self._remaining > self.reserve:
            return 0.0
        # a small margin past the reset, since the header has whole seconds
        return self._reset_at - now + 0.05

    def _pace_wait(self, now: float) -> float:
        if self._remaining is not None and self._remaining <= PACE_BELOW * self.reserve:
            self.pacing = True  # a window nearly spent: from now on, spread each window's budget
        if not self.pacing or now >= self._next_send:
            return 0.0
        if self._remaining is None:
            return min(self._next_send - now, PROBE_POLL)  # poll for the probe's answer
        return self._next_send - now

    def _spacing(self, now: float) -> float:
        if self._remaining is None or self._reset_at is None:
            # A new window: one request finds out what it holds before the others go, instead
            # of every client racing for it at once.
            return PROBE_TIMEOUT
        return (self._reset_at - now) / max(self._remaining - self.reserve, 1.0)
