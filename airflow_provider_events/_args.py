"""Arguments checked before any request, by one set of rules for the operator, the sensor and the hook.

At construction, and so when the DAG file is parsed, every argument that rendering templates
cannot change is checked; the rendered values are checked again at run time, before any request.
Pure and cheap to import: DAG files import the operator and the sensor at every parse.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from airflow_provider_events.exceptions import EventsAnalyticsConfigError

ALL_EVENTS = "*"
# EventsAnalyticsHook's keyword arguments; a test holds this equal to its signature.
HOOK_PARAMS = ("timeout", "retry_limit", "retry_delay", "max_concurrency", "max_retry_wait")
_JINJA = ("{{", "{%", "{#")


def is_literal(value: object) -> bool:
    """Whether rendering templates leaves ``value`` as it is, so that it can be checked now."""
    if isinstance(value, str):
        return not any(mark in value for mark in _JINJA)
    if isinstance(value, list | tuple):
        return all(is_literal(item) for item in value)
    # Anything else (an XComArg, a custom object) is resolved at run time: check it then.
    return value is None or isinstance(value, int | float | datetime)


def event_names(event: object) -> list[str] | None:
    """The names an ``event`` argument asks for, de-duplicated in order; None for every event (``"*"``)."""
    if event == ALL_EVENTS:
        return None
    names = [event] if isinstance(event, str) else event
    if not isinstance(names, list | tuple) or not names:
        raise EventsAnalyticsConfigError(
            f"event must be a name, a non-empty list of names, or '*', got {event!r}"
        )
    for name in names:
        if not isinstance(name, str) or not name.strip():
            raise EventsAnalyticsConfigError(
                f"event names must be non-empty strings, got {name!r} in {event!r}"
            )
        if name == ALL_EVENTS:
            raise EventsAnalyticsConfigError(
                "event='*' means every custom event: pass it alone, not inside a list"
            )
    return list(dict.fromkeys(names))


def check_literal_window(
    events: Sequence[object],
    *,
    length: object,
    unit: object,
    ending_at: object,
    app_id: object,
    segment_id: object,
) -> None:
    """Check a window's arguments as a series request would, leaving templated ones for run time."""
    from airflow_provider_events._series import SeriesQuery

    def given(value: object) -> Any:
        return value if is_literal(value) else None

    SeriesQuery.build(
        [cast(str, event) if is_literal(event) else "templated" for event in events],
        length=length,  # type: ignore[arg-type]
        unit=unit,  # type: ignore[arg-type]
        ending_at=given(ending_at),
        app_id=given(app_id),
        segment_id=given(segment_id),
    )


def check_hook_settings(
    *,
    timeout: object = None,
    max_concurrency: object = None,
    retry_limit: object = None,
    retry_delay: object = None,
    max_retry_wait: object = None,
) -> None:
    """Raise :class:`EventsAnalyticsConfigError` naming the first bad hook setting (None: not given)."""
    from airflow_provider_events._retry import RetryPolicy

    if timeout is not None and (not _is_number(timeout) or timeout <= 0):  # type: ignore[operator]
        raise EventsAnalyticsConfigError(f"timeout must be a positive number of seconds, got {timeout!r}")
    if max_concurrency is not None and (
        isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int) or max_concurrency < 1
    ):
        raise EventsAnalyticsConfigError(f"max_concurrency must be an integer >= 1, got {max_concurrency!r}")
    retry = {"retry_limit": retry_limit, "retry_delay": retry_delay, "max_wait": max_retry_wait}
    RetryPolicy(**{name: value for name, value in retry.items() if value is not None})  # type: ignore[arg-type]


def check_hook_params(hook_params: object) -> dict[str, Any]:
    """``hook_params`` as a dict of known, valid :class:`EventsAnalyticsHook` settings, or a config error."""
    if hook_params is None:
        return {}
    if not isinstance(hook_params, dict):
        raise EventsAnalyticsConfigError(
            f"hook_params must be a dict of EventsAnalyticsHook arguments, got {hook_params!r}"
        )
    unknown = sorted(set(hook_params) - set(HOOK_PARAMS), key=str)
    if unknown:
        raise EventsAnalyticsConfigError(
            f"hook_params has unknown key(s) {', '.join(map(str, unknown))}; EventsAnalyticsHook accepts "
            f"{', '.join(sorted(HOOK_PARAMS))} (pass the connection as events_conn_id)"
        )
    check_hook_settings(**hook_params)
    return dict(hook_params)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
