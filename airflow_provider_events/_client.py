"""What both hooks share: their identity and settings, and the steps of one request around its transport.

A request is: wait for the rate budget, send (the transport's part: ``requests`` or aiohttp), read
the answer through the protocol's checks while the budget takes in its headers, name a failure
to get one, and retry what is worth retrying. :class:`RequestPipeline` holds every step but the
sending, so the sync and the async transport differ only in how bytes move.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_events import CONN_TYPE, DEFAULT_CONN_ID
from airflow_provider_events._budget import RateBudget
from airflow_provider_events._checks import check_hook_settings
from airflow_provider_events._protocol import check_response, network_error
from airflow_provider_events._retry import RetryPolicy
from airflow_provider_events.exceptions import EventsAnalyticsError

DEFAULT_MAX_CONCURRENCY = 16


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


class RequestPipeline:
    """
    Every step of one GET but the sending: pacing, reading the answer, naming a failure, retrying.

    One pipeline serves a hook for its life, so its rate budget follows every request the hook
    sends, over either transport, from any thread.

    :param settings: the hook's settings
    """

    def __init__(self, settings: HookSettings) -> None:
        self.settings = settings
        self.policy = settings.policy
        self.budget = RateBudget(reserve=settings.max_concurrency, max_wait=settings.max_retry_wait)

    def delay(self) -> float:
        """Seconds to wait before sending (0: send now, and the request is counted)."""
        return self.budget.take()

    def answer(
        self, endpoint: str, status: int, headers: Mapping[str, str], body: bytes, secrets: Iterable[str]
    ) -> dict[str, Any]:
        """The checked JSON object of an answer, or the error that fits it; the budget reads its headers."""
        self.budget.observe(headers, status=status)
        return check_response(status, headers, body, endpoint, secrets=secrets)

    def failure(self, endpoint: str, error: BaseException, secrets: Iterable[str]) -> EventsAnalyticsError:
        """The error for a request that got no (complete) answer."""
        return network_error(endpoint, error, secrets, timeout=self.settings.timeout)

    def retrying(self, log: Any, endpoint: str, policy: RetryPolicy | None = None) -> dict[str, Any]:
        """Keyword arguments for ``tenacity.Retrying`` or ``AsyncRetrying`` around one request."""
        return (policy or self.policy).tenacity_kwargs(log, f"GET {endpoint}")
