"""What to retry and how long to wait: one policy for the sync hook and the async trigger."""

from __future__ import annotations

import random
from dataclasses import dataclass

from airflow_provider_events._checks import check_retry_settings
from airflow_provider_events.exceptions import (
    EventsAnalyticsAuthError,
    EventsAnalyticsConfigError,
    EventsAnalyticsError,
    EventsAnalyticsRateLimitError,
    EventsAnalyticsRequestError,
)


def is_retryable(error: BaseException) -> bool:
    """429, 5XX, network failures and malformed answers are worth another try; 4XX and bad config never."""
    if isinstance(error, (EventsAnalyticsAuthError, EventsAnalyticsRequestError, EventsAnalyticsConfigError)):
        return False
    return isinstance(error, EventsAnalyticsError)


@dataclass(frozen=True)
class RetryPolicy:
    """
    How many times to retry and how long to wait.

    :param retry_limit: retries after the first attempt
    :param retry_delay: base of the exponential backoff, in seconds
    :param max_wait: cap on any single wait, whatever a header asks for
    """

    retry_limit: int = 5
    retry_delay: float = 1.0
    max_wait: float = 60.0

    def __post_init__(self) -> None:
        check_retry_settings(self.retry_limit, self.retry_delay, self.max_wait)

    def wait(self, error: BaseException | None, attempt: int) -> float:
        """
        Seconds to sleep after failed attempt number ``attempt`` (1-based).

        A 429 waits what the server asked for (``Retry-After`` or ``X-RateLimit-Reset``); everything
        else, and a 429 that said nothing, backs off exponentially with jitter. Always capped.
        """
        if isinstance(error, EventsAnalyticsRateLimitError) and error.retry_after is not None:
            return min(self.max_wait, error.retry_after)
        backoff = self.retry_delay * 2 ** (attempt - 1)
        return min(self.max_wait, backoff + random.uniform(0, self.retry_delay))
