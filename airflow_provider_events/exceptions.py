"""Errors raised by the Custom Events Analytics provider.

Every class carries ``status_code`` (``None`` for network failures) and a message that names the
status, the endpoint and the API's own ``message``. Messages never contain the API key.

What no retry can fix (:class:`EventsAnalyticsConfigError`, :class:`EventsAnalyticsTLSError`,
:class:`EventsAnalyticsAuthError`) is also an ``AirflowFailException``: a task that raises one
fails at once, without using its ``retries``, wherever in the task it is raised. The rest (429,
5XX, network, malformed answers) leave the task's retries to do their job.
"""

from __future__ import annotations

from airflow.sdk.exceptions import AirflowException, AirflowFailException


class EventsAnalyticsError(AirflowException):
    """
    Base class: also raised for a malformed body or a ``message`` other than ``success``.

    :param message: human-readable description, without secrets
    :param status_code: HTTP status of the response, or ``None`` when no response arrived
    :param endpoint: the API path that was called, e.g. ``/events/data_series``
    :param retry_after: seconds the server asked us to wait, when it said so
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        endpoint: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        # AirflowException types this as the API server's HTTPStatus; here it is the API's answer.
        self.status_code = status_code  # type: ignore[assignment]
        self.endpoint = endpoint
        self.retry_after = retry_after

    def __reduce__(self):  # keep the keyword attributes when pickled (XCom, triggerer, subprocesses)
        return (
            _rebuild,
            (type(self), str(self), self.status_code, self.endpoint, self.retry_after),
        )


def _rebuild(
    cls: type[EventsAnalyticsError],
    message: str,
    status_code: int | None,
    endpoint: str | None,
    retry_after: float | None,
) -> EventsAnalyticsError:
    return cls(message, status_code=status_code, endpoint=endpoint, retry_after=retry_after)


class EventsAnalyticsAuthError(EventsAnalyticsError, AirflowFailException):
    """The REST API key is unknown, missing or not allowed (401, 403). Retried by neither hook nor task."""


class EventsAnalyticsRequestError(EventsAnalyticsError):
    """The request was rejected (400, 404 and other 4XX but 429). Never retried."""


class EventsAnalyticsRateLimitError(EventsAnalyticsError):
    """The rate limit was hit (429) and the retries are spent."""


class EventsAnalyticsServerError(EventsAnalyticsError):
    """A 5XX answer or a network failure, once the retries are spent."""


class EventsAnalyticsConfigError(EventsAnalyticsError, AirflowFailException, ValueError):
    """
    Bad arguments, an unknown event name or a misconfigured connection. Raised before any request.

    It is also a ``ValueError``, so code written against plain argument checks keeps working, and
    an ``AirflowFailException``, so the task fails without using its retries.
    """


class EventsAnalyticsTLSError(EventsAnalyticsConfigError):
    """
    The TLS handshake failed: an untrusted or mismatched certificate, or https to a plain-http server.

    Raised at the first attempt, never retried: a retry meets the same certificate. The message
    names the problem and how to fix it (the connection extra ``verify``, a CA bundle in the
    environment, or the scheme of the instance URL).
    """
