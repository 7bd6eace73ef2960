"""What both hooks share: their identity and settings, and the steps of one request around its transport.

A request is: wait for the rate budget, send (the transport's part: ``requests`` or aiohttp), read
the answer through the protocol's checks while the budget takes in its headers, name a failure
to get one, and retry what is worth retrying. :class:`RequestPipeline` holds every step but the
sending, so the sync and the async transport differ only in how bytes move.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_events import CONN_TYPE, DEFAULT_CONN_ID
from airflow_provider_events._budget import Hold, RateBudget
from airflow_provider_events._checks import check_hook_settings
from airflow_provider_events._protocol import LIST_ENDPOINT, SERIES_ENDPOINT, check_response, network_error
from airflow_provider_events._retry import RetryPolicy, is_retryable
from airflow_provider_events.exceptions import EventsAnalyticsError, EventsAnalyticsRateLimitError

DEFAULT_MAX_CONCURRENCY = 16
# A wait at least this long is logged, with its reason; shorter ones are routine pacing.
LOG_WAITS_OVER = 5.0
MIN_SLEEP = 0.001


class EventsHookIdentity:
    """The connection identity Airflow reads from a hook class: its form, its default connection."""

    conn_name_attr = "events_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = CONN_TYPE
    hook_name = "Custom Events Analytics"


@dataclass(frozen=True)
class HookSettings:
    """A hook's keyword arguments, checked once (see :class:`EventsAnalyticsHook` for each one)."""

    timeout: float = 30.0
    retry_limit: int = 5
    retry_delay: float = 1.0
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    max_retry_wait: float = 60.0

    def __post_init__(self) -> None:
        check_hook_settings(**dataclasses.asdict(self))

    @property
    def policy(self) -> RetryPolicy:
        """The retry policy these settings describe."""
        return RetryPolicy(self.retry_limit, self.retry_delay, self.max_retry_wait)


class Clock:
    """Wall-clock time and sleeping, for the pipeline's waits; tests put a fake one in its place."""

    def now(self) -> float:
        """Seconds since the epoch (the rate-limit headers count in them)."""
        return time.time()

    def sleep(self, seconds: float) -> None:
        """Block this thread for ``seconds``."""
        time.sleep(seconds)

    async def asleep(self, seconds: float) -> None:
        """Pause this coroutine for ``seconds``."""
        import asyncio

        await asyncio.sleep(seconds)


class RequestPipeline:
    """
    Every step of one GET but the sending: pacing, reading the answer, naming a failure, retrying.

    One pipeline serves a hook for its life, so its rate budgets follow every request the hook
    sends, over either transport, from any thread. Each endpoint has a budget of its own: the API
    limits ``/events/list`` far lower than ``/events/data_series``, and the headers of one say
    nothing about the other.

    :param settings: the hook's settings
    """

    def __init__(self, settings: HookSettings) -> None:
        self.settings = settings
        self.policy = settings.policy
        self.clock = Clock()
        max_wait = settings.max_retry_wait
        self.budgets: dict[str, RateBudget] = {
            SERIES_ENDPOINT: RateBudget(reserve=settings.max_concurrency, max_wait=max_wait),
            # /events/list is read one page at a time: one request in flight to hold back.
            LIST_ENDPOINT: RateBudget(reserve=1, max_wait=max_wait),
        }
        self._lock = threading.Lock()
        self._announced: dict[str, float] = {}

    @property
    def budget(self) -> RateBudget:
        """The budget of the series endpoint, where nearly every request goes."""
        return self.budgets[SERIES_ENDPOINT]

    def budget_of(self, endpoint: str) -> RateBudget:
        """The rate budget of ``endpoint``."""
        with self._lock:
            if endpoint not in self.budgets:
                settings = self.settings
                self.budgets[endpoint] = RateBudget(settings.max_concurrency, settings.max_retry_wait)
            return self.budgets[endpoint]

    def request(self, endpoint: str, log: Any, policy: RetryPolicy | None = None) -> RequestWaits:
        """The waits of one request to ``endpoint``, across all its attempts."""
        return RequestWaits(self, endpoint, policy or self.policy, log)

    def answer(
        self, endpoint: str, status: int, headers: Mapping[str, str], body: bytes, secrets: Iterable[str]
    ) -> dict[str, Any]:
        """The checked JSON object of an answer, or the error that fits it; the budget reads its headers."""
        now = self.clock.now()
        self.budget_of(endpoint).observe(headers, now, status=status)
        return check_response(status, headers, body, endpoint, secrets=secrets, now=now)

    def failure(self, endpoint: str, error: BaseException, secrets: Iterable[str]) -> EventsAnalyticsError:
        """The error for a request that got no (complete) answer."""
        self.budget_of(endpoint).unanswered()
        return network_error(endpoint, error, secrets, timeout=self.settings.timeout)

    def announce(self, log: Any, endpoint: str, hold: Hold, now: float) -> None:
        """Log a wait of more than a few seconds with its reason, once however many requests share it."""
        if hold.seconds < LOG_WAITS_OVER:
            return
        ends = now + hold.seconds
        with self._lock:
            if ends <= self._announced.get(endpoint, 0.0) + 1.0:
                return
            self._announced[endpoint] = ends
        until = f", until {describe_instant(hold.until, now)}" if hold.until else ""
        log.warning("GET %s waits %s: %s%s", endpoint, describe_seconds(hold.seconds), hold.reason, until)


class RequestWaits:
    """
    The waits of one request across its attempts, bounded in total by ``retry_limit x max_wait``.

    The transports ask :meth:`before_send` how long to sleep before each attempt and
    :meth:`after_failure` after each failed one, and sleep only what they are told. Waiting for
    the rate budget or for a 429 draws on one allowance of ``retry_limit x max_wait`` seconds for
    the whole request; a wait that cannot fit in what is left of it raises
    :class:`EventsAnalyticsRateLimitError` at once, saying when the API's window resets, rather
    than sleeping a while to fail anyway. Any single sleep is at most ``max_wait``.

    :param pipeline: the hook's pipeline (budgets, clock)
    :param endpoint: the API path requested
    :param policy: how many retries and how long the waits
    :param log: where retries and long waits are logged
    """

    def __init__(self, pipeline: RequestPipeline, endpoint: str, policy: RetryPolicy, log: Any) -> None:
        self.pipeline = pipeline
        self.endpoint = endpoint
        self.policy = policy
        self.log = log
        self.budget = pipeline.budget_of(endpoint)
        self.allowance = policy.retry_limit * policy.max_wait
        self.waited = 0.0
        self.failures = 0
        self._last_error: EventsAnalyticsError | None = None
        self._refused: EventsAnalyticsError | None = None  # raised before sending: never retried

    @property
    def left(self) -> float:
        """Seconds this request may still wait for the budget or a 429."""
        return max(0.0, self.allowance - self.waited)

    def before_send(self) -> float:
        """
        Seconds to sleep before sending (then ask again), or 0: send now, the request is counted.

        Raises :class:`EventsAnalyticsRateLimitError` when the API's window is spent until later
        than this request may wait.
        """
        now = self.pipeline.clock.now()
        hold = self.budget.hold(now)
        if hold is not None and hold.seconds > self.left:
            if hold.spent:
                self._refused = self._beyond(hold, now)
                raise self._refused
            hold = None  # a wait that cannot be sat out, with requests still left: go now
        if hold is None:
            self.budget.send(now)
            return 0.0
        # at least a millisecond: a shorter wait may not move an epoch clock at all (float resolution)
        seconds = max(MIN_SLEEP, min(hold.seconds, self.policy.max_wait))
        self.pipeline.announce(self.log, self.endpoint, hold, now)
        self.waited += seconds
        return seconds

    def retrying(self, *, asynchronous: bool = False) -> dict[str, Any]:
        """
        Keyword arguments for tenacity's ``Retrying`` (or ``AsyncRetrying``) around this request.

        Every failed attempt goes to :meth:`after_failure`, which raises when no retry is worth it
        and otherwise says how long to wait; the pipeline's clock sleeps it. A request the budget
        refused to send (:meth:`before_send`) is raised as it is.
        """
        from tenacity import retry_if_exception, stop_never

        clock = self.pipeline.clock

        def sleep(seconds: float) -> None:
            if seconds > 0:  # 0: a 429's wait is the budget's, slept before the next send
                clock.sleep(seconds)

        async def asleep(seconds: float) -> None:
            if seconds > 0:
                await clock.asleep(seconds)

        return {
            "retry": retry_if_exception(
                lambda error: isinstance(error, EventsAnalyticsError) and error is not self._refused
            ),
            "stop": stop_never,
            "wait": lambda state: self.after_failure(state.outcome.exception()),
            "sleep": asleep if asynchronous else sleep,
            "reraise": True,
        }

    def after_failure(self, error: EventsAnalyticsError) -> float:
        """Seconds to sleep before the next attempt; raises ``error`` when it is not worth one."""
        self.failures += 1
        self._last_error = error
        if not is_retryable(error) or self.failures > self.policy.retry_limit:
            raise error
        now = self.pipeline.clock.now()
        if isinstance(error, EventsAnalyticsRateLimitError) and error.retry_after is not None:
            # The API said when: every request to this endpoint holds until then, and the next
            # attempt's before_send waits for it, or fails at once if it is too far away.
            self.budget.hold_until(now + error.retry_after, now)
            hold = self.budget.hold(now)
            if hold is not None and hold.spent and hold.seconds > self.left:
                raise self._beyond(hold, now) from None  # the 429 itself is quoted in the message
            seconds = 0.0
        else:
            seconds = self.policy.wait(error, self.failures)
            if isinstance(error, EventsAnalyticsRateLimitError):
                seconds = min(seconds, self.left)
                self.waited += seconds
        self.log.warning(
            "GET %s failed (attempt %d of %d), retrying%s: %s",
            self.endpoint, self.failures, self.policy.retry_limit + 1,
            f" in {seconds:.1f} s" if seconds else " once the wait the API asked for is over", error,
        )  # fmt: skip
        return seconds

    def _beyond(self, hold: Hold, now: float) -> EventsAnalyticsRateLimitError:
        last = self._last_error
        said = f"{last}; " if isinstance(last, EventsAnalyticsRateLimitError) else ""
        until = hold.until if hold.until is not None else now + hold.seconds
        message = (
            f"{said}GET {self.endpoint} not sent: {hold.reason} until {describe_instant(until, now)}, "
            f"longer than one request may wait ({describe_seconds(self.left)} left of retry_limit "
            f"{self.policy.retry_limit} x max_retry_wait {describe_seconds(self.policy.max_wait)}). "
            "Run it after the reset, or raise retry_limit or max_retry_wait in hook_params to wait for it"
        )
        return EventsAnalyticsRateLimitError(
            message,
            status_code=last.status_code if isinstance(last, EventsAnalyticsRateLimitError) else None,
            endpoint=self.endpoint,
            retry_after=max(0.0, until - now),
        )


def describe_seconds(seconds: float) -> str:
    """``0.5 s``, ``42 s``, ``59 min 3 s``, ``2 h 5 min``: a duration as people read it."""
    if seconds < 60:
        return f"{seconds:.3g} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def describe_instant(epoch: float, now: float) -> str:
    """``2024-05-01 12:59:00 UTC (in 59 min)``: when, in UTC, and how far away."""
    from datetime import datetime, timezone

    when = datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"{when} (in {describe_seconds(max(0.0, epoch - now))})"
