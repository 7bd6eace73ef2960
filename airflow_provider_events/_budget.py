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
# Reading X-RateLimit-Reset: a value this many times the current epoch second is in milliseconds,
# one below the current epoch second divided by it counts seconds from now; and no reset is
# believed to be more than a day away.
SCALE_APART = 100.0
MAX_AHEAD = 86_400.0


@dataclass(frozen=True)
class Hold:
    """
    Why a request may not go yet, and for how long (uncapped: the caller decides how much to wait).

    :param seconds: how long the budget asks the request to wait
    :param reason: the why, in words for the log and the error
    :param until: the epoch second the API's window resets, when the hold is for it
    :param spent: no request can succeed before ``until``: waiting less than that is pointless
    """

    seconds: float
    reason: str
    until: float | None = None
    spent: bool = False


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """A header by its lower-case name, whatever case it arrived in (the API's case varies)."""
    for key, value in headers.items():
        if str(key).lower() == name:
            return value
    return None


def reset_time(value: str | None, now: float) -> float | None:
    """
    The epoch second an ``X-RateLimit-Reset`` value means, read sensibly; ``None`` if unusable or past.

    The API sends epoch seconds, but a value a hundred times the current epoch second can only be
    epoch milliseconds (it is converted), and one below a hundredth of it only seconds from now.
    Whatever it says, a reset is never taken to be more than :data:`MAX_AHEAD` away: a broken
    header must not look like a window spent for weeks.
    """
    try:
        seconds = float(value) if value is not None else math.nan
    except ValueError:
        return None
    if not math.isfinite(seconds) or seconds <= 0:
        return None
    if seconds >= now * SCALE_APART:
        seconds /= 1000.0
    elif seconds < now / SCALE_APART:
        seconds += now
    if seconds <= now:
        return None
    return min(seconds, now + MAX_AHEAD)


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """
    Seconds to wait before the next request, from ``Retry-After`` or else ``X-RateLimit-Reset``.

    ``None`` when neither header is usable; never negative, never more than :data:`MAX_AHEAD`.
    """
    now = time.time() if now is None else now
    retry_after = header_value(headers, "retry-after")
    if retry_after is not None:
        try:
            seconds = float(retry_after)
        except ValueError:
            try:
                seconds = parsedate_to_datetime(retry_after).timestamp() - now
            except (TypeError, ValueError):
                seconds = math.nan
        if math.isfinite(seconds):
            return min(MAX_AHEAD, max(0.0, seconds))
    reset = reset_time(header_value(headers, "x-ratelimit-reset"), now)
    return None if reset is None else reset - now


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
        self._hold_until = 0.0
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
        reset_at = reset_time(header_value(headers, "x-ratelimit-reset"), now)
        if remaining is None or reset_at is None:
            return
        with self._lock:
            if self._reset_at is None or reset_at > self._reset_at or self._remaining is None:
                if self._reset_at is None:
                    self._next_send = now  # the probe of a new window is back: pace from here
                self._remaining, self._reset_at = remaining, reset_at
            else:
                self._remaining = min(self._remaining, remaining)

    def unanswered(self) -> None:
        """A request came back without an answer (refused, cut off): the others need not wait for it."""
        with self._lock:
            self._answered = True

    def hold_until(self, until: float, now: float | None = None) -> None:
        """Let no request go before ``until`` (a 429's ``Retry-After``), at most :data:`MAX_AHEAD` away."""
        now = time.time() if now is None else now
        with self._lock:
            self._hold_until = max(self._hold_until, min(until, now + MAX_AHEAD))

    def hold(self, now: float | None = None) -> Hold | None:
        """Why a request may not go now, or ``None`` when it may; nothing is counted."""
        now = time.time() if now is None else now
        with self._lock:
            return (
                self._held(now)
                or self._first_wait(now)
                or self._window_wait(now)
                or self._pace_wait(now)
                or self._adaptive_wait(now)
            )

    def send(self, now: float | None = None) -> None:
        """Count one request sent now, whatever :meth:`hold` said."""
        now = time.time() if now is None else now
        with self._lock:
            self._sent += 1
            self._first_sent_at = self._first_sent_at or now
            if self.pacing:
                self._next_send = now + self._spacing(now)
            if self._remaining is not None:
                self._remaining -= 1
            self.adaptive.take(now)

    def take(self, now: float | None = None) -> float:
        """
        Count one request if the budget allows it and return 0, else return how long to wait first.

        The wait is capped at ``max_wait``: call again after it. A window whose reset time has
        passed is forgotten: the next answer tells the new budget.
        """
        now = time.time() if now is None else now
        wait = self.hold(now)
        if wait is not None:
            return min(self.max_wait, wait.seconds)
        self.send(now)
        return 0.0

    def _held(self, now: float) -> Hold | None:
        if now >= self._hold_until:
            return None
        spent = self._remaining is not None and self._remaining <= 0 and self._reset_at is not None
        reason = "the API answered 429: its rate-limit window is spent" if spent else "the API answered 429"
        return Hold(self._hold_until - now, reason, self._hold_until, spent=True)

    def _first_wait(self, now: float) -> Hold | None:
        # Before the first answer nothing is known of the budget, which others may have spent
        # already: half the slots go first, the rest once an answer (or the timeout) is in.
        if self._answered or self._sent < max(1, self.reserve // 2):
            return None
        if now >= self._first_sent_at + PROBE_TIMEOUT:
            return None
        return Hold(PROBE_POLL, "waiting for a first answer to tell the rate budget")

    def _window_wait(self, now: float) -> Hold | None:
        if self._reset_at is not None and now >= self._reset_at:
            self._remaining = self._reset_at = None
        if self._remaining is None or self._reset_at is None or self._remaining > self.reserve:
            return None
        left = max(0, int(self._remaining))
        reason = (
            "the API's rate-limit window is spent"
            if left == 0
            else f"the API's rate-limit window has {left} request(s) left, held back for requests in flight"
        )
        # a small margin past the reset, since the header has whole seconds
        return Hold(self._reset_at - now + 0.05, reason, self._reset_at, spent=left == 0)

    def _pace_wait(self, now: float) -> Hold | None:
        if self._remaining is not None and self._remaining <= PACE_BELOW * self.reserve:
            self.pacing = True  # a window nearly spent: from now on, spread each window's budget
        if not self.pacing or now >= self._next_send:
            return None
        if self._remaining is None:  # poll for the probe's answer
            return Hold(min(self._next_send - now, PROBE_POLL), "waiting for the new window's first answer")
        reason = f"spreading the window's last {int(self._remaining)} request(s) until its reset"
        return Hold(self._next_send - now, reason, self._reset_at)

    def _adaptive_wait(self, now: float) -> Hold | None:
        delay = self.adaptive.delay(now)
        return Hold(delay, "slowing down after 429 answers") if delay > 0 else None

    def _spacing(self, now: float) -> float:
        if self._remaining is None or self._reset_at is None:
            # A new window: one request finds out what it holds before the others go, instead
            # of every client racing for it at once.
            return PROBE_TIMEOUT
        return (self._reset_at - now) / max(self._remaining - self.reserve, 1.0)
